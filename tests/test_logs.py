"""The request log's queue: bounded, and honest about what it dropped."""

import logging
import queue

from cloud_backup_mock.http.logs import BoundedQueueHandler


def line(text: str) -> logging.LogRecord:
    return logging.LogRecord("cloud_backup_mock.requests", logging.INFO, __file__, 1, text, None, None)


def test_a_full_queue_drops_lines_and_says_how_many_once_there_is_room():
    lines: queue.Queue = queue.Queue(maxsize=2)
    handler = BoundedQueueHandler(lines)
    for n in range(5):
        handler.handle(line(f"request {n}"))
    assert [lines.get_nowait().getMessage() for _ in range(2)] == ["request 0", "request 1"]
    assert handler.dropped == 3
    handler.handle(line("request 5"))
    notice, record = lines.get_nowait(), lines.get_nowait()
    assert (notice.levelno, notice.getMessage()) == (logging.WARNING, "3 log lines dropped: stderr did not keep up")
    assert record.getMessage() == "request 5" and handler.dropped == 0
