"""One-click unsubscribe tokens: a round trip, and every way of tampering refused."""

from __future__ import annotations

import base64
import json

import pytest

from capitolmail.errors import UnsubscribeTokenError
from capitolmail.letters.tokens import make_token, verify_token

SECRET = "0123456789abcdef0123456789abcdef"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("subject", [42, "jane@example.org", "ñandú@example.org"])
def test_round_trip(subject: int | str) -> None:
    token = make_token(SECRET, subject, "gitmo-2025")
    assert verify_token(SECRET, token) == (subject, "gitmo-2025")
    assert verify_token(SECRET.encode(), token, list_id="gitmo-2025") == (subject, "gitmo-2025")
    assert "=" not in token and all(c.isalnum() or c in "-_." for c in token)


def test_tokens_differ_by_subject_list_and_secret() -> None:
    tokens = {
        make_token(SECRET, 1, "a"),
        make_token(SECRET, 2, "a"),
        make_token(SECRET, 1, "b"),
        make_token(SECRET + "x", 1, "a"),
    }
    assert len(tokens) == 4


def test_a_tampered_payload_is_refused() -> None:
    token = make_token(SECRET, 42, "gitmo-2025")
    _, signature = token.split(".")
    forged = _b64(json.dumps([1, 43, "gitmo-2025"], separators=(",", ":")).encode())
    with pytest.raises(UnsubscribeTokenError):
        verify_token(SECRET, f"{forged}.{signature}")


def test_a_tampered_signature_is_refused() -> None:
    token = make_token(SECRET, 42, "gitmo-2025")
    for index in range(len(token)):
        if token[index] == ".":
            continue
        changed = token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]
        with pytest.raises(UnsubscribeTokenError):
            verify_token(SECRET, changed)


def test_the_wrong_secret_is_refused() -> None:
    token = make_token(SECRET, 42, "gitmo-2025")
    with pytest.raises(UnsubscribeTokenError):
        verify_token("another-secret-of-enough-length", token)


def test_a_token_for_another_list_is_refused() -> None:
    token = make_token(SECRET, 42, "arms-sale")
    with pytest.raises(UnsubscribeTokenError):
        verify_token(SECRET, token, list_id="gitmo-2025")
    payload, signature = token.split(".")
    moved = _b64(json.dumps([1, 42, "gitmo-2025"], separators=(",", ":")).encode())
    with pytest.raises(UnsubscribeTokenError):
        verify_token(SECRET, f"{moved}.{signature}")


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "abc", "a.b.c", "!!!.???", "WzEsNDIsImEiXQ==.abc", "é.é", "x" * 5000, " . "],
)
def test_garbage_is_refused_with_one_terse_message(garbage: str) -> None:
    with pytest.raises(UnsubscribeTokenError) as caught:
        verify_token(SECRET, garbage)
    assert str(caught.value) == (
        "this unsubscribe link is not valid; it may have been cut or altered"
    )


def test_a_short_or_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        make_token("short", 42, "a")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        verify_token(b"", "x.y")


@pytest.mark.parametrize(("subject", "list_id"), [(True, "a"), ("", "a"), (1.5, "a"), (1, "")])
def test_nonsense_arguments_are_a_programming_error(subject: object, list_id: str) -> None:
    with pytest.raises(TypeError):
        make_token(SECRET, subject, list_id)  # type: ignore[arg-type]
