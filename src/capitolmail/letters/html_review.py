"""What `letters check` warns about in the HTML part: links that are not https, images
without alt text, and a part Gmail would clip.

Warnings, not errors: a letter with an http link can still be sent, but a Hill
office's mail filter may flag it, and a screen reader reads an image without alt
text as its file name. Gmail shows only the first 102 KB of an HTML part and hides
the rest (the signer list, the unsubscribe link) behind "View entire message".

Every rendered message is read with a real HTML parser (selectolax's Lexbor, an
HTML5 parser: html.parser took ten times longer, too slow for a 300,000-message
alert), and findings are grouped: one line per distinct link or image, naming the
template line where the value is written in the letter's HTML template, else the
first recipient whose data produced it, and how many messages have it.
"""

from __future__ import annotations

import html as html_escapes
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from capitolmail.letters.sizes import recipient_label
from capitolmail.outbox import QueuedMessage

# Gmail clips an HTML part over 102 KB; read as 102 × 1024 bytes of the part's UTF-8.
GMAIL_CLIP_BYTES = 102 * 1024
_LINK_SCHEMES = frozenset({"https", "mailto", "tel"})
# An image may also be an attachment of the message itself (cid:).
_IMAGE_SCHEMES = frozenset({"https", "cid"})
# Removed from a URL before it is read, as browsers do (WHATWG URL parsing).
_URL_NOISE = str.maketrans("", "", "\t\n\r")


@dataclass(slots=True)
class _Finding:
    place: str
    message: str
    first: str
    count: int = 1
    # Values from the recipients' data, grouped under one line per kind of problem.
    values: set[str] = field(default_factory=set)


class HtmlReview:
    """Reads every message's HTML part on its way through `letters check`.

    `template` is the letter's HTML template (None without one), `display` its
    path as users see it.
    """

    def __init__(self, template: Path | None, display: str) -> None:
        self._display = display
        self._source = _read(template)
        self._findings: dict[tuple[str, str], _Finding] = {}
        self._places: dict[str, int | None] = {}
        self._messages = 0
        self._largest: tuple[int, str] | None = None
        self._clipped = 0

    def screen(self, messages: Iterable[QueuedMessage]) -> Iterator[QueuedMessage]:
        for queued in messages:
            self.read(queued)
            yield queued

    def read(self, queued: QueuedMessage) -> None:
        html = queued.message.html
        if html is None:
            return
        self._messages += 1
        who = recipient_label(queued)
        size = len(html.encode("utf-8"))
        if size > GMAIL_CLIP_BYTES:
            self._clipped += 1
            if self._largest is None or size > self._largest[0]:
                self._largest = (size, who)
        tree = LexborHTMLParser(html)
        for node in tree.css("a[href], area[href], img"):
            attributes = node.attributes
            if node.tag == "img":
                src = attributes.get("src") or ""
                if "alt" not in attributes:
                    decorative = 'alt="" if it is only decoration'
                    self._add("alt", src, who, f'has no alt text (add alt="…", or {decorative})')
                if not _has_scheme(src, _IMAGE_SCHEMES):
                    self._add("src", src, who, "is not loaded over https")
            else:
                href = attributes.get("href") or ""
                if not _has_scheme(href, _LINK_SCHEMES):
                    self._add("href", href, who, "is not https" + _why(href))

    def lines(self) -> list[str]:
        """One warning line per finding, in the order they were first met."""
        lines = []
        for finding in self._findings.values():
            lines.append(f"Warning: {finding.place}: {finding.message} ({self._spread(finding)})")
        if self._largest is not None:
            size, who = self._largest
            more = f" and {self._clipped - 1:,} more" if self._clipped > 1 else ""
            lines.append(
                f"Warning: {self._display}: the HTML part is {size:,} bytes for {who}{more}; "
                f"Gmail clips an HTML part over 102 KB ({GMAIL_CLIP_BYTES:,} bytes) and hides "
                'the rest behind "View entire message"'
            )
        return lines

    def _add(self, kind: str, value: str, who: str, problem: str) -> None:
        """Count one finding: per value written in the template, per problem otherwise
        (a link built from each office's data is one line, not one per office)."""
        line = self._line_of(value)
        key = (kind, value) if line is not None else (kind, problem)
        found = self._findings.get(key)
        if found is None:
            place = f"{self._display}:{line}" if line is not None else self._display
            noun = "image" if kind in ("alt", "src") else "link"
            found = _Finding(place, f'{noun} "{_shown(value)}" {problem}', who, count=0)
            self._findings[key] = found
        found.count += 1
        if line is None:
            found.values.add(value)

    def _line_of(self, value: str) -> int | None:
        """The template line where the attribute's value is written whole, if it is."""
        if value not in self._places:
            self._places[value] = None
            escaped = {value, html_escapes.escape(value), html_escapes.escape(value, quote=False)}
            # Quoted as attributes are ("…", '…'), or unquoted after the "=".
            forms = [f"{q}{form}{q}" for form in escaped for q in "\"'"]
            forms += [f"={form}{end}" for form in escaped for end in (" ", ">")]
            for number, text in enumerate(self._source.splitlines(), start=1):
                if any(form in text for form in forms):
                    self._places[value] = number
                    break
        return self._places[value]

    def _spread(self, finding: _Finding) -> str:
        """How many messages have it, and whose was first when that is the help."""
        total = self._messages
        count = (
            f"in all {total:,} messages"
            if finding.count == total
            else (f"in {finding.count:,} of {total:,} messages")
        )
        if not finding.values and finding.count == total:
            return count
        others = len(finding.values) - 1
        values = "value" if others == 1 else "values"
        also = f" and {others:,} other {values} from the recipients' data" if others > 0 else ""
        return f"first for {finding.first}{also}; {count}"


def _has_scheme(url: str, allowed: frozenset[str]) -> bool:
    cleaned = url.translate(_URL_NOISE).strip()
    try:
        scheme = urlsplit(cleaned).scheme
    except ValueError:  # an unparsable URL (a bad IPv6 literal) is no https link either
        return False
    return scheme.lower() in allowed


def _why(url: str) -> str:
    cleaned = url.translate(_URL_NOISE).strip()
    try:
        scheme = urlsplit(cleaned).scheme.lower()
    except ValueError:
        return ""
    if scheme == "http":
        return "; use https://"
    if scheme:
        return f"; a {scheme}: link, where only https:, mailto: and tel: are expected"
    return "; a relative or empty link goes nowhere in an email"


def _shown(value: str) -> str:
    """A value quoted on one line: control characters escaped, a long one cut."""
    text = value.encode("unicode_escape").decode("ascii") if not value.isprintable() else value
    return text if len(text) <= 80 else f"{text[:77]}…"


def _read(template: Path | None) -> str:
    if template is None:
        return ""
    try:
        return template.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""  # the render already read it; a line number is only a help
