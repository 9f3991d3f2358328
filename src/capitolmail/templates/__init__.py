"""Rendering letters: the sandboxed Jinja2 environment, filters, layouts and HTML → text.

`LetterTemplates` is the one entry point for `letters/`: compile a letter's templates
once, then `render(context)` per recipient. Nothing here sends or stores anything.
"""

from __future__ import annotations

from capitolmail.templates.render import LetterTemplates, RenderedLetter
from capitolmail.templates.text import html_to_text

__all__ = ["LetterTemplates", "RenderedLetter", "html_to_text"]
