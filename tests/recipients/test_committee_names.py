"""Committees as GR staff name them: every acronym, names in words, and hints in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from capitolmail.errors import CommitteeNameError
from capitolmail.recipients.committee_names import (
    CommitteeNames,
    resolve_committee,
)
from capitolmail.recipients.committees import INFORMAL_ACRONYMS
from capitolmail.recipients.legislators import Roster

from ..conftest import Invoke

ACRONYMS = [
    ("SASC", "SSAS", "Senate Committee on Armed Services"),
    ("SFRC", "SSFR", "Senate Committee on Foreign Relations"),
    ("SSCI", "SLIN", "Senate Select Committee on Intelligence"),
    ("SJC", "SSJU", "Senate Committee on the Judiciary"),
    ("HSGAC", "SSGA", "Senate Committee on Homeland Security and Governmental Affairs"),
    ("HELP", "SSHR", "Senate Committee on Health, Education, Labor, and Pensions"),
    ("EPW", "SSEV", "Senate Committee on Environment and Public Works"),
    ("ENR", "SSEG", "Senate Committee on Energy and Natural Resources"),
    ("SAC", "SSAP", "Senate Committee on Appropriations"),
    ("SVAC", "SSVA", "Senate Committee on Veterans' Affairs"),
    ("SCIA", "SLIA", "Senate Committee on Indian Affairs"),
    ("HASC", "HSAS", "House Committee on Armed Services"),
    ("HFAC", "HSFA", "House Committee on Foreign Affairs"),
    ("HPSCI", "HLIG", "House Permanent Select Committee on Intelligence"),
    ("HJC", "HSJU", "House Committee on the Judiciary"),
    ("HAC", "HSAP", "House Committee on Appropriations"),
    ("HFSC", "HSBA", "House Committee on Financial Services"),
    ("HVAC", "HSVR", "House Committee on Veterans' Affairs"),
    ("E&C", "HSIF", "House Committee on Energy and Commerce"),
    ("W&M", "HSWM", "House Committee on Ways and Means"),
    ("T&I", "HSPW", "House Committee on Transportation and Infrastructure"),
]


def test_the_table_is_tested_in_full() -> None:
    assert {acronym for acronym, _, _ in ACRONYMS} == set(INFORMAL_ACRONYMS)


@pytest.mark.parametrize(("acronym", "key", "name"), ACRONYMS)
def test_every_acronym_names_the_committee_staff_mean(
    roster: Roster, acronym: str, key: str, name: str
) -> None:
    assert roster.committees[key].name == name
    assert resolve_committee(roster, acronym) == key
    assert resolve_committee(roster, f" {acronym.lower()} ") == key


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("SSAS", "SSAS"),
        ("ssfr09", "SSFR09"),
        ("Senate Committee on Armed Services", "SSAS"),
        ("Senate Armed Services", "SSAS"),
        ("senate armed services committee", "SSAS"),
        ("House Armed Services", "HSAS"),
        ("House Foreign Affairs", "HSFA"),
        ("Foreign Relations", "SSFR"),
        ("Foreign Affairs Committee", "HSFA"),
        ("House Committee on the Budget", "HSBU"),
        ("Senate Budget", "SSBU"),
        ("Energy & Commerce", "HSIF"),
        ("Senate Veterans Affairs", "SSVA"),
        ("Ways and Means", "HSWM"),
        ("House Intelligence", "HLIG"),
        ("Aging", "SPAG"),
        ("Joint Economic Committee", "JSEC"),
    ],
)
def test_names_in_words(roster: Roster, written: str, key: str) -> None:
    assert resolve_committee(roster, written) == key


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "SACS",
            'unknown committee "SACS" (did you mean "SASC", Senate Committee on Armed Services?)',
        ),
        (
            "HFCA",
            'unknown committee "HFCA" (did you mean "HFAC", House Committee on Foreign Affairs?)',
        ),
        (
            "SSFRX",
            'unknown committee "SSFRX" (did you mean "SSFR", Senate Committee on Foreign '
            "Relations?)",
        ),
        (
            "SSRF",
            'unknown committee "SSRF" (did you mean "SSFR", Senate Committee on Foreign '
            "Relations?)",
        ),
        (
            "HPCSI",
            'unknown committee "HPCSI" (did you mean "HPSCI", House Permanent Select Committee '
            "on Intelligence?)",
        ),
        (
            "SSFX",
            'unknown committee "SSFX" (did you mean "SSFI", Senate Committee on Finance, or '
            '"SSFR", Senate Committee on Foreign Relations?)',
        ),
        (
            "Senate Armd Services",
            'unknown committee "Senate Armd Services" (did you mean "SASC", Senate Committee on '
            "Armed Services?)",
        ),
        (
            "Foreign",
            'unknown committee "Foreign" (did you mean "HFAC", House Committee on Foreign '
            'Affairs, or "SFRC", Senate Committee on Foreign Relations?)',
        ),
        (
            "Armed Services",
            'committee "Armed Services" is ambiguous: "HASC" (House Committee on Armed Services) '
            'or "SASC" (Senate Committee on Armed Services); write the one you mean',
        ),
        (
            "Judiciary",
            'committee "Judiciary" is ambiguous: "HJC" (House Committee on the Judiciary) or '
            '"SJC" (Senate Committee on the Judiciary); write the one you mean',
        ),
        (
            "Xyzzy",
            'unknown committee "Xyzzy"; use a thomas id such as "SSFR" (or "SSFR09" for a '
            'subcommittee), an acronym such as "SFRC", or a name such as "Senate Foreign '
            'Relations"',
        ),
    ],
)
def test_what_cannot_be_resolved_is_answered_in_words(
    roster: Roster, written: str, message: str
) -> None:
    with pytest.raises(CommitteeNameError) as caught:
        resolve_committee(roster, written)
    assert str(caught.value) == message


def test_a_hint_never_suggests_a_committee_by_a_lookalike_thomas_id(roster: Roster) -> None:
    """The issue's case: "SASC" once suggested "SSCM" (Commerce)."""
    assert resolve_committee(roster, "SASC") == "SSAS"
    names = CommitteeNames(roster.committees)
    with pytest.raises(CommitteeNameError) as caught:
        names.resolve("SASCC")
    assert "Armed Services" in str(caught.value)


@pytest.mark.parametrize(
    ("written", "chamber", "key"),
    [("Armed Services", "senate", "SSAS"), ("Armed Services", "house", "HSAS")],
)
def test_a_chamber_settles_a_shared_name(
    roster: Roster, written: str, chamber: str, key: str
) -> None:
    assert resolve_committee(roster, written, chamber=chamber) == key


@pytest.mark.parametrize(
    ("written", "chamber", "message"),
    [
        (
            "SASC",
            "house",
            '"SASC" is the Senate Committee on Armed Services; representatives do not sit on it '
            '(did you mean "HASC", House Committee on Armed Services?)',
        ),
        (
            "HFAC",
            "senate",
            '"HFAC" is the House Committee on Foreign Affairs; senators do not sit on it',
        ),
    ],
)
def test_a_committee_of_the_other_chamber_is_refused(
    roster: Roster, written: str, chamber: str, message: str
) -> None:
    with pytest.raises(CommitteeNameError) as caught:
        resolve_committee(roster, written, chamber=chamber)
    assert str(caught.value) == message


# -- through the command line --------------------------------------------------------------


def test_legislators_list_accepts_an_acronym(cli: Invoke) -> None:
    by_id = cli("legislators", "list", "--committee", "SSAS")
    by_acronym = cli("legislators", "list", "--committee", "SASC")
    by_name = cli("legislators", "list", "--committee", "Senate Armed Services")
    assert by_acronym.exit_code == 0
    assert by_acronym.stdout == by_id.stdout == by_name.stdout
    assert by_acronym.stderr == by_id.stderr
    assert "Wicker" in by_acronym.stdout  # the chairman


def test_legislators_list_hints_in_words(cli: Invoke) -> None:
    result = cli("legislators", "list", "--committee", "SACS")
    assert result.exit_code == 1
    assert result.stderr == (
        'Error: command line: audience.committees: unknown committee "SACS" (did you mean '
        '"SASC", Senate Committee on Armed Services?)\n'
    )


def _audience(workspace: Path, slug: str, old: str, new: str) -> None:
    path = workspace / "letters" / slug / "letter.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_letter_audience_by_acronym_selects_the_same_offices(
    workspace: Path, cli: Invoke
) -> None:
    by_id = cli("queue", "block-arms-sale", "--dry-run")
    _audience(workspace, "block-arms-sale", 'committees = ["SSFR"]', 'committees = ["SFRC"]')
    by_acronym = cli("queue", "block-arms-sale", "--dry-run")
    assert by_acronym.exit_code == 0
    assert by_acronym.stderr == by_id.stderr


def test_a_letter_audience_with_a_shared_name_is_refused_with_the_choices(
    workspace: Path, cli: Invoke
) -> None:
    _audience(
        workspace, "block-arms-sale", 'committees = ["SSFR"]', 'committees = ["Armed Services"]'
    )
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: letters/block-arms-sale/letter.toml: audience.committees: committee "
        '"Armed Services" is ambiguous: "HASC" (House Committee on Armed Services) or "SASC" '
        "(Senate Committee on Armed Services); write the one you mean\n"
    )
    assert "Queued" not in result.stderr


def test_alert_committees_take_names_and_acronyms(workspace: Path, cli: Invoke) -> None:
    assert cli("supporters", "import", str(workspace / "recipients/supporters.csv")).exit_code == 0
    tags = 'tags = ["arms-trade", "all-alerts"]'
    _audience(workspace, "urge-senators", tags, f'{tags}\nsenator_committees = ["SSAS"]')
    by_id = cli("letters", "check", "urge-senators")
    _audience(workspace, "urge-senators", '["SSAS"]', '["Armed Services"]')
    by_name = cli("letters", "check", "urge-senators")
    _audience(workspace, "urge-senators", '["Armed Services"]', '["sasc"]')
    by_acronym = cli("letters", "check", "urge-senators")
    assert by_id.exit_code == by_name.exit_code == by_acronym.exit_code == 0, by_name.stderr
    assert by_name.stderr == by_id.stderr == by_acronym.stderr
    assert "renders 0 alerts" not in by_id.stderr


def test_alert_committee_of_the_wrong_chamber_is_refused(workspace: Path, cli: Invoke) -> None:
    _audience(
        workspace,
        "urge-senators",
        'tags = ["arms-trade", "all-alerts"]',
        'tags = ["arms-trade", "all-alerts"]\nrepresentative_committees = ["SASC"]',
    )
    result = cli("letters", "check", "urge-senators")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: letters/urge-senators/letter.toml: audience.representative_committees: "
        '"SASC" is the Senate Committee on Armed Services; representatives do not sit on it '
        '(did you mean "HASC", House Committee on Armed Services?)\n'
    )
