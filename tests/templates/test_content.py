"""Every rendered part says something: subject, text, and HTML once tags are removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from capitolmail.errors import Problem, TemplateError
from capitolmail.templates.content import html_is_blank, is_blank
from capitolmail.templates.text import html_to_text
from tests.templates.test_render import CONTEXT, LETTER, letter, render_error, workspace

TEXT = f"{LETTER}/body.txt.j2"
HTML = f"{LETTER}/body.html.j2"
EMPTY_TEXT = "the text part is empty; check the {% if %} conditions and the values it uses"
EMPTY_HTML = (
    "the HTML part, once tags are removed, is empty; check the {% if %} conditions and "
    "the values it uses"
)


def test_a_text_body_whose_if_is_false_is_refused_at_its_if(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            TEXT: "{#- Only for senators with a nickname. -#}\n{% if legislator.nickname %}\n"
            "Dear {{ legislator.nickname }},\n{% endif %}\n\n"
        },
    )

    problems = render_error(letter(root, text="body.txt.j2"), CONTEXT)

    assert problems == [Problem(TEXT, EMPTY_TEXT, line=2, field="text")]


def test_the_same_text_body_renders_when_its_if_is_true(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {TEXT: "{% if topic %}\nAbout {{ topic }}\n{% endif %}\n"},
    )

    assert letter(root, text="body.txt.j2").render(CONTEXT).text == "About the arms sale\n"


@pytest.mark.parametrize(
    "body",
    [
        "<p>{{ nothing }}</p>",
        "<style>p { color: red }</style><script>x()</script><!-- draft --><p> </p>",
        "<title>Letter</title><div>&nbsp;&zwnj;&#8203;</div>",
        "<img src='https://example.org/banner.png'>",
    ],
)
def test_an_html_part_with_no_visible_text_is_refused(tmp_path: Path, body: str) -> None:
    root = workspace(tmp_path, {HTML: f"\n{body}\n"})

    problems = render_error(letter(root, html="body.html.j2"), {**CONTEXT, "nothing": ""})

    assert problems == [Problem(HTML, EMPTY_HTML, line=2, field="html")]


def test_a_layout_whose_body_block_renders_nothing_is_refused(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            HTML: '{% extends "capitolmail/letter.html.j2" %}\n'
            "{% block body %}{% if legislator.nickname %}<p>Hi</p>{% endif %}{% endblock %}\n"
        },
    )

    problems = render_error(letter(root, html="body.html.j2"), CONTEXT)

    assert problems == [Problem(HTML, EMPTY_HTML, line=2, field="html")]


def test_an_empty_text_part_is_refused_even_when_the_html_part_has_text(tmp_path: Path) -> None:
    root = workspace(tmp_path, {HTML: "<p>Letter</p>", TEXT: "{{ '' }}\n"})

    problems = render_error(letter(root, text="body.txt.j2", html="body.html.j2"), CONTEXT)

    assert problems == [Problem(TEXT, EMPTY_TEXT, line=1, field="text")]


@pytest.mark.parametrize("subject", ["{{ legislator.nickname or '' }}", "{{ '  \t ' }}", "\u200b"])
def test_an_empty_subject_is_refused(tmp_path: Path, subject: str) -> None:
    root = workspace(tmp_path, {TEXT: "Body\n"})

    with pytest.raises(TemplateError) as info:
        letter(root, subject=subject, text="body.txt.j2").render(CONTEXT)

    assert str(info.value) == (
        "letters/arms-sale/letter.toml: subject: the rendered subject is empty; "
        "check the values and conditions it uses"
    )


@pytest.mark.parametrize(
    ("text", "blank"),
    [
        ("", True),
        (" \n\t\r\n", True),
        ("\u00a0\u200b\u200c\ufeff\u2028", True),
        ("\x00\x1b", True),
        (".", False),
        ("—", False),
        ("\u200bA", False),
    ],
)
def test_blank_means_nothing_a_reader_would_see(text: str, blank: bool) -> None:
    assert is_blank(text) is blank


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<p> </p>",
        "<style>p{}</style><SCRIPT>go()</SCRIPT><!-- a\\nb --><title>T</title>",
        "<div>&nbsp;&#8203;&zwnj;</div>",
        "<p>—</p>",
        "<p>&mdash;</p>",
        "<img alt='banner' src='x.png'>",
        "<a href='https://example.org'>https://example.org</a>",
        "<p>Dear Senator</p>",
        "<style>p{}</style>x",
    ],
)
def test_the_quick_html_check_agrees_with_the_text_part(html: str) -> None:
    assert html_is_blank(html) is is_blank(html_to_text(html))


def test_an_empty_html_part_is_refused_beside_a_text_part(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {HTML: "<style>p {}</style>\n{% if topic == 'x' %}<p>Hi</p>{% endif %}", TEXT: "Hi\n"},
    )

    problems = render_error(letter(root, text="body.txt.j2", html="body.html.j2"), CONTEXT)

    assert problems == [Problem(HTML, EMPTY_HTML, line=1, field="html")]
