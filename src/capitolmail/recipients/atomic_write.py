"""Replacing files so that a reader never sees half of one, and a failure changes nothing.

Every new file is written and synced beside its final name before any is moved
into place, so a full disk or a permissions error part-way leaves all the old
files as they were; each `os.replace` is atomic on POSIX and Windows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def replace_files(files: Mapping[Path, bytes]) -> None:
    """Write each path's bytes, creating folders as needed; keep a replaced file's mode."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((Path(temp), path))
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            # mkstemp creates 0600; a workspace file should stay readable as before.
            mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
            os.chmod(temp, mode)
        for temp, path in staged:
            os.replace(temp, path)
    finally:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
