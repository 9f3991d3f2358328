"""Applying what a provider reports after the hand-over (delivered, bounced, opened ...)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from capitolmail.delivery import DeliveryEvent
from capitolmail.outbox import deliveries
from capitolmail.outbox.deliveries import DeliveryReport
from capitolmail.outbox.store.part import StorePart, aware


class ProviderEvents(StorePart):
    """One webhook batch, one transaction."""

    def apply_delivery_events(
        self, events: Sequence[DeliveryEvent], now: datetime
    ) -> DeliveryReport:
        """Apply one webhook batch in one transaction (outbox/deliveries.py has the rules).

        An event id seen before is skipped, a message only moves forward, and hard
        bounces, spam reports and unsubscribes suppress the address.
        """
        aware("now", now)
        with self._write("record delivery events") as conn:
            return deliveries.apply_delivery_events(conn, events, now)
