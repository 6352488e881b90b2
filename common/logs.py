"""Structured JSON logs in the Cloud Logging format, one object per line on stdout/stderr.

Every record carries ``severity`` and ``message``; ids passed as ``extra={"session_id": ...}``
(session id, object, chunk sequence) become top-level fields so that logs can be filtered by them.
"""

from __future__ import annotations

import json
import logging
import os
import sys

_FIELDS = ("session_id", "object", "bucket", "generation", "seq", "chunk_count", "format", "status",
           "rows", "duration_ms", "attempt", "path", "method", "code", "key_name")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line that Cloud Logging parses into a structured entry."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname if record.levelname != "WARNING" else "WARNING",
            "message": record.getMessage(),
            "logger": record.name,
        }
        for field in _FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _MaxLevel(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self.level


_configured = False


def setup_logging() -> None:
    """Send INFO and DEBUG to stdout and WARNING and above to stderr, as JSON; idempotent."""
    global _configured
    if _configured:
        return
    root = logging.getLogger()
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    formatter = JsonFormatter()
    out = logging.StreamHandler(sys.stdout)
    out.addFilter(_MaxLevel(logging.WARNING))
    out.setFormatter(formatter)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING)
    err.setFormatter(formatter)
    root.handlers[:] = [out, err]
    _configured = True
