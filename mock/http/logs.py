"""The log of a process that serves the mock: stderr, one line per request (and uvicorn's own lines).

Requests only put their record on a queue; a writer thread formats what has queued up and writes it
to stderr in one write, so no request waits on stderr and a busy server makes one system call for many
lines. The queue is bounded: when stderr cannot keep up (a slow or stuck reader), lines are dropped and
counted rather than kept without limit, and the count is logged once there is room again.

A serving process owns its logging, so it also turns off what the logging module would otherwise
collect for every record and no line shows: thread, process and caller (``internals.lean_log_records``).
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import sys
import threading
import time
from typing import TextIO

from ..internals import lean_log_records

FORMAT = "%(asctime)s %(levelname)s %(message)s"
QUEUE_SIZE = 10_000
BATCH_LINES = 512  # at most this many lines go out in one write
GATHER_SECONDS = 0.02  # after the first line of a batch, the writer waits this long for more


class BoundedQueueHandler(logging.Handler):
    """Puts records on a bounded queue for the writer thread; counts the ones that do not fit.

    Only the thread that serves requests (the event loop) and, rarely, uvicorn's supervisor log,
    so the bound is checked without a lock: it may be passed by one record per thread at most. The
    notice of dropped lines counts within the bound: it goes in only with room for it and the record."""

    def __init__(self, lines: queue.SimpleQueue, size: int = QUEUE_SIZE):
        super().__init__()
        self.queue, self.size, self.dropped = lines, size, 0

    def handle(self, record: logging.LogRecord) -> bool:
        """Filters, then :meth:`emit`, without the handler's I/O lock: a queue needs none."""
        kept = self.filter(record)
        if isinstance(kept, logging.LogRecord):  # Python 3.12+: a filter may return a changed record
            record = kept
        if kept:
            self.emit(record)
        return bool(kept)

    def emit(self, record: logging.LogRecord) -> None:
        if self.queue.qsize() + (2 if self.dropped else 1) > self.size:
            self.dropped += 1
            return
        if self.dropped:
            self.queue.put(logging.LogRecord(record.name, logging.WARNING, __file__, 0,
                                             f"{self.dropped} log lines dropped: stderr did not keep up", None, None))
            self.dropped = 0
        self.queue.put(record)


class _Lines(logging.Formatter):
    """The date and time part of ``asctime`` is made once a second, not for every line."""

    def __init__(self, fmt: str | None = None):
        super().__init__(fmt)
        self._second, self._text = -1, ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._second, self._text = second, time.strftime(self.default_time_format, self.converter(record.created))
        return self.default_msec_format % (self._text, record.msecs)


class TextLines(_Lines):
    """``FORMAT``, put together directly rather than through ``%`` over the record's attributes; in a
    worker process, its name after the level (``worker=NAME``)."""

    def __init__(self, worker: str | None = None):
        super().__init__(FORMAT)
        self._worker = f" worker={worker}" if worker else ""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record)
        line = f"{record.asctime} {record.levelname}{self._worker} {record.message}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for extra in (record.exc_text, record.stack_info and self.formatStack(record.stack_info)):
            if extra:
                line = f"{line}\n{extra}" if line[-1:] != "\n" else line + extra
        return line


class JSONLines(_Lines):
    """One JSON object per line: time, level, logger (and ``worker``, in a worker process) and message, or
    a request line's own fields (``extra={"fields": {...}}``) in place of the message."""

    def __init__(self, worker: str | None = None):
        super().__init__()
        self._worker = {"worker": worker} if worker else {}

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name, **self._worker}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class LineWriter:
    """The writer thread: waits for a line, lets more gather for ``GATHER_SECONDS``, then formats what
    has queued up (up to ``BATCH_LINES``) and writes it out in one write. A busy server thus wakes the
    thread some fifty times a second, not once a line; an idle one not at all. :meth:`stop` writes what
    is still queued, then ends the thread."""

    _STOP = object()

    def __init__(self, lines: queue.SimpleQueue, formatter: logging.Formatter, stream: TextIO | None = None,
                 gather: float = GATHER_SECONDS):
        self.lines, self.formatter, self.stream, self.gather = lines, formatter, stream, gather
        self.thread = threading.Thread(target=self._run, name="cloud-backup-mock-log", daemon=True)

    def start(self) -> "LineWriter":
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self.thread.is_alive():
            self.lines.put(self._STOP)
            self.thread.join(timeout)

    def _run(self) -> None:
        while True:
            batch = [self.lines.get()]
            if batch[0] is not self._STOP:
                time.sleep(self.gather)
            while len(batch) < BATCH_LINES:
                try:
                    batch.append(self.lines.get_nowait())
                except queue.Empty:
                    break
            stop = any(record is self._STOP for record in batch)
            records = [record for record in batch if record is not self._STOP] if stop else batch
            if records:
                self._write(records)
            if stop:
                return

    def _write(self, records: list[logging.LogRecord]) -> None:
        text = []
        for record in records:
            try:
                text.append(self.formatter.format(record))
            except Exception:  # a record whose message does not format: say so rather than lose the rest
                text.append(f"unformattable log record from {record.name}: {record.msg!r}")
        stream = self.stream or sys.stderr
        try:
            stream.write("\n".join(text) + "\n")
            stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: the lines are lost, serving goes on
            pass


def configure_process(queue_size: int = QUEUE_SIZE, log_format: str = "text",
                      stream: TextIO | None = None, worker: str | None = None) -> BoundedQueueHandler:
    """Route the root logger through a bounded queue to a writer thread on ``stream`` (stderr), as text
    or JSON lines; ``worker``: the name every line of a worker process carries."""
    lines: queue.SimpleQueue = queue.SimpleQueue()
    writer = LineWriter(lines, JSONLines(worker) if log_format == "json" else TextLines(worker), stream).start()
    atexit.register(writer.stop)  # writes out what is still queued
    queued = BoundedQueueHandler(lines, queue_size)
    lean_log_records()
    logging.basicConfig(level=logging.INFO, handlers=[queued])
    logging.getLogger("connexion").setLevel(logging.WARNING)  # its start-up notes are not the mock's news
    return queued
