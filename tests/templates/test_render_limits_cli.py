"""A template that would take the machine's memory or time is refused, by `letters check`
and `queue` alike, with one line naming the template and line; nothing is queued.

Each case is a line a staffer might type (or paste) at the top of the worked
example's text body. The sizes are refused before anything is built, so these run
in well under a second each; the two that only a deadline can stop take the
render budget (limits.RENDER_SECONDS) once per command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capitolmail.templates.limits import MAX_TOTAL, MAX_WEIGHT, RENDER_SECONDS
from tests.conftest import Invoke

JOINT = Path("letters/block-arms-sale")
FIRST_OFFICE = "(for cos.murphy.ct@senate.example.org, Christopher Murphy)"
TOO_BIG = f"would be over {MAX_WEIGHT:,} characters (or items) and was refused"
TOO_MUCH = f"the template builds over {MAX_TOTAL:,} characters in all and was stopped"
TOO_LONG = f"rendering took over {RENDER_SECONDS:g} seconds and was stopped"

AMPLIFIERS: dict[str, tuple[str, str]] = {
    "string repetition": ("{{ ('a' * 10**10)|length }}", f"the repetition {TOO_BIG}"),
    "list repetition": ("{{ ([1] * 1000) * 1000000 }}", f"the repetition {TOO_BIG}"),
    "range": ("{{ range(10**9)|list|length }}", "Range too big"),
    "join with a long separator": (
        "{{ range(100000)|join('x' * 100000) }}",
        f"|join {TOO_BIG}",
    ),
    "join of one long string": (
        "{% set s = 'x' * 1000 %}{{ ','.join([s] * 1000) }}",
        f"the repetition {TOO_BIG}",
    ),
    "percent padding": ("{{ '%999999999s' % 'x' }}", f'the format "%999999999…" {TOO_BIG}'),
    "percent star width": ("{{ '%*s' % (10**9, 'x') }}", f"a %* width {TOO_BIG}"),
    "format filter padding": ("{{ '%999999999d'|format(1) }}", f'"%999999999…" {TOO_BIG}'),
    "str.format padding": ("{{ '{:>999999999}'.format(1) }}", TOO_BIG),
    "center filter": ("{{ 'x'|center(10**9) }}", f"|center {TOO_BIG}"),
    "center filter, constant width": ("{{ 'x'|center(1000000000) }}", f"|center {TOO_BIG}"),
    "indent filter": ("{{ ('a\\n' * 100000)|indent(100000) }}", f"|indent {TOO_BIG}"),
    "wordwrap's wrap string": (
        "{{ ('a ' * 100000)|wordwrap(1, wrapstring='x' * 100000) }}",
        f"|wordwrap {TOO_BIG}",
    ),
    "replace of the empty string": (
        "{{ ('a' * 1000)|replace('', 'x' * 10000) }}",
        f"|replace {TOO_BIG}",
    ),
    "batch fill": ("{{ [1]|batch(10**9, 'x')|list }}", f"|batch {TOO_BIG}"),
    "slice count": ("{{ [1]|slice(10**9)|list }}", f"|slice {TOO_BIG}"),
    "tojson indent": ("{{ [[1]]|tojson(indent=10**9) }}", "|tojson's indent is over 64"),
    "str.ljust": ("{{ 'x'.ljust(10**9) }}", f".ljust() {TOO_BIG}"),
    "str.zfill": ("{{ 'x'.zfill(10**9) }}", f".zfill() {TOO_BIG}"),
    "str.expandtabs": ("{{ '\\t'.expandtabs(10**9) }}", f".expandtabs() {TOO_BIG}"),
    "a power": ("{{ 10 ** (10 ** 10) }}", f"the power {TOO_BIG}"),
    "a list of references to one long string": (
        "{% set s = 'x' * 1000000 %}{{ [s, s, s, s, s]|string|length }}",
        TOO_BIG,
    ),
    "~ doubling in a loop": (
        "{% set ns = namespace(s='a') %}{% for i in range(100) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        f"the ~ text {TOO_BIG}",
    ),
    "~ growing in a loop": (
        "{% set ns = namespace(s='') %}{% for i in range(100000) %}"
        "{% set ns.s = ns.s ~ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}{% endfor %}",
        TOO_MUCH,
    ),
    "many long strings kept in a list": (
        "{% set s = 'x' * 900000 %}{% set ns = namespace(l=[]) %}"
        "{% for i in range(100000) %}{% set ns.l = [s ~ i] %}{% endfor %}",
        TOO_MUCH,
    ),
    "output of nested loops": (
        "{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxx{% endfor %}{% endfor %}",
        f"the rendered text {TOO_BIG}",
    ),
    "lipsum": ("{{ lipsum(10**9) }}", '"lipsum" is undefined'),
    "nested empty loops": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        TOO_LONG,
    ),
    "a macro that calls itself twice": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(60) }}",
        TOO_LONG,
    ),
}


def _assert_refused(cli: Invoke, slug: str, start: str, message: str) -> None:
    for command in (("letters", "check", slug), ("queue", slug)):
        result = cli(*command)
        assert result.exit_code == 1, result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"Error: {start}"), line
        assert message in line
        assert "Traceback" not in result.stderr
    assert json.loads(cli("status", "--json").stdout) == {"jobs": []}


@pytest.mark.parametrize(("line", "message"), AMPLIFIERS.values(), ids=AMPLIFIERS.keys())
def test_an_amplifying_template_is_refused_in_one_line(
    cli: Invoke, workspace: Path, line: str, message: str
) -> None:
    body = workspace / JOINT / "body.txt.j2"
    body.write_text(f"{line}\n{body.read_text(encoding='utf-8')}", encoding="utf-8")

    _assert_refused(cli, "block-arms-sale", f"{JOINT.as_posix()}/body.txt.j2:1: ", message)


def test_an_amplifying_subject_is_refused_at_its_line(cli: Invoke, workspace: Path) -> None:
    definition = workspace / JOINT / "letter.toml"
    lines = definition.read_text(encoding="utf-8").splitlines()
    number = next(i for i, text in enumerate(lines, 1) if text.startswith("subject ="))
    lines[number - 1] = "subject = \"{{ 'x'|center(10**9) }}\""
    definition.write_text("\n".join(lines) + "\n", encoding="utf-8")

    _assert_refused(
        cli, "block-arms-sale", f"{JOINT.as_posix()}/letter.toml:{number}: ", f"|center {TOO_BIG}"
    )


def test_an_amplifying_html_body_is_refused(cli: Invoke, workspace: Path) -> None:
    body = workspace / JOINT / "body.html.j2"
    text = body.read_text(encoding="utf-8").replace(
        "{% block body %}", "{% block body %}{{ 'x' * 10**10 }}", 1
    )
    body.write_text(text, encoding="utf-8")
    number = next(i for i, t in enumerate(text.splitlines(), 1) if "10**10" in t)

    _assert_refused(cli, "block-arms-sale", f"{JOINT.as_posix()}/body.html.j2:{number}: ", TOO_BIG)


def test_long_but_reasonable_templates_still_render(cli: Invoke, workspace: Path) -> None:
    """Loops, joins and padding of a letter's size are untouched by the limits."""
    body = workspace / JOINT / "body.txt.j2"
    extra = (
        "{% for i in range(300) %}{{ '%-10s'|format(i) }}{{ 'x'|center(20) }}{% endfor %}"
        "{{ range(1000)|join(', ') }}{{ ('line\\n' * 100)|indent(4) }}{{ [1, 2] * 100 }}"
    )
    body.write_text(f"{extra}\n{body.read_text(encoding='utf-8')}", encoding="utf-8")

    result = cli("letters", "check", "block-arms-sale")

    assert result.exit_code == 0, result.stderr
