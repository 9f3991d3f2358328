"""The application `capitolmail serve` runs: routes, shared context, error pages.

`create_app(settings, store)` is the factory tests and the CLI both call, so a
test serves exactly what production serves. Database failures become a 503
page or answer (never a traceback, whose text might carry a URL), any other
failure a plain 500, and every other route is Starlette's plain 404/405; all of
them carry the headers of `security.py`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from capitolmail.config import Settings
from capitolmail.errors import StoreError
from capitolmail.outbox import Store
from capitolmail.signon.limits import AddressLimiter
from capitolmail.tracking.sendgrid import load_public_key
from capitolmail.web.context import WebContext
from capitolmail.web.pages import page_environment, render
from capitolmail.web.security import SecurityHeaders, internal_error, route_name
from capitolmail.web.sign_on import confirm_link, sign_form, withdraw_link
from capitolmail.web.sign_on_staff import staff_page
from capitolmail.web.status import healthz, status_page
from capitolmail.web.unsubscribe import unsubscribe_page
from capitolmail.web.webhooks import sendgrid_webhook

log = logging.getLogger("capitolmail.web")


def create_app(settings: Settings, store: Store, root: Path | None = None) -> Starlette:
    """The ASGI app over `store`; ConfigError when the webhook key is not a valid key.

    `root` is the workspace folder, whose letters with `[sign_on]` get a form.
    """
    key_text = settings.web.sendgrid_public_key.strip()
    key = load_public_key(key_text) if key_text else None
    if key is None and settings.web.verify_webhooks:
        log.warning(
            "no [web] sendgrid_public_key: SendGrid webhooks will be refused (401) until it is set"
        )
    if not settings.web.verify_webhooks:
        log.warning("webhook signatures are NOT verified ([web] verify_webhooks = false)")
    context = WebContext(
        settings=settings,
        store=store,
        pages=page_environment(),
        zone=ZoneInfo(settings.timezone),
        sendgrid_key=key,
        root=root,
        sign_on_limiter=AddressLimiter(settings.web.sign_on_per_address_per_hour),
    )
    routes = [
        Route("/webhooks/sendgrid", sendgrid_webhook, methods=["POST"]),
        Route("/u/{token}", unsubscribe_page, methods=["GET", "POST"]),
        Route("/sign/{slug}", sign_form, methods=["GET", "POST"]),
        Route("/sign/{slug}/confirm/{token}", confirm_link, methods=["GET", "POST"]),
        Route("/sign/{slug}/withdraw/{token}", withdraw_link, methods=["GET", "POST"]),
        Route("/sign/{slug}/staff", staff_page, methods=["GET"]),
        Route("/status", status_page, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={StoreError: _store_unavailable, Exception: internal_error},
    )
    # "/status/" would otherwise redirect to an absolute URL built from the Host header.
    app.router.redirect_slashes = False
    app.state.web = context
    return app


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    log.error("%s %s: %s", request.method, route_name(request.url.path), exc)
    context: WebContext = request.app.state.web
    return render(
        context.pages,
        "unavailable.html.j2",
        503,
        message="The service is temporarily unavailable. Please try again in a few minutes.",
    )
