from __future__ import annotations

import pytest

from capitolmail.templates.text import html_to_text


def test_paragraphs_are_separated_by_a_blank_line() -> None:
    assert html_to_text("<p>One</p><p>Two</p>\n<p>Three</p>") == "One\n\nTwo\n\nThree\n"


def test_line_breaks_become_newlines() -> None:
    assert html_to_text("<p>Jo Doe<br>Director<br/>Peace Action</p>") == (
        "Jo Doe\nDirector\nPeace Action\n"
    )


def test_whitespace_is_collapsed() -> None:
    html = "<p>\n   We   urge\tyou,\n  <b>Senator</b>  <i>Schatz</i> ,\n to act.  </p>"

    assert html_to_text(html) == "We urge you, Senator Schatz , to act.\n"


def test_entities_are_unescaped() -> None:
    assert html_to_text("<p>Arms &amp; ammunition &lt;now&gt; &#8212; caf&eacute;&nbsp;!</p>") == (
        "Arms & ammunition <now> — café !\n"
    )


def test_lists_become_dashed_and_numbered_items() -> None:
    html = (
        "<p>We ask you to:</p>"
        "<ul><li>oppose the sale</li><li>hold a hearing<ul><li>in public</li></ul></li></ul>"
        "<ol><li>Call</li><li>Write</li></ol>"
        "<p>Thank you.</p>"
    )

    assert html_to_text(html) == (
        "We ask you to:\n"
        "\n"
        "- oppose the sale\n"
        "- hold a hearing\n"
        "  - in public\n"
        "\n"
        "1. Call\n"
        "2. Write\n"
        "\n"
        "Thank you.\n"
    )


def test_headings_stand_on_their_own_lines() -> None:
    assert html_to_text("<h1>Joint letter</h1>Dear Senator,<h2>Our ask</h2><p>Vote no.</p>") == (
        "Joint letter\n\nDear Senator,\n\nOur ask\n\nVote no.\n"
    )


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            '<a href="https://example.org/letter">the letter</a>',
            "the letter (https://example.org/letter)\n",
        ),
        ('<a href="https://example.org">https://example.org</a>', "https://example.org\n"),
        ('<a href="mailto:gr@example.org">gr@example.org</a>', "gr@example.org\n"),
        (
            '<a href="mailto:gr@example.org">write to us</a>',
            "write to us (mailto:gr@example.org)\n",
        ),
        ('<a href="#top">back to top</a>', "back to top\n"),
        ('<a href="https://example.org"><img src="logo.png" alt=""></a>', "https://example.org\n"),
        (
            '<a href="https://example.org"><img src="l.png" alt="Logo"></a>',
            "Logo (https://example.org)\n",
        ),
    ],
)
def test_links_show_their_address_unless_the_text_is_the_address(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_script_style_and_title_are_dropped() -> None:
    html = (
        "<html><head><title>Subject</title><style>p { color: red }</style></head>"
        "<body><script>track()</script><p>Letter</p></body></html>"
    )

    assert html_to_text(html) == "Letter\n"


def test_layout_tables_and_divs_become_lines() -> None:
    html = (
        "<table><tr><td>\n  <div>Peace Action</div><div>Washington, DC</div>\n</td></tr>"
        "<tr><td><p>Footer</p></td></tr></table><p>After</p>"
    )

    assert html_to_text(html) == "Peace Action\nWashington, DC\n\nFooter\n\nAfter\n"


def test_preformatted_text_keeps_its_spacing() -> None:
    assert html_to_text("<p>Table:</p><pre>A    1\n  B  2</pre>") == "Table:\n\nA    1\n  B  2\n"


def test_blockquotes_are_marked() -> None:
    assert html_to_text("<p>They said:</p><blockquote>Stop<br>now</blockquote>") == (
        "They said:\n\n> Stop\n> now\n"
    )


def test_empty_html_gives_empty_text() -> None:
    assert html_to_text("<html><body> <p> </p> </body></html>") == ""
