"""A proof: one recipient's letter, exactly as it would be queued, addressed to staff.

GR teams send themselves a test before every send. A proof is only worth it if
it is the real letter, so it goes through the same render and checks as the
queue (`render_checked`, `compose_message`); what differs is only where it goes
and how it is marked:

- To, and so the SMTP envelope and SendGrid's personalization, hold the staffer's
  address alone. The message is built field by field, not copied from the
  recipient's, so nothing of the letter's own addressing (an office, a copy to
  the coalition lead) can ride along.
- The subject starts with PROOF_PREFIX, so no one takes it for the letter itself.
- `job_id` is PROOF_LABEL: the file outbox files proofs under outbox/proof/, and
  SendGrid's events for them match no stored message, so they change nothing.
- The kind removes whatever acts for the real recipient (an alert's unsubscribe
  token; see `Alert.proof_envelope`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from capitolmail.errors import CapitolmailError
from capitolmail.letters.compose import compose_message, render_checked
from capitolmail.letters.kind import LetterKind
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import email_key
from capitolmail.recipients.addresses import normalised_address

PROOF_PREFIX = "[PROOF] "
PROOF_LABEL = "proof"
# A proof is for the few people who sign off on a letter, not a way round the queue.
MAX_PROOF_ADDRESSES = 10


def proof_addresses(values: Iterable[str]) -> list[str]:
    """The --to addresses, each validated, commas allowed, duplicates dropped; one
    CapitolmailError line naming the first bad one."""
    found: dict[str, str] = {}
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                address = normalised_address(part)
            except ValueError as err:
                raise CapitolmailError(f"--to: {err}") from None
            found.setdefault(email_key(address), address)
    if not found:
        raise CapitolmailError("--to: give the address the proof goes to (your own)")
    if len(found) > MAX_PROOF_ADDRESSES:
        raise CapitolmailError(
            f"--to: {len(found)} addresses; a proof goes to at most {MAX_PROOF_ADDRESSES}"
        )
    return list(found.values())


def proof_messages(kind: LetterKind, recipient: object, to: list[str]) -> list[OutgoingMessage]:
    """One proof of `recipient`'s message for each address in `to`, checked as the
    queue checks every message (InputError naming the letter when one cannot go)."""
    messages = []
    for address in to:
        envelope = kind.proof_envelope(recipient, address)
        rendered = render_checked(kind, envelope)
        marked = replace(rendered, subject=PROOF_PREFIX + rendered.subject)
        messages.append(
            compose_message(
                sender=kind.sender,
                to_email=address,
                to_name="",
                rendered=marked,
                source=kind.letter.display_path,
                headers=envelope.headers,
                categories=(kind.letter.slug, PROOF_LABEL),
                job_id=PROOF_LABEL,
            )
        )
    return messages
