"""Recording what a provider reports after the hand-over (delivered, bounced, opened ...)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from capitolmail.outbox.deliveries import DeliveryLedger
from capitolmail.outbox.store.part import StorePart, aware


class ProviderEvents(StorePart):
    """One batch of provider events, one transaction; tracking/ decides what each means."""

    @contextmanager
    def record_deliveries(self, now: datetime) -> Iterator[DeliveryLedger]:
        """One transaction for one batch of provider events (`tracking/apply.py` has
        the rules): everything the batch changes commits together or not at all."""
        aware("now", now)
        with self._write("record delivery events") as conn:
            yield DeliveryLedger(conn, now)
