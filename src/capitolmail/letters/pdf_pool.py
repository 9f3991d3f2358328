"""Laying out many PDFs on every core, ahead of the queue that attaches them.

WeasyPrint's layout is pure CPU in Python, about a tenth of a second a page, and
is most of the time a joint letter to the whole Congress takes to queue. A pool
of processes lays out the next offices' PDFs while the queue renders, composes
and stores; the results land in pdf_render's store of what it made, keyed by the
HTML, so the queue then picks up exactly the bytes it would have made itself.
A layout that fails in the pool is simply made again in the queue's process,
which reports the error as it always does.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from capitolmail.letters import pdf_render

# Offices laid out ahead of the one being queued; pdf_render keeps more than this.
AHEAD = 16
_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def workers() -> int:
    """One process per core (2 here), at most 4: the queue's own process needs a share."""
    return max(1, min(4, os.cpu_count() or 1))


def _layout(html: str) -> bytes:
    """In a pool process: the PDF of `html`, exactly as the queue's process would make it."""
    return pdf_render.render_pdf(html, source="")


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            # spawn, not fork: the parent may hold threads (the progress bar, a database
            # pool) whose locks a forked child would inherit held.
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(max_workers=workers(), mp_context=context)
            atexit.register(_pool.shutdown, cancel_futures=True)
        return _pool


def lay_out_ahead(htmls: Sequence[str]) -> None:
    """Make the PDFs of `htmls` in the pool and keep them for render_pdf to find."""
    missing = [html for html in htmls if not pdf_render.is_made(html)]
    if len(missing) < 2:
        return  # one layout is as quick here as in a pool process
    try:
        futures: list[tuple[str, Future[bytes]]] = [
            (html, _executor().submit(_layout, html)) for html in missing
        ]
    except (OSError, RuntimeError):
        return  # no processes to be had: the queue lays each out itself
    for html, future in futures:
        try:
            pdf_render.keep(html, future.result())
        except Exception:  # made again, and reported, by the queue's own process
            continue
