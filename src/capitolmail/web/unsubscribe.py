"""/u/{token}: the unsubscribe page (GET) and the unsubscribe itself (POST).

A GET only shows the page: mail scanners and link previews follow every link,
and would otherwise unsubscribe people who never asked. A POST unsubscribes at
once, whether it comes from the page's button or from a mail client's RFC 8058
one-click request (body `List-Unsubscribe=One-Click`, no cookies, no CSRF
token: the signed token in the URL is the whole authorisation). Every failure
shows the same 400 page, so a probing client learns nothing about the token.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from capitolmail.errors import UnsubscribeTokenError
from capitolmail.letters.tokens import verify_token
from capitolmail.tracking.unsubscribes import unsubscribe, unsubscribe_address
from capitolmail.web.context import WebContext, read_body, web_context
from capitolmail.web.pages import render

log = logging.getLogger("capitolmail.web.unsubscribe")

# A one-click body is 26 bytes and the page's form a few more.
MAX_BODY = 4096


async def unsubscribe_page(request: Request) -> Response:
    web = web_context(request)
    secret = web.settings.unsubscribe_secret
    if secret is None or not secret.get_secret_value():
        log.error(
            "cannot honor an unsubscribe link: CAPITOLMAIL_UNSUBSCRIBE_SECRET is not set; "
            "set it to the secret the links were made with"
        )
        return render(
            web.pages,
            "unavailable.html.j2",
            503,
            message="Unsubscribing is temporarily unavailable. Please try again later, "
            "or reply to the email and ask to be removed.",
        )
    try:
        subject, list_id = verify_token(secret.get_secret_value(), request.path_params["token"])
    except UnsubscribeTokenError:
        log.info("refused an unsubscribe link with an invalid token")
        return _invalid(web)
    address = await run_in_threadpool(unsubscribe_address, web.store, subject)
    if address is None:
        log.info("refused an unsubscribe link for a supporter no longer in the database")
        return _invalid(web)
    common = {
        "organisation": web.settings.organisation.name or "this organisation",
        "masked_address": mask_address(address),
    }
    if request.method != "POST":
        # The name the person saw in their mail client, not the technical list id.
        list_name = await run_in_threadpool(web.store.list_name, address, list_id)
        return render(
            web.pages,
            "unsubscribe_confirm.html.j2",
            list_name=list_name,
            action=request.url.path,
            **common,
        )
    body = await read_body(request, MAX_BODY) or b""
    form = parse_qs(body.decode("utf-8", "replace"))
    one_click = form.get("List-Unsubscribe") == ["One-Click"]
    how = "one-click (RFC 8058)" if one_click else "confirmed on the unsubscribe page"
    try:
        added = await run_in_threadpool(
            unsubscribe, web.store, address, list_id, datetime.now(UTC), how=how
        )
    except UnsubscribeTokenError:
        log.info("refused an unsubscribe link whose address is not a valid address")
        return _invalid(web)
    log.info("unsubscribe from list %s: %s", list_id, "done" if added else "already suppressed")
    return render(web.pages, "unsubscribe_done.html.j2", **common)


def mask_address(address: str) -> str:
    """ "j…@example.org": enough for someone with several addresses to know which one,
    not enough for someone who found the link to learn the address."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local:
        return ""
    return f"{local[0]}…@{domain}"


def _invalid(web: WebContext) -> Response:
    return render(web.pages, "unsubscribe_invalid.html.j2", 400)
