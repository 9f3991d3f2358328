"""Log output for long-running commands: readable lines, or one JSON object per line.

A worker under systemd or in a container is read by a log collector, which
wants fields it can filter on (job, level, counts) rather than prose to parse;
`worker --log-format json` gives it that. Secrets never reach a log record: the
settings hold them as SecretStr and no code formats them into a message.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

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
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                data[name] = (
                    value if isinstance(value, (int, float, bool, type(None))) else str(value)
                )
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(log_format: LogFormat = "text", *, debug: bool = False) -> None:
    """Send capitolmail's log records to stderr in the chosen format, replacing earlier setup."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # APScheduler narrates every wake-up at INFO; its warnings (a missed run) still show.
    quiet_libraries(debug=debug)


def quiet_libraries(*, debug: bool = False) -> None:
    """Libraries narrate routine steps at INFO (APScheduler every wake-up, Alembic every
    open); staff need their warnings only, such as a missed run."""
    for name in ("apscheduler", "alembic"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
