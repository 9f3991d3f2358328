"""A SendGrid event is evidence: the message it names was taken, whatever we last recorded.

Through `capitolmail serve`'s webhook over a real socket, with the real send loop
posting to the SendGrid stand-in: an event for an `unknown`, `retry_wait` or
still-`sending` message moves it to `sent` (then on), it is never sent again, and
the sender's own outcome arriving after the event changes nothing.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from capitolmail.config import load_settings
from capitolmail.config.sections import SendGridSettings
from capitolmail.errors import StoreError
from capitolmail.outbox import Outcome, Store
from capitolmail.outbox.schema import messages
from capitolmail.providers import SendGridProvider
from capitolmail.sending.sender import SendOptions, SendSummary, send_due
from capitolmail.web import create_app
from tests.conftest import Invoke
from tests.servers.sendgrid import SendGridStandIn, load_spec
from tests.servers.web import LiveServer
from tests.web.conftest import NOW, Serve, Signer, make_settings, sent_job
from tests.web.test_webhooks import event, post

API_KEY = "SG.capitolmail-test.abcdefghijklmnopqrstuvwxyz"
X_MESSAGE_ID = "XBg2anf2TqCy6WXKQFhieQ"
SG_MESSAGE_ID = f"{X_MESSAGE_ID}.filter0905p1mdw1-4434-59E0C6FF-3.0"


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s")
        time.sleep(0.01)


@pytest.fixture
def sendgrid() -> Iterator[SendGridStandIn]:
    with SendGridStandIn(API_KEY, spec=load_spec()) as server:
        yield server


def history(store: Store, job_id: int, message_id: str) -> list[tuple[str, str | None]]:
    return [(e.kind, e.detail) for e in store.list_events(job_id, message_id=message_id)]


def message(store: Store, job_id: int, message_id: str) -> Any:
    return {m.id: m for m in store.list_messages(job_id)}[message_id]


def test_an_event_for_an_unknown_message_proves_it_sent(
    store: Store, serve: Serve, signer: Signer
) -> None:
    job_id, _ = sent_job(store, [], unsent=1)
    (claimed,) = store.claim_due("w1", 1, NOW)
    message_id = claimed.message.message_id
    store.record_outcomes([Outcome(message_id, "unknown", error="no reply within 2 s")], NOW)
    server = serve()
    at = int(time.time())

    assert (
        post(
            server,
            signer,
            [
                event(
                    "processed",
                    message_id,
                    "later0@example.org",
                    timestamp=at,
                    sg_message_id=SG_MESSAGE_ID,
                )
            ],
        )
        == 204
    )

    info = message(store, job_id, message_id)
    assert (info.state, info.provider_message_id, info.last_error) == ("sent", X_MESSAGE_ID, None)
    assert info.sent_at == datetime.fromtimestamp(at, UTC)
    assert history(store, job_id, message_id)[-2:] == [
        ("sent", 'proved by the provider\'s "processed" event; it was unknown'),
        ("event_processed", "processed"),
    ]
    # Nothing is left for an operator to requeue by mistake.
    assert store.requeue(job_id, ["unknown"], NOW) == 0


def test_a_bounce_for_an_unknown_message_goes_through_sent_to_bounced_and_suppresses(
    store: Store, serve: Serve, signer: Signer
) -> None:
    job_id, _ = sent_job(store, [], unsent=1)
    (claimed,) = store.claim_due("w1", 1, NOW)
    message_id = claimed.message.message_id
    store.record_outcomes([Outcome(message_id, "unknown", error="no reply")], NOW)
    server = serve()

    bounce = event("bounce", message_id, "later0@example.org", type="bounce", reason="550 5.1.1")
    assert post(server, signer, [bounce]) == 204

    assert message(store, job_id, message_id).state == "bounced"
    assert [kind for kind, _ in history(store, job_id, message_id)][-2:] == ["sent", "bounced"]
    assert [s.email for s in store.list_suppressions()] == ["later0@example.org"]


def test_an_event_for_a_retry_wait_message_stops_the_retry(
    cli: Invoke, workspace: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", API_KEY)
    with SendGridStandIn(API_KEY, spec=load_spec()) as sendgrid:
        config = workspace / "capitolmail.toml"
        text = config.read_text().replace('name = "file"', 'name = "sendgrid"')
        config.write_text(
            text + f'\n[provider.sendgrid]\nbase_url = "{sendgrid.url}"\nsandbox_mode = true\n'
            "\n[worker]\nretry_base_seconds = 3600\n"
        )
        cli("queue", "block-arms-sale")
        cli("send", "1")
        # SendGrid answered 500 but took the message anyway, as its docs allow.
        sendgrid.answer(500, recipient="cos.booker.nj@senate.example.org")
        assert cli("worker", "--once").exit_code == 0
        assert sendgrid.requests == 44
        settings = load_settings(workspace)
        with Store.open(settings.database_url_for(workspace)) as store:
            (waiting,) = store.list_messages(1, states=["retry_wait"])
            with store.engine.begin() as conn:  # its retry has come due
                conn.execute(
                    update(messages)
                    .where(messages.c.id == waiting.id)
                    .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
                )
            server = LiveServer(create_app(make_settings(signer), store))
            with server:
                delivered = event("delivered", waiting.id, waiting.to_email)
                assert post(server, signer, [delivered]) == 204

        again = cli("worker", "--once")

        assert again.exit_code == 0
        assert sendgrid.requests == 44  # not sent a second time
        status = json.loads(cli("status", "1", "--json").stdout)["jobs"][0]
        assert (status["state"], status["counts"]) == ("done", {"sent": 43, "delivered": 1})


def _send_in_thread(store: Store, provider: SendGridProvider) -> tuple[threading.Thread, list]:
    summaries: list[SendSummary | BaseException] = []

    def run() -> None:
        try:
            summaries.append(send_due(store, provider, options=SendOptions(concurrency=4)))
        except BaseException as err:  # the test reports it
            summaries.append(err)

    thread = threading.Thread(target=run, name="test-sender")
    thread.start()
    return thread, summaries


@pytest.mark.parametrize(
    ("timeout", "stall", "outcome"),
    [(2.0, 3.0, "unknown: SendGrid did not answer within 2 s"), (10.0, 2.0, "sent")],
)
def test_an_event_for_a_message_still_sending_wins_over_the_senders_late_outcome(
    store: Store,
    serve: Serve,
    signer: Signer,
    sendgrid: SendGridStandIn,
    timeout: float,
    stall: float,
    outcome: str,
) -> None:
    job_id, _ = sent_job(store, [], unsent=3)
    slow = next(m for m in store.list_messages(job_id) if m.to_email == "later1@example.org")
    sendgrid.stall(stall, recipient=slow.to_email)
    provider = SendGridProvider(
        SendGridSettings(base_url=sendgrid.url, timeout=timeout), api_key=SecretStr(API_KEY)
    )
    server = serve()
    thread, summaries = _send_in_thread(store, provider)
    try:
        wait_for(lambda: sendgrid.in_flight == 1 and len(sendgrid.accepted) == 2)
        assert message(store, job_id, slow.id).state == "sending"
        # A bounce before the outcome: SendGrid took it, then the office's server refused it.
        bounce = event(
            "bounce", slow.id, slow.to_email, type="bounce", reason="550 5.1.1", sg_message_id=None
        )
        assert post(server, signer, [bounce]) == 204
        assert message(store, job_id, slow.id).state == "bounced"
    finally:
        thread.join(timeout=30)

    assert not isinstance(summaries[0], BaseException), summaries[0]
    info = message(store, job_id, slow.id)
    assert info.state == "bounced"
    kinds = history(store, job_id, slow.id)
    assert [kind for kind, _ in kinds] == ["sending", "sent", "bounced", "late_outcome"]
    assert kinds[1][1] == 'proved by the provider\'s "bounce" event; it was sending'
    assert (kinds[3][1] or "").startswith(f"the sender's outcome ({outcome}")
    assert (kinds[3][1] or "").endswith("came after an event proved it sent; kept bounced")
    if outcome == "sent":  # the event carried no id; the late reply's fills it in
        assert info.provider_message_id == sendgrid.receipts[-1]
    wait_for(lambda: len(sendgrid.accepted) == 3)
    assert Counter(sendgrid.accepted_ids()) == Counter(m.id for m in store.list_messages(job_id))
    assert store.get_job(job_id).state == "done"


def test_a_second_late_outcome_is_refused_like_any_outcome_recorded_twice(
    store: Store, serve: Serve, signer: Signer
) -> None:
    job_id, _ = sent_job(store, [], unsent=1)
    (claimed,) = store.claim_due("w1", 1, NOW)
    message_id = claimed.message.message_id
    delivered = event("delivered", message_id, "later0@example.org", sg_message_id=None)
    post(serve(), signer, [delivered])

    assert store.record_outcomes([Outcome(message_id, "sent", provider_message_id="q1")], NOW) == [
        "delivered"
    ]
    with pytest.raises(StoreError, match="is delivered, not sending"):
        store.record_outcomes([Outcome(message_id, "sent", provider_message_id="q2")], NOW)
    assert message(store, job_id, message_id).provider_message_id == "q1"
