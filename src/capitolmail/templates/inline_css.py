"""Move a rendered HTML part's `<style>` rules into `style=""` attributes (css-inline).

Outlook's Word engine and Gmail drop or limit `<style>` blocks, so a letter styled
there would look one way in the preview and another in a Hill office. Inlining at
render time means the stored, previewed and sent HTML are the same inlined bytes.

`@media` and other at-rules stay in a `<style>` element (`keep_at_rules`): they
cannot be inlined, and clients that honour them use them for small screens.
Stylesheets are never fetched: a `<link rel="stylesheet">` is refused, because
queueing must not depend on the network and clients do not load them either.
"""

from __future__ import annotations

import css_inline
from selectolax.lexbor import LexborHTMLParser

# Built once: a CSSInliner is immutable and safe to share between threads.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)


class CssInlineError(ValueError):
    """The HTML cannot be inlined; the message says why, in one line."""


def inline_css(html: str) -> str:
    """`html` with its `<style>` rules inlined, or unchanged when it has nothing to inline.

    An HTML part without `<style>` or `<link>` goes out exactly as rendered (the
    inliner would reserialise the whole document for nothing, and an alert renders
    300,000 of them).
    """
    lowered = html.casefold()
    if "<style" not in lowered and "<link" not in lowered:
        return html
    linked = _linked_stylesheet(html)
    if linked is not None:
        raise CssInlineError(
            f'<link rel="stylesheet" href="{linked}"> cannot be inlined (stylesheets are not'
            " fetched); put the CSS in a <style> element in the template"
        )
    try:
        return _INLINER.inline(html)
    except (css_inline.InlineError, ValueError) as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        raise CssInlineError(f"cannot inline the CSS of the HTML part: {detail}") from None


def _linked_stylesheet(html: str) -> str | None:
    """The href of the first `<link rel="stylesheet">`, read with an HTML5 parser."""
    for node in LexborHTMLParser(html).css("link[rel]"):
        if "stylesheet" in (node.attributes.get("rel") or "").casefold().split():
            return node.attributes.get("href") or ""
    return None
