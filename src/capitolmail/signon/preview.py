"""The letter's text as a signer reads it on the form: the message the first office gets.

Rendered by the same pipeline as `letters preview`, with the signers approved so
far, so the signer sees the words their organisation's name will stand under.
"""

from __future__ import annotations

import logging
from pathlib import Path

from capitolmail.config import Settings
from capitolmail.errors import CapitolmailError
from capitolmail.letters.pipeline import load, preview_letter
from capitolmail.outbox import Store
from capitolmail.workspace import Workspace

log = logging.getLogger("capitolmail.signon")


def letter_text(root: Path | None, settings: Settings, store: Store, slug: str) -> str | None:
    """The text part, or None (logged) when the letter cannot be rendered now."""
    if root is None:
        return None
    workspace = Workspace(root=root, settings=settings, _store=store)
    try:
        return preview_letter(workspace, load(workspace, slug), None).text
    except CapitolmailError as err:
        log.error("cannot show the text of %s on its sign-on form: %s", slug, err)
        return None
