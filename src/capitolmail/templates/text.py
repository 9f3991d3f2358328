"""Plain text from a rendered HTML letter, for the text/plain part of the message.

Some Hill offices read mail in clients that show only the text part, and spam filters
score an HTML-only message lower, so a letter written only in HTML still gets a text
part that reads like a letter. Written on `html.parser` rather than html2text because
html2text is GPL and emits Markdown (`**bold**`, `[link](url)`), which reads oddly in a
letter to Congress.

Rules: blocks (paragraphs, headings, lists, tables) are separated by a blank line,
`<div>`, table rows and cells start a new line, `<br>` is a line break, list items are
"- item" ("1. item" in an `<ol>`), links become "text (url)" unless the text is the
address, whitespace is collapsed except in `<pre>`, entities are unescaped, and
script, style and title are dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PARAGRAPH = _HEADINGS | {"p", "ul", "ol", "dl", "blockquote", "pre", "table", "hr", "address"}
_LINE = frozenset({"div", "li", "tr", "td", "th", "dt", "dd", "caption", "center", "form"}) | {
    "section",
    "article",
    "header",
    "footer",
    "main",
    "nav",
    "aside",
    "figure",
    "figcaption",
}
_SKIP = frozenset({"script", "style", "title", "template"})
_SPACE = re.compile(r"\s+")


def html_to_text(html: str) -> str:
    """The text of `html`, ending in one newline (or empty when there is no text)."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    return parser.text()


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._pending = 0  # newlines owed before the next text
        self._skip = 0
        self._pre = 0
        self._quote = 0
        self._lists: list[list[int]] = []  # [ordered, counter] per open list
        self._marker: str | None = None  # "- " or "1. " waiting for the item's text
        self._links: list[tuple[str | None, int]] = []

    # -- structure ---------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "br":
            self._flush_pending()
            self._parts.append("\n")
        elif tag in ("ul", "ol"):
            self._block(1 if self._lists else 2)
            self._lists.append([tag == "ol", 0])
        elif tag == "li":
            self._block(1)
            if self._lists and self._lists[-1][0]:
                self._lists[-1][1] += 1
                self._marker = f"{self._lists[-1][1]}. "
            else:
                self._marker = "- "
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self._parts)))
        elif tag == "img" and self._links:
            self.handle_data(dict(attrs).get("alt") or "")
        else:
            self._open_block(tag)

    def _open_block(self, tag: str) -> None:
        if tag in _PARAGRAPH:
            self._block(2)
        elif tag in _LINE:
            self._block(1)
        if tag == "pre":
            self._pre += 1
        elif tag == "blockquote":
            self._quote += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in ("ul", "ol"):
            if self._lists:
                self._lists.pop()
            self._block(1 if self._lists else 2)
        elif tag == "a" and self._links:
            self._close_link(*self._links.pop())
        elif tag in _PARAGRAPH or tag in _LINE:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            elif tag == "blockquote":
                self._quote = max(0, self._quote - 1)
            self._block(2 if tag in _PARAGRAPH else 1)

    def _close_link(self, href: str | None, start: int) -> None:
        label = " ".join("".join(self._parts[start:]).split())
        if not href or href.startswith(("#", "javascript:")):
            return
        address = href.removeprefix("mailto:").removeprefix("tel:")
        if label in (href, address):
            return
        if label:
            self.handle_data(f" ({href})")
        else:
            self.handle_data(href)

    def _block(self, newlines: int) -> None:
        self._pending = max(self._pending, newlines)

    # -- text --------------------------------------------------------------------------

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            self._write(data.replace("\r\n", "\n"), preformatted=True)
            return
        text = _SPACE.sub(" ", data)
        if text == " ":
            if not self._at_line_start() and not self._pending:
                self._write(" ")
            return
        if text:
            self._write(text)

    def _flush_pending(self) -> None:
        """Write the newlines a closed block owes, counting those already written."""
        if self._pending and self._parts:
            written = "".join(self._parts[-4:])
            trailing = len(written) - len(written.rstrip("\n"))
            if self._pending > trailing:
                self._parts.append("\n" * (self._pending - trailing))
        self._pending = 0

    def _write(self, text: str, *, preformatted: bool = False) -> None:
        self._flush_pending()
        if self._at_line_start():
            if not preformatted:
                text = text.lstrip(" ")
            if not text:
                return
            prefix = self._prefix()
            if prefix:
                self._parts.append(prefix)
        elif text.startswith(" ") and self._tail().endswith(" "):
            text = text[1:]
        self._parts.append(text)

    def _prefix(self) -> str:
        quote = "> " * self._quote
        indent = "  " * max(0, len(self._lists) - 1)
        if self._marker is not None:
            marker, self._marker = self._marker, None
            return f"{quote}{indent}{marker}"
        return f"{quote}{indent}{'  ' if self._lists else ''}"

    def _tail(self) -> str:
        for part in reversed(self._parts):
            if part:
                return part
        return ""

    def _at_line_start(self) -> bool:
        return not self._parts or self._tail().endswith("\n")

    def text(self) -> str:
        lines = [line.rstrip() for line in "".join(self._parts).split("\n")]
        out: list[str] = []
        for line in lines:
            if line or (out and out[-1]):
                out.append(line)
        while out and not out[-1]:
            out.pop()
        return "\n".join(out) + "\n" if out else ""
