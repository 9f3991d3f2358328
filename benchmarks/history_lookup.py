"""The same-content check before queueing, against an outbox with history.

    PYTHONPATH=src python benchmarks/history_lookup.py                  # 200,000 earlier rows
    PYTHONPATH=src python benchmarks/history_lookup.py --rows 1000000 --baseline ../wt/base/src

Before a job is stored, every batch of 1,000 rendered messages is looked up by content
digest (`Store.earlier_messages`, letters/resend.py): the same words already sent to
the same person refuse the job. The lookup's cost should follow the digests asked,
not the outbox's size; an outbox keeps every alert ever sent, so a plan that reads
every message in a reached state (as SQLite's did, through the state index) makes
queueing an alert slower with every alert before it.

Setup (in a child, untimed): the benchmark letter queued as one job (_corpus.py), its
rows copied with fresh ids and digests up to `--rows`, all marked `sent`. Each run,
in a fresh child on that store, times the lookup of 1,000 digests that match nothing
(a new letter) and of 1,000 that match the first job (the same letter queued again),
in milliseconds, median of `--repeats` runs; with `--baseline SRC` each run is paired
with the same run importing another checkout's code, on a store that code built.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))

from _sinks import in_turn, json_child  # noqa: E402

DIGESTS = 1000


def build(db: str, rows: int) -> None:
    """In a child: one job of the letter, its rows copied up to `rows`, all `sent`."""
    import sqlite3

    from _corpus import messages, queue_started_job

    from capitolmail.outbox import Store

    with Store.open(f"sqlite:///{db}") as store:
        queue_started_job(store, messages(DIGESTS))
    conn = sqlite3.connect(db, isolation_level=None)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(messages)")]
    fresh = {"id": "lower(hex(randomblob(16)))", "content_hash": "lower(hex(randomblob(32)))"}
    conn.execute("BEGIN")
    copies = 1
    while conn.execute("SELECT count(*) FROM messages").fetchone()[0] < rows:
        picked = ", ".join(
            fresh.get(c, f"seq + {copies * 10 * DIGESTS}" if c == "seq" else c) for c in columns
        )
        conn.execute(
            f"INSERT INTO messages ({', '.join(columns)}) SELECT {picked} FROM messages"
            f" WHERE seq < {DIGESTS} LIMIT {DIGESTS}"
        )
        copies += 1
    conn.execute("UPDATE messages SET state = 'sent'")
    conn.execute("COMMIT")
    conn.close()


def lookups(db: str) -> dict[str, Any]:
    """In a child: the lookup of digests matching nothing, then of the first job's."""
    import sqlite3

    from capitolmail.outbox import Store

    conn = sqlite3.connect(db)
    known = conn.execute(
        "SELECT to_email_key, content_hash FROM messages WHERE seq < ?", (DIGESTS,)
    ).fetchall()
    conn.close()
    unknown = [(key, f"{index:064x}") for index, (key, _) in enumerate(known)]
    since = datetime.now(UTC) - timedelta(days=30)
    store = Store.open(f"sqlite:///{db}")
    result: dict[str, Any] = {}
    for name, wanted in (("new_ms", unknown), ("again_ms", known)):
        started = time.perf_counter()
        found = store.earlier_messages(wanted, since=since)
        result[name] = (time.perf_counter() - started) * 1e3
        result[name.replace("_ms", "_found")] = len(found)
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="earlier messages stored")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=Path, metavar="SRC", help="another checkout's src")
    parser.add_argument("--build", nargs=2, metavar=("DB", "ROWS"))
    parser.add_argument("--lookups", metavar="DB")
    args = parser.parse_args()
    if args.build:
        build(args.build[0], int(args.build[1]))
        print("{}")
        return
    if args.lookups:
        print(json.dumps(lookups(args.lookups)))
        return
    trees: dict[str, Path | None] = {"this tree": None}
    if args.baseline is not None:
        trees["baseline"] = args.baseline
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="capitolmail-history-") as tmp:
        stores = {}
        for name, src in trees.items():
            stores[name] = str(Path(tmp) / f"{name.replace(' ', '-')}.db")
            json_child(HERE, src, "--build", stores[name], str(args.rows))
        for repeat in range(args.repeats):
            for name, src in in_turn(list(trees.items()), repeat):
                result = json_child(HERE, src, "--lookups", stores[name])
                runs[name].append(result)
                print(
                    f"run {repeat + 1}/{args.repeats} {name}: new {result['new_ms']:.1f} ms,"
                    f" again {result['again_ms']:.1f} ms ({result['again_found']} found)",
                    file=sys.stderr,
                )
    print(f"same-content lookup of {DIGESTS:,} digests, {args.rows:,} earlier messages (SQLite):")
    for name in runs:
        new = statistics.median(run["new_ms"] for run in runs[name])
        again = statistics.median(run["again_ms"] for run in runs[name])
        print(f"  {name:9}  a new letter {new:.1f} ms, the same letter again {again:.1f} ms")
    if "baseline" in runs:
        for key, label in (("new_ms", "a new letter"), ("again_ms", "the same letter again")):
            pairs = [
                mine[key] / base[key]
                for mine, base in zip(runs["this tree"], runs["baseline"], strict=True)
            ]
            print(f"  {label}: {statistics.median(pairs):.2f}x the baseline's time (per pair)")


if __name__ == "__main__":
    main()
