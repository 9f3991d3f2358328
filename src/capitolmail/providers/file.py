"""The offline default: one RFC 5322 `.eml` file per message, grouped by job.

Files are written to a temporary name and renamed, so a crash never leaves a
half-written message that looks sent; the name contains our message id, so
sending the same message again overwrites instead of duplicating.

Nothing is written through a symbolic link: the job's folder is opened with
O_NOFOLLOW relative to the outbox, and the file created with O_EXCL inside it,
so a link planted in the outbox (`outbox/2 -> /etc`) is refused, not followed.
(The outbox folder itself is checked against the workspace by `Workspace`.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from capitolmail.errors import HeaderError, PermanentSendError
from capitolmail.message import OutgoingMessage
from capitolmail.providers.base import ProviderBase, Receipt

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


class FileProvider(ProviderBase):
    name: ClassVar[str] = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, message: OutgoingMessage) -> Path:
        recipient = _UNSAFE.sub("_", message.to_email)[:80]
        job = _UNSAFE.sub("_", message.job_id) or "nojob"
        return self.directory / job / f"{recipient}--{message.message_id}.eml"

    def send(self, message: OutgoingMessage) -> Receipt:
        path = self.path_for(message)
        try:
            data = message.to_bytes(date=datetime.now(UTC))
        except HeaderError as err:  # only a row stored before compose checked headers
            raise PermanentSendError(f"cannot write the message: {err}") from err
        self.hand_over(message.message_id)
        try:
            _write_inside(self.directory, path.parent.name, path.name, data)
        except _LinkRefused as err:
            raise PermanentSendError(
                f"refused to write into {path.parent}: {err}; the outbox writes only "
                f"inside {self.directory}"
            ) from None
        except OSError as err:
            raise PermanentSendError(f"cannot write {path}: {err.strerror}") from err
        return Receipt(provider_message_id=str(path))


class _LinkRefused(Exception):
    """The outbox or a job's folder in it is a symbolic link (or not a folder)."""


def _open_folder(path: Path, parent: int | None, what: str) -> int:
    """A descriptor for the folder `path` (relative to `parent`), refusing a link."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _LinkRefused(f"{what} is a symbolic link or a file, not a folder") from None
        raise


def _write_inside(outbox: Path, job: str, name: str, data: bytes) -> None:
    """Write `outbox/job/name` without following a link at `job` or `name`."""
    outbox.mkdir(parents=True, exist_ok=True)
    root = _open_folder(outbox, None, "the outbox")
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(job, 0o755, dir_fd=root)
        folder = _open_folder(Path(job), root, "the job's folder")
    finally:
        os.close(root)
    try:
        temp = f".tmp-{uuid.uuid4().hex}.eml"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        handle = os.open(temp, flags, 0o600, dir_fd=folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            # rename() replaces a link at `name` itself; it never writes through one.
            os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=folder)
            raise
    finally:
        os.close(folder)
