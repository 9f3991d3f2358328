"""How fast capitolmail sends, next to the tool teams use today and to what the receiver allows.

    PYTHONPATH=src python benchmarks/send.py [--quick] [--repeats N] [--only smtp|sendgrid]
    PYTHONPATH=src python benchmarks/send.py --only sendgrid --baseline ../wt/base/src

Prints one table (README.md beside this file explains every line):

* SMTP into an aiosmtpd sink that accepts and discards: capitolmail's
  `send_due` with `SmtpProvider` at several connection counts, mailmerge 2.3.0
  sending the same letter, and the sink's ceiling (pre-built bytes over the
  same number of persistent smtplib connections).
* SendGrid into tests/servers/sendgrid.py's stand-in with 50 ms added per
  request: capitolmail with `SendGridProvider` at several concurrencies, the
  official client's one-after-another pattern, and the stand-in's ceiling
  (pre-built bodies POSTed with urllib3 from as many threads).

Every receiver and every measured sender runs in a process of its own (the
receivers would otherwise share a GIL with the sender), and each figure is the
median of `--repeats` runs taken in turn, since this 2-core machine is shared.
Issue 4's targets are checked on the same run's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import write_mailmerge_inputs  # noqa: E402
from _sinks import Sink, child_env, in_turn  # noqa: E402

HERE = Path(__file__).resolve().parent
MEASURE = HERE / "_measure.py"
LATENCY = 0.05
# (connections, concurrency): concurrency = connections, as the issue suggests, and one
# with more threads than connections, so that claims come in larger batches. 2x2 is
# left out to keep a full run near 8 minutes: it was the slowest (77-88 msg/s).
SMTP_CONFIGS = [(4, 4), (8, 8), (8, 32)]
SENDGRID_CONCURRENCY = [64, 128, 256]
# Issue 17: at the most connections, >= 85 % of the ceiling into a sink offering
# PIPELINING, >= 75 % into one that does not, and >= 5x mailmerge either way.
SMTP_TARGET_RATIO = 5.0
SMTP_PIPELINED_SHARE = 0.85
SMTP_PLAIN_SHARE = 0.75
CEILING_SHARE = 0.90


@dataclass
class Figure:
    """One line of the table: the runs of one measurement, and how to label it."""

    label: str
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(run["rate"] for run in self.runs) if self.runs else 0.0

    def spread(self) -> str:
        if len(self.runs) < 2:
            return ""
        rates = [run["rate"] for run in self.runs]
        return f"{min(rates):,.0f}-{max(rates):,.0f}"

    def median_of(self, key: str) -> float | None:
        values = [run[key] for run in self.runs if run.get(key) is not None]
        return statistics.median(values) if values else None

    @property
    def rate_with_startup(self) -> float:
        """The rate had the process's start-up (`startup_seconds`) been timed too."""
        rates = [r["count"] / (r["seconds"] + r.get("startup_seconds", 0.0)) for r in self.runs]
        return statistics.median(rates) if rates else 0.0


def startup_note(ours: dict[Any, Figure]) -> str:
    """How long capitolmail's untimed start-up took (the median of its runs)."""
    values = [run["startup_seconds"] for f in ours.values() for run in f.runs]
    return (
        f"  capitolmail: {statistics.median(values) * 1000:.0f} ms of start-up per process"
        " (the provider opened, the collector settled) not timed, like its imports"
    )


def measure(kind: str, *, src: Path | None = None, **arguments: Any) -> dict[str, Any]:
    """Run one measurement in a fresh process and return what it printed; with `src`,
    capitolmail is imported from that checkout's src (a baseline)."""
    done = subprocess.run(
        [sys.executable, str(MEASURE), kind, json.dumps(arguments)],
        capture_output=True,
        text=True,
        env=child_env(src),
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} {arguments} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def against(sink: Sink, expected: int, figure: Figure, run: Callable[[], dict[str, Any]]) -> None:
    """Run once into `figure`, checking the sink got every message and noting its CPU share."""
    sink.reset()
    before = sink.stats()
    result = run()
    after = sink.stats()
    got = after["messages"] - before["messages"]
    if got != expected:
        raise SystemExit(f"the {sink.kind} sink received {got} messages, expected {expected}")
    result["sink_cpu"] = (after["cpu"] - before["cpu"]) / result["seconds"]
    result.setdefault("cpu_cores", result["cpu"] / result["seconds"])
    result["sink_bytes"] = after.get("bytes", 0) / max(got, 1)
    figure.runs.append(result)
    print(f"  {figure.label.strip():45} {result['rate']:7,.0f} msg/s", file=sys.stderr, flush=True)


# -- SMTP --------------------------------------------------------------------------------


def mailmerge_command() -> str:
    beside = shutil.which("mailmerge", path=str(Path(sys.executable).parent))
    found = beside or shutil.which("mailmerge")
    if found is None:
        raise SystemExit("mailmerge is not installed; pip install -e '.[bench]'")
    return found


def run_mailmerge(folder: Path, port: int, count: int, startup: float) -> dict[str, Any]:
    """The CLI as a team runs it, output to /dev/null; its start-up time is taken off."""
    template, database, config = write_mailmerge_inputs(folder, count, port)
    command = [
        mailmerge_command(),
        "--no-dry-run",
        "--no-limit",
        *("--template", str(template), "--database", str(database), "--config", str(config)),
    ]
    errors = folder / "stderr.txt"
    with errors.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        # wait4, not wait: its rusage is this child's alone (peak RSS, CPU).
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"mailmerge failed: {errors.read_text()[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "count": count,
        "seconds": wall - startup,
        "rate": count / (wall - startup),
        "cpu": cpu,
        "cpu_cores": cpu / wall,
        "peak_rss_kib": usage.ru_maxrss,
    }


def mailmerge_startup(folder: Path) -> float:
    """Seconds for `mailmerge --dry-run --limit 1`: imports, reading inputs, one render."""
    template, database, config = write_mailmerge_inputs(folder, 1, 25)
    command = [
        mailmerge_command(),
        "--dry-run",
        *("--limit", "1", "--template", str(template), "--database", str(database)),
        *("--config", str(config)),
    ]
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def against_capitolmail(
    sink: Sink, count: int, figure: Figure, store: Path, **settings: Any
) -> None:
    """One capitolmail run on a fresh copy of the pre-queued store, so every run sends it all."""
    run_db = store.with_name("run.db")
    shutil.copy(store, run_db)
    try:
        against(sink, count, figure, lambda: measure("capitolmail", db=str(run_db), **settings))
    finally:
        run_db.unlink()


def paired(
    sink: Sink,
    count: int,
    figure: Figure,
    twins: dict[str, Figure],
    store: Path,
    baseline: Path | None,
    **settings: Any,
) -> None:
    """This tree's run and the baseline's (`twins[figure.label]`), taken `in_turn`."""
    runs = [lambda: against_capitolmail(sink, count, figure, store, **settings)]
    if baseline is not None:
        twin = twins.setdefault(figure.label, Figure(f"{figure.label} (baseline)"))
        # The baseline's own store, queued by its own code: its schema may be older.
        baseline_store = store.parent / "baseline" / store.name
        runs.append(
            lambda: against_capitolmail(sink, count, twin, baseline_store, src=baseline, **settings)
        )
    for run in in_turn(runs, len(figure.runs)):
        run()


def print_baseline(ours: dict[Any, Figure], twins: dict[str, Figure], baseline: Path) -> None:
    """Each line against the baseline's: the ratio of the medians, and of each pair's runs."""
    if not twins:
        return
    print(f"  against the baseline ({baseline}), runs taken in pairs:")
    for figure in ours.values():
        twin = twins[figure.label]
        runs = zip(figure.runs, twin.runs, strict=True)
        pairs = [mine["rate"] / base["rate"] for mine, base in runs]
        faster = sum(ratio > 1 for ratio in pairs)
        print(
            f"  {figure.label:40} {figure.rate / twin.rate:5.2f}x the baseline's median"
            f" ({twin.rate:,.0f} msg/s); per pair {statistics.median(pairs):.2f}x,"
            f" faster in {faster} of {len(pairs)}"
        )


def smtp_config(config: tuple[int, int]) -> str:
    return f"{config[0]} conn, concurrency {config[1]}"


def smtp_section(
    work: Path,
    count: int,
    repeats: int,
    configs: list[tuple[int, int]],
    sinks: list[bool],
    baseline: Path | None = None,
) -> Any:
    """capitolmail into a sink without PIPELINING and one offering it (`sinks`: which),
    mailmerge and the ceilings into the plain one (smtplib's sendmail never pipelines)."""
    store = work / "smtp.db"
    ours = {
        (pipelining, config): Figure(
            f"capitolmail  {smtp_config(config)}{' PIPELINING' if pipelining else ''}"
        )
        for pipelining in sinks
        for config in configs
    }
    connection_counts = sorted({connections for connections, _ in configs})
    ceilings = {c: Figure(f"sink ceiling {c} persistent conn") for c in connection_counts}
    mailmerge = Figure("mailmerge 2.3.0 (new conn per message)")
    twins: dict[str, Figure] = {}
    startup = mailmerge_startup(work / "mailmerge-startup")
    with Sink("smtp") as plain, Sink("smtp", "--pipelining") as pipelined:
        for _ in range(repeats):
            for (pipelining, (connections, concurrency)), figure in ours.items():
                sink = pipelined if pipelining else plain
                paired(
                    sink,
                    count,
                    figure,
                    twins,
                    store,
                    baseline,
                    provider="smtp",
                    target=str(sink.port),
                    connections=connections,
                    concurrency=concurrency,
                )
            for connections, figure in ceilings.items():
                against(
                    plain,
                    count,
                    figure,
                    lambda c=connections: measure(
                        "smtp-ceiling",
                        payloads=str(work / "smtp.pickle"),
                        port=plain.port,
                        connections=c,
                    ),
                )
            against(
                plain,
                count,
                mailmerge,
                lambda: run_mailmerge(work / "mailmerge", plain.port, count, startup),
            )
    return ours, ceilings, mailmerge, startup, twins


# -- SendGrid ----------------------------------------------------------------------------


def sendgrid_section(
    work: Path,
    count: int,
    sequential_count: int,
    repeats: int,
    concurrencies: list[int],
    validate: bool,
    baseline: Path | None = None,
) -> Any:
    store = work / "sendgrid.db"
    twins: dict[str, Figure] = {}
    ours = {c: Figure(f"capitolmail  concurrency {c}") for c in concurrencies}
    ceilings = {c: Figure(f"stand-in ceiling {c} in flight") for c in concurrencies}
    sequential = Figure("official client, one at a time")
    flags = ["--latency", str(LATENCY), *(["--validate"] if validate else [])]
    with Sink("sendgrid", *flags) as sink:
        for repeat in range(repeats):
            for concurrency, figure in ours.items():
                paired(
                    sink,
                    count,
                    figure,
                    twins,
                    store,
                    baseline,
                    provider="sendgrid",
                    target=sink.url,
                    connections=concurrency,
                    concurrency=concurrency,
                )
            for concurrency, figure in ceilings.items():
                against(
                    sink,
                    count,
                    figure,
                    lambda c=concurrency: measure(
                        "sendgrid-ceiling",
                        payloads=str(work / "sendgrid.pickle"),
                        url=sink.url,
                        threads=c,
                    ),
                )
            if repeat == 0:  # latency-bound, so steady; one run saves ~10 s a repeat
                against(
                    sink,
                    sequential_count,
                    sequential,
                    lambda: measure("sendgrid-sequential", url=sink.url, count=sequential_count),
                )
    return ours, ceilings, sequential, twins


# -- the table ---------------------------------------------------------------------------

HEADER = (
    f"  {'':40} {'msg/s':>7} {'range':>11} {'vs ceiling':>10}"
    f" {'sender CPU':>10} {'sink CPU':>8} {'peak RSS':>15}"
)


def line(figure: Figure, ceiling: Figure | None = None) -> str:
    share = f"{figure.rate / ceiling.rate:.0%}" if ceiling and ceiling.rate else ""
    cpu = figure.median_of("cpu_cores")
    sink_cpu = figure.median_of("sink_cpu")
    peak = figure.median_of("peak_rss_kib")
    setup = figure.median_of("setup_rss_kib")
    rss = ""
    if peak is not None:
        rss = f"{peak / 1024:.0f} MiB"
        if setup is not None:
            rss = f"{setup / 1024:.0f} -> {rss}"
    return (
        f"  {figure.label:40} {figure.rate:7,.0f} {figure.spread():>11} {share:>10}"
        f" {cores(cpu):>10} {cores(sink_cpu):>8} {rss:>15}"
    )


def cores(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def print_smtp(result: Any, count: int, size: float, baseline: Path | None = None) -> None:
    ours, ceilings, mailmerge, startup, twins = result
    print(
        f"\nSMTP: {count:,} messages of {size:,.0f} bytes, into an aiosmtpd sink"
        " (own process, 250 to everything;\n  PIPELINING: into a second sink that offers it)"
    )
    print(HEADER)
    for (_, (connections, _)), figure in ours.items():
        print(line(figure, ceilings[connections]))
        if figure.label in twins:
            print(line(twins[figure.label], ceilings[connections]))
    print(line(mailmerge))
    for figure in ceilings.values():
        print(line(figure))
    print(
        f"  mailmerge: {startup:.2f} s of start-up (a --dry-run --limit 1) taken off its time;\n"
        f"  the sink got {mailmerge.median_of('sink_bytes') or 0:,.0f} bytes per message from it,"
        f" {next(iter(ours.values())).median_of('sink_bytes') or 0:,.0f} from capitolmail"
    )
    print(startup_note(ours))
    if baseline is not None:
        print_baseline(ours, twins, baseline)
    # Issue 17: the best line at the largest connection count, with and without PIPELINING.
    most = max(connections for _, (connections, _) in ours)
    for pipelining in sorted({pipelining for pipelining, _ in ours}, reverse=True):
        figures = {c: f for (p, c), f in ours.items() if p == pipelining and c[0] == most}
        best_config, best = max(figures.items(), key=lambda item: item[1].rate)
        share = best.rate / ceilings[most].rate
        ratio = best.rate / mailmerge.rate
        needed = SMTP_PIPELINED_SHARE if pipelining else SMTP_PLAIN_SHARE
        met = share >= needed and ratio >= SMTP_TARGET_RATIO
        print(
            f"  {'with' if pipelining else 'without'} PIPELINING, best"
            f" ({smtp_config(best_config)}): {best.rate:,.0f} msg/s = {ratio:.2f}x mailmerge,"
            f" {share:.0%} of the {most}-connection ceiling"
            f" ({best.rate_with_startup / ceilings[most].rate:.0%} with start-up)"
            f"\n  target: >= {needed:.0%} of"
            f" the ceiling and >= {SMTP_TARGET_RATIO:.0f}x mailmerge: {verdict(met)}",
            flush=True,
        )


def print_sendgrid(
    result: Any,
    count: int,
    size: float,
    sequential_count: int,
    validate: bool,
    baseline: Path | None = None,
) -> None:
    ours, ceilings, sequential, twins = result
    checks = "schema and limits" if validate else "limits only, schema validation off"
    print(
        f"\nSendGrid: {count:,} messages ({size:,.0f}-byte JSON bodies) into"
        " tests/servers/sendgrid.py's stand-in"
        f"\n  (own process, uvicorn, +{LATENCY * 1000:.0f} ms per request, checks {checks})"
    )
    print(HEADER)
    for concurrency, figure in ours.items():
        print(line(figure, ceilings[concurrency]))
        if figure.label in twins:
            print(line(twins[figure.label], ceilings[concurrency]))
    sequential.label += f" ({sequential_count})"
    print(line(sequential))
    for figure in ceilings.values():
        print(line(figure))
    best_concurrency, best = max(ours.items(), key=lambda item: item[1].rate)
    share = best.rate / ceilings[best_concurrency].rate
    if baseline is not None:
        print_baseline(ours, twins, baseline)
    print(
        f"  best capitolmail (concurrency {best_concurrency}): {best.rate:,.0f} msg/s ="
        f" {best.rate / sequential.rate:.0f}x the official client,\n"
        f"  {share:.0%} of the ceiling at {best_concurrency} in flight"
    )
    # Issue 17: >= 90 % of the ceiling measured at the same number in flight, at every
    # concurrency measured (64, 128 and 256; --quick measures 64 and 128 only).
    shares = {c: figure.rate / ceilings[c].rate for c, figure in ours.items()}
    met = all(share >= CEILING_SHARE for share in shares.values())
    listed = ", ".join(f"{share:.0%} at {c}" for c, share in shares.items())
    counted = ", ".join(
        f"{figure.rate_with_startup / ceilings[c].rate:.0%} at {c}" for c, figure in ours.items()
    )
    print(startup_note(ours))
    print(f"  with the start-up timed too: {counted}")
    print(
        f"  target: >= {CEILING_SHARE:.0%} of the ceiling at every concurrency ({listed}):"
        f" {verdict(met)}",
        flush=True,
    )


def parse_configs(text: str) -> list[tuple[int, int]]:
    try:
        pairs = [tuple(int(n) for n in item.split("x")) for item in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(pair) != 2 or min(pair) < 1 for pair in pairs):
        raise argparse.ArgumentTypeError(f'"{text}" is not like "4x4,8x32"')
    return [(pair[0], pair[1]) for pair in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 run each, fewer messages")
    parser.add_argument("--repeats", type=int, help="runs per figure (default 3, quick 1)")
    parser.add_argument("--only", choices=["smtp", "sendgrid"], help="run one section")
    parser.add_argument(
        "--smtp-configs",
        type=parse_configs,
        help='SMTP "CONNECTIONSxCONCURRENCY,..." (default 4x4,8x8,8x32; quick 4x4,8x32)',
    )
    parser.add_argument(
        "--pipelining",
        choices=["both", "on", "off"],
        default="both",
        help="SMTP into a sink offering PIPELINING (on), one without (off), or both (default)",
    )
    parser.add_argument(
        "--validate",
        action="store_true",
        help="let the SendGrid stand-in validate every body against SendGrid's OpenAPI schema",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="SRC",
        help="another checkout's src: each capitolmail run is paired with one of it, on a"
        " store its own code queued, and the ratios printed",
    )
    args = parser.parse_args()
    if args.baseline is not None and not (args.baseline / "capitolmail").is_dir():
        parser.error(f"--baseline {args.baseline}: no capitolmail package there")
    repeats = args.repeats or (1 if args.quick else 3)
    smtp_count, sendgrid_count, sequential_count = (
        (500, 1000, 50) if args.quick else (2000, 5000, 200)
    )
    started = time.perf_counter()
    print(
        f"capitolmail send benchmark: {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" median of {repeats} run{'s' if repeats > 1 else ''} per figure\n"
        "  range: slowest-fastest run; vs ceiling: share of the ceiling at the same connections\n"
        "  or requests in flight; CPU: cores busy while timed, in the sending process and in\n"
        "  the sink; peak RSS: the sending process's, before sending -> at the end",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="capitolmail-bench-") as tmp:
        work = Path(tmp)
        counts = {
            "smtp_count": smtp_count if args.only != "sendgrid" else 1,
            "sendgrid_count": sendgrid_count if args.only != "smtp" else 1,
        }
        sizes = measure("prepare", directory=str(work), **counts)
        if args.baseline is not None:
            (work / "baseline").mkdir()
            measure("prepare", src=args.baseline, directory=str(work / "baseline"), **counts)
        if args.only != "sendgrid":
            configs = args.smtp_configs or ([(4, 4), (8, 32)] if args.quick else SMTP_CONFIGS)
            sinks = {"both": [False, True], "on": [True], "off": [False]}[args.pipelining]
            result = smtp_section(work, smtp_count, repeats, configs, sinks, args.baseline)
            print_smtp(result, smtp_count, sizes["smtp_bytes"], args.baseline)
        if args.only != "smtp":
            concurrencies = SENDGRID_CONCURRENCY[:2] if args.quick else SENDGRID_CONCURRENCY
            result = sendgrid_section(
                work,
                sendgrid_count,
                sequential_count,
                repeats,
                concurrencies,
                args.validate,
                args.baseline,
            )
            print_sendgrid(
                result,
                sendgrid_count,
                sizes["sendgrid_bytes"],
                sequential_count,
                args.validate,
                args.baseline,
            )
    print(f"\n(took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
