"""Hand proofs to the configured provider: no job, no stored row, one line per outcome.

A proof is never retried or recorded: the staffer who asked for it is at the
terminal and can run the command again. Every provider error becomes one
CapitolmailError line saying which proof failed and what the provider said
(the providers' messages carry no secrets; the CLI redacts them again).
"""

from __future__ import annotations

from collections.abc import Sequence

from capitolmail.errors import (
    CapitolmailError,
    DeliveryUnknownError,
    ProviderSettingsError,
    SendError,
    TransientSendError,
)
from capitolmail.message import OutgoingMessage
from capitolmail.providers import Provider, Receipt


def send_proofs(provider: Provider, messages: Sequence[OutgoingMessage]) -> list[Receipt]:
    """Send each proof in order; the first failure stops the rest (CapitolmailError)."""
    receipts: list[Receipt] = []
    with provider:
        for message in messages:
            try:
                receipts.append(provider.send(message))
            except SendError as err:
                raise CapitolmailError(_failure(message, err, sent=len(receipts))) from err
    return receipts


def _failure(message: OutgoingMessage, err: SendError, *, sent: int) -> str:
    before = f" ({sent} sent before it)" if sent else ""
    if isinstance(err, ProviderSettingsError):
        advice = "fix the provider settings and run proof again"
    elif isinstance(err, DeliveryUnknownError):
        advice = "it may have arrived; check your inbox before sending another"
    elif isinstance(err, TransientSendError):
        advice = "try again in a moment"
    else:
        advice = "the provider will not take it as it is"
    return f"the proof to {message.to_email} was not sent{before}: {err}; {advice}"
