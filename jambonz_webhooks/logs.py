"""Logging for operators: one line per hook, as text or JSON, through the standard ``logging``.

Every hook request is logged on ``jambonz_webhooks.access`` (at INFO) with its call_sid, the
hook's kind and path, the status answered, the time taken and the verbs returned, and jambonz's
``trace_id`` when the payload carries one. The fields are also attributes of the log record
(``record.call_sid``, ``record.duration_ms``, ...), which :class:`JsonFormatter` writes out::

    configure_logging(json=True)   # or LOG_FORMAT=json in the environment
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["ACCESS_LOGGER", "JsonFormatter", "configure_logging"]

ACCESS_LOGGER = "jambonz_webhooks.access"

# Attributes every LogRecord has: anything else on a record was given as ``extra``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line.

    Time, level, logger, message, the record's extras, and the exception's traceback as text
    when there is one.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as a line of JSON."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure_logging(
    *, json: bool | None = None, level: str | int | None = None, force: bool = False
) -> None:
    """Send the app's and the framework's logs to standard error, as text or JSON lines.

    Like ``logging.basicConfig``, it does nothing when the root logger already has a handler
    (a test runner's, or the application's own), unless ``force``.

    Args:
        json: JSON lines; None reads ``LOG_FORMAT`` (``json`` or ``text``, the default).
        level: None reads ``LOG_LEVEL`` (default INFO).
        force: replace the root logger's handlers.

    """
    root = logging.getLogger()
    if root.handlers and not force:
        return
    as_json = os.environ.get("LOG_FORMAT", "text").lower() == "json" if json is None else json
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.handlers[:] = [handler]
    root.setLevel(level if level is not None else os.environ.get("LOG_LEVEL", "INFO").upper())


class AccessEntry:
    """What one hook request came to, as the pipeline decided it: the access line's fields."""

    __slots__ = (
        "call_sid",
        "created",
        "duration",
        "hook_path",
        "kind",
        "method",
        "outcome",
        "path",
        "status",
        "trace_id",
        "verbs",
    )

    def __init__(
        self,
        kind: str,
        method: str,
        path: str,
        hook_path: str,
        status: int,
        duration: float,
        call_sid: str | None,
        trace_id: str | None,
        verbs: tuple[str, ...],
        outcome: str,
        created: float,
    ) -> None:
        self.kind = kind
        self.method = method
        self.path = path
        self.hook_path = hook_path
        self.status = status
        self.duration = duration
        self.call_sid = call_sid
        self.trace_id = trace_id
        self.verbs = verbs
        self.outcome = outcome
        self.created = created


class AccessLog:
    """Writes access lines on ``jambonz_webhooks.access``."""

    def __init__(self, name: str = ACCESS_LOGGER) -> None:
        self.logger = logging.getLogger(name)

    def enabled(self) -> bool:
        """Whether an access line is wanted at all."""
        return self.logger.isEnabledFor(logging.INFO)

    def write(self, entry: AccessEntry) -> None:
        """Log one hook request."""
        self.logger.info(
            "%s hook %s %s -> %d in %.1f ms, verbs %s, call_sid=%s",
            entry.kind,
            entry.method,
            entry.path,
            entry.status,
            entry.duration * 1000,
            ",".join(entry.verbs) or "-",
            entry.call_sid,
            extra={
                "call_sid": entry.call_sid,
                "trace_id": entry.trace_id,
                "hook_kind": entry.kind,
                "hook_path": entry.hook_path,
                "method": entry.method,
                "status": entry.status,
                "duration_ms": round(entry.duration * 1000, 3),
                "verbs": list(entry.verbs),
                "outcome": entry.outcome,
            },
        )

    def flush(self) -> None:
        """Write out what is buffered."""


access_log = AccessLog()
"""The access log the pipeline writes to."""
