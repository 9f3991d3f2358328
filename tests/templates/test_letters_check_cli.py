"""`letters check` and `queue` refuse templates whose content would vanish, and queue nothing.

Each case edits the worked example the way a staffer would, then asserts the exit
code, the exact first error line and that `status --json` shows no job.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Invoke

JOINT = Path("letters/block-arms-sale")
ALERT = Path("letters/urge-senators")
FIRST_OFFICE = "(for cos.murphy.ct@senate.example.org, Christopher Murphy)"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _assert_refused(cli: Invoke, slug: str, line: str) -> None:
    for command in (("letters", "check", slug), ("queue", slug)):
        result = cli(*command)
        assert result.exit_code == 1, result.stderr
        assert result.stderr.splitlines()[0] == f"Error: {line}"
        assert "OK:" not in result.stderr
        assert "Traceback" not in result.stderr
    assert json.loads(cli("status", "--json").stdout) == {"jobs": []}


def test_the_example_passes_and_queues(cli: Invoke) -> None:
    check = cli("letters", "check", "block-arms-sale")
    assert check.exit_code == 0
    assert "OK: block-arms-sale renders 44 messages to 22 offices." in check.stderr


def test_a_misspelt_block_in_the_html_body_is_refused(cli: Invoke, workspace: Path) -> None:
    _edit(workspace / JOINT / "body.html.j2", "{% block body %}", "{% block bdy %}")

    _assert_refused(
        cli,
        "block-arms-sale",
        'letters/block-arms-sale/body.html.j2:3: block "bdy" is not in the layout '
        '"capitolmail/letter.html.j2", so it is never shown (did you mean "body"?); '
        "the layout's blocks: body, footer, lang, preheader, title",
    )


def test_text_after_endblock_is_refused(cli: Invoke, workspace: Path) -> None:
    body = workspace / JOINT / "body.html.j2"
    body.write_text(
        body.read_text(encoding="utf-8") + "\n<p>P.S. We look forward to your reply.</p>\n",
        encoding="utf-8",
    )

    _assert_refused(
        cli,
        "block-arms-sale",
        "letters/block-arms-sale/body.html.j2:21: text outside {% block %} is never shown in "
        'a template that extends "capitolmail/letter.html.j2"; move it into a {% block %} '
        "or delete it",
    )


def test_a_text_body_whose_if_is_false_is_refused(cli: Invoke, workspace: Path) -> None:
    (workspace / JOINT / "body.txt.j2").write_text(
        "{#- Only House offices get the text letter. -#}\n"
        '{% if legislator.title == "Representative" %}\n'
        "{{ legislator | salutation }}\n\nPlease block the sale.\n"
        "{% endif %}\n",
        encoding="utf-8",
    )

    _assert_refused(
        cli,
        "block-arms-sale",
        "letters/block-arms-sale/body.txt.j2:2: text: the text part is empty; check the "
        f"{{% if %}} conditions and the values it uses {FIRST_OFFICE}",
    )


def test_an_empty_subject_is_refused(cli: Invoke, workspace: Path) -> None:
    _edit(
        workspace / JOINT / "letter.toml",
        'subject = "{{ signers|length }} organizations urge you to block the pending arms sale"',
        "subject = \"{{ legislator.nickname or '' }}\"",
    )

    _assert_refused(
        cli,
        "block-arms-sale",
        "letters/block-arms-sale/letter.toml:7: subject: the rendered subject is empty; "
        f"check the values and conditions it uses {FIRST_OFFICE}",
    )


def test_an_html_body_left_with_only_the_layout_is_refused(cli: Invoke, workspace: Path) -> None:
    _edit(
        workspace / JOINT / "body.html.j2",
        "{% block body %}",
        "{% block body %}{% if legislator.title == 'Delegate' %}",
    )
    _edit(
        workspace / JOINT / "body.html.j2",
        "{% endblock %}",
        "{% endif %}{% endblock %}",
    )

    _assert_refused(
        cli,
        "block-arms-sale",
        "letters/block-arms-sale/body.html.j2:3: html: the HTML part, once tags are removed, "
        f"is empty; check the {{% if %}} conditions and the values it uses {FIRST_OFFICE}",
    )


def test_legislator_lastname_suggests_last(cli: Invoke, workspace: Path) -> None:
    _edit(
        workspace / JOINT / "body.txt.j2",
        "{{ legislator | salutation }}",
        "{{ legislator.lastname }}",
    )

    _assert_refused(
        cli,
        "block-arms-sale",
        'letters/block-arms-sale/body.txt.j2:2: "legislator.lastname" is undefined '
        f'(did you mean "last"?) {FIRST_OFFICE}',
    )


@pytest.mark.parametrize("command", [("letters", "check"), ("queue",)])
def test_an_alert_that_fills_only_the_footer_is_refused(
    cli: Invoke, workspace: Path, command: tuple[str, ...]
) -> None:
    _edit(workspace / ALERT / "body.html.j2", "{% block body %}", "{% block content %}")

    result = cli(*command, "urge-senators")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[1] == (
        'Error: letters/urge-senators/body.html.j2:4: block "content" is not in the layout '
        '"capitolmail/alert.html.j2", so it is never shown; the layout\'s blocks: body, '
        "footer, lang, preheader, title"
    )
    assert result.stderr.splitlines()[0] == (
        "Error: letters/urge-senators/body.html.j2:3: fills no {% block body %}, which the "
        'layout "capitolmail/alert.html.j2" requires; put the letter\'s content in it'
    )
    assert json.loads(cli("status", "--json").stdout) == {"jobs": []}
