"""Several workers on one PostgreSQL outbox: aggregate throughput, and the claim at 1M rows.

    PYTHONPATH=src python benchmarks/workers.py [--quick] [--database-url URL]
    PYTHONPATH=src python benchmarks/workers.py --only claims --rows 1000000

Issue 17's figures, in two parts, each in a PostgreSQL schema of its own that is
dropped afterwards (README.md beside this file explains every line):

* Throughput: one job of N messages queued, then 1, 2 and 4 worker processes
  (each the send loop `capitolmail worker` runs, benchmarks/_worker.py) started
  at one moment against the aiosmtpd sink and against the SendGrid stand-in;
  the rate is messages over the time from the first arrival to the last, as the
  receiver saw them. By default the workers share one total of connections (or
  requests in flight), so a ratio against one worker shows what several workers
  cost, not what more connections bring. On a 2-core machine more workers cannot
  add speed; the target is that they do not collapse: 4 workers >= 90 % of 1.
* The claim at 1,000,000 queued rows: every statement of one send-loop turn
  EXPLAINed (ANALYZE, BUFFERS) as the driver got it, flagged when it scans the
  messages table sequentially, and claims timed for p50 and p99 (target: index
  scans only, p99 under 5 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _arrivals import ArrivalSink  # noqa: E402
from _postgres import DEFAULT_URL, fresh_schema, queue_fresh_job  # noqa: E402
from _sinks import child_env  # noqa: E402

HERE = Path(__file__).resolve().parent
LATENCY = 0.05
NO_COLLAPSE = 0.90
P99_TARGET_MS = 5.0
SMTP_THREADS_PER_CONNECTION = 4


@dataclass
class Line:
    """One (provider, workers) line of the table: its runs."""

    workers: int
    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(run[key] for run in self.runs)

    def spread(self) -> str:
        rates = [run["rate"] for run in self.runs]
        return f"{min(rates):,.0f}-{max(rates):,.0f}" if len(rates) > 1 else ""


def run_workers(
    sink: ArrivalSink, url: str, count: int, workers: int, provider: str, share: int
) -> dict[str, Any]:
    """Start `workers` senders, release them together, and time the arrivals.

    SMTP runs 4 sending threads per connection (send.py's best line, 8x32: the
    claims come in larger batches); SendGrid as many requests in flight as its pool.
    """
    target = str(sink.port) if provider == "smtp" else sink.url
    arguments = {
        "url": url,
        "provider": provider,
        "target": target,
        "connections": share,
        "concurrency": share * SMTP_THREADS_PER_CONNECTION if provider == "smtp" else share,
    }
    sink.reset()
    children = [
        subprocess.Popen(
            [sys.executable, str(HERE / "_worker.py"), json.dumps(arguments)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for _ in range(workers)
    ]
    for child in children:  # all imported and connected before any sends
        assert child.stdout is not None
        if not child.stdout.readline():
            raise SystemExit(f"a worker exited before it was ready (code {child.wait()})")
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = []
    for child in children:
        output, _ = child.communicate(timeout=600)
        if child.returncode != 0:
            raise SystemExit(f"a worker failed (code {child.returncode}); its stderr is above")
        results.append(json.loads(output.splitlines()[-1]))
    stats = sink.stats()
    sent = sum(result["sent"] for result in results)
    if stats["messages"] != count or sent != count:
        raise SystemExit(
            f"{provider}, {workers} workers: the receiver got {stats['messages']} and the"
            f" workers recorded {sent} sent, of {count} queued"
        )
    seconds = stats["last"] - stats["first"]
    wall = max(r["stopped"] for r in results) - min(r["started"] for r in results)
    return {
        "rate": count / seconds,
        "seconds": seconds,
        "cpu": sum(result["cpu"] for result in results) / wall,
        "sink_cpu": stats["cpu"],
        "per_worker": sorted(result["sent"] for result in results),
    }


def throughput(args: argparse.Namespace, provider: str, count: int, total: int) -> list[Line]:
    from _corpus import SLUG, messages

    from capitolmail.outbox import Store

    lines = [Line(workers) for workers in args.workers]
    corpus = messages(count)
    flags = ["--latency", str(LATENCY)] if provider == "sendgrid" else []
    with (
        fresh_schema(args.database_url, "throughput") as url,
        Store.open(url) as store,
        ArrivalSink(provider, *flags) as sink,
    ):
        for repeat in range(args.repeats):
            for line in lines:  # in turn, so a noisy minute hits every line alike
                queue_fresh_job(store, corpus, SLUG)
                share = max(1, total // line.workers) if args.shared else total
                before = sink.stats()["cpu"]
                result = run_workers(sink, url, count, line.workers, provider, share)
                result["sink_cpu"] = (result["sink_cpu"] - before) / result["seconds"]
                line.runs.append(result)
                print(
                    f"  {provider} {line.workers} worker(s) x {share}, run {repeat + 1}:"
                    f" {result['rate']:,.0f} msg/s, per worker {result['per_worker']}",
                    file=sys.stderr,
                    flush=True,
                )
    return lines


def print_throughput(
    provider: str, lines: list[Line], count: int, total: int, shared: bool
) -> None:
    what = "connections" if provider == "smtp" else "requests in flight"
    if shared:
        how = f"{total} {what} in all, shared out among the workers"
    else:
        how = f"{total} {what} per worker, as each would have from one capitolmail.toml"
    if provider == "smtp":
        how += f", {SMTP_THREADS_PER_CONNECTION} sending threads per connection"
    receiver = (
        "aiosmtpd sink (own process, 250 to everything)"
        if provider == "smtp"
        else f"SendGrid stand-in (own process, +{LATENCY * 1000:.0f} ms per request)"
    )
    print(f"\n{provider}: {count:,} messages into the {receiver};\n  {how}")
    header = f"{'workers':>7} {'msg/s':>7} {'range':>11} {'vs 1':>6}"
    print(f"  {header} {'workers CPU':>11} {'sink CPU':>8}")
    base = lines[0].median("rate")
    for line in lines:
        rate = line.median("rate")
        print(
            f"  {line.workers:>7} {rate:7,.0f} {line.spread():>11} {rate / base:6.0%}"
            f" {line.median('cpu'):11.2f} {line.median('sink_cpu'):8.2f}"
        )
    most = lines[-1]
    ratio = most.median("rate") / base
    print(
        f"  target: {most.workers} workers >= {NO_COLLAPSE:.0%} of {lines[0].workers}:"
        f" {ratio:.0%}, {verdict(ratio >= NO_COLLAPSE)}",
        flush=True,
    )


def claims_section(args: argparse.Namespace) -> None:
    import _claims_at_scale as scale

    from capitolmail.outbox import Store

    with fresh_schema(args.database_url, "claims") as url, Store.open(url) as store:
        started = time.perf_counter()
        states = scale.fill(store.engine, args.rows)
        print(
            f"\nThe claim at {args.rows:,} queued rows (filled in"
            f" {time.perf_counter() - started:.0f} s): {states}"
        )
        plans = scale.explain_turn(store.engine, args.batch)
        print(f"  One send-loop turn, {args.batch} rows claimed, every statement EXPLAINed:")
        for text_line in scale.plan_lines(plans):
            print(text_line)
        seq = [plan for plan in plans if plan.seq_scan]
        print(f"  statements with a Seq Scan on messages: {len(seq)} of {len(plans)}")
        if args.plans:
            for plan in plans:
                print(f"\n  -- {plan.step}: {plan.sql}")
                for plan_line in plan.plan:
                    print(f"     {plan_line}")
        latencies = scale.time_claims(store.engine, args.batch, args.claims, plans)
        print(f"\n  {args.claims:,} claims, each in a transaction rolled back:")
        for latency in latencies:
            print(
                f"  {latency.label:56} p50 {latency.p50:6.2f} ms  p99"
                f" {latency.percentile(0.99):6.2f} ms  max {latency.percentile(1.0):6.2f} ms"
            )
        claim_ok = not any(plan.seq_scan for plan in plans if plan.step == "claim_due")
        client, server = latencies[0].percentile(0.99), latencies[-1].percentile(0.99)
        print(
            f"  target: the claim index-backed ({'yes' if claim_ok else 'no'}) and its p99 under"
            f" {P99_TARGET_MS:.0f} ms: as the client waits {client:.2f} ms,"
            f" {verdict(claim_ok and client < P99_TARGET_MS)};\n  in the server"
            f" {server:.2f} ms, {verdict(claim_ok and server < P99_TARGET_MS)}"
            f" (load average now {os.getloadavg()[0]:.1f}: it shows in both, less in the second)",
            flush=True,
        )


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(item) for item in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f'"{text}" is not like "1,2,4"')
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"default {DEFAULT_URL}")
    parser.add_argument("--quick", action="store_true", help="1 run, fewer messages and rows")
    parser.add_argument("--only", choices=["smtp", "sendgrid", "throughput", "claims"])
    parser.add_argument("--repeats", type=int, help="runs per line, median shown (3; quick 1)")
    parser.add_argument("--workers", type=parse_counts, default=[1, 2, 4])
    parser.add_argument("--smtp-messages", type=int, help="default 6000 (quick 1500)")
    parser.add_argument("--sendgrid-messages", type=int, help="default 10000 (quick 2500)")
    parser.add_argument("--smtp-connections", type=int, default=8, help="per worker (8)")
    parser.add_argument("--sendgrid-in-flight", type=int, default=64, help="per worker (64)")
    parser.add_argument(
        "--shared",
        action="store_true",
        help="the counts above are for all workers together, shared out among them",
    )
    parser.add_argument("--rows", type=int, help="queued rows for the claim (1,000,000)")
    parser.add_argument("--claims", type=int, help="claims timed (1,000; quick 200)")
    parser.add_argument("--batch", type=int, default=32, help="rows per claim (32)")
    parser.add_argument("--plans", action="store_true", help="print every plan in full")
    args = parser.parse_args()
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.rows = args.rows or (200_000 if args.quick else 1_000_000)
    args.claims = args.claims or (200 if args.quick else 1000)
    smtp_count = args.smtp_messages or (1500 if args.quick else 6000)
    sendgrid_count = args.sendgrid_messages or (2500 if args.quick else 10000)

    started = time.perf_counter()
    print(f"{os.cpu_count()} cores; load averages at start: {os.getloadavg()}")
    print(f"median of {args.repeats} run(s) per line; PostgreSQL at {args.database_url}")
    if args.only in (None, "throughput", "smtp"):
        lines = throughput(args, "smtp", smtp_count, args.smtp_connections)
        print_throughput("smtp", lines, smtp_count, args.smtp_connections, args.shared)
    if args.only in (None, "throughput", "sendgrid"):
        lines = throughput(args, "sendgrid", sendgrid_count, args.sendgrid_in_flight)
        print_throughput("sendgrid", lines, sendgrid_count, args.sendgrid_in_flight, args.shared)
    if args.only in (None, "claims"):
        claims_section(args)
    took = time.perf_counter() - started
    print(f"\nload averages at the end: {os.getloadavg()}; took {took:.0f} s")


if __name__ == "__main__":
    main()
