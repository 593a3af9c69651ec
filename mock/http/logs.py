"""The log of a process that serves the mock: stderr, one line per request (and uvicorn's own lines).

Requests only put their line on a queue; a thread of the logging module writes it out (the standard
library's QueueHandler and QueueListener), so no request waits on stderr. The queue is bounded: when stderr cannot keep up (a slow or stuck reader),
lines are dropped and counted rather than kept without limit, and the count is logged once there is
room again.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
from logging.handlers import QueueHandler, QueueListener

FORMAT = "%(asctime)s %(levelname)s %(message)s"
QUEUE_SIZE = 10_000


class BoundedQueueHandler(QueueHandler):
    """Puts lines on a bounded queue; counts the ones that do not fit. (``Handler.handle`` calls
    ``enqueue`` under the handler's lock, so the count needs none of its own.)"""

    def __init__(self, lines: queue.Queue):
        super().__init__(lines)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        if self.dropped:
            notice = logging.LogRecord(record.name, logging.WARNING, __file__, 0,
                                       f"{self.dropped} log lines dropped: stderr did not keep up", None, None)
            try:
                self.queue.put_nowait(notice)
                self.dropped = 0
            except queue.Full:
                pass
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class JSONLines(logging.Formatter):
    """One JSON object per line: time, level, logger and message, or a request line's own fields
    (``extra={"fields": {...}}``) in place of the message."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_process(queue_size: int = QUEUE_SIZE, log_format: str = "text") -> BoundedQueueHandler:
    """Route the root logger through a bounded queue to a writer thread on stderr, as text or JSON lines."""
    writer = logging.StreamHandler()
    writer.setFormatter(JSONLines() if log_format == "json" else logging.Formatter(FORMAT))
    lines: queue.Queue = queue.Queue(maxsize=queue_size)
    listener = QueueListener(lines, writer)
    listener.start()
    atexit.register(listener.stop)  # writes out what is still queued
    queued = BoundedQueueHandler(lines)
    queued.setFormatter(logging.Formatter("%(message)s"))  # the message only: the writer adds time and level
    logging.basicConfig(level=logging.INFO, handlers=[queued])
    logging.getLogger("connexion").setLevel(logging.WARNING)  # its start-up notes are not the mock's news
    return queued
