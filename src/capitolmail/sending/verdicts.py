"""What a finished send means for its message: sent, retried later, failed, unknown,
or put back while its job pauses. Decided here from the error alone; the send loop
applies the side effects (the pace, the hold, the pause) the verdict asks for.

A provider's error classes carry the whole decision (errors.py): a rate limit slows
everyone and costs the message no attempt; a transient error backs off until the
last attempt fails it; a provider that cannot be used until its settings are fixed
pauses the job and leaves the message untouched; an error no provider should raise
is a bug, not a verdict, and is not retried because it may have reached the server.
"""

from __future__ import annotations

import logging
from concurrent.futures import CancelledError
from dataclasses import dataclass
from datetime import datetime, timedelta

from capitolmail.errors import (
    DeliveryUnknownError,
    PermanentSendError,
    ProviderSettingsError,
    TransientSendError,
)
from capitolmail.outbox import ClaimedMessage, Outcome
from capitolmail.sending.options import RetryPolicy

log = logging.getLogger("capitolmail.sender")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome to record and the summary's label for it ("sent", "paused", ...).

    `throttle_for` is set when the provider asked everyone to slow down (seconds
    to hold); `pause_job` when the job must stop until an operator fixes the
    provider's settings.
    """

    outcome: Outcome
    label: str
    throttle_for: float | None = None
    pause_job: bool = False


def verdict(
    claimed: ClaimedMessage,
    error: BaseException | None,
    provider_message_id: str | None,
    policy: RetryPolicy,
    now: datetime,
) -> Verdict:
    message_id = claimed.message.message_id
    if error is None:
        return Verdict(Outcome(message_id, "sent", provider_message_id=provider_message_id), "sent")
    if isinstance(error, DeliveryUnknownError | CancelledError):
        # The message went out (or may have: a cancelled request cannot say how
        # far it got) and no verdict came: a retry could deliver it twice.
        text = str(error) if isinstance(error, DeliveryUnknownError) else ""
        text = text or "the send was cancelled in flight; it may have been delivered"
        return Verdict(Outcome(message_id, "unknown", error=text), "unknown")
    if isinstance(error, TransientSendError):
        return _transient(claimed, error, policy, now)
    if isinstance(error, ProviderSettingsError):
        # Not the message's fault: put it back untouched and stop the job. If the
        # job was cancelled meanwhile, record_outcomes turns the retry into
        # `cancelled`, and the job stays as the operator left it.
        outcome = Outcome(
            message_id, "retry", error=str(error), next_attempt_at=now, count_attempt=False
        )
        return Verdict(outcome, "paused", pause_job=True)
    if not isinstance(error, PermanentSendError):
        # A bug in a provider, not a verdict on the message; whether it reached
        # the server is unknowable, so it is not retried either.
        log.exception("provider raised an unexpected error", exc_info=error)
        error = PermanentSendError(f"unexpected error in the provider: {error!r}")
    return Verdict(Outcome(message_id, "failed", error=str(error)), "failed")


def _transient(
    claimed: ClaimedMessage, error: TransientSendError, policy: RetryPolicy, now: datetime
) -> Verdict:
    message_id = claimed.message.message_id
    if error.rate_limited:
        # Everyone slows down, and the attempt does not count against the message.
        delay = min(policy.delay(1, error.retry_after), policy.cap_seconds)
        retry_at = now + timedelta(seconds=delay)
        outcome = Outcome(
            message_id, "retry", error=str(error), next_attempt_at=retry_at, count_attempt=False
        )
        return Verdict(outcome, "retried", throttle_for=delay)
    if claimed.attempts >= policy.max_attempts:
        text = f"gave up after {claimed.attempts} attempts: {error}"
        return Verdict(Outcome(message_id, "failed", error=text), "failed")
    delay = policy.delay(claimed.attempts, error.retry_after)
    retry_at = now + timedelta(seconds=delay)
    outcome = Outcome(message_id, "retry", error=str(error), next_attempt_at=retry_at)
    return Verdict(outcome, "retried")
