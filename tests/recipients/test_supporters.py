"""Importing supporters: real CSV files into a real SQLite file and PostgreSQL."""

from __future__ import annotations

import csv
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from capitolmail.errors import InputError
from capitolmail.outbox import Store
from capitolmail.outbox.schema import supporters
from capitolmail.recipients import supporters as supporters_module
from capitolmail.recipients.supporters import import_supporters

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=7)
HEADER = "email,first_name,last_name,postal_code,state,district,consent,tags\n"


def write(folder: Path, text: str, name: str = "supporters.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def by_email(store: Store) -> dict[str, object]:
    return {supporter.email.lower(): supporter for supporter in store.list_supporters()}


def report_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_valid_rows_are_normalised_and_located(store: Store, tmp_path: Path) -> None:
    source = write(
        tmp_path,
        HEADER
        + "Jane.Doe@Example.ORG ,Jane,Doe,59001,,,2024-05-01,volunteer; gitmo\n"
        + "sam@example.org,Sam,Lee,10001-1234,,,yes,donor|donor|\n"
        + "ana@example.org,Ana,Ruiz,,PR,,no,\n"
        + "kim@example.org,Kim,Ng,10001,NY,12,true,\n",
    )
    result = import_supporters(store, source, tmp_path / "rejected.csv", NOW)

    assert (result.read, result.new, result.updated, result.merged, result.rejected) == (
        4,
        4,
        0,
        0,
        0,
    )
    assert result.report_path is None and not (tmp_path / "rejected.csv").exists()
    rows = by_email(store)
    jane = rows["jane.doe@example.org"]
    assert jane.email == "Jane.Doe@example.org"  # as email-validator normalised it
    assert (jane.postal_code, jane.state, jane.district, jane.tags) == (
        "59001",
        "MT",
        2,
        ("volunteer", "gitmo"),
    )
    assert (jane.consent, jane.consent_at) == (True, datetime(2024, 5, 1, tzinfo=UTC))
    sam = rows["sam@example.org"]
    # A ZIP across two districts: the state is known, the district is not guessed.
    assert (sam.postal_code, sam.state, sam.district, sam.tags) == (
        "10001-1234",
        "NY",
        None,
        ("donor",),
    )
    assert (sam.consent, sam.consent_at) == (True, None)
    ana = rows["ana@example.org"]
    assert (ana.postal_code, ana.state, ana.district, ana.consent) == (None, "PR", None, False)
    assert rows["kim@example.org"].district == 12


def test_duplicates_in_the_file_are_merged_later_row_wins_tags_unioned(
    store: Store, tmp_path: Path
) -> None:
    source = write(
        tmp_path,
        HEADER
        + "jane@example.org,Jane,Doe,10001,,,2024-05-01,a;b\n"
        + "other@example.org,O,P,19901,,,yes,\n"
        + "JANE@example.org,Janet,Doe,59001,,,yes,c;a\n",
    )
    result = import_supporters(store, source, tmp_path / "r.csv", NOW)

    assert (result.read, result.new, result.merged, result.rejected) == (3, 2, 1, 0)
    jane = by_email(store)["jane@example.org"]
    assert (jane.first_name, jane.postal_code, jane.state, jane.district) == (
        "Janet",
        "59001",
        "MT",
        2,
    )
    assert jane.tags == ("a", "b", "c")
    assert jane.email == "JANE@example.org"  # the later row's spelling
    assert jane.consent_at == datetime(2024, 5, 1, tzinfo=UTC)  # "yes" keeps the date


def test_duplicates_in_different_batches_are_merged_too(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supporters_module, "BATCH", 2)
    lines = [f"p{i}@example.org,P,{i},10001,,,yes,t{i}\n" for i in range(5)]
    lines.append("P1@Example.org,Paul,1,19901,,,yes,late\n")
    result = import_supporters(store, write(tmp_path, HEADER + "".join(lines)), tmp_path / "r", NOW)

    assert (result.read, result.new, result.updated, result.merged) == (6, 5, 0, 1)
    p1 = by_email(store)["p1@example.org"]
    assert (p1.first_name, p1.state, p1.tags) == ("Paul", "DE", ("t1", "late"))
    assert store.count_supporters() == 5


def test_reimport_updates_rows_instead_of_duplicating(store: Store, tmp_path: Path) -> None:
    first = write(
        tmp_path,
        HEADER
        + "jane@example.org,Jane,Doe,10001,,,2024-05-01,a;b\n"
        + "sam@example.org,Sam,Lee,19901,,,yes,\n",
    )
    import_supporters(store, first, tmp_path / "r1.csv", NOW)
    before = by_email(store)
    second = write(
        tmp_path,
        HEADER
        + "jane@example.org,Jane,Smith,59001,,,no,c\n"
        + "new@example.org,New,One,19901,,,yes,\n",
        "again.csv",
    )
    result = import_supporters(store, second, tmp_path / "r2.csv", LATER)

    assert (result.read, result.new, result.updated, result.merged) == (2, 1, 1, 0)
    after = by_email(store)
    assert store.count_supporters() == 3
    jane = after["jane@example.org"]
    assert (jane.last_name, jane.postal_code, jane.state, jane.district) == (
        "Smith",
        "59001",
        "MT",
        2,
    )
    assert (jane.consent, jane.consent_at, jane.tags) == (False, None, ("c",))
    assert jane.id == before["jane@example.org"].id
    assert (jane.created_at, jane.updated_at) == (NOW, LATER)
    assert after["sam@example.org"].updated_at == NOW  # not in the second file: untouched


def test_rejected_rows_go_to_the_report_with_their_lines(store: Store, tmp_path: Path) -> None:
    source = write(
        tmp_path,
        "# exported from the CRM\n"
        + HEADER
        + "ok@example.org,Ok,Row,10001,,,yes,\n"
        + "not-an-address,A,B,10001,,,yes,\n"
        + '"quoted@example.org","Multi\nline",C,10001,,,yes,\n'
        + "\n"
        + "zip@example.org,Z,Z,1234,,,yes,\n"
        + "state@example.org,S,S,10001,NJ,,yes,\n"
        + "district@example.org,D,D,,DE,1,yes,\n"
        + "consent@example.org,C,C,10001,,,maybe,\n"
        + "future@example.org,F,F,10001,,,2030-01-01,\n"
        + "short@example.org,S,S\n"
        + "none@example.org,N,N,,,,yes,\n"
        + "nostate@example.org,N,N,30165,,3,yes,\n"
        + "range@example.org,R,R,,NY,27,yes,\n"
        + "unknown@example.org,U,U,,Atlantis,,yes,\n",
    )
    report = tmp_path / "reports" / "rejected.csv"
    result = import_supporters(store, source, report, NOW, display_path="supporters.csv")

    assert (result.read, result.new, result.rejected) == (13, 1, 12)
    assert result.report_path == report
    rows = report_rows(report)
    assert [(r["line"], r["field"]) for r in rows] == [
        ("4", "email"),
        ("5", "first_name"),
        ("8", "postal_code"),
        ("9", "state"),
        ("10", "district"),
        ("11", "consent"),
        ("12", "consent"),
        ("13", ""),
        ("14", "postal_code"),
        ("15", "district"),
        ("16", "district"),
        ("17", "state"),
    ]
    assert rows[0]["email"] == "not-an-address"  # the original values, to fix and re-import
    assert rows[1]["first_name"] == "Multi\nline"
    reasons = [r["reason"] for r in rows]
    assert reasons[2].startswith('"1234" is not a ZIP code')
    assert reasons[3] == "ZIP 10001 is in NY, not NJ; correct the ZIP or the state"
    assert reasons[4] == "Delaware has one at-large seat, district 0; write 0 or leave it empty"
    assert reasons[6] == 'opt-in date "2030-01-01" is in the future; correct it'
    assert reasons[7] == ("row has 3 fields but the header has 8; quote values that contain commas")
    assert reasons[8] == "empty; fill in the supporter's ZIP code (or their state)"
    assert reasons[9] == "a district needs a state; fill in the state column"
    assert reasons[10] == "New York has districts 1 to 26, not 27 or leave it empty"
    assert str(result.first_problems[0]) == (
        'supporters.csv:4: email: "not-an-address" is not a valid address '
        "(An email address must have an @-sign); correct it"
    )
    assert list(by_email(store)) == ["ok@example.org"]


def test_the_report_can_be_fixed_and_imported_as_it_is(store: Store, tmp_path: Path) -> None:
    source = write(tmp_path, HEADER + "jane@example.org,Jane,Doe,1234,,,yes,\n")
    report = tmp_path / "rejected.csv"
    import_supporters(store, source, report, NOW)
    report.write_text(report.read_text(encoding="utf-8").replace(",1234,", ",01234,"))

    result = import_supporters(store, report, tmp_path / "again.csv", LATER)

    assert (result.new, result.rejected, result.ignored_columns) == (
        1,
        0,
        ("line", "field", "reason"),
    )


@pytest.mark.parametrize("missing", ["email", "postal_code", "consent"])
def test_a_missing_required_column_imports_nothing(
    store: Store, tmp_path: Path, missing: str
) -> None:
    columns = ["email", "first_name", "last_name", "postal_code", "consent"]
    values = {"email": "a@example.org", "postal_code": "10001", "consent": "yes"}
    kept = [c for c in columns if c != missing]
    text = ",".join(kept) + "\n" + ",".join(values.get(c, "x") for c in kept) + "\n"
    with pytest.raises(InputError) as caught:
        import_supporters(store, write(tmp_path, text), tmp_path / "r.csv", NOW)
    problem = caught.value.problems[0]
    assert (problem.path, problem.line, problem.field) == (
        str(tmp_path / "supporters.csv"),
        1,
        missing,
    )
    assert f'missing column "{missing}"' in problem.message
    assert store.count_supporters() == 0


def test_a_misspelt_column_is_suggested(store: Store, tmp_path: Path) -> None:
    text = "emial,first_name,last_name,postal_code,consent\nx@example.org,A,B,10001,yes\n"
    with pytest.raises(InputError, match=r'missing column "email" \(did you mean "emial"\?\)'):
        import_supporters(store, write(tmp_path, text), tmp_path / "r.csv", NOW)


def test_a_broken_file_is_refused_before_any_row_is_written(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supporters_module, "BATCH", 1)
    good = "".join(f"p{i}@example.org,P,Q,10001,,,yes,\n" for i in range(3))
    source = tmp_path / "broken.csv"
    source.write_bytes((HEADER + good).encode() + b"bad@example.org,\xff\xfe,Q,10001,,,yes,\n")
    with pytest.raises(InputError) as caught:
        import_supporters(store, source, tmp_path / "r.csv", NOW, display_path="broken.csv")
    assert str(caught.value).startswith("broken.csv:5: not UTF-8 text")
    assert store.count_supporters() == 0


def test_memory_does_not_grow_with_the_file(store: Store, tmp_path: Path) -> None:
    def peak(rows: int) -> int:
        lines = (f"p{i}@example.org,P,{i},{10001 + i % 50:05d},,,yes,a;b\n" for i in range(rows))
        source = tmp_path / f"{rows}.csv"
        with source.open("w", encoding="utf-8") as handle:
            handle.write(HEADER)
            handle.writelines(lines)
        tracemalloc.start()
        try:
            import_supporters(store, source, tmp_path / "r.csv", NOW)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(1000)  # warm caches (the crosswalk, compiled statements)
    small, large = peak(1000), peak(6000)
    assert large < small * 1.5, (small, large)


def test_counts_add_up_and_the_table_has_one_row_per_address(store: Store, tmp_path: Path) -> None:
    source = write(
        tmp_path,
        HEADER + "a@example.org,A,A,10001,,,yes,\n" * 3 + "bad,B,B,10001,,,yes,\n",
    )
    result = import_supporters(store, source, tmp_path / "r.csv", NOW)
    assert result.read == result.new + result.updated + result.merged + result.rejected == 4
    with store._engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(supporters)).scalar_one() == 1
