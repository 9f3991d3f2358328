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
]


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
