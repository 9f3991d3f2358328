"""POST /webhooks/sendgrid: the HTTP edge of tracking. Read the body, then verify,
parse and apply it (`tracking/`), and answer.

SendGrid retries anything but a 2xx for 24 hours, so only three answers are not
2xx: 401 for a request SendGrid did not sign (a retry cannot fix it, but nor
may we apply it), 400 for a body that is not a JSON list of events (SendGrid
never sends one; whoever did learns it was refused, and a hostile body can
never reach a traceback), and 503 when the database is down (a retry will fix
it). Events we do not know, or that are not ours, are logged and answered 204:
retrying them would only bring them back.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from capitolmail.errors import MalformedBodyError, StoreError, WebhookVerificationError
from capitolmail.tracking.apply import apply_events
from capitolmail.tracking.sendgrid import parse_events, verify
from capitolmail.web.context import read_body, web_context

log = logging.getLogger("capitolmail.web.webhooks")

# SendGrid posts batches of events a few hundred kilobytes long; far more is not SendGrid.
MAX_BODY = 8 * 1024 * 1024


async def sendgrid_webhook(request: Request) -> Response:
    web = web_context(request)
    body = await read_body(request, MAX_BODY)
    if body is None:
        log.warning("refused a SendGrid webhook: the body is over %d bytes", MAX_BODY)
        return PlainTextResponse("request body too large", 413)
    if web.settings.web.verify_webhooks:
        if web.sendgrid_key is None:
            log.error(
                "refused a SendGrid webhook: no verification key; set [web] "
                "sendgrid_public_key in capitolmail.toml (or verify_webhooks = false, "
                "for a local test only)"
            )
            return _unauthorised()
        try:
            verify(body, request.headers, web.sendgrid_key, now=time.time())
        except WebhookVerificationError as err:
            log.warning("refused a SendGrid webhook from %s: %s", _client(request), err)
            return _unauthorised()
    try:
        events = parse_events(body)
    except MalformedBodyError as err:
        log.warning("refused a malformed SendGrid webhook batch: %s", err)
        return PlainTextResponse("malformed body: expected a JSON list of events", 400)
    try:
        report = await run_in_threadpool(apply_events, web.store, events, datetime.now(UTC))
    except StoreError as err:
        log.error("could not apply a SendGrid webhook batch (SendGrid will retry): %s", err)
        return PlainTextResponse("database unavailable; try again", 503)
    for name, count in report.unknown_names.items():
        log.warning("ignored %d SendGrid event(s) of unknown type %r", count, name)
    log.info("SendGrid webhook: %s", report.summary())
    return Response(status_code=204)


def _unauthorised() -> Response:
    return PlainTextResponse("invalid or missing signature", 401)


def _client(request: Request) -> str:
    return request.client.host if request.client else "an unknown client"
