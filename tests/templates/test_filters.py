from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from capitolmail.letters.signers import Signer, SignerList
from capitolmail.templates.environment import build_environment
from capitolmail.templates.filters import salutation
from capitolmail.templates.text import html_to_text


@dataclass(frozen=True, slots=True)
class Legislator:
    title: str
    last: str
    nickname: str | None = None


LEAD = Signer("Win Without War & Allies", "Sara Haghdoosti", "Executive Director", None, 4)
AMNESTY = Signer("Amnesty International USA", "Paul O'Brien", None, None, 5)
CVT = Signer("Center for Victims of Torture", None, "Policy Team", None, 6)
OREGON = Signer("Oregon <Peace> Institute", "Jo Doe", "Director", "OR", 7)
SIGNERS = SignerList(
    signers=(LEAD, AMNESTY, CVT, OREGON),
    lead=(LEAD,),
    national=(AMNESTY, CVT),
    state_and_local=(OREGON,),
)

SIGNER_TEXT = """\
Lead organizations
Win Without War & Allies — Sara Haghdoosti, Executive Director

National organizations
Amnesty International USA — Paul O'Brien
Center for Victims of Torture — Policy Team

State and local organizations
Oregon <Peace> Institute (Oregon) — Jo Doe, Director"""

SIGNER_HTML = """\
<p style="margin:0 0 16px 0;"><strong>Lead organizations</strong><br>
Win Without War &amp; Allies — Sara Haghdoosti, Executive Director</p>
<p style="margin:0 0 16px 0;"><strong>National organizations</strong><br>
Amnesty International USA — Paul O&#39;Brien<br>
Center for Victims of Torture — Policy Team</p>
<p style="margin:0 0 16px 0;"><strong>State and local organizations</strong><br>
Oregon &lt;Peace&gt; Institute (Oregon) — Jo Doe, Director</p>"""


@pytest.fixture
def env(tmp_path: Path) -> SandboxedEnvironment:
    return build_environment(tmp_path, workspace_root=tmp_path)


def text(env: SandboxedEnvironment, source: str, **context: object) -> str:
    return env.from_string(source).render(context)


def html(env: SandboxedEnvironment, source: str, **context: object) -> str:
    return env.from_string(f"{{% autoescape true %}}{source}{{% endautoescape %}}").render(context)


@pytest.mark.parametrize(
    ("title", "last", "expected"),
    [
        ("Senator", "Schatz", "Dear Senator Schatz:"),
        ("Representative", "Ocasio-Cortez", "Dear Representative Ocasio-Cortez:"),
        ("Delegate", "Norton", "Dear Delegate Norton:"),
        (
            "Resident Commissioner",
            "Hernández Rivera",
            "Dear Resident Commissioner Hernández Rivera:",
        ),
        ("Representative", "DeLauro", "Dear Representative DeLauro:"),
        ("Senator", "Van Hollen", "Dear Senator Van Hollen:"),
    ],
)
def test_salutation_uses_title_and_last_name_as_given(
    env: SandboxedEnvironment, title: str, last: str, expected: str
) -> None:
    assert text(env, "{{ member | salutation }}", member=Legislator(title, last)) == expected


def test_salutation_reads_a_mapping_too(env: SandboxedEnvironment) -> None:
    member = {"title": "Senator", "last": "Murkowski"}

    assert text(env, "{{ member | salutation }}", member=member) == "Dear Senator Murkowski:"


def test_salutation_refuses_a_legislator_without_a_title() -> None:
    with pytest.raises(ValueError, match="^salutation needs a legislator with a title and a"):
        salutation(Legislator("", "Schatz"))


@pytest.mark.parametrize(
    ("code", "expected"),
    [("OR", "Oregon"), ("pr", "Puerto Rico"), ("DC", "District of Columbia"), ("XX", "XX")],
)
def test_state_name_turns_a_code_into_a_name(
    env: SandboxedEnvironment, code: str, expected: str
) -> None:
    assert text(env, "{{ code | state_name }}", code=code) == expected


def test_state_name_of_a_national_organisation_is_empty(env: SandboxedEnvironment) -> None:
    assert text(env, "[{{ signer.state | state_name }}]", signer=AMNESTY) == "[]"


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], ""),
        (["Schatz"], "Schatz"),
        (["Schatz", "Hirono"], "Schatz and Hirono"),
        (["Case", "Tokuda", "Schatz", "Hirono"], "Case, Tokuda, Schatz and Hirono"),
    ],
)
def test_join_and_lists_items_like_a_letter(
    env: SandboxedEnvironment, items: list[str], expected: str
) -> None:
    assert text(env, "{{ items | join_and }}", items=items) == expected


def test_join_and_takes_another_conjunction(env: SandboxedEnvironment) -> None:
    assert text(env, "{{ ['call', 'write', 'visit'] | join_and('or') }}") == "call, write or visit"


def test_join_and_escapes_each_item_once_in_html(env: SandboxedEnvironment) -> None:
    items = ["<A>", "B & C", Markup("<em>D</em>")]

    assert html(env, "{{ items | join_and }}", items=items) == (
        "&lt;A&gt;, B &amp; C and <em>D</em>"
    )


def test_signer_block_in_text_has_a_heading_per_group(env: SandboxedEnvironment) -> None:
    assert text(env, "{{ signers | signer_block }}", signers=SIGNERS) == SIGNER_TEXT


def test_signer_block_in_html_escapes_every_name(env: SandboxedEnvironment) -> None:
    assert html(env, "{{ signers | signer_block }}", signers=SIGNERS) == SIGNER_HTML


def test_signer_block_html_reads_back_as_the_text_block() -> None:
    assert html_to_text(SIGNER_HTML) == SIGNER_TEXT + "\n"


def test_signer_block_leaves_out_empty_groups_and_empty_headings(
    env: SandboxedEnvironment,
) -> None:
    signers = SignerList(
        signers=(AMNESTY, OREGON), lead=(), national=(AMNESTY,), state_and_local=(OREGON,)
    )

    rendered = text(
        env,
        "{{ signers | signer_block(national_heading='', state_heading='State Organizations') }}",
        signers=signers,
    )

    assert rendered == (
        "Amnesty International USA — Paul O'Brien\n"
        "\n"
        "State Organizations\n"
        "Oregon <Peace> Institute (Oregon) — Jo Doe, Director"
    )


def test_signer_block_groups_a_plain_list_by_state(env: SandboxedEnvironment) -> None:
    rendered = text(env, "{{ signers | signer_block }}", signers=[OREGON, CVT])

    assert rendered == (
        "National organizations\n"
        "Center for Victims of Torture — Policy Team\n"
        "\n"
        "State and local organizations\n"
        "Oregon <Peace> Institute (Oregon) — Jo Doe, Director"
    )


def test_signer_block_does_not_repeat_a_state_the_name_ends_with(
    env: SandboxedEnvironment,
) -> None:
    signers = [
        Signer("Action Network for Peace (California)", state="CA"),
        Signer("Peace Action (OR)", state="OR"),
        Signer("Oregon Physicians for Peace", state="OR"),
    ]

    assert text(env, "{{ signers | signer_block(state_heading='') }}", signers=signers) == (
        "Action Network for Peace (California)\n"
        "Peace Action (OR)\n"
        "Oregon Physicians for Peace (Oregon)"
    )


def test_signer_block_of_no_signers_is_empty(env: SandboxedEnvironment) -> None:
    assert html(env, "[{{ signers | signer_block }}]", signers=[]) == "[]"
