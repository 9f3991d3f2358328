"""Log output for long-running commands: readable lines, or one JSON object per line.

A worker under systemd or in a container is read by a log collector, which
wants fields it can filter on (job, level, counts) rather than prose to parse;
`worker --log-format json` gives it that.

Both formats pass every message, extra field and traceback through
`capitolmail.redaction` (a relay's reply may echo a password) and show control
characters escaped (`capitolmail.printable`), so a value quoted in a message can
neither leak a secret nor forge a line. JSON escapes them itself; the text format
also indents a traceback, so none of its lines reads as a record of its own.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

from capitolmail.printable import printable
from capitolmail.redaction import redact

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                data[name] = (
                    value
                    if isinstance(value, (int, float, bool, type(None)))
                    else redact(str(value))
                )
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message` on one line; a traceback follows, indented."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        safe = logging.makeLogRecord(
            {
                **vars(record),
                "msg": printable(redact(record.getMessage())),
                "args": None,
                "exc_info": None,
                "exc_text": None,
                "stack_info": None,
            }
        )
        line = super().format(safe)
        details = []
        if record.exc_info:
            details.append(self.formatException(record.exc_info))
        if record.stack_info:
            details.append(self.formatStack(record.stack_info))
        for text in details:
            line += "".join(f"\n    {printable(part)}" for part in redact(text).splitlines())
        return line


def log_handler(log_format: LogFormat = "text") -> logging.Handler:
    """A stderr handler in the chosen format, redacting and escaping every record."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def configure_logging(log_format: LogFormat = "text", *, debug: bool = False) -> None:
    """Send capitolmail's log records to stderr in the chosen format, replacing earlier setup."""
    handler = log_handler(log_format)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # APScheduler narrates every wake-up at INFO; its warnings (a missed run) still show.
    quiet_libraries(debug=debug)


def quiet_libraries(*, debug: bool = False) -> None:
    """Libraries narrate routine steps at INFO (APScheduler every wake-up, Alembic every
    open, WeasyPrint every layout step); staff need their warnings only, such as a
    missed run. WeasyPrint's CSS notes are for the template's author, not staff."""
    for name in ("apscheduler", "alembic"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.ERROR)
    # flufl.bounce names every detector it runs at INFO and logs a traceback when one
    # trips over hostile MIME; the inbox sync logs that mail in one line of its own.
    logging.getLogger("flufl.bounce").setLevel(logging.DEBUG if debug else logging.CRITICAL)
