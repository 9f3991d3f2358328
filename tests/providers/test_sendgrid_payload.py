from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from capitolmail.attachment import Attachment
from capitolmail.errors import PermanentSendError
from capitolmail.providers.sendgrid_payload import (
    build_payload,
    build_request,
    check_limits,
    request_size,
)
from capitolmail.providers.sendgrid_shape import assemble, assemble_with_helpers

from ..servers.sendgrid import SPEC_MISSING, load_spec, request_validator, schema_problems
from .contract import sample_message

MESSAGE_ID = "6f1c2d3e-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded = load_spec()
    if loaded is None:
        pytest.skip(SPEC_MISSING)
    return loaded


def test_sample_message_builds_the_documented_shape() -> None:
    message = sample_message(headers=(("List-Unsubscribe", "<mailto:unsub@example.org>"),))
    assert build_payload(message, sandbox_mode=True, unsubscribe_group_id=4242) == {
        "from": {"name": "Example Rights Coalition", "email": "advocacy@example.org"},
        "subject": "39 organizations urge you to block the pending arms sale",
        "personalizations": [
            {
                "to": [{"name": "Jordan Nguyen", "email": "fpla.schatz.hi@senate.example.org"}],
                "custom_args": {"capitolmail_message_id": MESSAGE_ID, "capitolmail_job_id": "7"},
            }
        ],
        "content": [
            {"type": "text/plain", "value": "Dear Senator Schatz:\n\nWe write to urge you.\n"},
            {
                "type": "text/html",
                "value": "<p>Dear Senator Schatz:</p>\n<p>We write to urge you.</p>\n",
            },
        ],
        "headers": {
            "Message-ID": f"<{MESSAGE_ID}@example.org>",
            "List-Unsubscribe": "<mailto:unsub@example.org>",
        },
        "categories": ["block-arms-sale"],
        "asm": {"group_id": 4242},
        "mail_settings": {"sandbox_mode": {"enable": True}},
        "reply_to": {"email": "policy@example.org"},
        # Always said, both ways: an account that tracks by default must not rewrite
        # a joint letter's links.
        "tracking_settings": {
            "click_tracking": {"enable": False, "enable_text": False},
            "open_tracking": {"enable": False},
        },
    }


def test_defaults_leave_account_settings_alone() -> None:
    payload = build_payload(sample_message())
    assert "mail_settings" not in payload
    assert "asm" not in payload


def test_text_only_message_has_one_part_and_empty_names_are_left_out() -> None:
    payload = build_payload(sample_message(html=None, to_name="", from_name="", reply_to=None))
    assert payload["content"] == [
        {"type": "text/plain", "value": "Dear Senator Schatz:\n\nWe write to urge you.\n"}
    ]
    assert payload["from"] == {"email": "advocacy@example.org"}
    assert payload["personalizations"][0]["to"] == [{"email": "fpla.schatz.hi@senate.example.org"}]
    assert "reply_to" not in payload


def test_categories_and_headers_keep_the_letters_order() -> None:
    payload = build_payload(
        sample_message(
            categories=("block-arms-sale", "senate", "hawaii"),
            headers=(("X-Letter", "block-arms-sale"), ("X-Batch", "3")),
        )
    )
    assert payload["categories"] == ["block-arms-sale", "senate", "hawaii"]
    assert list(payload["headers"]) == ["Message-ID", "X-Letter", "X-Batch"]


def test_unicode_subject_and_names_survive_into_the_bytes() -> None:
    message = sample_message(
        subject="Carta de la coalición — Luján, Velázquez",
        to_name="José Núñez",
        from_name="Coalición por la Paz",
    )
    payload, body = build_request(message)
    assert payload["subject"] == "Carta de la coalición — Luján, Velázquez"
    assert payload["personalizations"][0]["to"][0]["name"] == "José Núñez"
    assert "Luján".encode() in body  # UTF-8 on the wire, not \\u escapes
    assert json.loads(body) == payload


def test_the_body_is_the_compact_json_the_size_limit_was_measured_on() -> None:
    """orjson writes the body; its bytes are those json.dumps gives for the same payload,
    escapes and all, so the 30 MB check and the queue-time size see what is sent."""
    message = sample_message(
        subject='Quotes " and \\ backslashes, U+2028 \u2028 and 🇺🇸',
        text="Line one\r\nline two \x7f and \x1b escape, \u00e9 and \u2029.",
        html='<p style="color:#333">Dear Senator — “quoted”</p>',
        to_name="Ana O'Neil",
    )
    payload, body = build_request(message)
    assert body == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert request_size(message) == len(body)


def test_sample_payload_matches_the_published_schema(spec: dict[str, Any]) -> None:
    validator = request_validator(spec)
    message = sample_message(headers=(("List-Unsubscribe", "<mailto:u@example.org>"),))
    for payload in (
        build_payload(message, sandbox_mode=True, unsubscribe_group_id=7),
        build_payload(sample_message(html=None, to_name="", reply_to=None)),
        build_payload(
            sample_message(attachments=(Attachment("letter.pdf", "application/pdf", b"%PDF-"),))
        ),
    ):
        assert schema_problems(validator, payload) == []


def test_the_schema_check_itself_can_fail(spec: dict[str, Any]) -> None:
    payload = build_payload(sample_message())
    payload["from"] = {"name": "no address"}
    payload["categories"] = ["a"] * 11
    problems = schema_problems(request_validator(spec), payload)
    assert {p["field"] for p in problems} == {"from", "categories"}


def refused(**changes: object) -> str:
    with pytest.raises(PermanentSendError) as caught:
        build_payload(sample_message(**changes))
    return str(caught.value)


def test_empty_subject_is_refused() -> None:
    assert refused(subject="") == "SendGrid limit: the subject must not be empty"


def test_empty_text_part_is_refused() -> None:
    assert refused(text="") == "SendGrid limit: the text/plain part must not be empty"


@pytest.mark.parametrize("name", ["Nguyen, Jordan", "Jordan; Office of Sen. Schatz"])
def test_recipient_name_with_comma_or_semicolon_is_refused(name: str) -> None:
    assert refused(to_name=name) == (
        f'SendGrid limit: recipient names may not contain ";" or "," (name "{name}" for '
        "fpla.schatz.hi@senate.example.org); remove them from the contact's name"
    )


def test_custom_args_of_ten_thousand_bytes_are_refused() -> None:
    # 89 bytes of JSON around the job id: {"capitolmail_message_id":"…","capitolmail_job_id":"…"}
    assert refused(job_id="j" * 9_911) == (
        "SendGrid limit: custom_args must be under 10,000 bytes (this message: 10,000)"
    )


def test_custom_args_of_9999_bytes_pass() -> None:
    build_payload(sample_message(job_id="j" * 9_910))


@pytest.mark.parametrize(
    "name", ["Reply-To", "x-sg-id", "X-SG-EID", "received", "DKIM-Signature", "content-type", "Bcc"]
)
def test_reserved_headers_are_refused_in_any_case(name: str) -> None:
    assert refused(headers=((name, "value"),)) == (
        f'SendGrid limit: the header "{name}" is reserved and may not be set; remove it'
    )


def test_our_own_message_id_header_cannot_be_overridden() -> None:
    assert "is set from the message id" in refused(headers=(("Message-Id", "<x@y>"),))


def test_a_header_twice_is_refused_not_silently_merged() -> None:
    assert "may appear once" in refused(headers=(("X-Tag", "a"), ("x-tag", "b")))


def test_header_with_a_line_break_is_refused() -> None:
    assert "line break" in refused(headers=(("X-Tag", "a\r\nBcc: victim@example.org"),))


def test_more_than_ten_categories_is_refused() -> None:
    categories = tuple(f"c{n}" for n in range(11))
    assert refused(categories=categories) == (
        "SendGrid limit: at most 10 categories (this message: 11)"
    )


def test_category_over_255_characters_is_refused() -> None:
    message = refused(categories=("x" * 256,))
    assert message.startswith("SendGrid limit: a category must be at most 255 characters")
    assert message.endswith("has 256)")
    build_payload(sample_message(categories=("x" * 255,)))


def test_repeated_category_is_refused() -> None:
    assert 'each category may appear once ("senate" appears twice)' in refused(
        categories=("senate", "senate")
    )


def test_thirty_megabytes_is_refused() -> None:
    message = refused(text="x" * 30_000_000, html=None)
    assert message.startswith("SendGrid limit: a request must be under 30 MB (this message: 30,0")


def test_body_starting_with_an_api_key_is_refused_without_echoing_it() -> None:
    message = refused(text="SG.abcdefGHIJ.klmnopQRST is our key\n")
    assert "abcdefGHIJ" not in message
    assert "SendGrid API key" in message


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"html": None},
        {"html": ""},
        {"reply_to": None},
        {"from_name": ""},
        {"to_name": ""},
        {"to_name": "José Núñez", "subject": "Carta de la coalición — Luján"},
        {"headers": (("X-Campaign", "arms"), ("List-Id", "<arms.example.org>"))},
        {"categories": ("a", "b", "c")},
        {"categories": ()},
        {"text": "Body with \x00capitolmail-to-email\x00 in it\n"},
        {"html": "<p>SG.abcdefGHIJ.klmnopQRST later in the body is not refused</p>"},
    ],
)
@pytest.mark.parametrize(("sandbox", "group"), [(False, None), (True, 42)])
def test_a_cached_shape_builds_exactly_what_the_helpers_build(
    changes: dict[str, Any], sandbox: bool, group: int | None
) -> None:
    """assemble fills a shape the helpers built once per letter; it must not differ."""
    for n in range(3):  # the first message builds the shape, the others reuse it
        message = sample_message(
            message_id=f"6f1c2d3e-0000-4000-8000-00000000000{n}",
            to_email=f"office{n}@senate.example.org",
            **changes,
        )
        assert assemble(message, sandbox, group) == assemble_with_helpers(message, sandbox, group)


def test_a_body_starting_with_an_api_key_is_refused_after_a_shape_is_cached() -> None:
    build_payload(sample_message())
    for body in ({"text": "SG.abcdefGHIJ.klmnopQRST is our key\n"}, {"html": "SG.ab.cd"}):
        with pytest.raises(PermanentSendError, match="looks like a SendGrid API key"):
            build_payload(sample_message(**body))


# check_limits guards any payload, including shapes build_payload never makes.


def payload_with(**personalization: object) -> dict[str, Any]:
    payload = copy.deepcopy(build_payload(sample_message()))
    payload["personalizations"][0].update(personalization)
    return payload


def test_more_than_1000_recipients_across_to_cc_and_bcc_is_refused() -> None:
    people = [{"email": f"person{n}@example.org"} for n in range(1001)]
    payload = payload_with(to=people[:500], cc=people[500:900], bcc=people[900:])
    with pytest.raises(
        PermanentSendError, match=r"at most 1,000 recipients .*\(this message: 1,001\)"
    ):
        check_limits(payload)
    check_limits(payload_with(to=people[:1000]))


def test_an_address_twice_in_a_request_is_refused_whatever_its_case() -> None:
    payload = payload_with(
        to=[{"email": "office@senate.example.org"}], bcc=[{"email": "Office@Senate.example.org"}]
    )
    with pytest.raises(
        PermanentSendError, match=r"once per request \(Office@Senate.example.org appears twice\)"
    ):
        check_limits(payload)


def test_the_same_address_in_two_personalizations_is_refused() -> None:
    payload = payload_with()
    payload["personalizations"].append(copy.deepcopy(payload["personalizations"][0]))
    with pytest.raises(PermanentSendError, match="appears twice"):
        check_limits(payload)


def test_reserved_header_in_a_personalization_is_refused() -> None:
    with pytest.raises(PermanentSendError, match='"CC" is reserved'):
        check_limits(payload_with(headers={"CC": "someone@example.org"}))


def test_an_attachment_goes_as_base64_with_its_type_name_and_disposition() -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256)) + b"\n%%EOF\n"
    letter = Attachment("coalition-letter-B001288.pdf", "application/pdf", pdf)
    payload, body = build_request(sample_message(attachments=(letter,)))
    assert payload["attachments"] == [
        {
            "content": base64.b64encode(pdf).decode("ascii"),
            "type": "application/pdf",
            "filename": "coalition-letter-B001288.pdf",
            "disposition": "attachment",
        }
    ]
    assert json.loads(body)["attachments"] == payload["attachments"]
    assert "attachments" not in build_payload(sample_message())
