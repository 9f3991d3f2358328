"""/sign/SLUG/staff: every signature of a sign-on letter, for staff, behind the status token.

The token is checked as /status checks it (web/status.py): a bearer token, or the
password of HTTP basic auth, compared in constant time; 503 when none is set.
The page is read-only: decisions are made with `capitolmail signers`, which
leaves a record in the terminal and needs no CSRF defence for a browser session.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from capitolmail.timing.when import describe_instant
from capitolmail.web.context import web_context
from capitolmail.web.pages import SECURITY_HEADERS, render
from capitolmail.web.sign_on import desk_for, page_title
from capitolmail.web.status import presented_token, token_matches

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="capitolmail sign-on", charset="UTF-8"'}


async def staff_page(request: Request) -> Response:
    web = web_context(request)
    desk = await desk_for(web, request)
    if isinstance(desk, Response):
        return desk
    token = web.settings.status_token
    if token is None or not token.get_secret_value():
        return PlainTextResponse(
            "The staff page is switched off: set CAPITOLMAIL_STATUS_TOKEN and restart.",
            503,
            headers=SECURITY_HEADERS,
        )
    presented = presented_token(request.headers.get("authorization"))
    if not token_matches(presented, token.get_secret_value()):
        return PlainTextResponse(
            "Authorization required: the status token as a bearer token, or as the password "
            "of HTTP basic auth.",
            401,
            headers={**SECURITY_HEADERS, **_CHALLENGE},
        )
    now = datetime.now(UTC)
    signatures = await run_in_threadpool(web.store.list_signatures, desk.letter.slug)
    _, closes = desk.sign_on.window(desk.zone)
    return render(
        web.pages,
        "sign_staff.html.j2",
        title=page_title(desk),
        slug=desk.letter.slug,
        signatures=signatures,
        state=str(desk.state(now)),
        closes=describe_instant(closes, desk.zone),
        when=lambda moment: describe_instant(moment, desk.zone) if moment else "",
    )
