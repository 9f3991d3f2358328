"""`workers`: the worker processes registered in the outbox, and what each is sending.

With several workers on several machines (one PostgreSQL store), this is where an
operator sees which are alive, which have stopped beating (and will be recovered by
the others after `worker.stale_after`), and which jobs' messages each holds.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click
from rich.table import Table

from capitolmail.cli.context import now, pass_workspace
from capitolmail.display import err, out, print_json
from capitolmail.job_view import when
from capitolmail.outbox import WorkerView
from capitolmail.timing.durations import format_seconds
from capitolmail.workspace import Workspace


@click.command("workers")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@pass_workspace
def workers_command(workspace: Workspace, as_json: bool) -> None:
    """List the workers registered in the outbox: host, pid, heartbeat (stale when silent)
    and the messages each is sending."""
    current = now()
    stale_after = workspace.settings.worker.stale_after.total_seconds()
    rows = workspace.store.list_workers()
    if as_json:
        print_json({"workers": [_worker_json(w, current, stale_after) for w in rows]})
        return
    if not rows:
        err.print("No workers running: `capitolmail worker` starts one.")
        return
    out.print(_workers_table(rows, current, stale_after, ZoneInfo(workspace.settings.timezone)))


def _state(worker: WorkerView, current: datetime, stale_after: float) -> str:
    """`stale` once the heartbeat is older than `worker.stale_after`: presumed dead, the
    next heartbeat of another worker recovers its rows."""
    return "stale" if _age(worker, current) > stale_after else "alive"


def _age(worker: WorkerView, current: datetime) -> float:
    return max((current - worker.heartbeat_at).total_seconds(), 0.0)


def _sending_text(worker: WorkerView) -> str:
    if not worker.sending:
        return "idle"
    return ", ".join(f"job {job}: {count}" for job, count in worker.sending.items())


def _workers_table(
    rows: list[WorkerView], current: datetime, stale_after: float, zone: ZoneInfo
) -> Table:
    table = Table()
    for column in ("host", "pid", "started", "heartbeat", "state", "sending"):
        table.add_column(column, justify="right" if column == "pid" else "left")
    for worker in rows:
        table.add_row(
            worker.host,
            str(worker.pid),
            when(worker.started_at, zone),
            f"{format_seconds(_age(worker, current))} ago",
            _state(worker, current, stale_after),
            _sending_text(worker),
        )
    return table


def _worker_json(worker: WorkerView, current: datetime, stale_after: float) -> dict[str, object]:
    return {
        "id": worker.id,
        "host": worker.host,
        "pid": worker.pid,
        "started_at": worker.started_at.isoformat(),
        "heartbeat_at": worker.heartbeat_at.isoformat(),
        "heartbeat_age_seconds": round(_age(worker, current), 1),
        "state": _state(worker, current, stale_after),
        "sending": {str(job): count for job, count in worker.sending.items()},
    }
