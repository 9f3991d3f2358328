"""A running worker syncs the inbound mailbox every [inbox] sync_minutes, beside sending."""

from __future__ import annotations

import mailbox
import signal
from pathlib import Path

from capitolmail.outbox import Store

from ..conftest import Invoke
from ..workers import start_worker, wait_until
from .test_inbox_files import job, reply, use_mailbox


def test_running_worker_records_a_reply_that_arrives_while_it_runs(
    workspace: Path, cli: Invoke, tmp_path: Path
) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("send", "1").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    first = job(cli)["messages"][0]
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    use_mailbox(workspace, "maildir", tmp_path / "Maildir", "sync_minutes = 0.005\n")
    url = f"sqlite:///{workspace / '.capitolmail' / 'capitolmail.db'}"

    def replied() -> bool:
        with Store.open(url) as store:
            kinds = [event.kind for event in store.list_events(1, message_id=first["id"])]
        return "event_replied" in kinds

    worker = start_worker(workspace, log=tmp_path / "worker.log")
    try:
        wait_until(
            lambda: "inbox: 0 read" in (tmp_path / "worker.log").read_text(),
            what="the worker's first inbox sync",
        )
        assert not replied()
        box.add(bytes(reply(first)))
        wait_until(replied, what="the reply to be recorded by the running worker")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
    assert worker.returncode == 0
    log = (tmp_path / "worker.log").read_text()
    assert "inbox: 1 read: 0 bounces, 0 soft bounces, 1 replies" in log
