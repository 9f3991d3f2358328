"""An ASGI app served by uvicorn on a loopback port in a background thread.

Shared by the SendGrid stand-in and `capitolmail serve`'s test server. The socket
is bound to port 0 first (so parallel runs never collide) and handed to uvicorn,
with IPPROTO_TCP given explicitly: asyncio sets TCP_NODELAY on accepted sockets
only when the listener says TCP, and without it every reply with a body waits
40 ms for a delayed ACK (Nagle).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn


class ServerThread:
    """`start()` returns once uvicorn accepts connections; `url` is then set."""

    def __init__(self, app: Any, *, name: str, **config: Any) -> None:
        self._served = app
        self._name = name
        self._config = config
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._served,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
            **self._config,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=self._name
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self._name} did not start")
            time.sleep(0.01)
        scheme = "https" if self._config.get("ssl_certfile") else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._server = self._thread = None
        self.url = ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
