"""/u/{token}: GET changes nothing; POST unsubscribes once; bad ones learn nothing."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from capitolmail.letters.tokens import make_token
from capitolmail.outbox import QueuedMessage, Store, SupporterRecord
from tests.web.conftest import ORGANISATION, UNSUBSCRIBE_SECRET, Serve, call, outgoing

ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def link(server: object, subject: int | str, list_id: str = "gitmo-alerts") -> str:
    return f"{server.url}/u/{make_token(UNSUBSCRIBE_SECRET, subject, list_id)}"  # type: ignore[attr-defined]


def add_supporter(store: Store, email: str) -> int:
    record = SupporterRecord(
        email=email,
        email_key=email.lower(),
        first_name="Jane",
        last_name="Doe",
        postal_code="20500",
        state="DC",
        district=0,
        consent=True,
        consent_at=None,
    )
    store.upsert_supporters([record], import_id="import-1", now=datetime.now(UTC))
    (supporter,) = [s for s in store.list_supporters() if s.email == email]
    return supporter.id


def test_one_click_post_unsubscribes_once(store: Store, serve: Serve) -> None:
    server = serve()
    url = link(server, "jane@example.org")

    first = call("POST", url, body=ONE_CLICK, headers=FORM)
    (row,) = store.list_suppressions()
    again = call("POST", url, body=ONE_CLICK, headers=FORM)

    assert (first.status, again.status) == (200, 200)
    assert "You are unsubscribed" in first.text and "You are unsubscribed" in again.text
    assert store.list_suppressions() == [row]  # one row, still the first unsubscribe's time
    assert (row.email, row.reason) == ("jane@example.org", "unsubscribe")
    assert row.detail == "list gitmo-alerts, one-click (RFC 8058)"
    assert store.suppressed_among(["Jane@Example.org"]) == {"jane@example.org"}


def test_get_shows_the_page_and_unsubscribes_nobody(store: Store, serve: Serve) -> None:
    server = serve()
    url = link(server, "jane@example.org")

    page = call("GET", url)
    head = call("HEAD", url)

    assert (page.status, head.status) == (200, 200)
    assert ORGANISATION in page.text
    # No message named the list to this address: the technical id is never shown.
    assert "You are receiving email from" in page.text and "gitmo-alerts" not in page.text
    assert "j…@example.org" in page.text and "jane@example.org" not in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert store.list_suppressions() == []


def test_get_then_confirm_unsubscribes_once(store: Store, serve: Serve) -> None:
    supporter = add_supporter(store, "jane@example.org")
    server = serve()
    url = link(server, supporter)

    page = call("GET", url)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None
    confirmed = call("POST", server.url + action.group(1), body=b"confirm=yes", headers=FORM)
    call("POST", server.url + action.group(1), body=b"confirm=yes", headers=FORM)

    assert confirmed.status == 200 and "You are unsubscribed" in confirmed.text
    (row,) = store.list_suppressions()
    assert (row.email, row.reason) == ("jane@example.org", "unsubscribe")
    assert row.detail == "list gitmo-alerts, confirmed on the unsubscribe page"


def test_an_earlier_bounce_keeps_its_reason(store: Store, serve: Serve) -> None:
    store.add_suppression("jane@example.org", "bounce", at=datetime.now(UTC))
    server = serve()

    assert call("POST", link(server, "jane@example.org"), body=ONE_CLICK).status == 200
    assert [s.reason for s in store.list_suppressions()] == ["bounce"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_bad_link_gets_the_same_400_page(store: Store, serve: Serve, method: str) -> None:
    server = serve()
    good = make_token(UNSUBSCRIBE_SECRET, "jane@example.org", "gitmo-alerts")
    payload, signature = good.split(".")
    bad = [
        f"{payload}.{signature[:-2]}AA",  # altered signature
        f"{payload}x.{signature}",  # altered payload
        make_token("another-secret-0123456789abcdef", "jane@example.org", "gitmo-alerts"),
        "not-a-token",
        make_token(UNSUBSCRIBE_SECRET, 987654, "gitmo-alerts"),  # no such supporter
    ]

    replies = [call(method, f"{server.url}/u/{token}", body=ONE_CLICK) for token in bad]

    assert {reply.status for reply in replies} == {400}
    assert len({reply.text for reply in replies}) == 1
    assert "jane" not in replies[0].text and "gitmo" not in replies[0].text
    assert store.list_suppressions() == []


def test_without_the_secret_the_page_is_unavailable(
    store: Store, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(unsubscribe_secret=None)
    url = f"{server.url}/u/{make_token(UNSUBSCRIBE_SECRET, 'jane@example.org', 'a')}"

    reply = call("POST", url, body=ONE_CLICK)

    assert reply.status == 503
    assert "CAPITOLMAIL_UNSUBSCRIBE_SECRET is not set" in caplog.text
    assert UNSUBSCRIBE_SECRET not in caplog.text
    assert store.list_suppressions() == []


def test_a_database_failure_is_a_503_page_without_the_token(
    store: Store, serve: Serve, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from capitolmail.errors import StoreError

    def down(emails: object) -> set[str]:
        raise StoreError("could not read the suppression list in sqlite:///x: gone; check it")

    monkeypatch.setattr(store, "suppressed_among", down)
    server = serve()
    token = make_token(UNSUBSCRIBE_SECRET, "jane@example.org", "gitmo-alerts")

    reply = call("POST", f"{server.url}/u/{token}", body=ONE_CLICK)

    assert reply.status == 503 and "temporarily unavailable" in reply.text
    assert "could not read the suppression list" in caplog.text
    assert token not in caplog.text


def test_the_page_names_the_list_as_its_list_id_header_did(store: Store, serve: Serve) -> None:
    list_id = "gitmo-action-alerts.peace-action.example"
    alert = replace(
        outgoing(0, "jane@example.org"),
        headers=(("List-Id", f"Guantánamo action alerts <{list_id}>"),),
    )
    other = replace(
        outgoing(1, "jane@example.org"), headers=(("List-Id", "Newsletter <news.example>"),)
    )
    store.create_job(
        letter_slug="gitmo-alert",
        kind="alert",
        messages=[QueuedMessage(alert), QueuedMessage(other)],
        now=datetime.now(UTC),
    )
    server = serve()

    page = call("GET", link(server, "jane@example.org", list_id))

    assert page.status == 200
    assert "You are receiving <strong>Guantánamo action alerts</strong> from" in page.text
    assert list_id not in page.text
    assert store.list_suppressions() == []


def test_a_signed_link_naming_no_valid_address_suppresses_nothing(
    store: Store, serve: Serve
) -> None:
    # Suppressions are made one way, which validates: a link whose address no
    # message of ours could have gone to is refused like any bad link.
    server = serve()

    refused = call("POST", link(server, "not-an-address"), body=ONE_CLICK, headers=FORM)

    assert refused.status == 400
    assert store.list_suppressions() == []
