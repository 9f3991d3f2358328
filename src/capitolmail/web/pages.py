"""HTML answers: the Jinja2 environment for web/templates and the headers every page carries.

Autoescaped throughout: organisation names, list ids and job names come from
files staff edit, and addresses from supporters. The headers keep the pages
out of frames (an unsubscribe button is a clickjacking target), out of caches
and out of Referer headers (the URL holds an unsubscribe token).
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def page_environment() -> Environment:
    return Environment(
        loader=PackageLoader("capitolmail.web", "templates"),
        autoescape=select_autoescape(["html", "html.j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    env: Environment,
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = env.get_template(template).render(**context)
    return HTMLResponse(html, status_code, headers={**SECURITY_HEADERS, **(headers or {})})
