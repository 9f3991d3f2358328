"""Selecting a letter's audience from the packaged roster."""

from __future__ import annotations

from typing import Any

import pytest

from capitolmail.errors import InputError
from capitolmail.recipients.legislators import Roster
from capitolmail.recipients.targeting import audience_order, select_legislators


def ids(legislators: list[Any]) -> list[str]:
    return [leg.bioguide for leg in legislators]


def test_committee_selects_exactly_its_members(
    roster: Roster, raw_membership: dict[str, list[dict[str, Any]]]
) -> None:
    selected = select_legislators(roster, committees=["SSFR"])
    assert set(ids(selected)) == {row["bioguide"] for row in raw_membership["SSFR"]}
    assert len(selected) == len(raw_membership["SSFR"])
    assert {leg.chamber for leg in selected} == {"senate"}
    assert "R000584" in ids(selected)  # Risch, the chairman


def test_subcommittee_key_is_accepted_in_any_case(
    roster: Roster, raw_membership: dict[str, list[dict[str, Any]]]
) -> None:
    selected = select_legislators(roster, committees=[" ssfr09 "])
    assert set(ids(selected)) == {row["bioguide"] for row in raw_membership["SSFR09"]}
    assert set(ids(selected)) < set(ids(select_legislators(roster, committees=["SSFR"])))


def test_several_committees_are_a_union_and_other_filters_intersect(
    roster: Roster, raw_membership: dict[str, list[dict[str, Any]]]
) -> None:
    both = {row["bioguide"] for key in ("SSFR", "HSFA") for row in raw_membership[key]}
    assert set(ids(select_legislators(roster, committees=["SSFR", "HSFA"]))) == both
    democrats = select_legislators(roster, committees=["SSFR", "HSFA"], parties=["D"])
    assert {leg.party for leg in democrats} == {"Democrat"}
    assert set(ids(democrats)) == {b for b in both if roster.get(b).party == "Democrat"}  # type: ignore[union-attr]
    house = select_legislators(roster, committees=["SSFR", "HSFA"], chambers=["House"])
    assert set(ids(house)) == {row["bioguide"] for row in raw_membership["HSFA"]}


def test_state_by_code_or_name_and_chamber_intersect(roster: Roster) -> None:
    vermont = select_legislators(roster, states=["vermont"])
    assert [(leg.last, leg.district_label) for leg in vermont] == [
        ("Sanders", "VT"),
        ("Welch", "VT"),
        ("Balint", "VT at-large"),
    ]
    assert ids(select_legislators(roster, states=["VT"], chambers=["house"])) == ["B001318"]
    assert select_legislators(roster, states=["DC"], chambers=["senate"]) == []


def test_parties_accept_letters_and_any_case(roster: Roster) -> None:
    independents = select_legislators(roster, parties=["i"])
    assert sorted(leg.last for leg in independents) == ["Kiley", "King", "Sanders"]
    assert len(select_legislators(roster, parties=["R", "democrat"])) == 274 + 260
    senate_republicans = select_legislators(roster, chambers=["senate"], parties=["Republican"])
    assert len(senate_republicans) == 53


def test_include_adds_regardless_of_filters_and_exclude_removes_last(roster: Roster) -> None:
    selected = select_legislators(
        roster,
        states=["VT"],
        include=["n000147", "S000033"],  # Norton (DC), and Sanders who is already in
        exclude=["B001318", "N000147"],  # Balint; and Norton again, so exclude wins
    )
    assert ids(selected) == ["S000033", "W000800"]
    only_included = select_legislators(roster, include=["N000147"])
    assert [leg.full_name for leg in only_included] == ["Eleanor Holmes Norton"]


def test_everyone_is_ordered_senators_first_then_state_district_and_name(roster: Roster) -> None:
    everyone = select_legislators(roster, everyone=True)
    assert len(everyone) == 537
    assert [leg.chamber for leg in everyone] == ["senate"] * 100 + ["house"] * 437
    assert everyone == sorted(everyone, key=audience_order)
    assert ids(everyone[:2]) == ids(sorted(everyone[:2], key=lambda leg: leg.last))
    assert everyone[0].state == "AK" and everyone[100].state == "AK"
    texas = [leg.district for leg in everyone if leg.state == "TX" and leg.chamber == "house"]
    assert texas == sorted(texas) and 23 not in texas
    assert select_legislators(roster, everyone=True) == everyone


def test_no_filter_selects_nobody_and_says_so(roster: Roster) -> None:
    with pytest.raises(InputError) as caught:
        select_legislators(roster, source="letters/x/letter.toml")
    (problem,) = caught.value.problems
    assert (problem.path, problem.field) == ("letters/x/letter.toml", "audience")
    assert problem.message.startswith("audience selects nobody")


def test_every_bad_value_is_reported_at_once(roster: Roster) -> None:
    with pytest.raises(InputError) as caught:
        select_legislators(
            roster,
            chambers=["senate", "senat"],
            states=["Vermnt", "ZZ"],
            committees=["SSFRX", "SSFR"],
            parties=["Whig"],
            include=["X999999"],
            exclude=["S000033", "Q000000"],
            source="letters/arms/letter.toml",
        )
    problems = caught.value.problems
    assert {p.path for p in problems} == {"letters/arms/letter.toml"}
    assert [p.field for p in problems] == [
        "audience.chambers",
        "audience.states",
        "audience.states",
        "audience.committees",
        "audience.parties",
        "audience.include",
        "audience.exclude",
    ]
    messages = {p.message for p in problems}
    assert (
        'unknown committee "SSFRX" (did you mean "SSFR", Senate Committee on Foreign Relations?)'
        in messages
    )
    assert any(m.startswith('unknown chamber "senat" (did you mean "senate"?)') for m in messages)
    assert any(m.startswith('unknown state "Vermnt" (did you mean "Vermont"?)') for m in messages)
    assert any('"Q000000"' in m for m in messages)


def test_unknown_committee_without_a_close_key_explains_the_ids(roster: Roster) -> None:
    with pytest.raises(InputError) as caught:
        select_legislators(roster, committees=["Armed Services Subcommittee on Nothing"])
    (problem,) = caught.value.problems
    assert problem.field == "audience.committees"
    assert '"SSFR09" for a subcommittee' in problem.message
