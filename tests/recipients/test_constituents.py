"""Whom an alert names for one supporter: never a guess."""

from __future__ import annotations

import pytest

from capitolmail.recipients.constituents import DelegationFinder
from capitolmail.recipients.legislators import load_roster


@pytest.fixture(scope="module")
def finder() -> DelegationFinder:
    return DelegationFinder(load_roster())


def _names(members: tuple) -> list[str]:
    return [member.last for member in members]


def test_a_zip_in_one_district_names_two_senators_and_the_representative(
    finder: DelegationFinder,
) -> None:
    found = finder.find(None, None, "94110-1234")  # ZIP+4 reads as its ZIP
    assert (found.state, found.district_known) == ("CA", True)
    assert _names(found.senators) == ["Padilla", "Schiff"]
    assert found.representative is not None
    assert found.representative.last == "Pelosi"
    assert _names(found.everyone) == ["Padilla", "Schiff", "Pelosi"]


def test_a_split_zip_lists_the_candidates_and_names_no_representative(
    finder: DelegationFinder,
) -> None:
    found = finder.find("NY", None, "10027")
    assert found.district_known is False
    assert found.representative is None
    assert _names(found.representatives) == ["Nadler", "Espaillat"]
    assert _names(found.everyone) == ["Schumer", "Gillibrand"]


def test_the_district_on_the_supporters_row_settles_a_split_zip(finder: DelegationFinder) -> None:
    found = finder.find("NY", 13, "10027")
    assert found.representative is not None and found.representative.last == "Espaillat"


def test_a_zip_across_a_state_line_names_no_senators_without_a_state(
    finder: DelegationFinder,
) -> None:
    across = finder.find(None, None, "30165")  # Georgia and Alabama
    assert (across.state, across.senators, across.representatives) == (None, (), ())
    in_georgia = finder.find("GA", None, "30165")
    assert in_georgia.state == "GA"
    assert len(in_georgia.senators) == 2
    assert all(m.state == "GA" for m in in_georgia.representatives)


@pytest.mark.parametrize(
    ("state", "zip_code", "title"),
    [
        ("DC", "20001", "Delegate"),
        ("PR", "00901", "Resident Commissioner"),
        ("GU", "96910", "Delegate"),
    ],
)
def test_dc_and_territories_have_no_senators_and_one_non_voting_member(
    finder: DelegationFinder, state: str, zip_code: str, title: str
) -> None:
    found = finder.find(None, None, zip_code)
    assert found.state == state
    assert found.senators == ()
    assert found.representative is not None
    assert found.representative.title == title


def test_an_unknown_zip_with_a_state_names_the_senators_only(finder: DelegationFinder) -> None:
    found = finder.find("VA", None, "20598")  # a ZIP the crosswalk does not hold
    assert len(found.senators) == 2
    assert (found.representatives, found.district_known) == ((), False)
    nowhere = finder.find(None, None, "00000")
    assert (nowhere.state, nowhere.senators) == (None, ())


def test_at_large_states_have_district_zero(finder: DelegationFinder) -> None:
    found = finder.find(None, None, "82001")  # Cheyenne, Wyoming
    assert found.state == "WY"
    assert found.representative is not None
    assert found.representative.district == 0
