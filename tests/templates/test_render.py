from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from capitolmail.errors import InputError, Problem, TemplateError
from capitolmail.templates import LetterTemplates, RenderedLetter

LETTER = "letters/arms-sale"
SOURCE = "letters/arms-sale/letter.toml"


@dataclass(frozen=True, slots=True)
class Legislator:
    title: str
    first: str
    last: str
    nickname: str | None = None
    state: str = "HI"


SCHATZ = Legislator("Senator", "Brian", "Schatz")
CONTEXT = {"legislator": SCHATZ, "topic": "the arms sale"}


def workspace(tmp_path: Path, files: dict[str, str]) -> Path:
    """A workspace folder holding `files` (paths relative to the workspace root)."""
    (tmp_path / LETTER).mkdir(parents=True)
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return tmp_path


def letter(
    root: Path,
    *,
    subject: str = "About {{ topic }}",
    text: str | None = None,
    html: str | None = None,
) -> LetterTemplates:
    return LetterTemplates(
        root / LETTER,
        workspace_root=root,
        subject=subject,
        text_template=text,
        html_template=html,
        source=SOURCE,
    )


def render_error(templates: LetterTemplates, context: dict[str, object]) -> list[Problem]:
    with pytest.raises(TemplateError) as info:
        templates.render(context)
    return info.value.problems


def test_text_letter_renders_subject_and_body(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            f"{LETTER}/body.txt.j2": "{{ legislator | salutation }}\n\n"
            "{% if topic %}\nWe write about {{ topic }}.\n{% endif %}\n"
        },
    )

    rendered = letter(root, text="body.txt.j2").render(CONTEXT)

    assert rendered == RenderedLetter(
        subject="About the arms sale",
        text="Dear Senator Schatz:\n\nWe write about the arms sale.\n",
        html=None,
    )


def test_undefined_variable_names_template_and_line(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {f"{LETTER}/body.txt.j2": "{{ legislator | salutation }}\n\nReply by {{ deadline }}.\n"},
    )

    problems = render_error(letter(root, text="body.txt.j2"), CONTEXT)

    assert problems == [
        Problem(path="letters/arms-sale/body.txt.j2", message='"deadline" is undefined', line=3)
    ]


def test_undefined_variable_suggests_a_close_name(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": "On {{ topics }}.\n"})

    with pytest.raises(TemplateError) as info:
        letter(root, text="body.txt.j2").render(CONTEXT)

    assert str(info.value) == (
        'letters/arms-sale/body.txt.j2:1: "topics" is undefined (did you mean "topic"?)'
    )


def test_undefined_attribute_suggests_the_closest_field(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            f"{LETTER}/body.html.j2": "<p>Dear {{ legislator.title }}\n"
            "{{ legislator.nick_name }}</p>\n"
        },
    )

    with pytest.raises(TemplateError) as info:
        letter(root, html="body.html.j2").render(CONTEXT)

    assert str(info.value) == (
        'letters/arms-sale/body.html.j2:2: "legislator.nick_name" is undefined '
        '(did you mean "nickname"?)'
    )


def test_undefined_key_on_a_mapping_suggests_the_closest_key(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": "Hi {{ supporter['frist_name'] }}\n"})

    problems = render_error(
        letter(root, text="body.txt.j2"), {"supporter": {"first_name": "Ana"}, "topic": "x"}
    )

    assert problems == [
        Problem(
            path="letters/arms-sale/body.txt.j2",
            message='"supporter.frist_name" is undefined (did you mean "first_name"?)',
            line=1,
        )
    ]


def test_undefined_attribute_of_a_loop_variable_names_the_right_object(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            f"{LETTER}/body.txt.j2": "{{ legislator.last }}\n"
            "{% for member in delegation %}{{ legislator.first }} {{ member.lats }}{% endfor %}\n"
        },
    )
    context = {**CONTEXT, "delegation": [SCHATZ]}

    problems = render_error(letter(root, text="body.txt.j2"), context)

    assert [str(p) for p in problems] == [
        'letters/arms-sale/body.txt.j2:2: "member.lats" is undefined (did you mean "last"?)'
    ]


def test_one_line_with_two_lookups_names_the_object_that_lacks_it(tmp_path: Path) -> None:
    root = workspace(
        tmp_path, {f"{LETTER}/body.txt.j2": "{{ legislator.last }} / {{ office.last }}\n"}
    )

    problems = render_error(
        letter(root, text="body.txt.j2"), {**CONTEXT, "office": {"lead": "Ana", "room": "SH-722"}}
    )

    assert [p.message for p in problems] == ['"office.last" is undefined']


def test_undefined_name_in_an_included_partial_names_the_partial(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/sign-off.txt.j2": "Sincerely,\n{{ sender.name }}\n",
            f"{LETTER}/body.txt.j2": "Dear {{ legislator.last }},\n{% include 'sign-off.txt.j2' %}",
        },
    )

    problems = render_error(letter(root, text="body.txt.j2"), CONTEXT)

    assert problems == [
        Problem(path="templates/sign-off.txt.j2", message='"sender" is undefined', line=2)
    ]


def test_syntax_error_names_template_and_line(tmp_path: Path) -> None:
    root = workspace(
        tmp_path, {f"{LETTER}/body.txt.j2": "Dear {{ legislator.last }},\n\n{{ topic }\n"}
    )

    with pytest.raises(TemplateError) as info:
        letter(root, text="body.txt.j2")

    assert info.value.problems == [
        Problem(path="letters/arms-sale/body.txt.j2", message="unexpected '}'", line=3)
    ]


def test_unknown_filter_is_reported_when_compiling(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": "\n{{ legislator | salutaton }}\n"})

    with pytest.raises(TemplateError) as info:
        letter(root, text="body.txt.j2")

    assert str(info.value) == "letters/arms-sale/body.txt.j2:2: No filter named 'salutaton'"


def test_syntax_error_in_an_extended_layout_names_the_layout(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/base.html.j2": "<html>\n{% block body %}\n</html>\n",
            f"{LETTER}/body.html.j2": '{% extends "base.html.j2" %}\n',
        },
    )

    with pytest.raises(TemplateError) as info:
        letter(root, html="body.html.j2")

    assert [(p.path, p.line) for p in info.value.problems] == [("templates/base.html.j2", 3)]


def test_a_missing_layout_is_reported_with_a_suggestion(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {f"{LETTER}/body.html.j2": '\n{% extends "capitolmail/leter.html.j2" %}\n'},
    )

    with pytest.raises(TemplateError) as info:
        letter(root, html="body.html.j2")

    assert str(info.value) == (
        'letters/arms-sale/body.html.j2:2: template "capitolmail/leter.html.j2" not found '
        '(did you mean "capitolmail/letter.html.j2"?)'
    )


def test_a_missing_body_file_is_reported(tmp_path: Path) -> None:
    root = workspace(tmp_path, {})

    with pytest.raises(TemplateError) as info:
        letter(root, text="body.txt.j2")

    assert str(info.value) == (
        "letters/arms-sale/body.txt.j2: template file not found; create it or fix the file "
        "name in letter.toml"
    )


def test_a_letter_needs_at_least_one_body(tmp_path: Path) -> None:
    root = workspace(tmp_path, {})

    with pytest.raises(InputError) as info:
        letter(root)

    assert info.value.problems == [
        Problem(SOURCE, "a letter needs a text or an HTML template", field="templates")
    ]


def test_line_break_in_rendered_subject_is_refused(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": "Body\n"})
    templates = letter(root, subject="About {{ topic }}", text="body.txt.j2")

    problems = render_error(templates, {**CONTEXT, "topic": "arms\r\nBcc: everyone@example.org"})

    assert problems == [
        Problem(
            path=SOURCE,
            message="the rendered subject contains a line break, which would split the header; "
            "check the values it uses",
            field="subject",
        )
    ]


def test_a_subject_template_on_two_lines_is_refused(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": "Body\n"})

    with pytest.raises(TemplateError) as info:
        letter(root, subject="About\n{{ topic }}", text="body.txt.j2")

    assert str(info.value) == "letters/arms-sale/letter.toml: subject: the subject must be one line"


def test_undefined_name_in_the_subject_points_at_letter_toml(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": "Body\n"})
    templates = letter(root, subject="{{ legislator.nick_name }}: {{ topic }}", text="body.txt.j2")

    problems = render_error(templates, CONTEXT)

    assert problems == [
        Problem(
            path=SOURCE,
            message='"legislator.nick_name" is undefined (did you mean "nickname"?)',
            field="subject",
        )
    ]


def test_syntax_error_in_the_subject_points_at_letter_toml(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": "Body\n"})

    with pytest.raises(TemplateError) as info:
        letter(root, subject="About {{ topic }", text="body.txt.j2")

    assert info.value.problems == [Problem(SOURCE, "unexpected '}'", field="subject")]


def test_subject_whitespace_is_collapsed_and_not_escaped(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.html.j2": "<p>Body</p>\n"})
    templates = letter(root, subject="  Re:   {{ topic }}  ", html="body.html.j2")

    rendered = templates.render({"topic": "Arms\t& <Ammunition>"})

    assert rendered.subject == "Re: Arms & <Ammunition>"


def test_html_is_autoescaped_and_text_is_not(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            f"{LETTER}/body.html.j2": "<p>{{ topic }}</p>\n",
            f"{LETTER}/body.txt.j2": "{{ topic }}\n",
        },
    )
    templates = letter(root, text="body.txt.j2", html="body.html.j2")

    rendered = templates.render({"topic": "<b>Arms & Co</b>"})

    assert rendered.html == "<p>&lt;b&gt;Arms &amp; Co&lt;/b&gt;</p>\n"
    assert rendered.text == "<b>Arms & Co</b>\n"


def test_text_is_derived_from_html_when_there_is_no_text_template(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            f"{LETTER}/body.html.j2": '{% extends "capitolmail/letter.html.j2" %}\n'
            "{% block body %}\n"
            "<p>{{ legislator | salutation }}</p>\n"
            "<p>We urge you to oppose {{ topic }}.\n  Read <a href='https://example.org/letter'>"
            "the letter</a>.</p>\n"
            "<ul><li>Stop the sale</li><li>Hold a hearing</li></ul>\n"
            "{% endblock %}\n"
        },
    )

    rendered = letter(root, html="body.html.j2").render(CONTEXT)

    assert rendered.text == (
        "Dear Senator Schatz:\n"
        "\n"
        "We urge you to oppose the arms sale. Read the letter (https://example.org/letter).\n"
        "\n"
        "- Stop the sale\n"
        "- Hold a hearing\n"
    )
    assert rendered.html is not None
    assert rendered.html.startswith("<!DOCTYPE html>\n")
    assert "<p>Dear Senator Schatz:</p>" in rendered.html


def test_workspace_templates_override_the_built_in_layout(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/capitolmail/letter.html.j2": "<main>{% block body %}{% endblock %}</main>\n",
            f"{LETTER}/body.html.j2": '{% extends "capitolmail/letter.html.j2" %}'
            "{% block body %}<p>{{ topic }}</p>{% endblock %}",
        },
    )

    rendered = letter(root, html="body.html.j2").render(CONTEXT)

    assert rendered.html == "<main><p>the arms sale</p></main>\n"


def test_a_letter_extends_a_workspace_layout_that_extends_a_built_in(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/coalition.html.j2": '{% extends "capitolmail/letter.html.j2" %}'
            "{% block body %}<h1>Coalition letter</h1>{% block letter %}{% endblock %}"
            "{% endblock %}",
            f"{LETTER}/body.html.j2": '{% extends "coalition.html.j2" %}'
            "{% block letter %}<p>{{ topic }}</p>{% endblock %}",
        },
    )

    rendered = letter(root, html="body.html.j2").render(CONTEXT)

    assert rendered.text == "Coalition letter\n\nthe arms sale\n"


def test_a_workspace_partial_cannot_replace_the_letters_own_body(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/body.txt.j2": "shared partial\n",
            f"{LETTER}/body.txt.j2": "the letter's own body\n",
        },
    )

    rendered = letter(root, text="body.txt.j2").render(CONTEXT)

    assert rendered.text == "the letter's own body\n"


def test_templates_are_compiled_once_and_not_reloaded(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "templates/sign-off.txt.j2": "Sincerely\n",
            f"{LETTER}/body.txt.j2": "{% include 'sign-off.txt.j2' %}",
        },
    )
    templates = letter(root, text="body.txt.j2")
    for path in (root / "templates/sign-off.txt.j2", root / LETTER / "body.txt.j2"):
        mtime = path.stat().st_mtime
        path.write_text("Edited\n", encoding="utf-8")
        os.utime(path, (mtime + 10, mtime + 10))

    assert templates.render(CONTEXT).text == "Sincerely\n"


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__",
        "legislator.__class__.__init__.__globals__",
        "topic.__class__.__mro__",
    ],
)
def test_the_sandbox_blocks_python_internals(tmp_path: Path, expression: str) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": f"Line one\n{{{{ {expression} }}}}\n"})

    problems = render_error(letter(root, text="body.txt.j2"), CONTEXT)

    assert [(p.path, p.line) for p in problems] == [("letters/arms-sale/body.txt.j2", 2)]
    assert problems[0].message.startswith("access to attribute '__")
    assert problems[0].message.endswith("is unsafe; templates may only read the letter's data")


def test_the_sandbox_message_names_the_attribute(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": "{{ ''.__class__ }}\n"})

    problems = render_error(letter(root, text="body.txt.j2"), CONTEXT)

    assert [str(p) for p in problems] == [
        "letters/arms-sale/body.txt.j2:1: access to attribute '__class__' of 'str' object is "
        "unsafe; templates may only read the letter's data"
    ]


def test_templates_cannot_change_data_shared_between_recipients(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": "{{ names.append('extra') }}\n"})
    names = ["Ana"]

    problems = render_error(letter(root, text="body.txt.j2"), {"names": names})

    assert [str(p) for p in problems] == [
        "letters/arms-sale/body.txt.j2:1: access to attribute 'append' of 'list' object is "
        "unsafe; templates may only read the letter's data"
    ]
    assert names == ["Ana"]


def test_the_sandbox_still_refuses_on_the_thousandth_render(tmp_path: Path) -> None:
    """Verdicts are remembered per type and name for speed; refusals must be too."""
    body = "{{ names[0].upper() }} {{ '{0.__class__}'.format(names) }}{{ names.append('x') }}\n"
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": body})
    templates = letter(root, text="body.txt.j2")
    names = ["Ana"]
    for _ in range(3):
        problems = render_error(templates, {"names": names})
        assert [p.message for p in problems] == [
            "access to attribute '__class__' of 'list' object is unsafe; "
            "templates may only read the letter's data"
        ]
    assert names == ["Ana"]


def test_an_exception_in_a_filter_names_template_and_line(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": "\n\n{{ office | salutation }}\n"})

    problems = render_error(letter(root, text="body.txt.j2"), {"office": {"last": "Schatz"}})

    assert problems == [
        Problem(
            path="letters/arms-sale/body.txt.j2",
            message="salutation needs a legislator with a title and a last name",
            line=3,
        )
    ]


def test_one_compiled_letter_renders_many_recipients(tmp_path: Path) -> None:
    root = workspace(tmp_path, {f"{LETTER}/body.txt.j2": "{{ legislator | salutation }}\n"})
    templates = letter(root, subject="For {{ legislator.last }}", text="body.txt.j2")
    members = [SCHATZ, Legislator("Representative", "Rosa", "DeLauro")]

    rendered = [templates.render({"legislator": member}) for member in members]

    assert [(r.subject, r.text) for r in rendered] == [
        ("For Schatz", "Dear Senator Schatz:\n"),
        ("For DeLauro", "Dear Representative DeLauro:\n"),
    ]
