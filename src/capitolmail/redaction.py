"""Secrets out of every text that leaves the process: logs, errors, `status`, the database.

A relay or an API may echo what it was sent: an SMTP server answering 535 with
the base64 of the AUTH PLAIN line, SendGrid quoting the key it refused, a proxy
page with the URL-encoded password in a link. So a secret is looked for in the
forms it travels in, not only as itself:

- the secret, and its URL-encodings (`quote`, `quote_plus`);
- its base64, in the standard and URL-safe alphabets, at each of the three
  alignments a secret can have inside a longer base64 blob: the characters that
  encode only the secret's own bytes. That covers AUTH LOGIN (the password
  alone), AUTH PLAIN ("\\0user\\0password") and HTTP Basic ("user:password")
  whatever the user name is;
- any run of at least `MIN_FRAGMENT` (8) characters of one of those forms: a
  reply cut short, or echoing the key minus its last characters, still leaks
  most of it. Eight characters of a random key or base64 are 48 bits or more
  of it; shorter runs turn up by chance in ordinary replies (a 6-character run
  of the key's alphabet matches some word often enough to garble messages) and
  tell an attacker little.

A whole secret shorter than `MIN_SECRET` (4) characters is not looked for: it
would blank out common letters in every message, and it protects nothing.
URL passwords (`scheme://user:password@host`) are masked in any text, secret
or not, so a `database_url` never shows its password.

Callers redact a whole text *before* cutting it to length, so a secret that
straddles the cut is still found; the fragment rule catches what a server
itself cut.

Fragments are looked for where echoes come in: each provider keeps a
`Redactor` for the secret it holds and runs every reply through it, so what it
raises is clean before it reaches the database, a log or the screen. The
process-wide set (`use_secrets`, called when the workspace's settings are
loaded; `redact` applies it) matches whole forms only, as a second line for
every error, log line, `status` and `--json`: a person-chosen password with a
word in it would otherwise blank that word out of every hint and stored detail
(tests' keys do, with "capitolmail" in them), and only a server cutting what it
echoes produces a fragment.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote

MARK = "[redacted]"
URL_PASSWORD_MARK = "***"
MIN_FRAGMENT = 8
MIN_SECRET = 4

# scheme://user:password@ — the user may be empty (redis://:password@host).
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)[^@/?#\s]+@")


def mask_url_passwords(text: str) -> str:
    """`postgresql://app:s3cret@db/x` as `postgresql://app:***@db/x`, anywhere in `text`."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{URL_PASSWORD_MARK}@", text)


def url_password(url: str) -> str | None:
    """The password part of a URL such as a `database_url`, decoded; None when it has none."""
    match = _URL_PASSWORD.search(url)
    if match is None:
        return None
    return unquote(url[match.end("head") : match.end() - 1])


class Redactor:
    """Replaces every form of the given secrets (see the module's docstring) with MARK.

    `fragments=False` looks for whole forms only, for text that already passed
    the redactor of the provider that received it.
    """

    def __init__(self, secrets: Iterable[str | None] = (), *, fragments: bool = True) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET:
                forms |= secret_forms(secret)
        self._forms = tuple(sorted(forms, key=len, reverse=True))
        shortest = MIN_FRAGMENT if fragments else 1 << 30
        self._whole = tuple(form for form in self._forms if len(form) < shortest)
        self._grams = frozenset(
            form[i : i + MIN_FRAGMENT]
            for form in self._forms
            if fragments
            for i in range(len(form) - MIN_FRAGMENT + 1)
        )
        # Errors repeat (one reply for a thousand messages; `status` shows them all).
        self._cached = functools.lru_cache(maxsize=4096)(self._redact)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, text: str) -> str:
        text = mask_url_passwords(text)
        return self._cached(text) if self._forms and text else text

    def _redact(self, text: str) -> str:
        spans = self._fragment_spans(text) if self._grams else []
        for form in self._whole:
            start = text.find(form)
            while start != -1:
                spans.append((start, start + len(form)))
                start = text.find(form, start + 1)
        return _replace(text, spans)

    def _fragment_spans(self, text: str) -> list[tuple[int, int]]:
        """Each longest run, from every start, that is part of one of the forms."""
        spans = []
        for start in range(len(text) - MIN_FRAGMENT + 1):
            if text[start : start + MIN_FRAGMENT] not in self._grams:
                continue
            end = start + MIN_FRAGMENT
            while end < len(text) and any(text[start : end + 1] in f for f in self._forms):
                end += 1
            spans.append((start, end))
        return spans


def secret_forms(secret: str) -> set[str]:
    """The secret as it may travel: itself, URL-encoded, base64 at every alignment."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    raw = secret.encode("utf-8")
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        # Characters wholly inside the secret's bits: from ceil(8*offset/6) up to
        # floor(8*(offset+len)/6); the rest mix in the neighbouring bytes or padding.
        first = -(-8 * offset // 6)
        last = 8 * (offset + len(raw)) // 6
        inner = encoded[first:last]
        if len(inner) >= MIN_SECRET:
            forms.add(inner)
            forms.add(inner.replace("+", "-").replace("/", "_"))
    return {form for form in forms if len(form) >= MIN_SECRET}


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts, position = [], 0
    for start, end in merged:
        parts += [text[position:start], MARK]
        position = end
    parts.append(text[position:])
    return "".join(parts)


def shorten(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, with "…"; a MARK at the cut is kept whole."""
    if len(text) <= limit:
        return text
    mark = text.find(MARK, max(0, limit - len(MARK) + 1), limit + len(MARK) - 1)
    if mark != -1 and mark < limit:
        limit = mark + len(MARK)
    return text[:limit] + "…"


def first_line(err: BaseException) -> str:
    """The first line of an error's text (its class name when it has none), for a log line
    that must stay one line."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


_current = Redactor()


def use_secrets(secrets: Iterable[str | None]) -> None:
    """Redact these from now on in this process (the workspace's secrets, from its settings).

    They replace the previous set: a process works on one workspace.
    """
    global _current
    _current = Redactor(secrets, fragments=False)


def redact(text: str) -> str:
    """`text` without any form of the process's secrets, and with URL passwords masked."""
    return _current(text)


def redact_data(value: Any) -> Any:
    """A JSON-ready value with every string in it redacted (for `--json` output)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    return value
