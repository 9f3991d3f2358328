"""POST /webhooks/sendgrid over a real socket: signatures, deduplication, ordering, suppression."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from capitolmail.outbox import Store
from tests.web.conftest import Serve, Signer, call, sent_job

PATH = "/webhooks/sendgrid"
_counter = iter(range(1, 1_000_000))


def event(name: str, message_id: str | None, email: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "email": email,
        "event": name,
        "timestamp": int(time.time()),
        "sg_event_id": f"sg-event-{next(_counter)}",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "capitolmail_job_id": "1",
    }
    if message_id is not None:
        data["capitolmail_message_id"] = message_id
    data.update(fields)
    return data


def post(server: Any, signer: Signer | None, events: Any, **sign: Any) -> int:
    body = events if isinstance(events, bytes) else json.dumps(events).encode()
    headers = signer.headers(body, **sign) if signer else {"Content-Type": "application/json"}
    return call("POST", server.url + PATH, body=body, headers=headers).status


def states(store: Store, job_id: int) -> dict[str, str]:
    return {m.to_email: m.state for m in store.list_messages(job_id)}


def test_signed_batch_moves_messages_and_logs_each_event(
    store: Store, serve: Serve, signer: Signer
) -> None:
    job_id, (jane, omar) = sent_job(store, ["jane@example.org", "omar@example.org"])
    server = serve()

    status = post(
        server,
        signer,
        [
            event("processed", jane, "jane@example.org"),
            event("delivered", jane, "jane@example.org"),
            event("deferred", omar, "omar@example.org", response="451 try later"),
            event("open", jane, "jane@example.org"),
        ],
    )

    assert status == 204
    assert states(store, job_id) == {"jane@example.org": "delivered", "omar@example.org": "sent"}
    kinds = [(e.message_id, e.kind) for e in store.list_events(job_id) if e.at.year > 2025]
    assert kinds == [
        (jane, "event_processed"),
        (jane, "delivered"),
        (omar, "event_deferred"),
        (jane, "event_opened"),
    ]
    deferred = [e for e in store.list_events(job_id, message_id=omar) if e.kind == "event_deferred"]
    assert deferred[0].detail == "deferred: 451 try later"


def test_tampered_body_is_refused(store: Store, serve: Serve, signer: Signer) -> None:
    job_id, (jane,) = sent_job(store, ["jane@example.org"])
    server = serve()
    body = json.dumps([event("delivered", jane, "jane@example.org")]).encode()
    headers = signer.headers(body)
    tampered = body.replace(b"delivered", b"spamreport")

    reply = call("POST", server.url + PATH, body=tampered, headers=headers)

    assert reply.status == 401
    assert states(store, job_id) == {"jane@example.org": "sent"}
    assert store.list_suppressions() == []


def test_signature_by_another_key_is_refused(store: Store, serve: Serve, signer: Signer) -> None:
    job_id, (jane,) = sent_job(store, ["jane@example.org"])
    server = serve()

    assert post(server, Signer(), [event("delivered", jane, "jane@example.org")]) == 401
    assert states(store, job_id) == {"jane@example.org": "sent"}


# Five minutes and a few seconds ahead: the request itself takes time under load, and
# int(time.time()) already reads up to a second behind the server's clock.
@pytest.mark.parametrize("offset", [-301, -3600, 305])
def test_timestamp_more_than_five_minutes_off_is_refused(
    store: Store, serve: Serve, signer: Signer, offset: int
) -> None:
    job_id, (jane,) = sent_job(store, ["jane@example.org"])
    server = serve()
    old = int(time.time()) + offset

    assert post(server, signer, [event("delivered", jane, "x@y.org")], timestamp=old) == 401
    assert states(store, job_id) == {"jane@example.org": "sent"}


def test_unsigned_request_is_refused(store: Store, serve: Serve) -> None:
    job_id, (jane,) = sent_job(store, ["jane@example.org"])
    server = serve()

    assert post(server, None, [event("delivered", jane, "jane@example.org")]) == 401
    assert states(store, job_id) == {"jane@example.org": "sent"}


def test_without_a_configured_key_every_webhook_is_refused(
    store: Store, serve: Serve, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    job_id, (jane,) = sent_job(store, ["jane@example.org"])
    server = serve(web={"sendgrid_public_key": ""})

    assert post(server, signer, [event("delivered", jane, "jane@example.org")]) == 401
    assert "sendgrid_public_key" in caplog.text
    assert states(store, job_id) == {"jane@example.org": "sent"}


def test_unsigned_request_is_accepted_when_verification_is_off(store: Store, serve: Serve) -> None:
    job_id, (jane,) = sent_job(store, ["jane@example.org"])
    server = serve(web={"verify_webhooks": False, "sendgrid_public_key": ""})

    assert post(server, None, [event("delivered", jane, "jane@example.org")]) == 204
    assert states(store, job_id) == {"jane@example.org": "delivered"}


def test_a_replayed_event_id_changes_nothing(store: Store, serve: Serve, signer: Signer) -> None:
    job_id, (jane, omar) = sent_job(store, ["jane@example.org", "omar@example.org"])
    server = serve()
    batch = [
        event("delivered", jane, "jane@example.org"),
        event("bounce", omar, "omar@example.org", type="bounce", reason="550 no such user"),
    ]
    assert post(server, signer, batch) == 204
    after_first = (states(store, job_id), store.list_events(job_id), store.list_suppressions())

    assert post(server, signer, batch) == 204  # SendGrid's retry: signed again, same events

    assert (states(store, job_id), store.list_events(job_id), store.list_suppressions()) == (
        after_first
    )
    assert states(store, job_id) == {"jane@example.org": "delivered", "omar@example.org": "bounced"}


def test_a_later_event_never_moves_a_message_backwards(
    store: Store, serve: Serve, signer: Signer
) -> None:
    job_id, (jane, omar) = sent_job(store, ["jane@example.org", "omar@example.org"])
    server = serve()

    post(server, signer, [event("spamreport", jane, "jane@example.org")])
    post(server, signer, [event("delivered", jane, "jane@example.org")])
    post(server, signer, [event("delivered", omar, "omar@example.org")])
    post(server, signer, [event("processed", omar, "omar@example.org")])
    post(server, signer, [event("dropped", omar, "omar@example.org", reason="Invalid")])

    assert states(store, job_id) == {
        "jane@example.org": "spam_report",
        "omar@example.org": "dropped",
    }
    late = [e for e in store.list_events(job_id, message_id=jane) if e.kind == "event_delivered"]
    assert late and "not applied: the message is spam_report" in (late[0].detail or "")


def test_bounces_spam_reports_and_unsubscribes_suppress_the_address(
    store: Store, serve: Serve, signer: Signer
) -> None:
    emails = ["hard@example.org", "blocked@example.org", "spam@example.org", "unsub@example.org"]
    job_id, (hard, blocked, spam, unsub) = sent_job(store, emails)
    server = serve()

    status = post(
        server,
        signer,
        [
            event("bounce", hard, "hard@example.org", type="bounce", reason="550 5.1.1 unknown"),
            event("bounce", blocked, "blocked@example.org", type="blocked", reason="554 spam"),
            event("spamreport", spam, "spam@example.org"),
            event("unsubscribe", unsub, "unsub@example.org"),
            event("group_unsubscribe", None, "Other@Example.org", asm_group_id=42),
        ],
    )

    assert status == 204
    assert states(store, job_id) == {
        "hard@example.org": "bounced",
        "blocked@example.org": "sent",  # a soft failure: recorded, not moved
        "spam@example.org": "spam_report",
        "unsub@example.org": "sent",
    }
    assert {(s.email, s.reason) for s in store.list_suppressions()} == {
        ("hard@example.org", "bounce"),
        ("spam@example.org", "spam_report"),
        ("unsub@example.org", "unsubscribe"),
    }
    # The next send skips them: this is the check the sender makes before each message.
    assert store.suppressed_among(emails) == {
        "hard@example.org",
        "spam@example.org",
        "unsub@example.org",
    }
    blocked_events = store.list_events(job_id, message_id=blocked)
    assert [e.kind for e in blocked_events][-1] == "event_blocked"


def test_events_act_only_on_our_message_and_its_recipient(
    store: Store, serve: Serve, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    """A signed event suppresses or moves nothing that is not ours: an address none of
    our messages went to, or our message with someone else's address, is counted and
    left alone; the matching event still applies, to the address we stored."""
    job_id, (jane, omar) = sent_job(store, ["jane@example.org", "omar@example.org"])
    server = serve()
    caplog.set_level(logging.INFO, logger="capitolmail")

    status = post(
        server,
        signer,
        [
            event("spamreport", None, "victim@example.org"),
            event("unsubscribe", "00000000-0000-0000-0000-000000000000", "victim2@example.org"),
            event("bounce", jane, "victim3@example.org", type="bounce"),
            event("spamreport", jane, ""),
            event("delivered", omar, "jane@example.org"),
            event("unsubscribe", omar, " Omar@Example.ORG"),
        ],
    )

    assert status == 204
    assert [(s.email, s.reason) for s in store.list_suppressions()] == [
        ("omar@example.org", "unsubscribe")
    ]
    assert states(store, job_id) == {"jane@example.org": "sent", "omar@example.org": "sent"}
    assert [e.kind for e in store.list_events(job_id, message_id=jane)][-1] == "sent"
    assert "2 not ours, 3 for another address" in caplog.text


@pytest.mark.parametrize(
    ("body", "logged"),
    [
        (b"{not json", "not JSON"),
        (b'{"event": "delivered"}', "not a list"),
        (b"", "not JSON"),
    ],
)
def test_a_batch_that_cannot_be_read_is_logged_and_refused(
    store: Store,
    serve: Serve,
    signer: Signer,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    logged: str,
) -> None:
    server = serve()
    caplog.set_level(logging.INFO, logger="capitolmail")

    assert post(server, signer, body) == 400
    assert logged in caplog.text


def test_unknown_events_and_messages_are_logged_and_acknowledged(
    store: Store, serve: Serve, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    job_id, (jane,) = sent_job(store, ["jane@example.org"])
    server = serve()
    caplog.set_level(logging.INFO, logger="capitolmail")

    status = post(
        server,
        signer,
        [
            event("teleported", jane, "jane@example.org"),
            "not an event",
            event("delivered", "00000000-0000-0000-0000-000000000000", "who@example.org"),
            event("delivered", None, "other-tool@example.org"),
            event("delivered", jane, "jane@example.org"),
        ],
    )

    assert status == 204
    assert "unknown type 'teleported'" in caplog.text
    assert "2 not ours, 0 for another address, 2 unknown" in caplog.text
    assert states(store, job_id) == {"jane@example.org": "delivered"}


def test_a_database_failure_asks_sendgrid_to_retry(
    store: Store, serve: Serve, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from capitolmail.errors import StoreError

    def down(now: object) -> None:
        raise StoreError("could not record delivery events in sqlite:///x: locked; check it")

    monkeypatch.setattr(store, "record_deliveries", down)
    server = serve()

    assert post(server, signer, [event("delivered", None, "jane@example.org")]) == 503
