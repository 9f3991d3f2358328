"""The delivery report of a 300,000-supporter alert: seconds and peak RSS per format.

    PYTHONPATH=src python benchmarks/report.py                          # 300,000 messages, 3 runs
    PYTHONPATH=src python benchmarks/report.py --messages 50000 --repeats 1
    PYTHONPATH=src python benchmarks/report.py --baseline ../wt/base/src  # against another tree

Setup (untimed) writes one sent alert of N messages into a SQLite store, with the
events a week of tracking leaves: 90 % delivered, 30 % opened (a third of them
twice), 5 % clicked, 1 % bounced with a reason. Each measurement runs in a fresh
child process (so its `ru_maxrss` is its own): `build_report` on the store, then
the CSV or the HTML written to a file, as `capitolmail report JOB -o FILE` does.
The child's peak RSS is printed beside that of a child that only opens the store
and imports the report's modules, the floor nothing can go under. With
`--baseline SRC`, the same children run on another checkout's `src` too, in turn
with this one's, and the ratios compare the two from this run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
SRC = HERE.parents[1] / "src"
SENT_AT = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def build(folder: Path, count: int) -> tuple[Path, int]:
    """A store holding one sent alert of `count` messages and its tracking events."""
    from capitolmail.message import OutgoingMessage
    from capitolmail.outbox import QueuedMessage, Store

    path = folder / "report.db"
    items = [
        QueuedMessage(
            OutgoingMessage(
                message_id=str(uuid.uuid4()),
                job_id="ignored",
                from_email="action@peace-action.example",
                from_name="Peace Action Example",
                to_email=f"supporter{index}@example.org",
                to_name=f"Supporter {index}",
                subject="Tell your senators: close Guantánamo",
                text="Call your senators.\n",
            )
        )
        for index in range(count)
    ]
    with Store.open(f"sqlite:///{path}") as store:
        job_id = store.create_job(
            letter_slug="urge-senators", kind="alert", messages=items, now=SENT_AT
        )
    _send_and_track(path, job_id)
    return path, job_id


def _send_and_track(path: Path, job_id: int) -> None:
    """Every message sent, a few milliseconds apart, and the events that followed."""
    with sqlite3.connect(path) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM messages ORDER BY seq")]
        db.executemany(
            "UPDATE messages SET state = ?, sent_at = ? WHERE id = ?",
            [
                ("bounced" if index % 100 == 7 else "delivered", _at(index, 0), message_id)
                for index, message_id in enumerate(ids)
            ],
        )
        rows = []
        for index, message_id in enumerate(ids):
            if index % 100 == 7:
                rows.append((message_id, job_id, _at(index, 30), "bounced", "550 5.1.1 no user"))
            elif index % 10:
                rows.append((message_id, job_id, _at(index, 20), "delivered", None))
            if index % 10 < 3:
                rows.append((message_id, job_id, _at(index, 3_600), "event_opened", None))
                if index % 10 == 0:
                    rows.append((message_id, job_id, _at(index, 7_200), "event_opened", None))
            if index % 20 == 1:
                rows.append((message_id, job_id, _at(index, 3_700), "event_clicked", None))
        db.executemany(
            "INSERT INTO events (message_id, job_id, at, kind, detail) VALUES (?, ?, ?, ?, ?)",
            rows,
        )


def _at(index: int, seconds: int) -> str:
    moment = SENT_AT + timedelta(milliseconds=index * 5, seconds=seconds)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def measure(store_path: str, job_id: int, fmt: str, out: str) -> dict[str, Any]:
    """In the child: the report of `job_id` written as `fmt` to `out` (or nothing: "floor")."""
    from zoneinfo import ZoneInfo

    from capitolmail.outbox import Store
    from capitolmail.recipients.legislators import Roster
    from capitolmail.reports import html_report
    from capitolmail.reports.csv_report import write_csv
    from capitolmail.reports.model import build_report

    with Store.open(f"sqlite:///{store_path}") as store:
        store.get_job(job_id)
        floor_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        if fmt != "floor":
            report = build_report(
                store,
                Roster([], {}, "benchmark"),
                job_id,
                committees=[],
                now=datetime.now(UTC),
                for_partners=False,
            )
            with open(out, "w", encoding="utf-8", newline="") as handle:
                if fmt == "csv":
                    write_csv(report, handle)
                else:  # piece by piece where the tree can (as `report -o` does), else whole
                    zone = ZoneInfo("America/New_York")
                    pieces = getattr(html_report, "html_pieces", None)
                    if pieces is None:
                        handle.write(html_report.render_html(report, zone=zone))
                    else:
                        handle.writelines(pieces(report, zone=zone))
        seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = os.path.getsize(out) if fmt != "floor" else 0
    digest = hashlib.sha256()
    if fmt != "floor":  # after the peak is read: the hash reads the file a block at a time
        with open(out, "rb") as written:
            for block in iter(lambda: written.read(1 << 20), b""):
                digest.update(block)
    return {
        "seconds": seconds,
        "peak_mb": peak_kib / 1024,
        "floor_mb": floor_kib / 1024,
        "bytes": size,
        "sha256": digest.hexdigest(),
    }


def child(src: Path, store_path: Path, job_id: int, fmt: str, folder: Path) -> dict[str, Any]:
    out = folder / f"report.{fmt}"
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, str(HERE), "--child", str(store_path), str(job_id), fmt, str(out)]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    out.unlink(missing_ok=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--formats", default="csv,html")
    parser.add_argument("--baseline", type=Path, help="another checkout's src, measured in turn")
    parser.add_argument("--child", nargs=4, metavar=("STORE", "JOB", "FORMAT", "OUT"))
    parser.add_argument("--build", nargs=2, metavar=("FOLDER", "COUNT"))
    args = parser.parse_args()
    if args.build:
        store_path, job_id = build(Path(args.build[0]), int(args.build[1]))
        print(json.dumps({"store": str(store_path), "job": job_id}))
        return
    if args.child:
        store_path, job, fmt, out = args.child
        print(json.dumps(measure(store_path, int(job), fmt, out)))
        return

    trees = {"this tree": SRC, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    formats = ["floor", *args.formats.split(",")]
    with tempfile.TemporaryDirectory(prefix="capitolmail-bench-") as tmp:
        folder = Path(tmp)
        print(f"setup: one alert of {args.messages:,} messages, sent and tracked…", file=sys.stderr)
        # In a child of its own: a child's peak RSS starts from its parent's at the fork,
        # so the parent holds nothing large: not the messages, not a report file.
        command = [sys.executable, str(HERE), "--build", str(folder), str(args.messages)]
        built = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
        store_path, job_id = Path(built["store"]), int(built["job"])
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for repeat in range(args.repeats):
            for fmt in formats:
                for name, src in trees.items():  # in turn, so a noisy minute hits both alike
                    run = child(src, store_path, job_id, fmt, folder)
                    results.setdefault((name, fmt), []).append(run)
                    print(
                        f"run {repeat + 1}/{args.repeats} {name} {fmt}: {run['seconds']:.1f} s, "
                        f"peak RSS {run['peak_mb']:.0f} MB",
                        file=sys.stderr,
                    )
    print_table(results, trees, formats, args.messages)


def print_table(
    results: dict[tuple[str, str], list[dict[str, Any]]],
    trees: dict[str, Path],
    formats: list[str],
    count: int,
) -> None:
    repeats = len(next(iter(results.values())))
    print(f"report of one alert of {count:,} messages (SQLite), median of {repeats}")
    print(f"  {'tree':10s} {'format':6s} {'seconds':>8s} {'peak RSS':>9s} {'file':>10s}")
    medians: dict[tuple[str, str], tuple[float, float]] = {}
    for fmt in formats:
        for name in trees:
            runs = results[(name, fmt)]
            seconds = statistics.median(run["seconds"] for run in runs)
            peak = statistics.median(run["peak_mb"] for run in runs)
            medians[(name, fmt)] = (seconds, peak)
            size = f"{runs[0]['bytes'] / 1e6:.1f} MB" if runs[0]["bytes"] else ""
            print(f"  {name:10s} {fmt:6s} {seconds:8.2f} {peak:6.0f} MB {size:>10s}")
    if "baseline" in trees:
        same = results[("this tree", "csv")][0].get("sha256") == results[("baseline", "csv")][
            0
        ].get("sha256")
        if "csv" in formats:
            print(f"  csv: the two trees wrote {'the same' if same else 'DIFFERENT'} bytes")
        for fmt in formats[1:]:
            (s_new, m_new), (s_old, m_old) = medians[("this tree", fmt)], medians[("baseline", fmt)]
            print(
                f"  {fmt}: this tree / baseline = {s_new / s_old:.2f}x the time, "
                f"{m_new / m_old:.2f}x the peak RSS"
            )


if __name__ == "__main__":
    main()
