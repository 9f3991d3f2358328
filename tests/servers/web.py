"""`capitolmail serve`'s app on a loopback port, for tests: uvicorn in a background thread.

Run as tests/servers/sendgrid.py runs its stand-in (tests/servers/threaded.py).
Logging is left to pytest (`log_config=None`), so `caplog` sees the
app's log lines.
"""

from __future__ import annotations

from typing import Any

from tests.servers.threaded import ServerThread


class LiveServer(ServerThread):
    def __init__(self, app: Any) -> None:
        super().__init__(app, name="capitolmail-web", log_config=None)
