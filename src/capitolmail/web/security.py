"""What every answer of `capitolmail serve` carries, and what its access log leaves out.

Set once around the whole app rather than per handler, because the answers that
handlers never see are the ones that get forgotten: Starlette's own 404 and 405,
a 413, a 500, a redirect. Every answer:

- stays out of frames (X-Frame-Options for older browsers, CSP frame-ancestors
  for the rest): the unsubscribe button is a clickjacking target;
- is not sniffed into another type, is never cached (the unsubscribe page names
  an address, the status page an organisation's sends), and sends no Referer
  (the unsubscribe URL holds a token);
- redirects, if it ever does, to a path of ours: a Location built from the Host
  header the client sent would let anyone who can set that header point our
  links elsewhere (and poison a cache in front of us).

The access log keeps neither unsubscribe tokens nor query strings: no route reads
a query, so one is either a mistake (`/status?token=…` pasted from a chat) or a
probe, and in both cases it may hold a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("capitolmail.web")

# Set on every answer unless its handler chose a value (pages set a fuller CSP).
EVERY_RESPONSE = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """ASGI middleware: EVERY_RESPONSE on each answer, and same-host redirects made relative."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERY_RESPONSE.items():
                    if name not in headers:
                        headers[name] = value
                location = headers.get("location")
                if location is not None:
                    headers["location"] = own_path(location, _hosts(scope))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def own_path(location: str, hosts: Iterable[str]) -> str:
    """`location` without scheme and host when the host is one the client named.

    A relative Location resolves against the URL the browser used, so it reaches
    the same place behind a proxy without trusting the Host header.
    """
    parts = urlsplit(location)
    if not parts.netloc:
        return location
    if parts.netloc.lower() in {host.lower() for host in hosts}:
        path = parts.path or "/"
        return f"{path}?{parts.query}" if parts.query else path
    return location


def _hosts(scope: Scope) -> list[str]:
    names = {b"host", b"x-forwarded-host"}
    return [value.decode("latin-1") for name, value in scope["headers"] if name in names]


async def internal_error(request: Request, exc: Exception) -> Response:
    """A bug's answer: a plain 500 with the same headers (Starlette sends it outside
    the middleware) and a log line without the URL's token or query."""
    log.error("%s %s failed: %s", request.method, route_name(request.url.path), type(exc).__name__)
    return PlainTextResponse("internal error", 500, headers=EVERY_RESPONSE)


def route_name(path: str) -> str:
    """The path without an unsubscribe or sign-on token, which must not reach the log."""
    if path.startswith("/u/"):
        return "/u/…"
    parts = path.split("/")
    if len(parts) >= 5 and parts[1] == "sign" and parts[3] in ("confirm", "withdraw"):
        return "/".join([*parts[:4], "…"])
    return path


class HideTokensFilter(logging.Filter):
    """Blanks unsubscribe tokens and query strings in uvicorn's access log lines.

    A token is as good as the person's consent to leave the list, and for an
    address subject it carries the address itself; a query may carry a status
    token someone put in a link.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        path = args[2] if isinstance(args, tuple) and len(args) >= 3 else None
        if isinstance(path, str):
            record.args = (*args[:2], logged_path(path), *args[3:])  # type: ignore[index]
        return True


def logged_path(path: str) -> str:
    """ "/status?token=abc" → "/status?…"; "/u/TOKEN" → "/u/…"."""
    route, question, _ = path.partition("?")
    return route_name(route) + ("?…" if question else "")
