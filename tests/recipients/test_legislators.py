"""The roster built from the packaged congress-legislators snapshot, and its imports."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from capitolmail.errors import InputError
from capitolmail.recipients.legislators import (
    PACKAGED_SOURCE,
    Roster,
    import_legislators,
    load_roster,
    workspace_roster,
)
from capitolmail.recipients.states import NO_SENATORS

from .conftest import DATA

# A tiny snapshot for error paths: parsing the real one takes about a second.
COMMITTEES = """\
- type: senate
  name: Senate Committee on Foreign Relations
  url: https://www.foreign.senate.gov/
  thomas_id: SSFR
  subcommittees:
  - name: Africa and Global Health Policy
    thomas_id: '09'
"""
MEMBERSHIP = """\
SSFR:
- name: Ann Example
  party: majority
  rank: 1
  title: Chairman
  bioguide: A000001
SSFR09: []
"""
LEGISLATORS = """\
- id:
    bioguide: A000001
  name:
    first: Ann
    last: Example
  terms:
  - type: sen
    state: VT
    party: Democrat
"""


def write_snapshot(
    folder: Path,
    legislators: str = LEGISLATORS,
    committees: str = COMMITTEES,
    membership: str = MEMBERSHIP,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "legislators-current.yaml").write_text(legislators, encoding="utf-8")
    (folder / "committees-current.yaml").write_text(committees, encoding="utf-8")
    (folder / "committee-membership-current.yaml").write_text(membership, encoding="utf-8")
    return folder


def snapshot_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- facts from the packaged snapshot ---------------------------------------


def test_packaged_snapshot_has_100_senators_and_437_house_members(roster: Roster) -> None:
    assert len(roster) == 537
    assert Counter(leg.chamber for leg in roster) == {"senate": 100, "house": 437}
    senators_per_state = Counter(leg.state for leg in roster if leg.chamber == "senate")
    assert len(senators_per_state) == 50
    assert set(senators_per_state.values()) == {2}
    assert Counter(leg.title for leg in roster) == {
        "Representative": 431,
        "Senator": 100,
        "Delegate": 5,
        "Resident Commissioner": 1,
    }


def test_roster_says_where_it_came_from(roster: Roster) -> None:
    assert roster.source == PACKAGED_SOURCE
    assert "CC0 1.0 Universal" in (DATA / "LICENSE").read_text(encoding="utf-8")
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "dfa9622263dd4c8d08636926e498f1845704d7eb" in readme and "CC0" in readme


def test_ssfr_members_are_exactly_the_membership_file_rows(
    roster: Roster, raw_membership: dict[str, list[dict[str, Any]]]
) -> None:
    expected = {row["bioguide"] for row in raw_membership["SSFR"]}
    members = {leg.bioguide for leg in roster if leg.seat("SSFR") is not None}
    assert members == expected
    assert len(members) == len(raw_membership["SSFR"]) > 10
    risch = roster.get("R000584")
    assert risch is not None and risch.last == "Risch"
    seat = risch.seat("ssfr")
    assert seat is not None
    assert (seat.title, seat.rank, seat.side) == ("Chairman", 1, "majority")
    assert seat.name == seat.committee_name == "Senate Committee on Foreign Relations"
    assert not seat.is_subcommittee and seat.chamber == "senate"
    shaheen = roster.get("S001181")
    assert shaheen is not None and shaheen.seat("SSFR") is not None
    assert shaheen.seat("SSFR").side == "minority"  # type: ignore[union-attr]


def test_subcommittee_seat_names_subcommittee_and_parent(
    roster: Roster, raw_membership: dict[str, list[dict[str, Any]]]
) -> None:
    expected = {row["bioguide"] for row in raw_membership["SSFR09"]}
    assert {leg.bioguide for leg in roster if leg.seat("SSFR09")} == expected
    cruz = roster.get("C001098")
    assert cruz is not None
    seat = cruz.seat("SSFR09")
    assert seat is not None
    assert seat.name == "Africa and Global Health Policy"
    assert seat.committee_name == "Senate Committee on Foreign Relations"
    assert seat.is_subcommittee and seat.title == "Chairman"
    assert seat in cruz.subcommittees
    committee = roster.committee("ssfr09")
    assert committee is not None and committee.parent_key == "SSFR"
    assert "SSFR09" in roster.committees["SSFR"].subcommittee_keys


def test_every_membership_key_is_a_known_committee(
    roster: Roster, raw_membership: dict[str, list[dict[str, Any]]]
) -> None:
    assert set(raw_membership) == set(roster.committees)
    assert len(roster.committees) == 230
    assert roster.committee("SSCM39") is not None  # upstream lists nobody on it
    assert not any(leg.seat("SSCM39") for leg in roster)
    economic = {row["bioguide"] for row in raw_membership["JSEC"]}
    seats = [leg.seat("JSEC") for leg in roster if leg.bioguide in economic]
    assert len(seats) == len(economic)
    assert {seat.chamber for seat in seats if seat} == {"joint"}


def test_vermont_has_two_senators_and_one_at_large_representative(roster: Roster) -> None:
    vermont = sorted((leg for leg in roster if leg.state == "VT"), key=lambda leg: leg.last)
    assert [(leg.last, leg.title, leg.district) for leg in vermont] == [
        ("Balint", "Representative", 0),
        ("Sanders", "Senator", None),
        ("Welch", "Senator", None),
    ]
    balint = vermont[0]
    assert balint.district_label == "VT at-large"
    assert balint.short_title == "Rep." and balint.is_voting
    assert balint.state_name == "Vermont"


def test_dc_and_puerto_rico_have_no_senators_and_non_voting_members(roster: Roster) -> None:
    for state in NO_SENATORS:
        members = [leg for leg in roster if leg.state == state]
        assert [leg.chamber for leg in members] == ["house"]
        assert members[0].district == 0 and not members[0].is_voting
    norton = next(leg for leg in roster if leg.state == "DC")
    assert (norton.title, norton.short_title, norton.district_label) == ("Delegate", "Del.", "DC")
    assert norton.full_name == "Eleanor Holmes Norton"
    pr = next(leg for leg in roster if leg.state == "PR")
    assert (pr.title, pr.short_title) == ("Resident Commissioner", "Res. Comm.")
    assert pr.last == "Hernández Rivera" and pr.full_name == "Pablo José Hernández"


def test_newest_member_without_official_name_falls_back_to_first_and_last(
    roster: Roster,
) -> None:
    gallagher = roster.get("G000607")
    assert gallagher is not None
    assert gallagher.official_full == gallagher.full_name == "James Gallagher"
    assert gallagher.phone is None and gallagher.url is None and gallagher.contact_url is None
    assert gallagher.committees == ()
    assert gallagher.district_label == "CA-1"


def test_mistyped_contact_form_is_dropped_and_website_used(roster: Roster) -> None:
    fine = roster.get("F000484")
    assert fine is not None and fine.last == "Fine"
    assert fine.contact_form is None
    assert fine.url is not None and fine.url.startswith("https://")
    assert fine.contact_url == fine.url
    with_form = [leg for leg in roster if leg.contact_form]
    assert len(with_form) == 88  # 89 upstream, less Fine's typo
    assert all(leg.contact_form.startswith(("http://", "https://")) for leg in with_form)  # type: ignore[union-attr]


def test_names_keep_their_spelling_and_optional_parts_are_none(roster: Roster) -> None:
    lasts = {leg.last for leg in roster}
    assert {"DeLauro", "Van Hollen", "De La Cruz", "Ocasio-Cortez", "DesJarlais"} <= lasts
    sanders = roster.get("s000033")  # lower-case ids still match
    assert sanders is not None
    assert (sanders.first, sanders.nickname, sanders.middle, sanders.suffix) == (
        "Bernard",
        "Bernie",
        None,
        None,
    )
    assert (sanders.party, sanders.caucus) == ("Independent", "Democrat")
    assert (sanders.senate_class, sanders.state_rank, sanders.gender) == (1, "senior", "M")
    cleaver = next(leg for leg in roster if leg.last == "Cleaver")
    assert cleaver.suffix == "II" and cleaver.full_name == "Emanuel Cleaver"


def test_only_current_leadership_roles_are_kept(
    roster: Roster, raw_legislators: list[dict[str, Any]]
) -> None:
    for record in raw_legislators:
        current = tuple(r["title"] for r in record.get("leadership_roles", []) if "end" not in r)
        legislator = roster.get(record["id"]["bioguide"])
        assert legislator is not None
        assert legislator.leadership_roles == current
    assert roster.get("J000299").leadership_roles == ("Speaker of the House",)  # type: ignore[union-attr]
    assert sum(1 for leg in roster if leg.leadership_roles) < 40  # past roles dropped


def test_senators_have_no_district_and_vacant_seats_have_no_member(roster: Roster) -> None:
    assert all(leg.district is None for leg in roster if leg.chamber == "senate")
    held = {(leg.state, leg.district) for leg in roster if leg.chamber == "house"}
    assert ("TX", 23) not in held and ("TX", 22) in held
    gonzales_seat = [leg for leg in roster if leg.district_label == "TX-23"]
    assert gonzales_seat == []


# --- loading, caching and errors --------------------------------------------


def test_workspace_without_import_uses_packaged_snapshot(tmp_path: Path, roster: Roster) -> None:
    assert workspace_roster(tmp_path) is roster  # cached: parsed once per process


def test_cached_roster_is_reloaded_when_a_file_changes(tmp_path: Path) -> None:
    folder = write_snapshot(tmp_path / "snap")
    first = load_roster(folder)
    assert load_roster(folder) is first
    changed = LEGISLATORS.replace("last: Example", "last: Sample")
    (folder / "legislators-current.yaml").write_text(changed, encoding="utf-8")
    stat = (folder / "legislators-current.yaml").stat()
    os.utime(folder / "legislators-current.yaml", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = load_roster(folder)
    assert second is not first
    assert second.get("A000001").last == "Sample"  # type: ignore[union-attr]
    assert second.source == str(folder)


def test_record_without_bioguide_or_terms_is_reported_with_file_line_and_field(
    tmp_path: Path,
) -> None:
    broken = LEGISLATORS + (
        "- id:\n"  # line 10
        "    thomas: '01234'\n"
        "  name:\n"
        "    first: No\n"  # YAML 1.1 reads this as false: not a name
        "    last: Id\n"
        "  terms:\n"
        "  - type: rep\n"
        "    state: VT\n"
        "    district: 0\n"
        "- id:\n"  # line 19
        "    bioguide: B000002\n"
        "  name:\n"
        "    first: Bo\n"
        "    last: Termless\n"
    )
    folder = write_snapshot(tmp_path / "snap", legislators=broken)
    with pytest.raises(InputError) as caught:
        load_roster(folder)
    where = str(folder / "legislators-current.yaml")
    found = [(p.path, p.line, p.field) for p in caught.value.problems]
    assert (where, 10, "id.bioguide") in found
    assert (where, 13, "name.first") in found
    assert (where, 19, "terms") in found
    assert len(found) == 3


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    folder = write_snapshot(tmp_path / "snap", membership="SSFR:\n- name: [unclosed\n  rank: 1\n")
    with pytest.raises(InputError) as caught:
        load_roster(folder)
    (problem,) = caught.value.problems
    assert problem.path == str(folder / "committee-membership-current.yaml")
    assert problem.line in (2, 3)
    assert "not valid YAML" in problem.message


def test_missing_files_are_all_named(tmp_path: Path) -> None:
    folder = write_snapshot(tmp_path / "snap")
    (folder / "committees-current.yaml").unlink()
    (folder / "committee-membership-current.yaml").unlink()
    with pytest.raises(InputError) as caught:
        load_roster(folder)
    paths = [p.path for p in caught.value.problems]
    assert paths == [
        str(folder / "committees-current.yaml"),
        str(folder / "committee-membership-current.yaml"),
    ]
    assert all("not found" in p.message for p in caught.value.problems)


# --- import -----------------------------------------------------------------


def test_import_single_file_copies_it_and_keeps_packaged_committees(tmp_path: Path) -> None:
    packaged = (DATA / "legislators-current.yaml").read_bytes()
    cut = packaged.rindex(b"\n- id:") + 1  # drop the last record: someone left Congress
    source = tmp_path / "download.yaml"
    source.write_bytes(packaged[:cut])
    root = tmp_path / "ws"
    destination = root / "recipients" / "legislators"

    imported = import_legislators(source, destination)

    assert len(imported) == 536
    assert imported.source == str(destination)
    copied = snapshot_bytes(destination)
    assert copied["legislators-current.yaml"] == packaged[:cut]
    for name in ("committees-current.yaml", "committee-membership-current.yaml"):
        assert copied[name] == (DATA / name).read_bytes()
    assert sorted(copied) == sorted(
        ["legislators-current.yaml", "committees-current.yaml", "committee-membership-current.yaml"]
    )
    assert workspace_roster(root) is imported


def test_import_of_a_folder_takes_its_committee_files(tmp_path: Path) -> None:
    source = write_snapshot(tmp_path / "download")
    destination = tmp_path / "ws" / "recipients" / "legislators"
    imported = import_legislators(source, destination)
    assert snapshot_bytes(destination) == snapshot_bytes(source)
    assert [leg.bioguide for leg in imported] == ["A000001"]
    assert imported.get("A000001").seat("SSFR").title == "Chairman"  # type: ignore[union-attr]


def test_invalid_import_writes_nothing(tmp_path: Path) -> None:
    destination = write_snapshot(tmp_path / "ws" / "recipients" / "legislators")
    before = snapshot_bytes(destination)
    source = tmp_path / "bad.yaml"
    source.write_text(LEGISLATORS.replace("    bioguide: A000001\n", ""), encoding="utf-8")

    with pytest.raises(InputError) as caught:
        import_legislators(source, destination)

    assert [(p.path, p.line, p.field) for p in caught.value.problems] == [
        (str(source), 1, "id.bioguide")
    ]
    assert snapshot_bytes(destination) == before


def test_import_refuses_a_file_that_is_not_a_legislators_list(tmp_path: Path) -> None:
    source = tmp_path / "committees.yaml"
    source.write_text(MEMBERSHIP, encoding="utf-8")
    destination = tmp_path / "ws" / "recipients" / "legislators"
    with pytest.raises(InputError, match="expected a list of legislators"):
        import_legislators(source, destination)
    assert not destination.exists()
