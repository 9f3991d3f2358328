"""One pace for the provider, held by three worker processes together.

`worker.rate` is the relay's limit (or SendGrid's account limit), not one worker's:
three workers at "40/s" must send 40 a second between them, not 120. And a throttle
met by one worker is the provider's answer to all of them: the others slow down
too. Measured where it counts, at the SMTP sink, from the times messages arrived.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from capitolmail.outbox.provider_pace import BURST_SECONDS

from .conftest import Invoke, use_smtp_relay
from .servers.smtp import MailServer, running_mail_server
from .workers import assert_exactly_once, job, kill, start_worker, stop, wait_until

# Messages per second, for the three workers together. Low enough that three
# workers on a busy 2-core machine (other tests running) still have room to spare
# above it: a test of a limit must not measure the machine's ceiling instead.
RATE = 10
BURST = int(RATE * BURST_SECONDS)  # what the shared pace lets go at once
TOTAL = 44  # the worked example: 22 SSFR members, two staff contacts each, ~4.4 s


def _use_relay(workspace: Path, server: MailServer, worker: str = "", *, threads: int = 8) -> None:
    use_smtp_relay(
        workspace,
        server.port,
        smtp=f"connections = {threads}\n",
        rest=f'\n[worker]\nconcurrency = {threads}\nrate = "{RATE}/s"\n{worker}',
    )


def _registered(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM workers")).scalar_one()
    finally:
        engine.dispose()


def _senders(database_url: str) -> set[str]:
    """The workers that claimed the job's messages (their last claim)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT DISTINCT claimed_by FROM messages")).scalars())
    finally:
        engine.dispose()


@contextmanager
def _workers(
    workspaces: list[Path], database_url: str, log_dir: Path, *, first: int = 0
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """One worker per workspace given, all registered before the body runs; their logs
    are w{first}.log, w{first + 1}.log and so on, beside any started before them."""
    workers = [
        start_worker(ws, database_url=database_url, log=log_dir / f"w{n}.log")
        for n, ws in enumerate(workspaces, start=first)
    ]
    try:
        wait_until(
            lambda: _registered(database_url) == first + len(workers),
            what="every worker to register",
        )
        yield workers
    finally:
        for worker in workers:
            kill(worker)


def _rate(times: list[float]) -> float:
    """Messages per second over the whole send, the opening burst taken off.

    The pace lets a burst (a second's worth) go at once and then RATE a second, so
    by any moment T after the first arrival at most BURST + RATE * T have arrived.
    How fast the workers use up the burst depends on the machine (a busy one took
    two seconds at ~14/s): counting it out of the total, rather than skipping a
    fixed number of first arrivals, measures the pace and not the machine.
    """
    times = sorted(times)
    return (len(times) - BURST) / (times[-1] - times[0])


def test_three_workers_send_at_the_providers_rate_together(
    workspace: Path, cli: Invoke, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPITOLMAIL_DATABASE_URL", database_url)
    with running_mail_server() as server:
        # A quarter of a second per message and two at a time: no one worker can keep
        # up with RATE alone (8/s at most), so the turns are shared among them.
        server.slow("DATA", 0.25)
        _use_relay(workspace, server, threads=2)
        assert cli("queue", "block-arms-sale").stdout == "1\n"
        with _workers([workspace] * 3, database_url, workspace.parent) as workers:
            assert cli("send", "1").exit_code == 0
            wait_until(lambda: len(server.received()) == TOTAL, what="every message", timeout=60)
            wait_until(lambda: job(cli)["state"] == "done", what="the job to be done")
            for worker in workers:
                stop(worker)
        states = {m["id"]: m["state"] for m in job(cli)["messages"]}
        assert set(states.values()) == {"sent"}
        assert_exactly_once(states, server)
        # Several took part, and between them kept to the one rate.
        assert len(_senders(database_url)) >= 2
        arrivals = [r.at for r in server.received()]
        measured = _rate(arrivals)
        assert measured == pytest.approx(RATE, rel=0.10), _per_second(arrivals)


def _per_second(times: list[float]) -> list[int]:
    """Arrivals in each second from the first: what a failure shows."""
    start = min(times)
    counts = [0] * (int(max(times) - start) + 1)
    for at in times:
        counts[int(at - start)] += 1
    return counts


def _second_workspace(workspace: Path, server: MailServer, relay: MailServer) -> Path:
    """The same workspace, sending through `relay` instead of `server`."""
    other = workspace.parent / "ws-relay-2"
    shutil.copytree(workspace, other, ignore=shutil.ignore_patterns(".capitolmail"))
    config = other / "capitolmail.toml"
    config.write_text(
        config.read_text().replace(f"port = {server.port}\n", f"port = {relay.port}\n")
    )
    return other


def _arrived(server: MailServer, start: float, end: float) -> int:
    return sum(start <= r.at < end for r in server.received())


def test_a_throttle_met_by_one_worker_slows_the_others(
    workspace: Path, cli: Invoke, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One worker sends through a relay that throttles, two through one that
    never does (the same provider, "smtp", as one relay with two doors): the two slow
    down when the first is throttled, though they were never refused themselves."""
    monkeypatch.setenv("CAPITOLMAIL_DATABASE_URL", database_url)
    with running_mail_server() as throttling, running_mail_server() as steady:
        _use_relay(workspace, throttling, "retry_base_seconds = 0.1\nretry_cap_seconds = 0.2\n")
        other = _second_workspace(workspace, throttling, steady)
        assert cli("queue", "block-arms-sale").stdout == "1\n"
        # One a second: less than the first worker's part of the shared rate, however
        # the claims fall between three workers on a busy machine.
        throttling.throttle(1, 1.0)
        # The throttled worker starts alone, so it meets the throttle however a busy
        # machine would have shared the claims; the two others start after the cut and
        # must take the pace it set from the database, never refused themselves.
        with _workers([workspace], database_url, workspace.parent) as throttled:
            assert cli("send", "1").exit_code == 0
            wait_until(lambda: throttling.throttled > 0, what="the first throttle")
            throttling.throttle(1000, 1.0)  # met once is enough: the rest goes out sooner
            with _workers([other, other], database_url, workspace.parent, first=1) as others:
                wait_until(
                    lambda: job(cli)["state"] == "done", what="the job to be done", timeout=90
                )
                stderrs = [stop(worker) for worker in [*throttled, *others]]
        # The steady relay's two workers began at the shared, lowered pace: at most half
        # the rate. Had they not taken the cut, they would have gone at RATE between them.
        arrivals = [r.at for r in steady.received()]
        assert arrivals, "the two workers started after the cut sent nothing"
        begin = min(arrivals)
        after = _arrived(steady, begin, begin + 2.0) / 2.0
        assert after <= 0.6 * RATE, (after, _per_second(arrivals))
        logs = [(workspace.parent / f"w{n}.log").read_text() for n in range(3)]
        assert "relay throttling: pace lowered to" in logs[0]
        assert any("as another worker set it" in log for log in logs[1:]), logs
        assert stderrs == ["", "", ""]
        states = {m["id"]: m["state"] for m in job(cli)["messages"]}
        assert set(states.values()) == {"sent"}
