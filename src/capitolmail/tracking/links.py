"""The link a click event names, in the form it is kept and counted: cut and made safe.

SendGrid reports the URL the reader followed, after its own redirect. It is text
anyone could have put in a letter or forged into an event, and it may carry what
is personal to one reader: an unsubscribe token in the path, an address or a
campaign id in the query. So only the scheme, the host and the path are kept,
path segments that look like tokens become `…`, and the result is cut to
`MAX_LINK` characters. Links then count per page ("clicks on /take-action"),
not per reader, and a report forwarded to partners names no one's token.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from capitolmail.printable import printable

MAX_LINK = 300
_SCHEMES = frozenset({"http", "https"})
# A path segment this long, of token characters only, is an id, not a page name.
_TOKEN_SEGMENT = re.compile(r"[A-Za-z0-9_\-.=~%]{24,}")
NOT_A_WEB_LINK = "(not a web link)"


def clicked_link(url: str | None) -> str | None:
    """`https://host/path` of a clicked link; NOT_A_WEB_LINK for anything but http(s);
    None when the event named no link."""
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return NOT_A_WEB_LINK
    if parts.scheme.lower() not in _SCHEMES or not host:
        return NOT_A_WEB_LINK
    try:
        port = parts.port
    except ValueError:
        port = None
    segments = [
        "…" if _TOKEN_SEGMENT.fullmatch(segment) else segment for segment in parts.path.split("/")
    ]
    netloc = host if port is None else f"{host}:{port}"
    link = printable(f"{parts.scheme.lower()}://{netloc}{'/'.join(segments)}")
    return link if len(link) <= MAX_LINK else link[: MAX_LINK - 1] + "…"
