"""Replacing files so that a reader never sees half of one, and a failure changes nothing.

Every new file is written and synced beside its final name before any is moved
into place, so a full disk or a permissions error part-way leaves all the old
files as they were; each `os.replace` is atomic on POSIX and Windows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO, TypeVar

T = TypeVar("T")


def replace_files(files: Mapping[Path, bytes]) -> None:
    """Write each path's bytes, creating folders as needed; keep a replaced file's mode."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            staged.append((_stage(path, _writer(data))[0], path))
        for temp, path in staged:
            os.replace(temp, path)
    finally:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)


def replace_file(path: Path, write: Callable[[BinaryIO], T]) -> T:
    """Write `path` through `write(handle)` beside it, then move it into place; what
    `write` returned. For content made as it is written (a report read from the
    outbox); the folder must exist, and a failure leaves the old file as it was."""
    temp, result = _stage(path, write)
    try:
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return result


def _writer(data: bytes) -> Callable[[BinaryIO], None]:
    def write(out: BinaryIO) -> None:
        out.write(data)

    return write


def _stage(path: Path, write: Callable[[BinaryIO], T]) -> tuple[Path, T]:
    """A synced temporary file beside `path`, holding what `write` wrote, with the
    mode `path` has (0644 for a new file); removed again if anything fails."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            result = write(out)
            out.flush()
            os.fsync(out.fileno())
        # mkstemp creates 0600; a workspace file should stay readable as before.
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        os.chmod(temp, mode)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp, result
