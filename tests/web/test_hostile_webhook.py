"""Hostile bodies at POST /webhooks/sendgrid, signed so they reach the parser.

Each one is answered 400 (the body is not a JSON list of events) or 204 (a list
whose items are not events we can apply), never 500, with one log line; none of
them moves a message or suppresses an address, and the server keeps answering.
"""

from __future__ import annotations

import json
import logging

import pytest

from capitolmail.outbox import Store
from capitolmail.web.webhooks import MAX_BODY
from tests.web.conftest import Serve, Signer, call, sent_job
from tests.web.test_webhooks import PATH, event, states

DEEP = 100_000

MALFORMED: dict[str, bytes] = {
    "lists nested 100,000 deep": b"[" * DEEP + b"]" * DEEP,
    "objects nested 100,000 deep": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "an event nested 100,000 deep": b'[{"event":' + b"[" * DEEP + b"]" * DEEP + b"}]",
    "unclosed nesting": b"[" * DEEP,
    "not UTF-8": b'[{"event": "delivered", "email": "\xff\xfe@example.org"}]',
    "Latin-1 text": '[{"event": "délivré"}]'.encode("latin-1"),
    "NaN": b'[{"event": "delivered", "timestamp": NaN}]',
    "Infinity": b'[{"event": "delivered", "timestamp": Infinity}]',
    "-Infinity": b'[{"event": "delivered", "timestamp": -Infinity}]',
    "a float too large": b'[{"event": "delivered", "timestamp": 1e999}]',
    "an integer of 100,000 digits": b'[{"timestamp": ' + b"9" * 100_000 + b"}]",
    "a duplicate key": b'[{"event": "delivered", "event": "spamreport"}]',
    "a duplicate key deep inside": b'[{"event": "open", "x": {"k": 1, "k": 2}}]',
    "an object at the top": b'{"event": "delivered"}',
    "a string at the top": b'"delivered"',
    "a number at the top": b"42",
    "null at the top": b"null",
    "true at the top": b"true",
    "an empty body": b"",
    "whitespace": b"  \n ",
    "truncated JSON": b'[{"event": "delivered", "email": "jane@exa',
    "trailing garbage": b"[] []",
    "not JSON": b"<xml>delivered</xml>",
    "a NUL byte": b"[\x00]",
}

# Lists SendGrid could not have sent, item by item: each is counted as unknown or
# not ours and acknowledged, so the good events of a batch are never held back.
ODD_ITEMS: dict[str, list[object]] = {
    "items that are not objects": [1, "delivered", None, [], True, 1.5],
    "an empty object": [{}],
    "an event name that is not a string": [{"event": {"name": "delivered"}}],
    "wrong types in every field": [
        {
            "event": "bounce",
            "type": ["bounce"],
            "email": ["jane@example.org"],
            "capitolmail_message_id": {"id": 1},
            "timestamp": "yesterday",
            "sg_event_id": 7,
            "sg_message_id": [],
            "reason": {"text": "550"},
        }
    ],
    "timestamps out of range": [
        {"event": "delivered", "email": "a@example.org", "timestamp": 10**300},
        {"event": "delivered", "email": "a@example.org", "timestamp": -(10**20)},
        {"event": "delivered", "email": "a@example.org", "timestamp": True},
    ],
    "a bounce with no address and no message": [{"event": "bounce", "type": "bounce"}],
    "an unsubscribe for someone else": [{"event": "unsubscribe", "email": "x@example.org"}],
    "an overlong event id": [{"event": "open", "sg_event_id": "e" * 10_000}],
}


def _post(server: object, signer: Signer, body: bytes) -> int:
    return call("POST", server.url + PATH, body=body, headers=signer.headers(body)).status  # type: ignore[attr-defined]


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_body_is_answered_400_with_one_log_line(
    store: Store, serve: Serve, signer: Signer, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    job_id, _ = sent_job(store, ["jane@example.org"])
    server = serve()
    caplog.set_level(logging.INFO, logger="capitolmail")

    assert _post(server, signer, body) == 400

    (line,) = [r.getMessage() for r in caplog.records if r.name.startswith("capitolmail")]
    assert line.startswith("refused a malformed SendGrid webhook batch: ")
    assert "\n" not in line and len(line) < 400
    assert states(store, job_id) == {"jane@example.org": "sent"}
    assert store.list_suppressions() == []
    assert call("GET", server.url + "/healthz").status == 200


@pytest.mark.parametrize("items", ODD_ITEMS.values(), ids=ODD_ITEMS.keys())
def test_items_that_are_not_our_events_are_acknowledged_and_change_nothing(
    store: Store, serve: Serve, signer: Signer, items: list[object]
) -> None:
    job_id, (jane,) = sent_job(store, ["jane@example.org"])
    server = serve()

    assert _post(server, signer, json.dumps(items).encode()) == 204

    assert states(store, job_id) == {"jane@example.org": "sent"}
    assert store.list_suppressions() == []
    # The same batch with one real event still applies that event.
    good = [*items, event("delivered", jane, "jane@example.org")]
    assert _post(server, signer, json.dumps(good).encode()) == 204
    assert states(store, job_id) == {"jane@example.org": "delivered"}


def test_custom_args_nested_a_few_levels_are_still_read(
    store: Store, serve: Serve, signer: Signer
) -> None:
    job_id, (jane,) = sent_job(store, ["jane@example.org"])
    server = serve()
    nested: object = "deep"
    for _ in range(7):  # 2 + 14 levels: MAX_DEPTH exactly
        nested = {"n": [nested]}

    body = json.dumps([event("delivered", jane, "jane@example.org", extra=nested)]).encode()
    status = _post(server, signer, body)

    assert status == 204
    assert states(store, job_id) == {"jane@example.org": "delivered"}


def test_a_body_over_the_cap_is_refused_413(store: Store, serve: Serve, signer: Signer) -> None:
    server = serve()
    body = b"[" + b" " * MAX_BODY + b"]"

    assert _post(server, signer, body) == 413
