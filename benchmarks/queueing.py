"""Queueing an action alert to many supporters: messages queued per second and peak RSS.

    PYTHONPATH=src python benchmarks/queueing.py                 # 300,000 supporters, 3 runs
    PYTHONPATH=src python benchmarks/queueing.py --supporters 50000 --repeats 1

Issue 6's target: at least 5,000 messages/s on SQLite with peak RSS under 300 MB,
printed beside the ceilings measured in the same run: the same two templates
rendered alone (text + HTML, same contexts), and the same number of pre-rendered
rows inserted alone. Their combined ceiling (one render plus one insert per
message, nothing else) is what queueing could reach if reading supporters,
resolving their legislators, signing unsubscribe links and checking the
suppression list were free.

Setup (untimed) builds a workspace from the worked example and writes N generated
supporters straight into its SQLite store: real ZIPs from the crosswalk (so some
are split between districts), all consenting, all tagged for the example alert.
Each measurement then runs in a fresh child process on a fresh copy of that
store, so its peak RSS (`ru_maxrss`) is its own. The setup runs in a child too:
Linux carries a process's peak RSS over to the child it starts (at the fork, and
through exec), so a parent that had built 300,000 supporters itself would set the
floor of every measurement's figure.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGET_RATE = 5000.0
TARGET_RSS_MB = 300.0
ALERT = "urge-senators"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# -- setup -------------------------------------------------------------------------------


def build(directory: Path, count: int) -> Path:
    from capitolmail.config import load_settings
    from capitolmail.outbox import Store
    from capitolmail.outbox.supporters import SupporterRecord
    from capitolmail.recipients.zipcodes import districts_for_zip
    from capitolmail.workspace import init_workspace

    workspace = directory / "ws"
    init_workspace(workspace)
    settings = load_settings(workspace)
    crosswalk = (
        Path(__file__).resolve().parents[1]
        / "src/capitolmail/recipients/data/zip-districts/zccd.csv"
    )
    zips = sorted({line.split(",")[2] for line in crosswalk.read_text().splitlines()[1:]})
    rng = random.Random(6)
    now = datetime.now(UTC)
    with Store.open(settings.database_url_for(workspace)) as store:
        for start in range(0, count, 5000):
            batch = []
            for n in range(start, min(start + 5000, count)):
                zip5 = rng.choice(zips)
                places = districts_for_zip(zip5)
                state, district = places[0] if places else (None, None)
                email = f"supporter{n:07d}@example.net"
                batch.append(
                    SupporterRecord(
                        email=email,
                        email_key=email,
                        first_name=rng.choice(["Ada", "Ben", "Carmen", "Dee", "Eli", "Fatima"]),
                        last_name=f"Tester{n}",
                        postal_code=zip5,
                        state=state,
                        district=district if len(places) == 1 else None,
                        consent=True,
                        consent_at=now,
                        tags=("arms-trade",),
                    )
                )
            store.upsert_supporters(batch, import_id=str(uuid.uuid4()), now=now)
    return workspace


# -- measurements (each in its own process) -------------------------------------------------


def _prepared(workspace: Path) -> Any:
    from capitolmail.config import load_settings
    from capitolmail.letters.definition import load_letter
    from capitolmail.letters.kinds.alert import prepare_alert
    from capitolmail.recipients.legislators import workspace_roster

    settings = load_settings(workspace)
    secret = settings.unsubscribe_secret
    assert secret is not None
    return prepare_alert(
        load_letter(workspace, ALERT),
        root=workspace,
        roster=workspace_roster(workspace),
        organisation=settings.organisation,
        sender=settings.sender,
        web=settings.web,
        unsubscribe_secret=secret.get_secret_value(),
    )


def measure_queue(workspace: Path) -> dict[str, Any]:
    """capitolmail's own path: `capitolmail queue urge-senators`, minus the terminal."""
    from capitolmail.config import load_settings
    from capitolmail.letters.queue import queue
    from capitolmail.outbox import Store

    settings = load_settings(workspace)
    store = Store.open(settings.database_url_for(workspace))
    prepared = _prepared(workspace)
    setup_rss = peak_rss_mb()
    started = time.perf_counter()
    result = queue(store, prepared, now=datetime.now(UTC))
    seconds = time.perf_counter() - started
    stored = store.get_job(result.job_id).total  # type: ignore[arg-type]
    store.close()
    return {
        "count": stored,
        "seconds": seconds,
        "setup_rss_mb": setup_rss,
        "peak_rss_mb": peak_rss_mb(),
    }


def _contexts(workspace: Path) -> list[dict[str, Any]]:
    """The contexts the alert kind builds, built before the clock starts."""
    from capitolmail.config import load_settings
    from capitolmail.outbox import Store
    from capitolmail.recipients.constituents import DelegationFinder
    from capitolmail.recipients.legislators import workspace_roster

    settings = load_settings(workspace)
    prepared = _prepared(workspace)
    finder = DelegationFinder(workspace_roster(workspace))
    contexts = []
    with Store.open(settings.database_url_for(workspace)) as store:
        for page in store.iter_supporters():
            for supporter in page:
                found = finder.find(supporter.state, supporter.district, supporter.postal_code)
                contexts.append(
                    {
                        "organisation": settings.organisation,
                        "sender": prepared.sender,
                        "letter": {"slug": ALERT, "description": ""},
                        "list_name": prepared.list_name,
                        "supporter": supporter,
                        "senators": found.senators,
                        "representative": found.representative,
                        "representatives": found.representatives,
                        "district_known": found.district_known,
                        "delegation": found,
                        "unsubscribe_url": f"https://act.example.org/u/{supporter.id}",
                    }
                )
    return contexts


def measure_render(workspace: Path) -> dict[str, Any]:
    """Ceiling 1: the two templates (and the subject) rendered alone."""
    prepared = _prepared(workspace)
    contexts = _contexts(workspace)
    started = time.perf_counter()
    for context in contexts:
        prepared.templates.render(context)
    seconds = time.perf_counter() - started
    return {"count": len(contexts), "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def measure_insert(workspace: Path, count: int) -> dict[str, Any]:
    """Ceiling 2: `count` pre-rendered messages inserted alone, as create_job does."""
    from capitolmail.config import load_settings
    from capitolmail.message import OutgoingMessage
    from capitolmail.outbox import QueuedMessage, Store

    settings = load_settings(workspace)
    prepared = _prepared(workspace)
    sample = prepared.templates.render(_contexts_one(workspace))
    headers = (
        ("List-Unsubscribe", "<https://act.example.org/u/x>, <mailto:policy@example.org>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("List-Id", "Action alerts <action-alerts.example.org>"),
    )
    rows = [
        QueuedMessage(
            OutgoingMessage(
                message_id=str(uuid.uuid4()),
                job_id="",
                from_email="advocacy@example.org",
                from_name="Example Rights Coalition",
                to_email=f"supporter{n:07d}@example.net",
                to_name=f"Ada Tester{n}",
                subject=sample.subject,
                text=sample.text,
                html=sample.html,
                reply_to="policy@example.org",
                headers=headers,
                categories=(ALERT,),
            ),
            supporter_id=str(n),
        )
        for n in range(count)
    ]
    with Store.open(settings.database_url_for(workspace)) as store:
        started = time.perf_counter()
        store.create_job(letter_slug=ALERT, kind="alert", messages=rows, now=datetime.now(UTC))
        seconds = time.perf_counter() - started
    return {"count": count, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def _contexts_one(workspace: Path) -> dict[str, Any]:
    from capitolmail.config import load_settings
    from capitolmail.outbox import Store
    from capitolmail.recipients.constituents import Delegation

    settings = load_settings(workspace)
    with Store.open(settings.database_url_for(workspace)) as store:
        supporter = next(iter(store.iter_supporters(page_size=1)))[0]
    prepared = _prepared(workspace)
    return {
        "organisation": settings.organisation,
        "sender": prepared.sender,
        "letter": {"slug": ALERT, "description": ""},
        "list_name": prepared.list_name,
        "supporter": supporter,
        "senators": (),
        "representative": None,
        "representatives": (),
        "district_known": False,
        "delegation": Delegation(supporter.state, (), (), district_known=False),
        "unsubscribe_url": "https://act.example.org/u/x",
    }


# -- the parent ------------------------------------------------------------------------------


def child(kind: str, workspace: Path, count: int) -> dict[str, Any]:
    """Run one measurement in a fresh process on a fresh copy of the workspace."""
    copy = Path(tempfile.mkdtemp(prefix="capitolmail-queue-"))
    try:
        shutil.copytree(workspace, copy / "ws")
        output = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(copy / "ws"), str(count)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["rate"] = result["count"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--supporters", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "WORKSPACE", "COUNT"))
    parser.add_argument("--build", nargs=2, metavar=("FOLDER", "COUNT"))
    args = parser.parse_args()
    if args.build:
        build(Path(args.build[0]), int(args.build[1]))
        return
    if args.child:
        kind, workspace, count = args.child[0], Path(args.child[1]), int(args.child[2])
        runs = {
            "queue": lambda: measure_queue(workspace),
            "render": lambda: measure_render(workspace),
            "insert": lambda: measure_insert(workspace, count),
        }
        print(json.dumps(runs[kind]()))
        return

    with tempfile.TemporaryDirectory(prefix="capitolmail-bench-") as tmp:
        print(f"setup: generating {args.supporters:,} supporters…", file=sys.stderr)
        # The parent never imports capitolmail: its peak RSS stays that of a bare Python.
        command = [sys.executable, __file__, "--build", tmp, str(args.supporters)]
        subprocess.run(command, check=True)
        workspace = Path(tmp) / "ws"
        results: dict[str, list[dict[str, Any]]] = {"queue": [], "render": [], "insert": []}
        for repeat in range(args.repeats):
            for kind in results:  # in turn, so a noisy minute hits every line alike
                run = child(kind, workspace, args.supporters)
                results[kind].append(run)
                print(
                    f"run {repeat + 1}/{args.repeats} {kind}: {run['count']:,} in "
                    f"{run['seconds']:.1f} s = {run['rate']:,.0f}/s, "
                    f"peak RSS {run['peak_rss_mb']:.0f} MB",
                    file=sys.stderr,
                )
    report(results, args.supporters)


def report(results: dict[str, list[dict[str, Any]]], supporters: int) -> None:
    def median(kind: str, key: str) -> float:
        return statistics.median(run[key] for run in results[kind])

    queue, render, insert = (median(kind, "rate") for kind in ("queue", "render", "insert"))
    combined = 1 / (1 / render + 1 / insert)
    rss = max(run["peak_rss_mb"] for run in results["queue"])
    queued = results["queue"][0]["count"]
    rows = [
        ("capitolmail queue (render + store)", f"{queue:,.0f} msg/s", f"{queue / combined:.0%}"),
        ("ceiling: render text + HTML alone", f"{render:,.0f} renders/s", ""),
        ("ceiling: insert pre-rendered rows alone", f"{insert:,.0f} rows/s", ""),
        ("ceiling: render + insert, nothing else", f"{combined:,.0f} msg/s", "100%"),
    ]
    print(f"\nQueueing an alert to {supporters:,} supporters ({queued:,} messages), SQLite,")
    print(f"median of {len(results['queue'])} runs each:\n")
    width = max(len(name) for name, _, _ in rows)
    for name, figure, share in rows:
        print(f"  {name:<{width}}  {figure:>18}  {share:>5}")
    print(f"\n  peak RSS of the queueing process: {rss:.0f} MB")
    print(
        f"\n  target ≥ {TARGET_RATE:,.0f} msg/s: {'met' if queue >= TARGET_RATE else 'MISSED'}"
        f"; target peak RSS < {TARGET_RSS_MB:.0f} MB: "
        f"{'met' if rss < TARGET_RSS_MB else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
