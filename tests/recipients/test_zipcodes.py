"""The packaged ZIP → district crosswalk, checked against the README's worked examples."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import capitolmail.recipients
from capitolmail.errors import InvalidZip
from capitolmail.recipients.zipcodes import (
    district_numbers,
    districts_for_zip,
    parse_zip,
)

DATA = Path(capitolmail.recipients.__file__).parent / "data" / "zip-districts"


def test_a_zip_in_one_district_gives_one_candidate() -> None:
    assert districts_for_zip("59001") == [("MT", 2)]


def test_a_split_zip_gives_every_candidate_and_picks_none() -> None:
    assert districts_for_zip("10001") == [("NY", 10), ("NY", 12)]
    assert districts_for_zip("91711") == [("CA", d) for d in (27, 28, 29, 30, 31, 35)]


def test_a_zip_across_a_state_line_gives_both_states() -> None:
    assert districts_for_zip("30165") == [("AL", 3), ("GA", 14)]


@pytest.mark.parametrize("code", ["10001-1234", "100011234", " 10001 "])
def test_zip_plus_four_is_looked_up_by_its_zip(code: str) -> None:
    assert districts_for_zip(code) == [("NY", 10), ("NY", 12)]


def test_leading_zeros_are_kept() -> None:
    assert parse_zip("02134-0001") == "02134"
    assert districts_for_zip("02134") == [("MA", 7), ("MA", 8)]
    assert districts_for_zip("06001") == [("CT", 1), ("CT", 5)]


@pytest.mark.parametrize(
    ("code", "state"), [("19901", "DE"), ("99501", "AK"), ("05401", "VT"), ("82001", "WY")]
)
def test_at_large_states_are_district_0(code: str, state: str) -> None:
    assert districts_for_zip(code) == [(state, 0)]
    assert district_numbers(state) == range(1)


def test_dc_and_puerto_rico_are_district_0() -> None:
    assert districts_for_zip("20001") == [("DC", 0)]
    assert districts_for_zip("00901") == [("PR", 0)]
    assert district_numbers("DC") == district_numbers("PR") == range(1)


@pytest.mark.parametrize(
    ("code", "territory"),
    [("00802", "VI"), ("96799", "AS"), ("96910", "GU"), ("96950", "MP")],
)
def test_island_areas_missing_from_the_crosswalk_are_their_at_large_seat(
    code: str, territory: str
) -> None:
    assert districts_for_zip(code) == [(territory, 0)]
    assert district_numbers(territory) == range(1)


@pytest.mark.parametrize("code", ["20500", "20500-0003", "00000", "96940", "99999"])
def test_unknown_zips_give_no_candidates(code: str) -> None:
    # 20500 (the White House) is a single-organisation ZIP with no ZCTA; 96940 is Palau.
    assert districts_for_zip(code) == []


@pytest.mark.parametrize("code", ["", "abcde", "1000", "100012", "10001-12", "10001--1234", "1e5"])
def test_malformed_input_is_refused_not_looked_up(code: str) -> None:
    with pytest.raises(InvalidZip):
        districts_for_zip(code)


def test_a_four_digit_zip_suggests_the_lost_leading_zero() -> None:
    with pytest.raises(InvalidZip) as caught:
        parse_zip("2134")
    assert 'write it as "02134"' in str(caught.value)


def test_district_numbers_follow_the_crosswalk() -> None:
    assert district_numbers("CA") == range(1, 53)
    assert district_numbers("MT") == range(1, 3)
    assert district_numbers("tx") == range(1, 39)  # TX-23 is vacant but still a seat
    assert district_numbers("XX") == range(0)


def test_every_row_of_the_packaged_file_is_found() -> None:
    with (DATA / "zccd.csv").open(encoding="utf-8", newline="") as handle:
        expected: dict[str, set[tuple[str, int]]] = {}
        for row in csv.DictReader(handle):
            expected.setdefault(row["zcta"], set()).add((row["state_abbr"], int(row["cd"])))
    assert len(expected) == 33774
    for zcta, pairs in expected.items():
        assert districts_for_zip(zcta) == sorted(pairs)


def test_the_packaged_copy_is_the_shared_snapshot_with_its_licence() -> None:
    assert (DATA / "LICENSE").read_text(encoding="utf-8").startswith("Raw data are United States")
    assert (DATA / "zccd.csv").read_bytes().startswith(b"state_fips,state_abbr,zcta,cd\r\n")
