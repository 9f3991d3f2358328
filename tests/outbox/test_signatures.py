"""Signatures in the store, on SQLite and PostgreSQL alike: states, merging, counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from capitolmail.errors import CapitolmailError
from capitolmail.letters.signers import organisation_key
from capitolmail.outbox import Store
from capitolmail.outbox.signatures import SignatureDraft, SignatureStatus

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def _draft(organisation: str, slug: str = "aid", email: str = "a@example.net") -> SignatureDraft:
    return SignatureDraft(
        letter_slug=slug,
        organisation=organisation,
        organisation_key=organisation_key(organisation),
        signatory="Rosa Díaz",
        title=None,
        state="OR",
        email=email,
        logo=b"\x89PNG-bytes",
        logo_type="image/png",
    )


def test_a_signature_moves_from_pending_to_confirmed_to_approved(store: Store) -> None:
    added = store.add_signature(_draft("Center for Aid"), NOW)
    assert (added.status, added.merged_into) == (SignatureStatus.PENDING, None)
    with pytest.raises(CapitolmailError, match="has not confirmed it yet"):
        store.decide_signature("aid", added.id, SignatureStatus.APPROVED, NOW)

    confirmed = store.confirm_signature(added.id, NOW + timedelta(minutes=1))
    again = store.confirm_signature(added.id, NOW + timedelta(minutes=2))
    approved = store.decide_signature("aid", added.id, SignatureStatus.APPROVED, NOW)

    assert confirmed.status is SignatureStatus.CONFIRMED
    assert again.confirmed_at == NOW + timedelta(minutes=1)  # a second click changes nothing
    assert approved.status is SignatureStatus.APPROVED
    assert store.signature_logo(added.id) == (b"\x89PNG-bytes", "image/png")
    counts = store.signature_counts("aid")
    assert counts[SignatureStatus.APPROVED] == 1 and sum(counts.values()) == 1


def test_the_same_organisation_spelled_again_is_kept_and_merged(store: Store) -> None:
    first = store.add_signature(_draft("The Center for Aid & Development"), NOW)
    second = store.add_signature(_draft("center for aid and developmént"), NOW)
    other_letter = store.add_signature(_draft("Center for Aid & Development", slug="x"), NOW)

    assert second.merged_into == first.id
    assert other_letter.merged_into is None
    assert [s.id for s in store.list_signatures("aid")] == [first.id, second.id]


def test_a_withdrawn_signature_stays_withdrawn(store: Store) -> None:
    added = store.add_signature(_draft("Center for Aid"), NOW)
    store.withdraw_signature(added.id, NOW)
    assert store.confirm_signature(added.id, NOW).status is SignatureStatus.WITHDRAWN
    with pytest.raises(CapitolmailError, match="withdrew"):
        store.decide_signature("aid", added.id, SignatureStatus.APPROVED, NOW)
    # A new signature for the organisation is not merged into the withdrawn one.
    assert store.add_signature(_draft("Center for Aid"), NOW).merged_into is None


def test_a_decision_names_the_letter_and_the_signature(store: Store) -> None:
    added = store.add_signature(_draft("Center for Aid"), NOW)
    with pytest.raises(CapitolmailError, match=f"no signature {added.id} for other"):
        store.decide_signature("other", added.id, SignatureStatus.REJECTED, NOW)


def test_the_per_letter_count_covers_the_last_hour(store: Store) -> None:
    store.add_signature(_draft("A"), NOW - timedelta(hours=2))
    store.add_signature(_draft("B"), NOW - timedelta(minutes=5))
    assert store.signatures_since("aid", NOW - timedelta(hours=1)) == 1
