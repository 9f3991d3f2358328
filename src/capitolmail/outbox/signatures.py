"""Sign-on signatures as the outbox keeps them: the values in and out, and the states.

A signature counts only once its contact confirmed the address (double opt-in) and
staff approved it; the states say which step it has reached, in the words
`capitolmail signers list` shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class SignatureStatus(StrEnum):
    PENDING = "pending"  # submitted; the confirmation link has not been clicked
    CONFIRMED = "confirmed"  # the contact confirmed the address; staff have not decided
    APPROVED = "approved"  # staff approved: the organisation is on the letter
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # the contact took the signature back


# Signatures that still stand for their organisation: a later one for the same
# organisation is merged into the earliest of these.
STANDING = (SignatureStatus.PENDING, SignatureStatus.CONFIRMED, SignatureStatus.APPROVED)


@dataclass(frozen=True, slots=True)
class SignatureDraft:
    """What the form collected, already checked and normalised by letters/sign_on."""

    letter_slug: str
    organisation: str
    organisation_key: str
    signatory: str
    title: str | None
    state: str | None
    email: str
    logo: bytes | None = None
    logo_type: str | None = None


@dataclass(frozen=True, slots=True)
class SignatureInfo:
    id: int
    letter_slug: str
    organisation: str
    organisation_key: str
    signatory: str
    title: str | None
    state: str | None
    email: str
    status: SignatureStatus
    merged_into: int | None
    logo_type: str | None
    confirm_job_id: int | None
    created_at: datetime
    confirmed_at: datetime | None
    decided_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "letter": self.letter_slug,
            "organisation": self.organisation,
            "signatory": self.signatory,
            "title": self.title,
            "state": self.state,
            "email": self.email,
            "status": str(self.status),
            "merged_into": self.merged_into,
            "logo": self.logo_type,
            "confirmation_job": self.confirm_job_id,
            "created_at": self.created_at.isoformat(),
            "confirmed_at": self.confirmed_at.isoformat() if self.confirmed_at else None,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }
