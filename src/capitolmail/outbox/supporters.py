"""Supporter rows: the upsert a streaming import writes batch by batch, and reading them back.

Every function takes an open connection inside a transaction; `Store` owns the
transactions. An import hands over one batch at a time and tags it with its own
`import_id`, so a row this same import already wrote (an address that appears
twice in the file, in different batches) is merged into, while a row from an
earlier import is replaced: the file being imported is the current truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from capitolmail.outbox.events import chunked
from capitolmail.outbox.schema import supporters


@dataclass(frozen=True, slots=True)
class SupporterRecord:
    """One valid supporter as an import read it; `email_key` is the upsert key."""

    email: str
    email_key: str
    first_name: str
    last_name: str
    postal_code: str | None
    state: str | None
    district: int | None
    consent: bool
    consent_at: datetime | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SupporterInfo:
    id: int
    email: str
    first_name: str
    last_name: str
    postal_code: str | None
    state: str | None
    district: int | None
    consent: bool
    consent_at: datetime | None
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """What one batch did: rows `new` to the table, rows of earlier imports `updated`,
    and rows `merged` into one this import had already read (a duplicate address)."""

    new: int = 0
    updated: int = 0
    merged: int = 0


def merge_records(earlier: SupporterRecord, later: SupporterRecord) -> SupporterRecord:
    """Two rows for one address: the later row's values win, the tags of both are kept.

    A later consent flag without a date keeps the earlier opt-in date; a later
    "no" clears it, since the supporter withdrew.
    """
    tags = tuple(dict.fromkeys((*earlier.tags, *later.tags)))
    consent_at = later.consent_at
    if later.consent and consent_at is None:
        consent_at = earlier.consent_at
    return replace(later, tags=tags, consent_at=consent_at if later.consent else None)


def upsert_supporters(
    conn: Connection, records: Sequence[SupporterRecord], import_id: str, now: datetime
) -> UpsertCounts:
    merged = 0
    by_key: dict[str, SupporterRecord] = {}
    for record in records:
        earlier = by_key.get(record.email_key)
        if earlier is not None:
            merged += 1
            record = merge_records(earlier, record)
        by_key[record.email_key] = record
    if not by_key:
        return UpsertCounts()

    existing: dict[str, Any] = {}
    for chunk in chunked(list(by_key)):
        query = select(
            supporters.c.email_key,
            supporters.c.import_id,
            supporters.c.tags,
            supporters.c.consent_at,
        ).where(supporters.c.email_key.in_(chunk))
        existing.update((row.email_key, row) for row in conn.execute(query))
    new = updated = 0
    for key, record in by_key.items():
        row = existing.get(key)
        if row is None:
            new += 1
        elif row.import_id == import_id:
            merged += 1
            earlier = replace(record, tags=tuple(row.tags or ()), consent_at=row.consent_at)
            by_key[key] = merge_records(earlier, record)
        else:
            updated += 1
    _write(conn, list(by_key.values()), import_id, now)
    return UpsertCounts(new=new, updated=updated, merged=merged)


def _write(
    conn: Connection, records: Sequence[SupporterRecord], import_id: str, now: datetime
) -> None:
    """INSERT … ON CONFLICT (email_key) DO UPDATE, in the dialect's own spelling."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(supporters)
    unchanged = {"id", "email_key", "created_at"}
    statement = statement.on_conflict_do_update(
        index_elements=[supporters.c.email_key],
        set_={
            column.name: statement.excluded[column.name]
            for column in supporters.columns
            if column.name not in unchanged
        },
    )
    rows = [
        {
            "email": record.email,
            "email_key": record.email_key,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "postal_code": record.postal_code,
            "state": record.state,
            "district": record.district,
            "consent": record.consent,
            "consent_at": record.consent_at,
            "tags": list(record.tags),
            "import_id": import_id,
            "created_at": now,
            "updated_at": now,
        }
        for record in records
    ]
    conn.execute(statement, rows)


def list_supporters(conn: Connection, limit: int | None) -> list[SupporterInfo]:
    query = select(supporters).order_by(supporters.c.id)
    if limit is not None:
        query = query.limit(limit)
    return [_info(row) for row in conn.execute(query)]


def _info(row: Any) -> SupporterInfo:
    return SupporterInfo(
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        postal_code=row.postal_code,
        state=row.state,
        district=row.district,
        consent=bool(row.consent),
        consent_at=row.consent_at,
        tags=tuple(row.tags or ()),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def count_supporters(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(supporters)).scalar_one()


def supporter_page(
    conn: Connection, *, after_id: int, limit: int, consenting_only: bool
) -> list[SupporterInfo]:
    """The next `limit` supporters by id after `after_id`: keyset paging, so reading
    300,000 rows costs the same per page however far in the list it is."""
    query = select(supporters).where(supporters.c.id > after_id)
    if consenting_only:
        query = query.where(supporters.c.consent.is_(True))
    rows = conn.execute(query.order_by(supporters.c.id).limit(limit))
    return [_info(row) for row in rows]


def supporter_email(conn: Connection, supporter_id: int) -> str | None:
    """The address of one supporter, or None when there is no such row (any more)."""
    query = select(supporters.c.email).where(supporters.c.id == supporter_id)
    return conn.execute(query).scalar_one_or_none()
