"""Clicked links as they are kept: scheme, host and path; no query, no tokens, one line."""

from __future__ import annotations

import pytest

from capitolmail.tracking.links import MAX_LINK, NOT_A_WEB_LINK, clicked_link


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://act.example.org/take-action", "https://act.example.org/take-action"),
        ("HTTPS://Act.Example.ORG/Take?email=a%40b.org#x", "https://act.example.org/Take"),
        ("https://user:pw@act.example.org:8443/a", "https://act.example.org:8443/a"),
        (
            "https://act.example.org/u/eyJzIjoiYWRhQGV4YW1wbGUubmV0In0.c2lnbmF0dXJl",
            "https://act.example.org/u/…",
        ),
        ("javascript:alert(1)", NOT_A_WEB_LINK),
        ("mailto:office@senate.example.org", NOT_A_WEB_LINK),
        ("https:///no-host", NOT_A_WEB_LINK),
        ("http://[not-an-ip/", NOT_A_WEB_LINK),
        # urlsplit drops CR, LF and tabs (WHATWG); other controls are spelled out.
        ("https://a.example/x\r\nInjected: yes", "https://a.example/xInjected: yes"),
        ("https://a.example/x\x1b[2Jy", "https://a.example/x\\x1b[2Jy"),
        ("", None),
        (None, None),
    ],
)
def test_links_are_cut_to_what_may_be_counted(url: str | None, kept: str | None) -> None:
    assert clicked_link(url) == kept


def test_a_long_link_is_cut() -> None:
    link = clicked_link("https://a.example/" + "word/" * 200)
    assert link is not None and len(link) == MAX_LINK and link.endswith("…")
