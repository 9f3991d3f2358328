"""Receivers that note when the first and the last message arrived, for workers.py.

    python benchmarks/_arrivals.py smtp
    python benchmarks/_arrivals.py sendgrid --latency 0.05

Several worker processes send into one receiver, so no sender's own clock can say
how long the whole run took; the receiver can. Each arrival is stamped with
`time.monotonic()` (CLOCK_MONOTONIC, one clock for every process on the machine),
and `stats` answers with the count and the first and last stamps. The same
stdin protocol as _sinks.py (`stats`, `reset`, exit on EOF), whose `Sink` handle
drives these processes too; kept apart from _sinks.py so that send.py's receivers
stay exactly what its figures were measured against.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sinks import API_KEY, Sink, _answer, cpu_seconds  # noqa: E402


class Arrivals:
    """Count, first and last arrival time; thread-safe (the stand-in answers on threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None

    def note(self) -> None:
        now = time.monotonic()
        with self.lock:
            self.count += 1
            if self.first is None:
                self.first = now
            self.last = now

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "messages": self.count,
                "first": self.first,
                "last": self.last,
                "cpu": cpu_seconds(),
            }


class ArrivalSink(Sink):
    """`Sink`, but running this file's receivers."""

    script = Path(__file__).resolve()


class _Handler:
    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrivals.note()
        return "250 OK"


def _serve_smtp() -> None:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # aiosmtpd's self-check needs a real port, not 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    arrivals = Arrivals()
    controller = Controller(
        _Handler(arrivals), hostname="127.0.0.1", port=port, server_hostname="sink.benchmark.test"
    )
    controller.start()
    try:
        _answer({"port": port}, arrivals.stats, arrivals.reset)
    finally:
        controller.stop()


def _serve_sendgrid(latency: float) -> None:
    from starlette.requests import Request
    from starlette.responses import Response
    from tests.servers.sendgrid import SendGridStandIn

    arrivals = Arrivals()

    class Stamped(SendGridStandIn):
        """The stand-in, stamping each accepted request; it keeps no payloads, which a
        run of tens of thousands would otherwise hold for nothing."""

        async def _mail_send(self, request: Request) -> Response:
            response = await super()._mail_send(request)
            if response.status_code == 202:
                arrivals.note()
                with self._lock:
                    self.accepted.clear()
                    self.receipts.clear()
            return response

    server = Stamped(API_KEY, latency=latency)
    server.start()

    def reset() -> None:
        server.reset()
        arrivals.reset()

    try:
        _answer({"url": server.url}, arrivals.stats, reset)
    finally:
        server.stop()


def main(argv: list[str]) -> None:
    if argv[0] == "smtp":
        _serve_smtp()
    elif argv[0] == "sendgrid":
        latency = float(argv[argv.index("--latency") + 1]) if "--latency" in argv else 0.0
        _serve_sendgrid(latency)
    else:
        raise SystemExit(f"unknown receiver {argv[0]!r}; use smtp or sendgrid")


if __name__ == "__main__":
    main(sys.argv[1:])
