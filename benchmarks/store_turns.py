"""The send loop's store work alone: claim, mark handed over, record, with no transport.

    PYTHONPATH=src python benchmarks/store_turns.py                       # 5,000 messages, 5 runs
    PYTHONPATH=src python benchmarks/store_turns.py --baseline ../wt/base/src

One job of the benchmark letter (_corpus.py, ~3.5 KB of text and HTML a message) is
queued into a SQLite store, then sent through the store's calls only, as the send
loop makes them: `claim_due` of a batch, `mark_handed_over` in groups of 32, then
`record_and_claim` of the batch's outcomes with the next claim, until nothing is
left. It prints microseconds per message for the claims and records, and for the
marks with the milliseconds a mark's commit took: the time a sending thread waits
at the brink. With `--baseline SRC` each run is paired with the same run on another
checkout's code, on a store that code queued, and the ratios are printed.

Every run is a fresh child process on a fresh copy of its store. This is the store's
share of a send; benchmarks/send.py measures the whole of it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))

from _sinks import in_turn, json_child  # noqa: E402

MARK_GROUP = 32


def prepare(folder: str, count: int) -> None:
    """In a child: the letter queued as one started job into `folder`/store.db."""
    from _corpus import messages, queue_started_job

    from capitolmail.outbox import Store

    with Store.open(f"sqlite:///{Path(folder) / 'store.db'}") as store:
        queue_started_job(store, messages(count))


def turns(db: str, batch: int) -> dict[str, Any]:
    """In a child: the whole job claimed, marked and recorded, `batch` at a time."""
    from capitolmail.outbox import Outcome, Store

    store = Store.open(f"sqlite:///{db}")
    store.register_worker("bench", "bench-host", 1, datetime.now(UTC))
    sent = marks = 0
    marking = 0.0
    with store.keeping_a_connection():
        started = time.perf_counter()
        claimed = store.claim_due("bench", batch, datetime.now(UTC), handed_over=False)
        while claimed:
            ids = [c.message.message_id for c in claimed]
            before = time.perf_counter()
            for at in range(0, len(ids), MARK_GROUP):
                store.mark_handed_over("bench", ids[at : at + MARK_GROUP], datetime.now(UTC))
                marks += 1
            marking += time.perf_counter() - before
            outcomes = [Outcome(i, "sent", provider_message_id=f"id-{i}") for i in ids]
            sent += len(outcomes)
            claimed = store.record_and_claim(
                "bench", outcomes, batch, datetime.now(UTC), handed_over=False
            )
        seconds = time.perf_counter() - started
    store.close()
    return {
        "messages": sent,
        "claim_record_us": (seconds - marking) / sent * 1e6,
        "mark_us": marking / sent * 1e6,
        "mark_commit_ms": marking / marks * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=64, help="claimed and recorded at once")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=Path, metavar="SRC", help="another checkout's src")
    parser.add_argument("--prepare", nargs=2, metavar=("FOLDER", "COUNT"))
    parser.add_argument("--turns", nargs=2, metavar=("DB", "BATCH"))
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare[0], int(args.prepare[1]))
        print("{}")
        return
    if args.turns:
        print(json.dumps(turns(args.turns[0], int(args.turns[1]))))
        return
    trees: dict[str, Path | None] = {"this tree": None}
    if args.baseline is not None:
        trees["baseline"] = args.baseline
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="capitolmail-store-") as tmp:
        stores = {}
        for name, src in trees.items():
            folder = Path(tmp) / name.replace(" ", "-")
            folder.mkdir()
            json_child(HERE, src, "--prepare", str(folder), str(args.messages))
            stores[name] = folder / "store.db"
        for repeat in range(args.repeats):
            for name, src in in_turn(list(trees.items()), repeat):
                copy = stores[name].with_name("run.db")
                shutil.copy(stores[name], copy)
                result = json_child(HERE, src, "--turns", str(copy), str(args.batch))
                copy.unlink()
                runs[name].append(result)
                print(
                    f"run {repeat + 1}/{args.repeats} {name}: claim+record"
                    f" {result['claim_record_us']:.0f} us/message, marks {result['mark_us']:.0f}"
                    f" us/message ({result['mark_commit_ms']:.2f} ms a commit)",
                    file=sys.stderr,
                )
    report(runs, args)


def report(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    print(
        f"store work of one job of {args.messages:,} messages (SQLite), {args.batch} claimed"
        f" and recorded at once, marks in groups of {MARK_GROUP}; median of {args.repeats}:"
    )
    keys = [
        ("claim_record_us", "claim + record, us/message"),
        ("mark_us", "marks, us/message"),
        ("mark_commit_ms", "a mark's commit, ms"),
    ]
    for name in runs:
        figures = ", ".join(f"{label} {median(name, key):.2f}" for key, label in keys)
        print(f"  {name:9}  {figures}")
    if "baseline" in runs:
        for key, label in keys:
            pairs = [
                mine[key] / base[key]
                for mine, base in zip(runs["this tree"], runs["baseline"], strict=True)
            ]
            print(
                f"  {label}: {median('this tree', key) / median('baseline', key):.2f}x the"
                f" baseline's (per pair {statistics.median(pairs):.2f}x, lower in"
                f" {sum(p < 1 for p in pairs)} of {len(pairs)})"
            )


if __name__ == "__main__":
    main()
