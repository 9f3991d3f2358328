"""The report as PDF: the HTML page laid out by WeasyPrint, for a packet or an attachment.

WeasyPrint needs Pango from the system. Without it the import fails deep inside
cffi with a page of text; here it is one line naming the Debian package. The
page is rendered with no base URL and a fetcher that refuses every request, so
nothing in a report (a clicked URL, an office name) can make it reach the network
or read a local file.
"""

from __future__ import annotations

from typing import Any, NoReturn

from capitolmail.errors import CapitolmailError

PANGO_PACKAGE = "libpango-1.0-0"


def html_to_pdf(html: str) -> bytes:
    HTML = _weasyprint().HTML
    document = HTML(string=html, base_url=None, url_fetcher=_refuse_fetch)
    pdf: bytes = document.write_pdf()
    return pdf


def _weasyprint() -> Any:
    try:
        import weasyprint
    except ImportError as err:
        raise CapitolmailError(
            "PDF reports need WeasyPrint: pip install 'weasyprint>=62'"
            if getattr(err, "name", None) == "weasyprint"
            else _missing_library(err)
        ) from None
    except OSError as err:
        raise CapitolmailError(_missing_library(err)) from None
    return weasyprint


def _missing_library(err: Exception) -> str:
    first = (str(err).splitlines() or [type(err).__name__])[0][:120]
    return (
        f"PDF reports need the Pango library, which WeasyPrint could not load ({first}); "
        f"install the Debian package {PANGO_PACKAGE} (apt-get install {PANGO_PACKAGE} "
        "libpangoft2-1.0-0), or use --format html"
    )


def _refuse_fetch(url: str, *args: object, **kwargs: object) -> NoReturn:
    raise ValueError(f"a report loads nothing from outside ({url[:60]})")
