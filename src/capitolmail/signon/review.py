"""Staff review of sign-on signatures, and how approved ones join the letter's signers.

Approved signatures become `Signer`s after signers.csv's rows, so
`letters/signers.load_signers` folds duplicates and orders them exactly as it
does the CSV: one organisation once, leads first, then national, then state and
local, alphabetical. Pending, rejected and withdrawn signatures never reach it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from capitolmail.csv_files import CsvWriter
from capitolmail.errors import CapitolmailError
from capitolmail.letters.definition import letter_slugs, load_letter
from capitolmail.letters.signers import COLUMNS, Signer
from capitolmail.outbox import Store
from capitolmail.outbox.signatures import SignatureInfo, SignatureStatus


def approved_signers(store: Store, slug: str) -> list[Signer]:
    return [
        Signer(
            organisation=signature.organisation,
            signatory=signature.signatory,
            title=signature.title,
            state=signature.state,
            line=signature.id,
            source=f"sign-on signature {signature.id}",
        )
        for signature in store.list_signatures(slug, (SignatureStatus.APPROVED,))
    ]


def sign_on_slugs(root: Path) -> list[str]:
    """The workspace's letters with a [sign_on] table; a letter that does not load is
    left to `letters check` to report."""
    found = []
    for slug in letter_slugs(root):
        try:
            if load_letter(root, slug).definition.sign_on is not None:
                found.append(slug)
        except CapitolmailError:
            continue
    return found


def count_json(store: Store, slug: str) -> dict[str, int]:
    return {str(status): count for status, count in store.signature_counts(slug).items()}


def count_line(store: Store, slug: str) -> str:
    """ "Sign-on: 3 confirmed, 1 pending, 5 approved (1 rejected, 0 withdrawn)." """
    counts = store.signature_counts(slug)
    return (
        f"Sign-on: {counts[SignatureStatus.CONFIRMED]} confirmed (to review), "
        f"{counts[SignatureStatus.PENDING]} pending (unconfirmed), "
        f"{counts[SignatureStatus.APPROVED]} approved"
        f" ({counts[SignatureStatus.REJECTED]} rejected, "
        f"{counts[SignatureStatus.WITHDRAWN]} withdrawn)."
    )


def queue_warning(store: Store, slug: str) -> str | None:
    """The warning `queue` prints when signatures have not reached a decision."""
    counts = store.signature_counts(slug)
    waiting = counts[SignatureStatus.PENDING] + counts[SignatureStatus.CONFIRMED]
    if not waiting:
        return None
    return (
        f"Warning: {waiting} signature{'s' * (waiting != 1)} of {slug} still "
        f"pending ({counts[SignatureStatus.PENDING]} unconfirmed, "
        f"{counts[SignatureStatus.CONFIRMED]} to review) are not in this letter; "
        f"`capitolmail signers pending {slug}` lists them."
    )


def describe(signature: SignatureInfo) -> str:
    """One line for `signers list`: id, status, organisation, who, where, merge."""
    who = signature.signatory + (f", {signature.title}" if signature.title else "")
    merged = (
        f"; same organization as signature {signature.merged_into}" if signature.merged_into else ""
    )
    return (
        f"{signature.id}\t{signature.status}\t{signature.organisation}\t{who}\t"
        f"{signature.state or 'national'}\t{signature.email}{merged}"
    )


def export_csv(signatures: Iterable[SignatureInfo]) -> str:
    """signers.csv's columns, formula-guarded by CsvWriter, for the approved signatures."""
    handle = io.StringIO()
    writer = CsvWriter(handle)
    writer.writerow(COLUMNS)
    for signature in signatures:
        writer.writerow(
            [
                signature.organisation,
                signature.signatory,
                signature.title or "",
                signature.state or "",
            ]
        )
    return handle.getvalue()
