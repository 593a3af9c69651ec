"""The request log: a bounded queue, honest about what it dropped, written out in batches."""

import io
import logging
import queue
import time

from cloud_backup_mock.http.logs import FORMAT, BoundedQueueHandler, JSONLines, LineWriter, TextLines


def line(text: str, created: float | None = None) -> logging.LogRecord:
    record = logging.LogRecord("cloud_backup_mock.requests", logging.INFO, __file__, 1, text, None, None)
    if created is not None:
        record.created, record.msecs = created, (created - int(created)) * 1000
    return record


def test_a_full_queue_drops_lines_and_says_how_many_once_there_is_room():
    lines: queue.SimpleQueue = queue.SimpleQueue()
    handler = BoundedQueueHandler(lines, size=2)
    for n in range(5):
        handler.handle(line(f"request {n}"))
    assert [lines.get_nowait().getMessage() for _ in range(2)] == ["request 0", "request 1"]
    assert handler.dropped == 3 and lines.empty()
    handler.handle(line("request 5"))
    notice, record = lines.get_nowait(), lines.get_nowait()
    assert (notice.levelno, notice.getMessage()) == (logging.WARNING, "3 log lines dropped: stderr did not keep up")
    assert record.getMessage() == "request 5" and handler.dropped == 0
    for n in (6, 7, 8):  # 8 is dropped: the queue holds 2
        handler.handle(line(f"request {n}"))
    lines.get_nowait()
    handler.handle(line("request 9"))  # dropped too: no room for the notice and the line together
    assert lines.qsize() == 1 and handler.dropped == 2


def test_handler_filters_apply():
    lines: queue.SimpleQueue = queue.SimpleQueue()
    handler = BoundedQueueHandler(lines)
    handler.addFilter(lambda record: "secret" not in record.getMessage())
    assert handler.handle(line("a secret")) is False and lines.empty()
    assert handler.handle(line("plain")) is True and lines.get_nowait().getMessage() == "plain"


class CountingStream(io.StringIO):
    def __init__(self):
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_the_writer_writes_what_queued_up_in_one_write_and_everything_before_it_stops():
    lines: queue.SimpleQueue = queue.SimpleQueue()
    for n in range(1200):
        lines.put(line(f"request {n}"))
    stream = CountingStream()
    writer = LineWriter(lines, logging.Formatter("%(message)s"), stream)
    writer.start()
    writer.stop()
    assert not writer.thread.is_alive()
    assert stream.getvalue().splitlines() == [f"request {n}" for n in range(1200)]
    assert stream.writes == 3  # 512 + 512 + 176: the bound on one write's lines


def test_a_record_that_does_not_format_is_named_and_the_rest_are_written():
    lines: queue.SimpleQueue = queue.SimpleQueue()
    broken = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "%d items", ("many",), None)
    for record in (line("before"), broken, line("after")):
        lines.put(record)
    stream = io.StringIO()
    writer = LineWriter(lines, logging.Formatter("%(message)s"), stream).start()
    writer.stop()
    assert stream.getvalue().splitlines() == ["before", "unformattable log record from uvicorn.error: '%d items'",
                                              "after"]


def test_text_lines_read_as_the_logging_modules_own_format_across_seconds():
    plain, ours = logging.Formatter(FORMAT), TextLines()
    start = time.time()
    for offset in (0.0, 0.25, 0.999, 1.0, 1.5, 61.0):
        record = line("GET /v2/110011/agents", start + offset)
        assert ours.format(record) == plain.format(record)
    try:
        raise ValueError("broken")
    except ValueError:
        import sys

        failed = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in %s", ("app",),
                                   sys.exc_info(), sinfo="Stack (most recent call last):\n  here")
    assert ours.format(failed) == plain.format(logging.makeLogRecord(failed.__dict__ | {"exc_text": None}))
    assert "ValueError: broken" in ours.format(failed)


def test_json_lines_carry_a_requests_fields():
    record = line("GET /x", 1_700_000_000.5)
    record.fields = {"method": "GET", "path": "/x", "status": 200}
    out = JSONLines().format(record)
    assert out.startswith('{"time": "') and out.endswith('"method": "GET", "path": "/x", "status": 200}')
    assert logging.Formatter(FORMAT).formatTime(record) in out
