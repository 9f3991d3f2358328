"""Control characters shown, not obeyed, in every line we print or log.

A value typed or read from a file (`suppress add $'a@b\r\nBcc: x@y'`) that is
quoted in an error or a log line must not start a new line there: a reader, or
a log collector, would take the rest for a record of its own. Terminal escape
sequences (ESC), the Unicode line separators and the bidirectional overrides
that reorder what a reader sees are shown the same way, as `\\r`, `\\n`,
`\\x1b`, `\\u2028`. A tab is left alone: it moves the text, it cannot forge it.
"""

from __future__ import annotations

import re

# C0 but the tab, DEL, C1, line/paragraph separators, bidirectional embeddings and isolates.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\x0b": "\\v", "\x0c": "\\f", "\x00": "\\0"}


def printable(text: str) -> str:
    """`text` on one line: each control character spelled as an escape (`\\r\\n`)."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
