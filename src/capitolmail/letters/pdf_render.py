"""HTML to PDF with WeasyPrint: deterministic, offline, and with one-line errors.

- **Deterministic.** No creation date, no random document id: the same HTML gives
  the same bytes, so the PDF stored at queue time is byte for byte the one
  `letters preview --format pdf` wrote, and a test can say so.
- **Offline and inside the letter.** The page may load nothing but `data:` URLs
  (the logo is handed in as one): a template's `<img src="file:///etc/passwd">` or
  `https://…` stylesheet is refused with its URL, never fetched.
- **Missing system libraries** (Pango, HarfBuzz, fontconfig, which WeasyPrint
  loads at import) are one line naming the Debian package, never a traceback;
  WeasyPrint's own long notice on stdout is swallowed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
import threading
from collections import OrderedDict
from typing import Any

from capitolmail.errors import CapitolmailError, InputError

# WeasyPrint's library names (text/ffi.py) and the Debian packages that ship them.
_DEBIAN_PACKAGES = {
    "gobject": "libglib2.0-0",
    "pangoft2": "libpangoft2-1.0-0",
    "pango": "libpango-1.0-0",
    "harfbuzz": "libharfbuzz0b",
    "fontconfig": "libfontconfig1",
}
ALL_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation"
_weasyprint: Any = None
_lock = threading.Lock()
# PDFs made in this process, by the SHA-256 of their HTML. The output depends on the
# HTML alone (no date, no id; the logo is in it), so one office's two contacts, and a
# `letters check` then `queue` in one process, lay each letter out once.
_made: OrderedDict[str, bytes] = OrderedDict()
_MADE_KEPT = 64


class PdfUnavailable(CapitolmailError):
    """WeasyPrint or a library it needs is not installed: one line saying which."""


def weasyprint_module() -> Any:
    """WeasyPrint, imported once; PdfUnavailable naming the Debian package when it cannot be."""
    global _weasyprint
    with _lock:
        if _weasyprint is None:
            _weasyprint = _import_weasyprint()
    return _weasyprint


def _import_weasyprint() -> Any:
    # WeasyPrint logs every layout step at INFO and each CSS rule it ignores at WARNING:
    # one line per step per office in a user's terminal. Only its errors are worth it.
    for name in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    notice = io.StringIO()
    try:
        with contextlib.redirect_stdout(notice):
            import weasyprint
    except ImportError:
        raise PdfUnavailable(
            "PDF letters need WeasyPrint: python3 -m pip install 'weasyprint>=70'"
        ) from None
    except OSError as err:
        raise PdfUnavailable(missing_library_message(str(err))) from None
    return weasyprint


def missing_library_message(error: str) -> str:
    """The line a user reads when WeasyPrint cannot load a system library."""
    match = re.search(r"library '([^']+)'", error)
    name = match.group(1) if match else ""
    bare = name.removeprefix("lib").split("-")[0].split(".")[0]
    package = _DEBIAN_PACKAGES.get(bare, "libpango-1.0-0")
    shown = name or "a system library"
    return (
        f"PDF letters need {shown}, which WeasyPrint uses to lay out text: install the "
        f"Debian package {package} (apt-get install {ALL_PACKAGES})"
    )


def render_pdf(html: str, *, source: str) -> bytes:
    """The PDF of `html`; InputError naming `source` for a resource it may not load."""
    with _lock:
        made = _made.get(_key(html))
    if made is None:
        made = _render(html, source)
        keep(html, made)
    return made


def is_made(html: str) -> bool:
    with _lock:
        return _key(html) in _made


def keep(html: str, pdf: bytes) -> None:
    """Remember the PDF of `html` (pdf_pool.py hands in what its processes made)."""
    with _lock:
        _made[_key(html)] = pdf
        _made.move_to_end(_key(html))
        while len(_made) > _MADE_KEPT:
            _made.popitem(last=False)


def _key(html: str) -> str:
    return hashlib.sha256(html.encode("utf-8")).hexdigest()


def _render(html: str, source: str) -> bytes:
    weasyprint = weasyprint_module()
    fetcher = _refusing_fetcher(weasyprint)()
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher)
    try:
        return bytes(document.write_pdf(pdf_identifier=False, uncompressed_pdf=False))
    except weasyprint.urls.FatalURLFetchingError:
        refused = fetcher.refused[0] if fetcher.refused else "a resource"
        raise InputError(
            f'the PDF refers to "{_shortened(refused)}"; a PDF letter may only use the '
            "logo named in [pdf] logo (and data: URLs), nothing from disk or the network",
            path=source,
        ) from None


_fetcher_class: Any = None


def _refusing_fetcher(weasyprint: Any) -> Any:
    """A URLFetcher that answers `data:` URLs and stops the render at anything else."""
    global _fetcher_class
    if _fetcher_class is None:
        base = weasyprint.urls.URLFetcher
        fatal = weasyprint.urls.FatalURLFetchingError

        class RefusingFetcher(base):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                super().__init__(allowed_protocols=("data",), fail_on_errors=True)
                self.refused: list[str] = []

            def fetch(self, url: str, headers: Any = None) -> Any:
                if not url.startswith("data:"):
                    self.refused.append(url)
                    raise fatal(f"refused {url}")
                return super().fetch(url, headers)

        _fetcher_class = RefusingFetcher
    return _fetcher_class


def _shortened(url: str) -> str:
    return url if len(url) <= 80 else f"{url[:77]}…"
