"""How commands print log records: one line each, the event name followed by its fields.

Library code logs events with structured fields (``log.warning("labelstudio.retry", extra={...})``);
without a handler Python would print the bare event name and drop the fields. :func:`configure`
installs one stderr handler on the ``annotator`` and ``models`` loggers at ``ANNOTATOR_LOG_LEVEL``.
"""

from __future__ import annotations

import logging
import sys

from annotator.settings import get_settings

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_OURS = ("annotator", "models", "worker")


class FieldsFormatter(logging.Formatter):
    """``warning: labelstudio.retry url=http://... attempt=1/8 wait_s=0.5 error=...``"""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{key}={value}" for key, value in vars(record).items() if key not in _STANDARD)
        line = f"{record.levelname.lower()}: {record.getMessage()}" + (f" {fields}" if fields else "")
        if record.exc_info and record.levelno >= logging.ERROR:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def configure(level: str | None = None) -> None:
    """Send our loggers' records at ``level`` (default ``ANNOTATOR_LOG_LEVEL``) and above to stderr; idempotent.

    Records still propagate to the root logger, so a host application's logging sees them too.
    """
    threshold = logging.getLevelName((level or get_settings().log_level).upper())
    handler = _StderrHandler()
    handler.setFormatter(FieldsFormatter())
    handler.setLevel(threshold)
    handler.set_name("annotator.cli")
    for name in _OURS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() > threshold:
            logger.setLevel(threshold)
        for old in [h for h in logger.handlers if h.get_name() == "annotator.cli"]:
            logger.removeHandler(old)
        logger.addHandler(handler)
