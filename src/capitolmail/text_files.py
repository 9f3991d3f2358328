"""Reading the workspace's text files: UTF-8, a byte order mark allowed, errors on one line.

Every file capitolmail reads as text (TOML, CSV, templates, .env, YAML) goes
through here or through `not_utf8`, so a Latin-1 byte is reported the same way
everywhere: the file, the line, the column and the byte offset of the first byte
that is not UTF-8, and how to fix it, instead of a UnicodeDecodeError traceback.
A byte order mark, which Excel's "CSV UTF-8" and some Windows editors write,
is dropped.
"""

from __future__ import annotations

from pathlib import Path

from capitolmail.errors import InputError, Problem

BOM = b"\xef\xbb\xbf"
SAVE_AS_UTF8 = "save it as UTF-8"
SAVE_AS_CSV_UTF8 = 'save it as "CSV UTF-8"'


def not_utf8(
    data: bytes,
    err: UnicodeDecodeError,
    display: str,
    *,
    hint: str,
    first_line: int = 1,
    offset: int = 0,
) -> Problem:
    """The Problem for `data` failing at `err`; `data` starts at line `first_line`,
    `offset` bytes into the file."""
    line_start = data.rfind(b"\n", 0, err.start) + 1
    line = first_line + data.count(b"\n", 0, err.start)
    # Everything before the first bad byte decoded, so characters can be counted.
    column = len(data[line_start : err.start].decode("utf-8", errors="replace")) + 1
    if offset == 0 and line == 1 and data.startswith(BOM):
        column -= 1
    where = f"column {column} (byte offset {offset + err.start})"
    return Problem(
        display,
        f"not UTF-8 text: byte 0x{data[err.start]:02X} at {where}; {hint}",
        line=line,
    )


def decode_text(data: bytes, display: str, *, hint: str = SAVE_AS_UTF8) -> str:
    """`data` as text without a byte order mark; InputError naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError([not_utf8(data, err, display, hint=hint)]) from None


def read_text(
    path: Path, display: str, *, missing: str = "file not found", hint: str = SAVE_AS_UTF8
) -> str:
    """The file as text; InputError (one line) when it is missing, unreadable or not UTF-8."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem(display, missing)]) from None
    except IsADirectoryError:
        raise InputError([Problem(display, "is a folder, not a file")]) from None
    except OSError as err:
        raise InputError([Problem(display, f"cannot read it: {err.strerror}")]) from None
    return decode_text(data, display, hint=hint)
