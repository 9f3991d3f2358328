"""A person unsubscribing through a link: the third source of tracking, beside a
provider's events and (soon) the inbound mailbox.

The link's signed token names a supporter or an address; this finds the
address and suppresses it the one way every suppression is made
(`recipients.suppression.suppression`). The page itself is `web/unsubscribe.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from capitolmail.errors import UnsubscribeTokenError
from capitolmail.outbox import Suppression, SuppressionReason
from capitolmail.recipients.suppression import suppression


class UnsubscribeStore(Protocol):
    """What an unsubscribe needs of the outbox (the whole `Store` satisfies it)."""

    def supporter_email(self, supporter_id: int) -> str | None: ...
    def suppressed_among(self, emails: Iterable[str]) -> set[str]: ...
    def add_suppressions(self, entries: Iterable[Suppression]) -> int: ...


def unsubscribe_address(store: UnsubscribeStore, subject: int | str) -> str | None:
    """The address an unsubscribe token's subject stands for, or None if it is gone.

    A subject is a supporter id (the address is looked up, so links need not
    carry it) or the address itself.
    """
    if isinstance(subject, int):
        return store.supporter_email(subject) if 0 < subject < 2**31 else None
    return subject.strip() or None


def unsubscribe(
    store: UnsubscribeStore, address: str, list_id: str, now: datetime, *, how: str
) -> bool:
    """Suppress `address` because its owner asked; False when it was already suppressed.

    Idempotent on purpose: a mail client's one-click POST, a retry of it and the
    person pressing the button as well must leave one row, with the first
    unsubscribe's time (and an earlier bounce or spam report keeps its reason).
    UnsubscribeTokenError when `address` is not one: no message of ours went to
    it, so the link that named it was not ours.
    """
    try:
        entry = suppression(address, SuppressionReason.UNSUBSCRIBE, now, f"list {list_id}, {how}")
    except ValueError:
        raise UnsubscribeTokenError() from None
    if store.suppressed_among([entry.email]):
        return False
    store.add_suppressions([entry])
    return True
