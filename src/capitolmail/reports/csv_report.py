"""The report as CSV: one row per message, through the one guarded writer (csv_files.py).

Every cell goes through `CsvWriter`, so an office name, a reason quoted from a
server, or a subject that starts with `=` opens in Excel as text, not as a
formula. UTF-8, with a byte-order mark on request: Excel on Windows reads a CSV
without one in the machine's legacy code page and garbles "Hernández".
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from typing import IO

from capitolmail.csv_files import CsvWriter
from capitolmail.reports.model import Line, Report

BOM = "\ufeff"
_TIMES = (
    "queued_at",
    "sent_at",
    "delivered_at",
    "bounced_at",
    "replied_at",
    "auto_replied_at",
    "opened_at",
)


def header(report: Report) -> list[str]:
    if report.is_alert:
        who = ["supporter"] if report.for_partners else ["supporter", "email"]
    else:
        who = ["bioguide", "member", "title", "state", "district", "committee_role"]
        who += ["contact_role"] + ([] if report.for_partners else ["contact", "email"])
    return ["number", *who, "status", "reason", *_TIMES, "opens", "clicks"]


def write_csv(report: Report, handle: IO[str], *, bom: bool = False) -> None:
    handle.writelines(csv_pieces(report, bom=bom))


def csv_pieces(report: Report, *, bom: bool = False, rows_per_piece: int = 1_000) -> Iterator[str]:
    """The CSV text a few hundred rows at a time, the rows read from the outbox as it goes."""
    buffer = io.StringIO()
    writer = CsvWriter(buffer)
    if bom:
        buffer.write(BOM)
    writer.writerow(header(report))
    for count, row in enumerate(rows(report), start=1):
        writer.writerow(row)
        if count % rows_per_piece == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def rows(report: Report) -> Iterator[list[object]]:
    for line in report.lines:
        yield [line.number, *_who(report, line), line.state, line.reason, *_times(line)]


def _who(report: Report, line: Line) -> list[object]:
    if report.is_alert:
        if report.for_partners:
            return [f"Supporter {line.number}"]
        return [line.contact or "", line.email or ""]
    found = line.office
    cells: list[object] = (
        [found.bioguide, found.name, found.title, found.state, found.district, found.committee_role]
        if found
        else ["", "", "", "", "", ""]
    )
    cells.append(line.contact_role)
    if not report.for_partners:
        cells += [line.contact or "", line.email or ""]
    return cells


def _times(line: Line) -> list[object]:
    m = line.milestones
    moments = (
        m.queued_at,
        m.sent_at,
        m.delivered_at,
        m.ended_at,
        m.replied_at,
        m.auto_replied_at,
        m.opened_at,
    )
    return [*(_iso(moment) for moment in moments), m.opens, m.clicks]


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""
