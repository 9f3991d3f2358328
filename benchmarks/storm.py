"""The SIGKILL storm, with figures: `python benchmarks/storm.py [--database-url URL]`.

Loopback only, bounded in kills and time, stops by itself. Worker processes share
one 200-message job going to the SMTP test relay (or the SendGrid stand-in, with
`--provider sendgrid`); one is SIGKILLed a random 0-0.5 s after it first holds
a claim (mid-send, not in start-up) and a new one started, `--kills` times. At
the end it prints messages, kills, duplicates (the receiver's log of our message
ids), `unknown`, and the share of `unknown` that did arrive; it exits 1 if
anything arrived twice or was lost.

PostgreSQL: pass e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test; the run
uses a schema of its own and drops it. The core is tests/storm.py, which the
short `tests/test_storm.py` also runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from sqlalchemy import create_engine, make_url, text  # noqa: E402
from tests.storm import run_storm  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--provider", choices=["smtp", "sendgrid"], default="smtp")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--slow",
        type=float,
        help="the relay's delay per message (default 0.1 s); SendGrid: none, since the stand-in"
        " takes a request only after its latency and would count a kill meanwhile as lost",
    )
    parser.add_argument("--rounds", type=int, default=1, help="storms in a row, figures summed")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    totals: dict[str, float] = {}
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="capitolmail-storm-") as tmp:
            url, cleanup = _database(args.database_url)
            try:
                report = run_storm(
                    Path(tmp),
                    database_url=url,
                    provider=args.provider,
                    workers=args.workers,
                    kills=args.kills,
                    concurrency=args.concurrency,
                    slow=args.slow if args.slow is not None else _default_slow(args.provider),
                    seed=args.seed + round_,
                    max_seconds=600,
                )
            finally:
                cleanup()
        print(f"round {round_ + 1}: " + "; ".join(report.lines()), flush=True)
        for name in ("messages", "kills", "duplicates", "lost", "unknown", "unknown_arrived"):
            totals[name] = totals.get(name, 0) + getattr(report, name)
        totals["requeued"] = totals.get("requeued", 0) + report.requeued
    share = totals["unknown_arrived"] / totals["unknown"] if totals["unknown"] else None
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"{backend}, {args.provider}: {int(totals['messages'])} messages, "
        f"{int(totals['kills'])} kills, {int(totals['duplicates'])} duplicates, "
        f"{int(totals['lost'])} lost, {int(totals['unknown'])} unknown, "
        f"{int(totals['unknown_arrived'])} of them arrived"
        + (f" ({share:.0%})" if share is not None else "")
        + f", {int(totals['requeued'])} queued again after a kill"
    )
    return 1 if totals["duplicates"] or totals["lost"] else 0


def _default_slow(provider: str) -> float:
    return 0.0 if provider == "sendgrid" else 0.1


def _database(base: str | None) -> tuple[str | None, object]:
    if not base:
        return None, lambda: None
    schema = f"capitolmail_storm_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def cleanup() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), cleanup


if __name__ == "__main__":
    sys.exit(main())
