"""Storing and reading back the files messages carry (a joint letter's PDF).

A message row lists its files as `[[filename, content_type, sha256], ...]`; the
bytes live once per job in the `attachments` table, so the two contacts of one
office, or every office of a letter with one shared PDF, do not store a copy each.
Readers fetch the bytes of a batch of rows in one query.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from capitolmail.attachment import Attachment
from capitolmail.outbox.schema import attachments

# Bytes already read, by (job_id, sha256): what records.message_from_row is given.
Blobs = dict[tuple[int, str], bytes]


def listed(message_attachments: Sequence[Attachment]) -> list[list[str]] | None:
    """The JSON a message row keeps: names, types and keys, never the bytes."""
    if not message_attachments:
        return None
    return [[a.filename, a.content_type, a.sha256] for a in message_attachments]


class BlobWriter:
    """Writes each distinct file of one job once, as `create_job` streams its messages."""

    def __init__(self, conn: Connection, job_id: int) -> None:
        self.conn = conn
        self.job_id = job_id
        self.written: set[str] = set()

    def write(self, files: Iterable[Attachment]) -> None:
        rows = []
        for attachment in files:
            key = attachment.sha256
            if key not in self.written:
                self.written.add(key)
                rows.append({"job_id": self.job_id, "sha256": key, "content": attachment.content})
        if rows:
            self.conn.execute(insert(attachments), rows)


def parse_listing(value: Any) -> list[tuple[str, str, str]]:
    """The row's `attachments` column, as (filename, content_type, sha256) triples."""
    if value is None:
        return []
    if isinstance(value, str):
        value = json.loads(value)
    return [(str(name), str(kind), str(key)) for name, kind, key in value or []]


def read_blobs(conn: Connection, rows: Iterable[Any]) -> Blobs:
    """The bytes of every file the `rows` list, one query per job among them."""
    wanted: dict[int, set[str]] = {}
    for row in rows:
        for _, _, key in parse_listing(row.attachments):
            wanted.setdefault(row.job_id, set()).add(key)
    blobs: Blobs = {}
    for job_id, keys in wanted.items():
        query = select(attachments.c.sha256, attachments.c.content).where(
            attachments.c.job_id == job_id, attachments.c.sha256.in_(sorted(keys))
        )
        for key, content in conn.execute(query):
            blobs[(job_id, key)] = bytes(content)
    return blobs


def attachments_of(row: Any, blobs: Blobs) -> tuple[Attachment, ...]:
    """The row's files with their bytes; a missing blob is a damaged outbox, said so."""
    found = []
    for name, kind, key in parse_listing(row.attachments):
        content = blobs.get((row.job_id, key))
        if content is None:
            raise LookupError(f"message {row.id}: attachment {name} ({key[:12]}…) is not stored")
        found.append(Attachment(filename=name, content_type=kind, content=content))
    return tuple(found)
