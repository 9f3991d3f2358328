"""What every handler needs, built once by `create_app` and kept on `app.state`.

Handlers take their values from here instead of reading settings, the way the
CLI's commands take them from the Workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from jinja2 import Environment
from starlette.requests import Request

from capitolmail.config import Settings
from capitolmail.outbox import Store
from capitolmail.signon.limits import AddressLimiter


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    store: Store
    pages: Environment
    zone: ZoneInfo
    # None when no key is configured; verification then refuses every request.
    sendgrid_key: EllipticCurvePublicKey | None
    # The workspace folder, where sign-on letters are read; None serves no sign-on form.
    root: Path | None = None
    sign_on_limiter: AddressLimiter = field(default_factory=lambda: AddressLimiter(10))


def web_context(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is longer than `limit` bytes (read no further)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
