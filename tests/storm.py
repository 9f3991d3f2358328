"""The SIGKILL storm: worker processes killed at random points and restarted, on a
shared job, while messages go to a loopback relay (SMTP) or the SendGrid stand-in.

Shared by `benchmarks/storm.py` (long, with figures) and `tests/test_storm.py`
(a few kills, assertions). What it counts is what a GR team would ask after such
a day: did anyone get the letter twice, did anything vanish, and how many of the
messages left `unknown` did in fact arrive (the closer to all, the better the
`handed_over_at` mark sits at the irreversible step).
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner

from capitolmail.cli import main
from capitolmail.outbox import REQUEUED_DETAIL, Store
from capitolmail.workspace import init_workspace

from .servers.sendgrid import SendGridStandIn
from .servers.smtp import running_mail_server
from .workers import handed_over_by, kill, senate_wide, start_worker, use_smtp

API_KEY = "SG.capitolmail-test.abcdefghijklmnopqrstuvwxyz"


@dataclass
class StormReport:
    messages: int = 0
    kills: int = 0
    duplicates: int = 0  # deliveries beyond the first, summed over messages
    lost: int = 0  # neither arrived nor unknown, or in a state that is not final
    sent: int = 0
    unknown: int = 0
    unknown_arrived: int = 0
    requeued: int = 0  # put back in `queued` by recovery at least once
    requeued_not_sent_once: int = 0  # of those: delivered twice, or neither sent nor unknown
    seconds: float = 0.0
    states: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # why the lost ones ended so

    @property
    def unknown_arrived_share(self) -> float | None:
        return self.unknown_arrived / self.unknown if self.unknown else None

    def lines(self) -> list[str]:
        share = self.unknown_arrived_share
        return [
            f"messages {self.messages}, kills {self.kills}, {self.seconds:.0f} s",
            f"states {dict(sorted((str(k), v) for k, v in self.states.items()))}",
            f"duplicates {self.duplicates}, lost {self.lost}",
            f"unknown {self.unknown}, of which arrived {self.unknown_arrived}"
            + (f" ({share:.0%})" if share is not None else ""),
            f"queued again after a kill {self.requeued}, "
            f"of which delivered twice or lost {self.requeued_not_sent_once}",
            *(f"lost: {count} x {error}" for error, count in self.errors.most_common()),
        ]


class _Receiver:
    """What arrived, as our message ids with their delivery counts."""

    def __init__(self, received: Callable[[], Counter[str]]) -> None:
        self.received = received


@contextmanager
def _smtp(workspace: Path, concurrency: int, slow: float) -> Iterator[_Receiver]:
    with running_mail_server() as server:
        if slow:
            server.slow("DATA", slow)
        use_smtp(workspace, server, concurrency=concurrency, worker="heartbeat_seconds = 0.5\n")
        yield _Receiver(lambda: Counter(r.message["Message-ID"][1:37] for r in server.received()))


@contextmanager
def _sendgrid(workspace: Path, concurrency: int, slow: float) -> Iterator[_Receiver]:
    with SendGridStandIn(API_KEY, latency=slow) as server:
        senate_wide(workspace)
        config = workspace / "capitolmail.toml"
        config.write_text(
            config.read_text().replace('name = "file"', 'name = "sendgrid"')
            + f'\n[provider.sendgrid]\nbase_url = "{server.url}"\nsandbox_mode = true\n'
            f"\n[worker]\nconcurrency = {concurrency}\nheartbeat_seconds = 0.5\n"
        )
        yield _Receiver(
            lambda: Counter(
                p["personalizations"][0]["custom_args"]["capitolmail_message_id"]
                for p in list(server.accepted)
            )
        )


def run_storm(
    root: Path,
    *,
    database_url: str | None = None,
    provider: str = "smtp",
    workers: int = 3,
    kills: int = 10,
    concurrency: int = 8,
    slow: float = 0.02,
    gap: tuple[float, float] = (0.0, 0.5),
    max_seconds: float = 300,
    seed: int = 11,
    kill_when: Callable[[subprocess.Popen[bytes]], bool] | None = None,
) -> StormReport:
    """Queue the Senate-wide letter (200 messages) in a fresh workspace under `root`,
    run `workers` long-running workers, SIGKILL one at random every `gap` seconds
    (or, with `kill_when`, once it holds for the victim) and start a new one, up to
    `kills` times; then let the job finish, stop them and count."""
    import os

    rng = random.Random(seed)
    workspace = root / "ws"
    init_workspace(workspace)
    env_before = os.environ.get("CAPITOLMAIL_DATABASE_URL")
    if database_url is not None:
        os.environ["CAPITOLMAIL_DATABASE_URL"] = database_url
    if provider == "sendgrid":
        os.environ["CAPITOLMAIL_SENDGRID_API_KEY"] = API_KEY
    receiving = _sendgrid if provider == "sendgrid" else _smtp
    report = StormReport()
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(main, ["--workspace", str(workspace), *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    try:
        with receiving(workspace, concurrency, slow) as receiver:
            assert cli("queue", "block-arms-sale").strip() == "1"
            cli("send", "1")
            url = database_url or f"sqlite:///{workspace / '.capitolmail' / 'capitolmail.db'}"
            started = time.monotonic()
            with Store.open(url) as store:
                running = [start_worker(workspace, "--poll", "0.2") for _ in range(workers)]
                try:
                    while report.kills < kills and store.get_job(1).state != "done":
                        assert time.monotonic() - started < max_seconds, "the storm ran too long"
                        ready = kill_when or (
                            lambda v: handed_over_by(url, v.pid, handed_over=False) > 0
                        )
                        # The first worker (in random order) at a point to kill at: waiting
                        # for one chosen in advance lets the others finish the job while it
                        # is still starting up on a loaded machine.
                        deadline = time.monotonic() + 60
                        index = None
                        while index is None and store.get_job(1).state != "done":
                            assert time.monotonic() < deadline, "no point to kill at"
                            order = rng.sample(range(len(running)), len(running))
                            index = next((i for i in order if ready(running[i])), None)
                            if index is None:
                                time.sleep(0.01)
                        if index is None:
                            break
                        victim = running[index]
                        if kill_when is None:
                            time.sleep(rng.uniform(*gap))  # a random point, by design
                        kill(victim)
                        report.kills += 1
                        running[index] = start_worker(workspace, "--poll", "0.2")
                    while store.get_job(1).state != "done":
                        assert time.monotonic() - started < max_seconds, "the job did not finish"
                        time.sleep(0.05)
                    for worker in running:
                        _stop(worker)
                finally:
                    for worker in running:
                        kill(worker)
                report.seconds = time.monotonic() - started
                _count(report, store, receiver.received())
    finally:
        if env_before is None:
            os.environ.pop("CAPITOLMAIL_DATABASE_URL", None)
        else:
            os.environ["CAPITOLMAIL_DATABASE_URL"] = env_before
    return report


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM; a worker started moments ago may not have its handler yet (-15)."""
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=60)
    assert worker.returncode in (0, -signal.SIGTERM), stderr.decode()


def _count(report: StormReport, store: Store, received: Counter[str]) -> None:
    messages = store.list_messages(1)
    report.messages = len(messages)
    report.states = Counter(m.state for m in messages)
    report.duplicates = sum(count - 1 for count in received.values() if count > 1)
    report.sent = report.states["sent"]
    report.unknown = report.states["unknown"]
    requeued = {
        e.message_id
        for e in store.list_events(1)
        if e.kind == "queued" and e.detail == REQUEUED_DETAIL
    }
    report.requeued = len(requeued)
    for message in messages:
        arrived = received.get(message.id, 0)
        if message.state == "unknown":
            report.unknown_arrived += arrived > 0
        elif message.state != "sent" or arrived == 0:
            report.lost += 1
            report.errors[f"{message.state}: {message.last_error}"] += 1
        if message.id in requeued and (
            arrived > 1 or (message.state != "unknown" and arrived != 1)
        ):
            report.requeued_not_sent_once += 1
