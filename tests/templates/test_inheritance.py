"""Content that `{% extends %}` would silently drop is refused when a letter compiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from capitolmail.errors import InputError
from tests.templates.test_render import CONTEXT, LETTER, letter, workspace

BODY = f"{LETTER}/body.html.j2"
EXTENDS = '{% extends "capitolmail/letter.html.j2" %}\n'


def compile_errors(root: Path, **bodies: str) -> list[str]:
    with pytest.raises(InputError) as info:
        letter(root, **bodies)
    return [str(problem) for problem in info.value.problems]


def test_a_misspelt_block_names_the_line_and_the_layouts_blocks(tmp_path: Path) -> None:
    root = workspace(
        tmp_path, {BODY: EXTENDS + "{% block bdy %}\n<p>Dear Senator</p>\n{% endblock %}\n"}
    )

    assert compile_errors(root, html="body.html.j2") == [
        'letters/arms-sale/body.html.j2:2: block "bdy" is not in the layout '
        '"capitolmail/letter.html.j2", so it is never shown (did you mean "body"?); '
        "the layout's blocks: body, footer, lang, preheader, title"
    ]


def test_text_after_endblock_is_refused(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {BODY: EXTENDS + "{% block body %}<p>Letter</p>{% endblock %}\n\nSincerely, {{ x }}\n"},
    )

    assert compile_errors(root, html="body.html.j2") == [
        "letters/arms-sale/body.html.j2:4: text outside {% block %} is never shown in a "
        'template that extends "capitolmail/letter.html.j2"; move it into a {% block %} '
        "or delete it"
    ]


@pytest.mark.parametrize(
    ("outside", "what"),
    [
        ("{{ signers | length }}", "{{ … }}"),
        ("{% if x %}PS: call us{% endif %}", "text"),
        ("{% for s in signers %}{{ s }}{% endfor %}", "{{ … }}"),
        ("{% include 'capitolmail/legislators.html.j2' %}", "{% include %}"),
        ("{% filter upper %}ps{% endfilter %}", "{% filter %}"),
    ],
)
def test_any_output_outside_blocks_is_refused(tmp_path: Path, outside: str, what: str) -> None:
    root = workspace(tmp_path, {BODY: EXTENDS + "{% block body %}x{% endblock %}\n" + outside})

    problems = compile_errors(root, html="body.html.j2")

    assert len(problems) == 1
    assert problems[0].startswith(f"letters/arms-sale/body.html.j2:3: {what} outside {{% block %}}")


def test_text_before_extends_is_refused(tmp_path: Path) -> None:
    root = workspace(tmp_path, {BODY: "Draft\n" + EXTENDS + "{% block body %}x{% endblock %}\n"})

    assert compile_errors(root, html="body.html.j2") == [
        "letters/arms-sale/body.html.j2:1: text before {% extends %} would be printed above "
        'the layout "capitolmail/letter.html.j2"; move it into a {% block %} or delete it'
    ]


def test_whitespace_comments_macros_and_assignments_outside_blocks_are_fine(
    tmp_path: Path,
) -> None:
    root = workspace(
        tmp_path,
        {
            BODY: "{# draft 3 #}\n\n"
            + EXTENDS
            + "{% set topic = 'the sale' %}\n\n"
            + "{% macro ask(what) %}Please {{ what }}.{% endmacro %}\n"
            + "{% set closing %}Thank you{% endset %}\n   \n"
            + "{% block body %}<p>{{ ask('block ' ~ topic) }} {{ closing }}</p>{% endblock %}\n\n"
        },
    )

    rendered = letter(root, html="body.html.j2").render(CONTEXT)

    assert rendered.text == "Please block the sale. Thank you\n"


def test_a_letter_that_fills_no_body_is_refused(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {BODY: '{% extends "capitolmail/alert.html.j2" %}\n{% block title %}T{% endblock %}'},
    )

    assert compile_errors(root, html="body.html.j2") == [
        "letters/arms-sale/body.html.j2:1: fills no {% block body %}, which the layout "
        '"capitolmail/alert.html.j2" requires; put the letter\'s content in it'
    ]


def test_a_misspelt_block_in_a_team_layout_is_refused(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/coalition.html.j2": EXTENDS + "{% block bodyy %}<h1>Coalition</h1>"
            "{% block letter %}{% endblock %}{% endblock %}\n",
            BODY: '{% extends "coalition.html.j2" %}{% block letter %}x{% endblock %}',
        },
    )

    problems = compile_errors(root, html="body.html.j2")

    assert problems[0] == (
        'templates/coalition.html.j2:2: block "bodyy" is not in the layout '
        '"capitolmail/letter.html.j2", so it is never shown (did you mean "body"?); '
        "the layout's blocks: body, footer, lang, preheader, title"
    )


def test_a_block_inside_a_layout_block_the_letter_replaces_is_refused(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/coalition.html.j2": EXTENDS + "{% block body %}<h1>Coalition</h1>"
            "{% block letter %}{% endblock %}{% endblock %}\n",
            BODY: '{% extends "coalition.html.j2" %}\n'
            "{% block body %}<p>Intro</p>{% endblock %}\n"
            "{% block letter %}<p>The letter</p>{% endblock %}\n",
        },
    )

    assert compile_errors(root, html="body.html.j2") == [
        'letters/arms-sale/body.html.j2:3: block "letter" is never shown: the layout has it '
        'inside block "body", which is replaced without it'
    ]


def test_a_nested_block_is_shown_when_the_replacement_calls_super(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/coalition.html.j2": EXTENDS + "{% block body %}<h1>Coalition</h1>"
            "{% block letter %}{% endblock %}{% endblock %}\n",
            BODY: '{% extends "coalition.html.j2" %}\n'
            "{% block body %}<p>Intro</p>{{ super() }}{% endblock %}\n"
            "{% block letter %}<p>The letter</p>{% endblock %}\n",
        },
    )

    rendered = letter(root, html="body.html.j2").render(CONTEXT)

    assert rendered.text == "Intro\n\nCoalition\n\nThe letter\n"


def test_an_included_partial_that_extends_is_checked_too(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/panel.html.j2": EXTENDS + "{% block boddy %}x{% endblock %}\n",
            BODY: EXTENDS + "{% block body %}{% include 'panel.html.j2' %}{% endblock %}",
        },
    )

    problems = compile_errors(root, html="body.html.j2")

    assert [p.split(": ", 1)[0] for p in problems] == ["templates/panel.html.j2:2"]
    assert '(did you mean "body"?)' in problems[0]


def test_a_layout_named_by_a_variable_is_refused(tmp_path: Path) -> None:
    root = workspace(tmp_path, {BODY: "\n{% extends layout %}{% block body %}x{% endblock %}"})

    assert compile_errors(root, html="body.html.j2") == [
        "letters/arms-sale/body.html.j2:2: {% extends %} needs the layout's name in quotes, "
        'e.g. {% extends "capitolmail/letter.html.j2" %}: a layout chosen at render time '
        "cannot be checked for the blocks this template fills"
    ]


def test_a_conditional_between_two_quoted_layouts_checks_both(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/short.html.j2": "<main>{% block main %}{% endblock %}</main>",
            BODY: '{% extends "capitolmail/letter.html.j2" if long else "short.html.j2" %}'
            "{% block body %}x{% endblock %}",
        },
    )

    problems = compile_errors(root, html="body.html.j2")

    assert problems == [
        'letters/arms-sale/body.html.j2:1: block "body" is not in the layout "short.html.j2", '
        "so it is never shown; the layout's blocks: main"
    ]


def test_extends_inside_an_if_is_refused(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {BODY: "{% if long %}\n" + EXTENDS + "{% endif %}{% block body %}x{% endblock %}"},
    )

    problems = compile_errors(root, html="body.html.j2")

    assert problems[0].startswith(
        "letters/arms-sale/body.html.j2:2: {% extends %} must be a top-level statement"
    )


def test_layouts_that_extend_each_other_are_refused(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/a.html.j2": '{% extends "b.html.j2" %}{% block x %}{% endblock %}',
            "templates/b.html.j2": '{% extends "a.html.j2" %}{% block x %}{% endblock %}',
            BODY: '{% extends "a.html.j2" %}{% block x %}y{% endblock %}',
        },
    )

    problems = compile_errors(root, html="body.html.j2")

    assert any("layouts extend each other in a circle" in p for p in problems)


def test_a_text_body_that_extends_is_checked_the_same_way(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/base.txt.j2": "{% block greeting %}{% endblock %}\n"
            "{% block text %}{% endblock %}",
            f"{LETTER}/body.txt.j2": '{% extends "base.txt.j2" %}\n'
            "{% block greting %}Dear {{ legislator.last }}{% endblock %}\n",
        },
    )

    assert compile_errors(root, text="body.txt.j2") == [
        'letters/arms-sale/body.txt.j2:2: block "greting" is not in the layout '
        '"base.txt.j2", so it is never shown (did you mean "greeting"?); '
        "the layout's blocks: greeting, text"
    ]


def test_the_built_in_layouts_and_the_example_pass(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            BODY: '{% extends "capitolmail/alert.html.j2" %}\n'
            "{% block title %}Act{% endblock %}{% block body %}<p>Call</p>{% endblock %}"
        },
    )

    rendered = letter(root, html="body.html.j2").render(
        {
            **CONTEXT,
            "organisation": {"name": "Org", "postal_address": "1 St"},
            "list_name": "L",
            "unsubscribe_url": "https://x.example/u",
        }
    )

    assert rendered.text.startswith("Call\n\nOrg · 1 St\n")


def test_a_missing_layout_in_a_conditional_extends_is_reported(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            BODY: '\n{% extends "capitolmail/letter.html.j2" if long else "shrot.html.j2" %}'
            "{% block body %}x{% endblock %}",
            "templates/short.html.j2": "<main>{% block body %}{% endblock %}</main>",
        },
    )

    assert compile_errors(root, html="body.html.j2") == [
        'letters/arms-sale/body.html.j2:2: template "shrot.html.j2" not found '
        '(did you mean "short.html.j2"?)'
    ]
