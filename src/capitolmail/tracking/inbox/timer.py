"""A running worker's inbox sync: every [inbox] sync_minutes, in a thread of its own.

Apart from the send loop so a slow or unreachable IMAP server never holds up a
send, and a failure only costs one round: it is logged in one line and the
next round tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from capitolmail.errors import CapitolmailError

log = logging.getLogger("capitolmail.inbox")


class InboxTimer:
    """Calls `sync` now and then every `minutes` until stopped (`with` starts and stops it)."""

    def __init__(self, sync: Callable[[], str], minutes: float) -> None:
        self._sync = sync
        self._interval = minutes * 60
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capitolmail-inbox", daemon=True)

    def __enter__(self) -> InboxTimer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                log.info("inbox: %s", self._sync())
            except CapitolmailError as err:
                log.warning("inbox sync failed: %s", err)
            except Exception:  # one bad round must not end the worker's syncing
                log.exception("inbox sync failed")
            self._stop.wait(self._interval)
