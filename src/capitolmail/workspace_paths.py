"""The one rule for paths: every file a workspace names stays inside the workspace.

A workspace is kept in git and shared, so its files are input like any other: a
`signers = "/etc/shadow"` in letter.toml, a `body_text = "../other/body.txt.j2"`,
a committed symbolic link `recipients/offices.csv -> /etc/passwd` or an outbox
folder replaced by a link to `/etc` must not make capitolmail read or write
outside it. Each path is checked twice: as written (absolute, or `..` leading
out) and as resolved (a symbolic link anywhere along it leading out), and the
error names the file and key that named the path, never what the target holds.

Per key: a letter's own files (bodies, signers) stay in its folder or the
workspace's `templates/`, and so does every template they include; the fixed
files (capitolmail.toml, .env, recipients/offices.csv, recipients/legislators/,
.capitolmail/) must not be links out; `[provider.file] directory` stays in
.capitolmail/. Not confined, on purpose: `database_url` (a server, or an SQLite
file an operator may keep on another volume; opening one reveals no content)
and `[provider.smtp] ca_file` (system CA bundles live in /etc/ssl), and files
named on the command line to import from or report to (`supporters import FILE
--report PATH`), which are the operator's explicit choice at the terminal.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from capitolmail.errors import CapitolmailError, InputError, Problem

LETTERS_DIR = "letters"
TEMPLATES_DIR = "templates"
# What a letter's name (`queue SLUG`) may not hold: it names one folder in letters/.
_NOT_IN_SLUG = re.compile(r"[/\\\x00]")


def is_inside(path: Path, folder: Path) -> bool:
    """Whether `path`, with every symbolic link resolved, is `folder` or below it."""
    return path.resolve().is_relative_to(folder.resolve())


def _leads_out(name: str) -> bool:
    """Absolute, or with a drive, on any system: a Windows path is as foreign here."""
    return PurePosixPath(name).is_absolute() or bool(PureWindowsPath(name).anchor)


def check_slug(slug: str, known: list[str]) -> None:
    """Refuse a letter name that is a path (`queue /abs/path`, `queue ../x`)."""
    if slug.strip() and not _NOT_IN_SLUG.search(slug) and slug not in (".", ".."):
        return
    tail = PurePosixPath(slug.replace("\\", "/").rstrip("/")).name
    hint = f' (did you mean "{tail}"?)' if tail in known and tail != slug else ""
    shown = slug.encode("unicode_escape").decode("ascii")
    raise CapitolmailError(
        f'"{shown}" is not a letter name{hint}; give the name of a folder in {LETTERS_DIR}/, '
        "such as block-arms-sale"
    )


def letter_folder(root: Path, slug: str) -> Path:
    """`letters/SLUG` of the workspace `root`; InputError if it leads out of `letters/`."""
    folder = root / LETTERS_DIR / slug
    if not (is_inside(root / LETTERS_DIR, root) and is_inside(folder, root / LETTERS_DIR)):
        raise InputError(
            "is a symbolic link to a folder outside letters/; keep the letter in the workspace",
            path=f"{LETTERS_DIR}/{slug}/",
        )
    return folder


def letter_file(
    root: Path,
    folder: Path,
    name: str,
    *,
    source: str,
    field: str,
    line: int | None,
) -> Path | Problem:
    """The file `name` (written as `field` in `source`, relative to the letter's folder).

    Returns the resolved path, or the Problem to report when it leads outside the
    letter's folder and the workspace's templates/ (the caller collects problems).
    """
    shown_folder = f"{LETTERS_DIR}/{folder.name}/"
    allowed = f"{shown_folder} or {TEMPLATES_DIR}/"
    shown = name.encode("unicode_escape").decode("ascii")

    def problem(why: str) -> Problem:
        return Problem(source, f'"{shown}" {why}', line=line, field=field)

    if "\x00" in name or not name.strip():
        return problem("is not a file name")
    if _leads_out(name):
        return problem(f"is an absolute path; name a file in {allowed}")
    candidate = folder / name
    roots = (folder, root / TEMPLATES_DIR)
    if not any(_written_inside(candidate, r) for r in roots):
        return problem(f"leads out of {shown_folder}; a letter's files stay in {allowed}")
    # A root that is itself a link out of the workspace confines nothing.
    if not any(is_inside(candidate, r) and is_inside(r, root) for r in roots):
        return problem(f"is a symbolic link out of {allowed}; copy the file into the workspace")
    return candidate.resolve()


def workspace_file(root: Path, relative: Path | str) -> Path:
    """A file at a fixed place in the workspace (offices.csv, .env, letter.toml …).

    InputError when a symbolic link (the file or a folder above it) leads out of
    the workspace; the file need not exist.
    """
    path = root / relative
    if not is_inside(path, root):
        shown = PurePosixPath(*Path(relative).parts).as_posix()
        raise InputError(
            "is a symbolic link to a file outside the workspace; capitolmail reads and "
            "writes only inside the workspace",
            path=shown,
        )
    return path


def within(path: Path, folder: Path) -> bool:
    """Whether `path` is in `folder` as written (`..` folded) and as resolved: for a
    setting that names a folder (the outbox). `folder` itself is not checked."""
    return _written_inside(path, folder) and is_inside(path, folder)


def _written_inside(path: Path, folder: Path) -> bool:
    """Whether `path` is in `folder` with `..` folded and no link followed."""
    return Path(os.path.normpath(path)).is_relative_to(Path(os.path.normpath(folder)))
