"""The guard rule itself: what is written never starts a formula, and reads back as it was."""

from __future__ import annotations

import io

import pytest

from capitolmail.csv_files import CsvReader, CsvWriter, detect_delimiter, guard_cell

VALUES = [
    "=1",
    "+1",
    "-1",
    "@A1",
    " =1",
    "\t1",
    "\r1",
    "'=1",
    "''+1",
    "'" * 5000 + "=1",
    "plain",
    "'quoted",
    "O'Brien",
    "a=b",
    "1=1",
    "Ñ-1",
    "\u00a0=1",  # a no-break space, then a formula
    "\u3000+1",  # an ideographic space
    "'\t1",
]


@pytest.mark.parametrize(
    ("value", "guarded"),
    [
        ("plain", False),
        ("2026-12-01", False),
        ("Ñandú", False),
        ("٣=1", False),  # an Arabic-Indic digit: a value, not a formula
        ("a=b", False),
        ("=1", True),
        (" =1", True),
        ("\u00a0=1", True),
        ("\t1", True),
        ("'@A1", True),
        ("'plain", False),
    ],
)
def test_only_what_a_spreadsheet_could_run_is_guarded(value: str, guarded: bool) -> None:
    assert (guard_cell(value) != value) is guarded


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_a_written_cell_reads_back_as_it_was(value: str) -> None:
    out = io.StringIO()
    CsvWriter(out).writerows([["header"], [value]])
    reader = CsvReader(io.StringIO(out.getvalue(), newline=""), "t.csv")
    assert [row.values for row in reader] == [[value]]
    written = guard_cell(value)
    assert not written.lstrip().startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [
        ("a,b,c\n", ","),
        ("a;b;c\r\n", ";"),
        ("a\tb\n", "\t"),
        ("email\n", ","),
        ('"Name, Org";email\n', ";"),
        ("a;b,c\n", ","),
    ],
)
def test_the_delimiter_is_the_one_that_splits_the_header_most(line: str, delimiter: str) -> None:
    assert detect_delimiter(line) == delimiter
