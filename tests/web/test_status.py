"""/status behind the token (bearer or basic auth), and /healthz."""

from __future__ import annotations

import base64

import pytest

from capitolmail.errors import StoreError
from capitolmail.outbox import Outcome, Store
from capitolmail.tracking.apply import apply_events
from capitolmail.tracking.events import EventType, TrackingEvent
from capitolmail.web.status import presented_token
from tests.web.conftest import NOW, STATUS_TOKEN, Serve, call, sent_job


def basic(password: str, user: str = "staff") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_status_needs_the_token(store: Store, serve: Serve) -> None:
    server = serve()

    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        basic("wrong"),
        {"Authorization": STATUS_TOKEN},
    ):
        reply = call("GET", server.url + "/status", headers=headers)
        assert reply.status == 401
        assert reply.headers["www-authenticate"].startswith("Basic ")
        assert STATUS_TOKEN not in reply.text


@pytest.mark.parametrize(
    "headers", [{"Authorization": f"Bearer {STATUS_TOKEN}"}, basic(STATUS_TOKEN)]
)
def test_status_shows_each_job_with_its_counts(
    store: Store, serve: Serve, headers: dict[str, str]
) -> None:
    job_id, _ = sent_job(store, ["jane@example.org", "omar@example.org"], unsent=1)
    server = serve()

    reply = call("GET", server.url + "/status", headers=headers)

    assert reply.status == 200
    assert 'http-equiv="refresh"' in reply.text
    assert f'id="job-{job_id}"' in reply.text
    assert "gitmo-alert" in reply.text
    assert "queued 1, sent 2" in reply.text
    assert "2/3 (66%)" in reply.text


def test_status_lists_problems_by_reason(store: Store, serve: Serve) -> None:
    sent_job(store, ["jane@example.org", "omar@example.org"], unsent=2)
    for claim in store.claim_due("w1", 2, NOW):
        store.record_outcomes(
            [Outcome(claim.message.message_id, "failed", error="550 mailbox unavailable")], NOW
        )
    server = serve()

    reply = call("GET", server.url + "/status", headers=basic(STATUS_TOKEN))

    assert "2 × 550 mailbox unavailable" in reply.text


def test_status_without_a_configured_token_explains_how_to_set_one(
    store: Store, serve: Serve
) -> None:
    server = serve(status_token=None)

    reply = call("GET", server.url + "/status", headers={"Authorization": "Bearer anything"})

    assert reply.status == 503
    assert "CAPITOLMAIL_STATUS_TOKEN" in reply.text


def test_healthz_answers_ok_after_a_query(store: Store, serve: Serve) -> None:
    server = serve()

    reply = call("GET", server.url + "/healthz")

    assert (reply.status, reply.json()) == (200, {"status": "ok"})


def test_healthz_answers_503_when_the_database_fails(
    store: Store, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise StoreError("could not reach the database in sqlite:///x: gone; check it")

    monkeypatch.setattr(store, "ping", down)
    server = serve()

    reply = call("GET", server.url + "/healthz")

    assert (reply.status, reply.json()) == (503, {"status": "unavailable"})


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic " + base64.b64encode(b"any:abc:def").decode(), "abc:def"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), None),
        ("Basic !!!", None),
        ("Token abc", None),
        (None, None),
    ],
)
def test_presented_token(header: str | None, token: str | None) -> None:
    assert presented_token(header) == token


def test_unsubscribe_tokens_are_blanked_in_the_access_log() -> None:
    import logging

    from capitolmail.web.security import HideTokensFilter

    args = ("127.0.0.1:5000", "POST", "/u/eyJ4.c2ln", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s"', args, None)

    assert HideTokensFilter().filter(record)
    assert record.args == ("127.0.0.1:5000", "POST", "/u/…", "1.1", 200)


def test_status_shows_the_delivery_summary_the_report_has(store: Store, serve: Serve) -> None:
    job_id, (jane, omar) = sent_job(store, ["jane@example.org", "omar@example.org"])
    link = "https://act.example.org/<b>act</b>"
    events = [
        TrackingEvent(EventType.OPENED, "open", NOW, jane, recipient="jane@example.org"),
        TrackingEvent(
            EventType.CLICKED, "click", NOW, jane, recipient="jane@example.org", url=link
        ),
        TrackingEvent(EventType.REPLIED, "replied", NOW, omar, recipient="omar@example.org"),
    ]
    assert apply_events(store, events, NOW).applied == 3
    server = serve()

    reply = call("GET", server.url + "/status", headers={"Authorization": f"Bearer {STATUS_TOKEN}"})

    assert reply.status == 200
    assert f'id="job-{job_id}-summary"' in reply.text
    assert "Replies: 1; auto-replies: 0" in reply.text
    assert "Opened by 1 recipient (1 opens); clicked by 1 recipient (1 clicks)" in reply.text
    assert "https://act.example.org/&lt;b&gt;act&lt;/b&gt;" in reply.text
    assert "<b>act</b>" not in reply.text
