"""Sign-on signatures: add one, confirm it, approve or reject it, withdraw it, list them.

Each change reads the row and writes it in one transaction, so two staff members
deciding at once, or a confirmation racing a withdrawal, end in one clear state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Row, func, insert, select, update

from capitolmail.errors import CapitolmailError
from capitolmail.outbox.records import email_key
from capitolmail.outbox.schema import jobs, signatures
from capitolmail.outbox.signatures import (
    STANDING,
    SignatureDraft,
    SignatureInfo,
    SignatureStatus,
)
from capitolmail.outbox.store.part import StorePart, aware

_COLUMNS = [column for column in signatures.c if column.name != "logo"]
# Where each decision may start from.
_DECISIONS = {
    SignatureStatus.APPROVED: (SignatureStatus.CONFIRMED, SignatureStatus.REJECTED),
    SignatureStatus.REJECTED: (SignatureStatus.CONFIRMED, SignatureStatus.APPROVED),
}


class Signatures(StorePart):
    def add_signature(self, draft: SignatureDraft, now: datetime) -> SignatureInfo:
        """Store a `pending` signature; one for an organisation the letter already has
        standing is kept too, merged into the earliest, so staff see both."""
        aware("now", now)
        with self._write("store the signature") as conn:
            earlier = conn.execute(
                select(func.min(signatures.c.id)).where(
                    signatures.c.letter_slug == draft.letter_slug,
                    signatures.c.organisation_key == draft.organisation_key,
                    signatures.c.status.in_([str(s) for s in STANDING]),
                    signatures.c.merged_into.is_(None),
                )
            ).scalar()
            new_id = conn.execute(
                insert(signatures).values(
                    letter_slug=draft.letter_slug,
                    organisation=draft.organisation,
                    organisation_key=draft.organisation_key,
                    signatory=draft.signatory,
                    title=draft.title,
                    state=draft.state,
                    email=draft.email,
                    email_key=email_key(draft.email),
                    status=str(SignatureStatus.PENDING),
                    merged_into=earlier,
                    logo=draft.logo,
                    logo_type=draft.logo_type,
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]
            return _get(conn, new_id)

    def attach_confirmation_job(self, signature_id: int, job_id: int) -> None:
        with self._write("record the confirmation job") as conn:
            conn.execute(
                update(signatures)
                .where(signatures.c.id == signature_id)
                .values(confirm_job_id=job_id)
            )

    def get_signature(self, signature_id: int) -> SignatureInfo | None:
        with self._read() as conn:
            row = conn.execute(select(*_COLUMNS).where(signatures.c.id == signature_id)).first()
            return None if row is None else _info(row)

    def signature_logo(self, signature_id: int) -> tuple[bytes, str] | None:
        with self._read() as conn:
            row = conn.execute(
                select(signatures.c.logo, signatures.c.logo_type).where(
                    signatures.c.id == signature_id
                )
            ).first()
            if row is None or row.logo is None:
                return None
            return bytes(row.logo), str(row.logo_type)

    def confirm_signature(self, signature_id: int, now: datetime) -> SignatureInfo:
        """pending → confirmed; a second click changes nothing. A withdrawn or rejected
        signature stays so: confirming an address does not undo a decision."""
        aware("now", now)
        with self._write("confirm the signature") as conn:
            info = _get(conn, signature_id)
            if info.status is SignatureStatus.PENDING:
                _set(conn, signature_id, now, status=SignatureStatus.CONFIRMED, confirmed_at=now)
                info = _get(conn, signature_id)
            return info

    def decide_signature(
        self, letter_slug: str, signature_id: int, status: SignatureStatus, now: datetime
    ) -> SignatureInfo:
        """Approve or reject a confirmed signature (or change an earlier decision)."""
        aware("now", now)
        allowed = _DECISIONS[status]
        with self._write("record the decision") as conn:
            info = _get(conn, signature_id, letter_slug)
            if info.status is status:
                return info
            if info.status not in allowed:
                why = {
                    SignatureStatus.PENDING: "its contact has not confirmed it yet",
                    SignatureStatus.WITHDRAWN: "its contact withdrew it",
                }.get(info.status, f"it is {info.status}")
                raise CapitolmailError(
                    f"signature {signature_id} ({info.organisation}) cannot be {status}: {why}"
                )
            _set(conn, signature_id, now, status=status, decided_at=now)
            return _get(conn, signature_id)

    def withdraw_signature(self, signature_id: int, now: datetime) -> SignatureInfo:
        """Any standing signature may be withdrawn; the caller refuses once the letter
        is queued (the organisation is then already in the frozen messages)."""
        aware("now", now)
        with self._write("withdraw the signature") as conn:
            info = _get(conn, signature_id)
            if info.status in STANDING:
                _set(conn, signature_id, now, status=SignatureStatus.WITHDRAWN)
                info = _get(conn, signature_id)
            return info

    def list_signatures(
        self, letter_slug: str, statuses: tuple[SignatureStatus, ...] | None = None
    ) -> list[SignatureInfo]:
        """In the order they came in."""
        query = select(*_COLUMNS).where(signatures.c.letter_slug == letter_slug)
        if statuses:
            query = query.where(signatures.c.status.in_([str(s) for s in statuses]))
        with self._read() as conn:
            return [_info(row) for row in conn.execute(query.order_by(signatures.c.id))]

    def signature_counts(self, letter_slug: str) -> dict[SignatureStatus, int]:
        query = (
            select(signatures.c.status, func.count())
            .where(signatures.c.letter_slug == letter_slug)
            .group_by(signatures.c.status)
        )
        with self._read() as conn:
            found = {SignatureStatus(status): count for status, count in conn.execute(query)}
        return {status: found.get(status, 0) for status in SignatureStatus}

    def signatures_since(self, letter_slug: str, since: datetime) -> int:
        """How many signatures the letter received since `since`: its rate limit."""
        aware("since", since)
        with self._read() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(
                        signatures.c.letter_slug == letter_slug, signatures.c.created_at >= since
                    )
                ).scalar_one()
            )

    def letter_queued(self, letter_slug: str) -> bool:
        """Whether a job of this letter exists that was not cancelled."""
        with self._read() as conn:
            found = conn.execute(
                select(jobs.c.id)
                .where(jobs.c.letter_slug == letter_slug, jobs.c.state != "cancelled")
                .limit(1)
            ).first()
            return found is not None


def _get(conn: Connection, signature_id: int, letter_slug: str | None = None) -> SignatureInfo:
    row = conn.execute(select(*_COLUMNS).where(signatures.c.id == signature_id)).first()
    if row is None or (letter_slug is not None and row.letter_slug != letter_slug):
        where = f" for {letter_slug}" if letter_slug else ""
        raise CapitolmailError(
            f"no signature {signature_id}{where}; `capitolmail signers list` shows them"
        )
    return _info(row)


def _set(conn: Connection, signature_id: int, now: datetime, **values: object) -> None:
    if "status" in values:
        values["status"] = str(values["status"])
    conn.execute(
        update(signatures).where(signatures.c.id == signature_id).values(updated_at=now, **values)
    )


def _info(row: Row[tuple[object, ...]]) -> SignatureInfo:
    values = row._mapping
    return SignatureInfo(
        id=values["id"],
        letter_slug=values["letter_slug"],
        organisation=values["organisation"],
        organisation_key=values["organisation_key"],
        signatory=values["signatory"],
        title=values["title"],
        state=values["state"],
        email=values["email"],
        status=SignatureStatus(values["status"]),
        merged_into=values["merged_into"],
        logo_type=values["logo_type"],
        confirm_job_id=values["confirm_job_id"],
        created_at=values["created_at"],
        confirmed_at=values["confirmed_at"],
        decided_at=values["decided_at"],
    )
