"""A SendGrid worker rides out lost PostgreSQL connections like an SMTP one.

SendGrid's requests wait for their hand-over marks inside the provider's event
loop, where the send loop commits them between the loop's turns
(sending/provider_calls.py): a mark cut as it commits must refuse its request, and
what ended before it must still be recorded, once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import Invoke
from ..servers.sendgrid import SendGridStandIn
from ..servers.tcp_proxy import TcpProxy
from ..workers import TOTAL, job, senate_wide, start_worker
from .conftest import cut_while_sending, through

API_KEY = "SG.stand-in-key.0123456789abcdef"
CONCURRENCY = 16


@pytest.fixture
def sendgrid(
    workspace: Path, postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SendGridStandIn]:
    """The stand-in, a little slow so that requests are in flight at every cut."""
    monkeypatch.setenv("CAPITOLMAIL_DATABASE_URL", postgresql_url)
    monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", API_KEY)
    with SendGridStandIn(API_KEY, latency=0.02) as server:
        senate_wide(workspace)
        config = workspace / "capitolmail.toml"
        config.write_text(
            "allow_example_values = true\n"
            + config.read_text().replace('name = "file"', 'name = "sendgrid"')
            + f'\n[provider.sendgrid]\nbase_url = "{server.url}"\nsandbox_mode = true\n'
            f"\n[worker]\nconcurrency = {CONCURRENCY}\nheartbeat_seconds = 0.5\n"
            "database_outage_seconds = 120\n"
        )
        yield server


def test_a_sendgrid_worker_rides_out_cut_after_cut_and_sends_everything_once(
    workspace: Path, cli: Invoke, sendgrid: SendGridStandIn, proxy: TcpProxy, postgresql_url: str
) -> None:
    assert cli("queue", "block-arms-sale").stdout == "1\n"
    assert cli("send", "1").exit_code == 0
    log = workspace.parent / "worker.log"
    worker = start_worker(workspace, "--once", database_url=through(proxy, postgresql_url), log=log)
    cut_while_sending(worker, proxy, lambda: len(sendgrid.accepted_ids()), first=5, step=3)
    text = log.read_text()
    assert worker.returncode == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert "lost the outbox database" in text
    final = job(cli)
    states = {m["id"]: m["state"] for m in final["messages"]}
    assert final["state"] == "done"
    assert Counter(states.values()) == {"sent": TOTAL}
    arrived = Counter(sendgrid.accepted_ids())
    assert set(arrived) == set(states), "a message never arrived, or one the job lacks did"
    assert max(arrived.values()) == 1, "a message reached SendGrid twice"
