"""tracking/sendgrid.py without a server: the key formats, the signature checks, the event map."""

from __future__ import annotations

import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from capitolmail.errors import ConfigError, WebhookVerificationError
from capitolmail.tracking.events import EventType
from capitolmail.tracking.sendgrid import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    load_public_key,
    parse_events,
    verify,
)
from tests.web.conftest import Signer


def test_the_key_is_read_as_sendgrid_shows_it_or_as_pem(signer: Signer) -> None:
    pem = (
        signer.private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    numbers = signer.private_key.public_key().public_numbers()

    assert load_public_key(signer.public_key).public_numbers() == numbers
    assert load_public_key(pem).public_numbers() == numbers


@pytest.mark.parametrize(
    "text", ["not base64!", "aGVsbG8=", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"]
)
def test_a_malformed_key_is_a_config_error_naming_the_setting(text: str) -> None:
    with pytest.raises(ConfigError, match=r"\[web\]: sendgrid_public_key"):
        load_public_key(text)


def test_a_key_on_another_curve_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(ConfigError):
        load_public_key(pem)


def test_verify_accepts_the_raw_body_signed_with_the_timestamp(signer: Signer) -> None:
    body = b'[{"event": "delivered"}]\r\n'
    key = load_public_key(signer.public_key)
    headers = signer.headers(body)

    verify(body, headers, key, now=time.time())
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(body.strip(), headers, key, now=time.time())  # re-encoded JSON fails


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({SIGNATURE_HEADER: ""}, "not signed"),
        ({TIMESTAMP_HEADER: "yesterday"}, "not a Unix time"),
        ({TIMESTAMP_HEADER: "1"}, "more than 5 minutes"),
        ({SIGNATURE_HEADER: "%%%"}, "does not match"),
    ],
)
def test_verify_refuses(signer: Signer, change: dict[str, str], message: str) -> None:
    body = b"[]"
    headers = {**signer.headers(body), **change}
    with pytest.raises(WebhookVerificationError, match=message):
        verify(body, headers, load_public_key(signer.public_key), now=time.time())


def test_events_are_mapped_to_our_kinds() -> None:
    names = ["processed", "deferred", "delivered", "dropped", "spamreport", "unsubscribe"]
    names += ["group_unsubscribe", "open", "click", "group_resubscribe"]
    items = [{"event": name, "sg_event_id": name} for name in names]
    items += [
        {"event": "bounce", "type": "bounce"},
        {"event": "bounce", "type": "blocked"},
        {"event": "delivered", "sg_event_id": "x" * 256, "timestamp": 1e300},
        42,
    ]

    events = parse_events(json.dumps(items).encode())

    assert [e.event_type for e in events] == [
        EventType.PROCESSED,
        EventType.DEFERRED,
        EventType.DELIVERED,
        EventType.DROPPED,
        EventType.SPAM_REPORT,
        EventType.UNSUBSCRIBED,
        EventType.UNSUBSCRIBED,
        EventType.OPENED,
        EventType.CLICKED,
        EventType.UNKNOWN,
        EventType.BOUNCED,
        EventType.BLOCKED,
        EventType.DELIVERED,
        EventType.UNKNOWN,
    ]
    assert events[12].event_id is None and events[12].timestamp is None


def test_the_message_id_comes_from_custom_args() -> None:
    (event,) = parse_events(
        b'[{"event": "delivered", "email": "a@b.org", "timestamp": 1700000000, '
        b'"capitolmail_message_id": "m-1", "sg_event_id": "e-1", "response": "250 ok"}]'
    )
    assert (event.message_id, event.recipient, event.event_id, event.reason) == (
        "m-1",
        "a@b.org",
        "e-1",
        "250 ok",
    )
    assert event.timestamp is not None and event.timestamp.timestamp() == 1700000000


def test_our_ids_tags_and_the_providers_words_are_kept_on_the_event() -> None:
    (event,) = parse_events(
        b'[{"event": "bounce", "email": "a@b.org", "capitolmail_message_id": "m-1", '
        b'"capitolmail_job_id": "7", "another_tools_arg": "x", "category": ["alert", "gitmo"], '
        b'"reason": "550 5.1.1 unknown user", "sg_message_id": "XBg2.filter0905p1mdw1"}]'
    )
    assert (event.event_type, event.event_name) == (EventType.BOUNCED, "bounce")
    assert (event.message_id, event.job_id, event.provider_message_id) == ("m-1", "7", "XBg2")
    assert event.metadata == {"capitolmail_message_id": "m-1", "capitolmail_job_id": "7"}
    assert event.tags == ("alert", "gitmo")
    assert (event.description, event.mta_response) == ("550 5.1.1 unknown user", None)
    assert event.esp_event["another_tools_arg"] == "x"
    (single,) = parse_events(b'[{"event": "open", "category": "alert"}]')
    assert single.tags == ("alert",) and single.metadata == {}
