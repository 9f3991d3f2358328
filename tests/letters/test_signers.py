from __future__ import annotations

from pathlib import Path

import pytest

from capitolmail.errors import InputError, Problem
from capitolmail.letters.signers import (
    Duplicate,
    Signer,
    SignerList,
    load_signers,
    organisation_key,
)

PATH = "letters/arms-sale/signers.csv"
TOML = "letters/arms-sale/letter.toml"
HEADER = "organisation,signatory,title,state\n"

SIGN_ON = """\
# Sign-on list for the arms sale letter
# collected from the coalition form
organisation,signatory,title,state
Win Without War & Allies,,,
The Center for Victims of Torture,Scott Roehm,Washington Director,
Oregon Peace Institute,,,Oregon
Amnesty International U.S.A.,Paul O'Brien,Executive Director,
  physicians  for human rights ,,,
Église Sainte-Anne,,,me
Friends Committee on National Legislation.,,,
Center for Victims of Torture,,,
Amnesty International USA,,,
Ärzte Action Network,,,
The Alaska Wilderness League,,,AK
Physicians for Human Rights,,,
Win Without War and Allies,,,
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "signers.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


def load(tmp_path: Path, text: str, lead: tuple[str, ...] = ()) -> SignerList:
    return load_signers(write(tmp_path, text), display_path=PATH, lead=lead, lead_source=TOML)


def problems(tmp_path: Path, text: str, lead: tuple[str, ...] = ()) -> list[Problem]:
    with pytest.raises(InputError) as info:
        load(tmp_path, text, lead)
    return info.value.problems


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("The Center for Victims of Torture", "Center for Victims of Torture"),
        ("Physicians for Human Rights", "physicians  for human rights "),
        ("Friends Committee on National Legislation", "Friends Committee on National Legislation."),
        ("Amnesty International U.S.A.", "Amnesty International USA"),
        ("Win Without War & Allies", "Win Without War and Allies"),
        ("Comité de Solidarité", "COMITE DE SOLIDARITE"),
        ("Women's Action for New Directions", "Womens Action for New Directions"),
    ],
)
def test_spellings_of_one_organisation_share_a_key(one: str, other: str) -> None:
    assert organisation_key(one) == organisation_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Theatre for Peace", "Atre for Peace"),
        ("Win Without War", "Win Without War and Allies"),
        ("Peace Action", "Peace Action New York"),
    ],
)
def test_different_organisations_keep_different_keys(one: str, other: str) -> None:
    assert organisation_key(one) != organisation_key(other)


def test_a_leading_the_is_ignored_only_as_a_whole_word() -> None:
    assert organisation_key("Theatre for Peace") == "theatreforpeace"
    assert organisation_key("The Theatre for Peace") == "theatreforpeace"
    assert organisation_key("The") == "the"


def test_signers_are_ordered_lead_then_national_then_state_and_local(tmp_path: Path) -> None:
    signers = load(
        tmp_path,
        SIGN_ON,
        lead=("Friends Committee on National Legislation", "win without war and allies"),
    )

    assert [s.organisation for s in signers] == [
        "Friends Committee on National Legislation.",
        "Win Without War & Allies",
        "Amnesty International U.S.A.",
        "Ärzte Action Network",
        "The Center for Victims of Torture",
        "physicians for human rights",
        "The Alaska Wilderness League",
        "Église Sainte-Anne",
        "Oregon Peace Institute",
    ]
    assert [s.line for s in signers.lead] == [10, 4]
    assert [s.line for s in signers.national] == [7, 13, 5, 8]
    assert [s.line for s in signers.state_and_local] == [14, 9, 6]
    assert signers.signers == (*signers.lead, *signers.national, *signers.state_and_local)
    assert len(signers) == 9


def test_duplicates_are_dropped_and_reported_with_both_lines(tmp_path: Path) -> None:
    signers = load(tmp_path, SIGN_ON)

    assert signers.duplicates == (
        Duplicate(
            PATH, 11, "Center for Victims of Torture", 5, "The Center for Victims of Torture"
        ),
        Duplicate(PATH, 12, "Amnesty International USA", 7, "Amnesty International U.S.A."),
        Duplicate(PATH, 15, "Physicians for Human Rights", 8, "physicians for human rights"),
        Duplicate(PATH, 16, "Win Without War and Allies", 4, "Win Without War & Allies"),
    )
    assert str(signers.duplicates[0]) == (
        'letters/arms-sale/signers.csv:11: "Center for Victims of Torture" is the same '
        'organisation as "The Center for Victims of Torture" on line 5; this row was dropped'
    )


def test_the_first_occurrence_is_kept_with_its_own_fields(tmp_path: Path) -> None:
    signers = load(tmp_path, SIGN_ON)

    center = [s for s in signers if organisation_key(s.organisation) == "centerforvictimsoftorture"]
    assert center == [
        Signer("The Center for Victims of Torture", "Scott Roehm", "Washington Director", None, 5)
    ]


def test_text_is_normalised_and_states_become_codes(tmp_path: Path) -> None:
    text = HEADER + (
        "  Comite\u0301   de\tSolidarite\u0301 ,  Ana\u00a0 Ruiz ,, oregon \n"
        "Peace Action,,  ,\n"
        "Hawaiʻi Peace and Justice,,,Hawaii\n"
        "Casa Borinquen,,,pr\n"
    )
    signers = load(tmp_path, text)

    assert signers.signers == (
        Signer("Peace Action", None, None, None, 3),
        Signer("Casa Borinquen", None, None, "PR", 5),
        Signer("Comité de Solidarité", "Ana Ruiz", None, "OR", 2),
        Signer("Hawaiʻi Peace and Justice", None, None, "HI", 4),
    )
    assert signers.signers[2].organisation == "Comit\u00e9 de Solidarit\u00e9"
    assert signers.signers[2].state_name == "Oregon"
    assert signers.signers[0].is_national
    assert not signers.signers[1].is_national


def test_a_lead_signer_from_a_state_leaves_the_state_group(tmp_path: Path) -> None:
    signers = load(tmp_path, SIGN_ON, lead=("oregon peace institute",))

    assert [s.organisation for s in signers.lead] == ["Oregon Peace Institute"]
    assert [s.organisation for s in signers.state_and_local] == [
        "The Alaska Wilderness League",
        "Église Sainte-Anne",
    ]


def test_a_byte_order_mark_and_blank_rows_are_ignored(tmp_path: Path) -> None:
    signers = load(tmp_path, "\ufeff" + HEADER + "Peace Action,,,\n,,,\n\nWin Without War,,,\n")

    assert [(s.organisation, s.line) for s in signers] == [
        ("Peace Action", 2),
        ("Win Without War", 5),
    ]


def test_every_bad_row_is_reported_with_its_line_and_field(tmp_path: Path) -> None:
    text = (
        "# comment\n"
        + HEADER
        + "Good Org,,,\n"
        + ",Jane Doe,Director,\n"
        + "Bad State Org,,,Oregn\n"
        + "Too,Many,Fields,Here,Extra\n"
        + '"Line\nBreak Org",,,\n'
        + "After Break,,,Calfornia\n"
        + "Separator\u2028Org,,,\n"
    )

    assert [str(p) for p in problems(tmp_path, text)] == [
        'letters/arms-sale/signers.csv:4: column "organisation" is empty; '
        "fill it in or delete the row",
        'letters/arms-sale/signers.csv:5: state: unknown state "Oregn" (did you mean "Oregon"?); '
        'use a USPS code such as "OR" or the state\'s name, or leave it empty for a national '
        "organisation",
        "letters/arms-sale/signers.csv:6: row has 5 values but the header has 4 columns; "
        'put values that contain a comma in double quotes (")',
        "letters/arms-sale/signers.csv:7: organisation: a line break inside a value is not "
        'allowed; check for an unclosed quote (")',
        'letters/arms-sale/signers.csv:9: state: unknown state "Calfornia" (did you mean '
        '"California"?); use a USPS code such as "OR" or the state\'s name, or leave it empty '
        "for a national organisation",
        "letters/arms-sale/signers.csv:10: organisation: a line break inside a value is not "
        'allowed; check for an unclosed quote (")',
    ]


def test_empty_organisation_problem_has_path_line_and_field(tmp_path: Path) -> None:
    found = problems(tmp_path, HEADER + "Peace Action,,,\n   ,Jane Doe,,\n")

    assert found == [
        Problem(
            path=PATH,
            message='column "organisation" is empty; fill it in or delete the row',
            line=3,
            field="organisation",
        )
    ]


def test_a_carriage_return_inside_a_quoted_value_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, HEADER + 'Peace Action,"Jane\rDoe",,\n')

    assert [(p.line, p.field) for p in found] == [(2, "signatory")]


def test_unknown_header_column_is_reported_with_a_suggestion(tmp_path: Path) -> None:
    found = problems(tmp_path, "organisation,signatory,titel,State\nPeace Action,,,OR\n")

    assert found == [
        Problem(
            path=PATH,
            message='unknown column "titel" (did you mean "title"?); '
            "the columns are organisation, signatory, title, state",
            line=1,
        )
    ]


def test_missing_organisation_column_stops_before_the_rows(tmp_path: Path) -> None:
    found = problems(tmp_path, "# list\norganization,state\n,Oregn\n")

    assert [str(p) for p in found] == [
        'letters/arms-sale/signers.csv:2: unknown column "organization" (did you mean '
        '"organisation"?); the columns are organisation, signatory, title, state',
        'letters/arms-sale/signers.csv:2: missing column "organisation"; the first row after '
        "any # comments must be: organisation,signatory,title,state",
    ]


def test_a_header_without_rows_has_no_signers(tmp_path: Path) -> None:
    found = problems(tmp_path, "# nothing yet\n" + HEADER + "\n,,,\n")

    assert [str(p) for p in found] == [
        "letters/arms-sale/signers.csv: no signers; add one organisation per row under the header"
    ]


def test_an_empty_file_has_no_signers(tmp_path: Path) -> None:
    found = problems(tmp_path, "# only a comment\n")

    assert [str(p) for p in found] == [
        "letters/arms-sale/signers.csv: no signers; the first row after any # comments must "
        "be: organisation,signatory,title,state"
    ]


def test_a_lead_signer_not_in_the_list_points_at_letter_toml(tmp_path: Path) -> None:
    found = problems(tmp_path, SIGN_ON, lead=("Amnesty International USA", "Physicians for Rights"))

    assert found == [
        Problem(
            path=TOML,
            message='lead signer "Physicians for Rights" is not in '
            'letters/arms-sale/signers.csv (did you mean "physicians for human rights"?)',
            field="lead_signers",
        )
    ]


def test_row_and_lead_problems_are_reported_together(tmp_path: Path) -> None:
    found = problems(tmp_path, HEADER + "Peace Action,,,Nowhere\n", lead=("Peace Action",))

    assert [(p.path, p.line, p.field) for p in found] == [
        (PATH, 2, "state"),
        (TOML, None, "lead_signers"),
    ]


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signers.csv"
    path.write_bytes(HEADER.encode() + b"Peace Action,,,\n" + "Comité,,,\n".encode("latin-1"))

    with pytest.raises(InputError) as info:
        load_signers(path, display_path=PATH)

    assert str(info.value) == (
        "letters/arms-sale/signers.csv:3: not UTF-8 text: byte 0xE9 at column 6 "
        '(byte offset 56); save it as "CSV UTF-8"'
    )


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_signers(tmp_path / "nope.csv", display_path=PATH)

    assert str(info.value) == (
        "letters/arms-sale/signers.csv: file not found; create it or fix the signers path "
        "in letter.toml"
    )


def test_a_repeated_or_nameless_header_column_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, "organisation,state,State,\nPeace Action,OR,OR,\n")

    assert [str(p) for p in found] == [
        'letters/arms-sale/signers.csv:1: column "state" appears twice; delete one',
        "letters/arms-sale/signers.csv:1: column 4 has no name; name it or delete it",
    ]
