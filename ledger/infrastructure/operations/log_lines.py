"""Log lines of the long-running processes: text for a terminal, or one JSON object a line.

JSON lines carry time (UTC, ISO 8601), level, process, message and fields (the record's extra
attributes), so a log shipper needs no parsing rules. Every line, in either format, has
passwords in URLs redacted: a store or broker URL with credentials never reaches a log.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

LOG_FORMATS = ("text", "json")
# user:password@ in any URL-ish string -> user:***@
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):[^@\s/]+@")
# kafka-python logs its whole configuration at DEBUG, password included: never below WARNING.
KAFKA_CLIENT_LEVEL = logging.WARNING
# Attributes every LogRecord has; anything else was passed as `extra=` and becomes a field.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def redact(text: str) -> str:
    """The text with credentials in URLs replaced by ***."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>:***@", text)


class RedactingTextFormatter(logging.Formatter):
    """`time message` lines with credentials redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """Format, then redact; an exception in one line, never a traceback (a library's
        `log.exception` included: kafka-python logs one for every dropped socket)."""
        if record.exc_info or record.stack_info:
            exc = record.exc_info[1] if record.exc_info else None
            summary = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
            record = logging.makeLogRecord(
                {
                    **vars(record),
                    "msg": f"{record.getMessage()}{summary}",
                    "args": None,
                    "exc_info": None,
                    "exc_text": None,
                    "stack_info": None,
                }
            )
        return redact(super().format(record))


class JsonLineFormatter(logging.Formatter):
    """One JSON object a line: time, level, process, message, fields."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line (credentials redacted)."""
        fields: dict[str, Any] = {
            key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES
        }
        if record.exc_info:
            fields["exception"] = redact(self.formatException(record.exc_info))
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "process": self.process,
            "pid": record.process,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "fields": {key: _jsonable(value) for key, value in fields.items()},
        }
        return orjson.dumps(line).decode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return redact(value) if isinstance(value, str) else value
    return redact(str(value))


def configure_logging(
    process: str, log_format: str, *, stream: TextIO | None = None, level: int = logging.INFO
) -> None:
    """Route every log record of the process to stderr in `log_format` (text or json)."""
    assert log_format in LOG_FORMATS, log_format
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonLineFormatter(process)
        if log_format == "json"
        else RedactingTextFormatter("%(asctime)s %(message)s")
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("kafka").setLevel(KAFKA_CLIENT_LEVEL)
