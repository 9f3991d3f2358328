"""/sign/SLUG: the sign-on form, its confirmation and withdrawal links, and the staff page.

Routes only: parse, call signon/, present. The rules every answer follows:

- The form carries a CSRF token bound to a cookie (double submit, HMAC-signed and
  expiring, SameSite=Strict), a honeypot field people never see, a body size cap
  read before anything is parsed, and per-address and per-letter rate limits.
- A filled honeypot gets the same "check your email" page as a person, and nothing
  is stored: a bot learns nothing to adapt to.
- Confirmation and withdrawal links only show a button on GET (mail scanners follow
  links); the POST acts. Every bad link gets the same page.
- Pages are autoescaped (web/pages.py); everything a signer typed is shown escaped.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from capitolmail.errors import CapitolmailError, SignOnTokenError, StoreError
from capitolmail.letters.definition import load_letter
from capitolmail.letters.identity import resolve_sender
from capitolmail.signon import signing, tokens
from capitolmail.signon.form import LABELS, Checked
from capitolmail.signon.logos import LogoError, clean_logo
from capitolmail.signon.preview import letter_text
from capitolmail.signon.signing import Desk, FormState
from capitolmail.timing.when import describe_instant
from capitolmail.web.context import WebContext, read_body, web_context
from capitolmail.web.pages import render
from capitolmail.web.unsubscribe import mask_address

log = logging.getLogger("capitolmail.web.sign_on")

# The logo's cap (signon/logos.py) plus the fields and the multipart framing.
MAX_BODY = 640 * 1024
MAX_FIELDS = 20
# Past this an oversized body is not read to its end: the connection is dropped.
DRAIN_LIMIT = 4 * 1024 * 1024
COOKIE = "capitolmail_sign_on"
FORM_FOR = timedelta(hours=4)
HONEYPOT = "website"


async def sign_form(request: Request) -> Response:
    web = web_context(request)
    desk = await desk_for(web, request)
    if isinstance(desk, Response):
        return desk
    now = datetime.now(UTC)
    if request.method != "POST":
        return await _form_page(web, desk, request, now, Checked({}), 200)
    if desk.state(now) is not FormState.OPEN:
        return _closed(web, desk, now, 403)
    body = await _read_capped(request)
    if body is None:
        return _message(
            web, 413, "Too large", "The form was too large: the logo may be at most 512 KB."
        )
    try:
        form = await _parse(request, body)
    except ValueError:
        return _message(web, 400, "Not a form", "The request was not the sign-on form.")
    if not _csrf_ok(web, desk, request, form.get("csrf", "")):
        log.info("refused a sign-on for %s: missing or wrong form token", desk.letter.slug)
        return _message(
            web, 403, "Please try again",
            "This form has expired or was not sent from our page. Reload the page and sign again.",
        )  # fmt: skip
    if form.get(HONEYPOT):
        log.info("ignored a sign-on for %s: the honeypot field was filled", desk.letter.slug)
        return _thanks(web, desk, str(form.get("email", "")))
    limited = await _limited(web, desk, request, now)
    if limited is not None:
        return limited
    logo = None
    upload = form.get("logo")
    text_form = {key: value for key, value in form.items() if isinstance(value, str)}
    if isinstance(upload, bytes):
        try:
            logo = clean_logo(upload)
        except LogoError as err:
            checked = Checked(text_form, {"logo": str(err)})
            return await _form_page(web, desk, request, now, checked, 400)
    try:
        submitted = await run_in_threadpool(signing.submit, desk, text_form, logo, now)
    except CapitolmailError as err:  # the StoreError handler answers database failures
        if isinstance(err, StoreError):
            raise
        log.error("could not take a signature for %s: %s", desk.letter.slug, err)
        return _unavailable(web)
    if submitted.signature is None:
        return await _form_page(web, desk, request, now, submitted.checked, 400)
    return _thanks(web, desk, submitted.signature.email)


async def confirm_link(request: Request) -> Response:
    return await _link(request, tokens.CONFIRM)


async def withdraw_link(request: Request) -> Response:
    return await _link(request, tokens.WITHDRAW)


async def _link(request: Request, purpose: str) -> Response:
    web = web_context(request)
    desk = await desk_for(web, request)
    if isinstance(desk, Response):
        return desk
    token = request.path_params["token"]
    now = datetime.now(UTC)
    try:
        signature = await run_in_threadpool(signing.signature_for, desk, token, purpose, now)
        if request.method != "POST":
            return render(
                web.pages,
                "sign_link.html.j2",
                purpose=purpose,
                signature=signature,
                title=page_title(desk),
                action=request.url.path,
            )
        await read_body(request, 4096)
        act = signing.confirm if purpose == tokens.CONFIRM else signing.withdraw
        signature = await run_in_threadpool(act, desk, token, now)
    except SignOnTokenError:
        log.info("refused a sign-on %s link with an invalid or expired token", purpose)
        return _message(
            web, 400, "This link is not valid",
            "This link is not valid or has expired. Sign again on the form if you still want to.",
        )  # fmt: skip
    except CapitolmailError as err:
        return _message(web, 409, "Not possible any more", str(err))
    return render(
        web.pages,
        "sign_link_done.html.j2",
        signature=signature,
        title=page_title(desk),
        purpose=purpose,
    )


async def desk_for(web: WebContext, request: Request) -> Desk | Response:
    """The letter's sign-on desk, or the page saying why there is none."""
    slug = request.path_params["slug"]
    if web.root is None:
        return _message(web, 404, "Not found", "There is no sign-on form here.")
    try:
        letter = await run_in_threadpool(load_letter, web.root, slug)
    except CapitolmailError:
        letter = None
    if letter is None or letter.definition.sign_on is None:
        return _message(web, 404, "Not found", "There is no sign-on form for this letter.")
    try:
        sender = resolve_sender(letter, web.settings.organisation, web.settings.sender)
    except CapitolmailError as err:
        log.error("cannot serve the sign-on form of %s: %s", slug, err)
        return _unavailable(web)
    secret = web.settings.unsubscribe_secret
    if secret is None or not web.settings.web.base_url:
        log.error(
            "cannot serve the sign-on form: set CAPITOLMAIL_UNSUBSCRIBE_SECRET (it signs the "
            "confirmation links) and [web] base_url (where they point)"
        )
        return _unavailable(web)
    return Desk(
        letter=letter,
        store=web.store,
        secret=secret.get_secret_value(),
        base_url=web.settings.web.base_url,
        zone=web.zone,
        organisation=web.settings.organisation,
        sender=sender,
    )


async def _form_page(
    web: WebContext, desk: Desk, request: Request, now: datetime, checked: Checked, status: int
) -> Response:
    state = desk.state(now)
    if state is not FormState.OPEN:
        return _closed(web, desk, now, 200)
    text = await run_in_threadpool(letter_text, web.root, web.settings, web.store, desk.letter.slug)
    nonce = request.cookies.get(COOKIE) or secrets.token_urlsafe(18)
    if len(nonce) > 64:
        nonce = secrets.token_urlsafe(18)
    csrf = tokens.make_token(desk.secret, tokens.FORM, desk.letter.slug, nonce, now + FORM_FOR)
    _, closes = desk.sign_on.window(desk.zone)
    response = render(
        web.pages,
        "sign_form.html.j2",
        status,
        title=page_title(desk),
        letter_text=text,
        closes=describe_instant(closes, desk.zone),
        values=checked.values,
        problems=checked.problems,
        labels=LABELS,
        csrf=csrf,
        honeypot=HONEYPOT,
        passphrase=desk.sign_on.passphrase is not None,
        organisation=web.settings.organisation.name,
    )
    response.set_cookie(
        COOKIE,
        nonce,
        max_age=int(FORM_FOR.total_seconds()),
        path=f"/sign/{desk.letter.slug}",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


def _csrf_ok(web: WebContext, desk: Desk, request: Request, token: Any) -> bool:
    cookie = request.cookies.get(COOKIE, "")
    if not isinstance(token, str) or not token or not cookie:
        return False
    try:
        nonce = tokens.verify_token(
            desk.secret, token, purpose=tokens.FORM, letter=desk.letter.slug, now=datetime.now(UTC)
        )
    except SignOnTokenError:
        return False
    return isinstance(nonce, str) and hmac.compare_digest(nonce.encode(), cookie.encode())


async def _limited(web: WebContext, desk: Desk, request: Request, now: datetime) -> Response | None:
    address = request.client.host if request.client else "unknown"
    if not web.sign_on_limiter.allow(address, now):
        log.warning("sign-on for %s: rate limit per client address reached", desk.letter.slug)
        return _message(
            web,
            429,
            "Too many signatures",
            "Too many signatures from this address; try again in an hour.",
        )
    recent = await run_in_threadpool(
        web.store.signatures_since, desk.letter.slug, now - timedelta(hours=1)
    )
    if recent >= web.settings.web.sign_on_per_letter_per_hour:
        log.warning("sign-on for %s: rate limit per letter reached", desk.letter.slug)
        return _message(
            web,
            429,
            "Too many signatures",
            "This letter is receiving too many signatures right now; try again in an hour.",
        )
    return None


async def _read_capped(request: Request) -> bytes | None:
    """The body, or None past MAX_BODY. What is left of an oversized body is read and
    dropped (up to DRAIN_LIMIT, then the connection is simply closed), so a browser
    receives the 413 page rather than a reset connection; none of it is kept."""
    chunks: list[bytes] = []
    size = 0
    while size <= DRAIN_LIMIT:
        message = await request.receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks) if size <= MAX_BODY else None


async def _parse(request: Request, body: bytes) -> dict[str, Any]:
    """The form's text fields, and the logo's bytes under "logo" (None without one);
    ValueError when the body is not a form. Uploaded files are closed here."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    copy = Request(request.scope, replay)
    try:
        form = await copy.form(max_files=1, max_fields=MAX_FIELDS, max_part_size=MAX_BODY)
    except Exception as err:  # Starlette raises its own HTTPException and parser errors
        raise ValueError("not a form") from err
    try:
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key == "logo" and value.filename:
                    fields["logo"] = await value.read()
            elif key not in fields:
                fields[key] = value
        return fields
    finally:
        await form.close()


def _closed(web: WebContext, desk: Desk, now: datetime, status: int) -> Response:
    opens, closes = desk.sign_on.window(desk.zone)
    state = desk.state(now)
    when = describe_instant(opens if state is FormState.NOT_YET and opens else closes, desk.zone)
    shown = {"title": page_title(desk), "state": str(state), "when": when}
    return render(web.pages, "sign_closed.html.j2", status, **shown)


def _thanks(web: WebContext, desk: Desk, email: str) -> Response:
    return render(
        web.pages, "sign_thanks.html.j2", title=page_title(desk), masked_address=mask_address(email)
    )


def _unavailable(web: WebContext) -> Response:
    return render(
        web.pages,
        "unavailable.html.j2",
        503,
        message="Signing is temporarily unavailable. Please try again later.",
    )


def _message(web: WebContext, status: int, heading: str, text: str) -> Response:
    return render(web.pages, "sign_message.html.j2", status, heading=heading, text=text)


def page_title(desk: Desk) -> str:
    return desk.letter.definition.description or desk.letter.slug
