"""`capitolmail send JOB --at/--now/--rate/--window/--wait` and what `status` shows of it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from capitolmail.job_view import job_plan
from capitolmail.outbox import JobInfo, JobState

from .conftest import Invoke, use_smtp_relay
from .servers.smtp import running_mail_server

TOTAL = 44


def _job(cli: Invoke, job: int = 1) -> dict:
    return json.loads(cli("status", str(job), "--json").stdout)["jobs"][0]


def _queued(cli: Invoke) -> None:
    assert cli("queue", "block-arms-sale").stdout == "1\n"


def test_a_local_time_is_read_in_the_workspace_time_zone(cli: Invoke) -> None:
    _queued(cli)
    result = cli("send", "1", "--at", "2030-12-03 09:00")
    assert result.exit_code == 0, result.output
    assert "is scheduled for Tue 3 Dec 2030 09:00 EST (14:00 UTC)" in result.stderr
    job = _job(cli)
    assert job["state"] == "scheduled"
    assert job["scheduled_at"] == "2030-12-03T14:00:00+00:00"
    table = cli("status").stdout
    assert "Tue 2030-12-03 09:00 EST" in table


def test_an_offset_is_taken_as_given(cli: Invoke) -> None:
    _queued(cli)
    assert cli("send", "1", "--at", "2030-06-04T09:00:00-04:00").exit_code == 0
    assert _job(cli)["scheduled_at"] == "2030-06-04T13:00:00+00:00"


def test_a_time_in_the_past_is_refused_unless_now(cli: Invoke) -> None:
    _queued(cli)
    result = cli("send", "1", "--at", "2020-01-06 09:00")
    assert result.exit_code == 2
    assert "Mon 6 Jan 2020 09:00 EST (14:00 UTC) is in the past" in result.stderr
    assert "--now" in result.stderr
    assert _job(cli)["state"] == "draft"

    before = datetime.now(UTC)
    result = cli("send", "1", "--at", "2020-01-06 09:00", "--now")
    assert result.exit_code == 0
    assert "is due now" in result.stderr
    scheduled = datetime.fromisoformat(_job(cli)["scheduled_at"])
    assert before - timedelta(seconds=1) <= scheduled <= datetime.now(UTC)


def test_a_time_that_does_not_exist_names_the_one_that_does(cli: Invoke) -> None:
    _queued(cli)
    result = cli("send", "1", "--at", "2030-03-10 02:30")
    assert result.exit_code == 2
    assert (
        '"2030-03-10 02:30" does not exist in America/New_York: clocks jump from 02:00 EST '
        "to 03:00 EDT; did you mean 03:30 EDT (2030-03-10T03:30:00-04:00)?"
    ) in " ".join(result.stderr.split())
    assert _job(cli)["state"] == "draft"


def test_a_repeated_local_time_takes_the_first_and_says_so(cli: Invoke) -> None:
    _queued(cli)
    result = cli("send", "1", "--at", "2030-11-03 01:30")
    assert result.exit_code == 0
    assert "01:30 happens twice that day in America/New_York" in result.stderr
    assert "this is the first, 01:30 EDT" in result.stderr
    assert _job(cli)["scheduled_at"] == "2030-11-03T05:30:00+00:00"
    # With an offset nothing is ambiguous, and nothing is said.
    result = cli("send", "1", "--at", "2030-11-03T01:30-05:00")
    assert "happens twice" not in result.stderr
    assert _job(cli)["scheduled_at"] == "2030-11-03T06:30:00+00:00"


def test_garbage_time_is_a_usage_error(cli: Invoke) -> None:
    _queued(cli)
    result = cli("send", "1", "--at", "next tuesday-ish")
    assert result.exit_code == 2
    assert '"next tuesday-ish"' in result.stderr
    assert _job(cli)["state"] == "draft"


def test_the_window_and_rate_are_stored_with_the_job_and_shown(cli: Invoke) -> None:
    _queued(cli)
    result = cli(
        "send", "1", "--at", "2030-12-07 08:00", "--window", "mon-fri 9:00-17:00", "--rate", "2/s"
    )
    assert result.exit_code == 0, result.output
    assert "at most 2/s, only Mon-Fri 09:00-17:00 (America/New_York)" in result.stderr
    # Saturday 7 December: the window is closed then.
    assert "sending begins Mon 9 Dec 2030 09:00 EST (14:00 UTC)" in result.stderr
    job = _job(cli)
    assert job["options"] == {
        "rate": "2/s",
        "window": "Mon-Fri 09:00-17:00",
        "timezone": "America/New_York",
    }
    assert "Mon-Fri 09:00-17:00 America/New_York" in cli("status").stdout

    assert cli("send", "1", "--at", "2030-12-09 10:00", "--window", "always").exit_code == 0
    assert _job(cli)["options"] == {"rate": "2/s"}


def test_a_bad_window_is_refused_and_nothing_changes(cli: Invoke) -> None:
    _queued(cli)
    result = cli("send", "1", "--window", "Mon-Fri 17:00-09:00")
    assert result.exit_code == 2
    assert "Mon-Fri 17:00-09:00" in result.stderr
    job = _job(cli)
    assert (job["state"], job["options"]) == ("draft", {})


def test_worker_once_holds_a_job_whose_window_is_closed(workspace: Path, cli: Invoke) -> None:
    _queued(cli)
    # A one-minute window twelve hours from now: closed now, whatever the time of day.
    later = (datetime.now(UTC) + timedelta(hours=12)).astimezone(ZoneInfo("America/New_York"))
    assert cli("send", "1", "--window", f"daily {later:%H}:00-{later:%H}:01").exit_code == 0
    result = cli("worker", "--once")
    assert result.exit_code == 0
    assert "Worker: sent 0, failed 0, retrying 0." in result.stderr
    job = _job(cli)
    assert job["state"] == "sending"
    assert job["counts"] == {"queued": TOTAL}
    assert job["window_open"] is False
    opens = datetime.fromisoformat(job["window_opens_at"]).astimezone(ZoneInfo("America/New_York"))
    assert (opens.hour, opens.minute) == (later.hour, 0)
    assert list(workspace.glob(".capitolmail/outbox/1/*.eml")) == []
    assert "window opens" in cli("status").stdout


def test_the_rate_of_a_sending_job_changes_without_rescheduling(cli: Invoke) -> None:
    _queued(cli)
    assert cli("send", "1", "--window", "Sat 10:00-10:01").exit_code == 0
    assert cli("worker", "--once").exit_code == 0  # starts it; the window keeps it waiting
    before = _job(cli)
    assert before["state"] == "sending"
    result = cli("send", "1", "--rate", "30/min")
    assert result.exit_code == 0
    assert "Job 1 is sending; at most 30/min" in result.stderr
    after = _job(cli)
    assert after["options"]["rate"] == "30/min"
    assert after["scheduled_at"] == before["scheduled_at"]


def test_send_wait_sends_in_process_and_returns_when_done(workspace: Path, cli: Invoke) -> None:
    _queued(cli)
    result = cli("send", "1", "--wait")
    assert result.exit_code == 0, result.output
    assert f"Job 1 is done: sent {TOTAL}." in result.stderr
    assert len(list((workspace / ".capitolmail" / "outbox" / "1").glob("*.eml"))) == TOTAL
    job = _job(cli)
    assert job["progress"] == {"done": TOTAL, "total": TOTAL, "percent": 100}


def test_status_estimates_the_time_left_from_the_pace_so_far() -> None:
    started = datetime(2030, 12, 3, 14, 0, tzinfo=UTC)
    job = JobInfo(
        id=1,
        letter_slug="block-arms-sale",
        kind="joint",
        state=JobState.SENDING,
        created_at=started,
        scheduled_at=started,
        started_at=started,
        finished_at=None,
        total=400,
        last_error=None,
        paused_reason=None,
        counts={"sent": 100, "queued": 300},
        options={"rate": "120/min"},
    )
    # 100 in 100 s is 1 msg/s, under the 2/s cap: 300 left take 300 s.
    plan = job_plan(job, started + timedelta(seconds=100))
    assert (plan.done, plan.percent, plan.eta_seconds) == (100, 25, 300.0)
    assert plan.eta_text() == "about 5m 00s"
    # Nothing sent yet: the job's rate is the best guess.
    fresh = replace(job, counts={"queued": 400})
    assert job_plan(fresh, started).eta_seconds == 200.0


def test_while_everything_left_waits_for_a_retry_status_shows_when_it_is_due() -> None:
    started = datetime(2030, 12, 3, 14, 0, tzinfo=UTC)
    due = started + timedelta(minutes=5)
    job = JobInfo(
        id=1,
        letter_slug="block-arms-sale",
        kind="joint",
        state=JobState.SENDING,
        created_at=started,
        scheduled_at=started,
        started_at=started,
        finished_at=None,
        total=168,
        last_error=None,
        paused_reason=None,
        counts={"sent": 160, "retry_wait": 8},
        next_retry_at=due,
    )
    now = started + timedelta(seconds=60)
    plan = job_plan(job, now)
    assert plan.eta_seconds is None  # not "about 3s" from 160 sent in a minute
    assert plan.next_attempt_at == due
    assert plan.eta_text(ZoneInfo("America/New_York")) == (
        "next retry Tue 2030-12-03 09:05 EST (in 4m 00s)"
    )
    # Messages still queued are sending at the pace: the ETA is the pace's again.
    sending = replace(job, counts={"sent": 150, "queued": 10, "retry_wait": 8})
    assert job_plan(sending, now).next_attempt_at is None
    assert job_plan(sending, now).eta_seconds == 7.2
    # A retry already due goes at once: the pace says the rest.
    assert job_plan(job, due + timedelta(seconds=1)).next_attempt_at is None


def test_status_after_a_run_that_left_only_retries_names_the_next_attempt(
    workspace: Path, cli: Invoke
) -> None:
    with running_mail_server() as server:
        server.answer("RCPT", "451 4.3.0 Temporary lookup failure")
        use_smtp_relay(workspace, server.port, rest="\n[worker]\nretry_base_seconds = 240\n")
        _queued(cli)
        assert cli("send", "1").exit_code == 0
        before = datetime.now(UTC)
        assert cli("worker", "--once").exit_code == 0  # retries are not failures
        after = datetime.now(UTC)
    job = json.loads(cli("status", "1", "--json", "--messages").stdout)["jobs"][0]
    assert job["state"] == "sending"
    assert job["counts"] == {"retry_wait": TOTAL}
    assert job["eta_seconds"] is None
    first_due = min(datetime.fromisoformat(m["next_attempt_at"]) for m in job["messages"])
    assert datetime.fromisoformat(job["next_attempt_at"]) == first_due
    assert before + timedelta(seconds=120) <= first_due <= after + timedelta(seconds=240)
    table = " ".join(cli("status", "1").stdout.split())
    assert "next retry" in table
    assert "about" not in table


def _local(day_offset: int, hour: int, minute: int = 0) -> str:
    """The UTC ISO text of a wall time `day_offset` days from today in the workspace zone."""
    zone = ZoneInfo("America/New_York")
    day = datetime.now(zone).date() + timedelta(days=day_offset)
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    return wall.astimezone(UTC).isoformat()


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2030-12-03 09:00", "2030-12-03T14:00:00+00:00"),
        ("2030-12-03T09:00:30", "2030-12-03T14:00:30+00:00"),
        ("2030-12-03 9am", "2030-12-03T14:00:00+00:00"),
        ("2030-12-03 5:30pm", "2030-12-03T22:30:00+00:00"),
        ("2030-12-03T09:00-05:00", "2030-12-03T14:00:00+00:00"),
        ("2030-12-03T14:00Z", "2030-12-03T14:00:00+00:00"),
        ("tomorrow 9am", None),
    ],
)
def test_every_documented_at_form_is_accepted(cli: Invoke, when: str, expected: str | None) -> None:
    _queued(cli)
    result = cli("send", "1", "--at", when)
    assert result.exit_code == 0, result.output
    assert _job(cli)["scheduled_at"] == (expected or _local(1, 9))


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("next monday", "is not a date and time"),
        ("in 2 hours", "is not a date and time"),
        ("12/03/2030 9am", "is not a date and time"),
        ("tomorrow", "is not a date and time"),
        ("2030-12-03", "has no time of day"),
        ("2030-12-03 25:00", "the hour runs 00-23"),
    ],
)
def test_undocumented_at_forms_are_refused_naming_the_value(
    cli: Invoke, when: str, reason: str
) -> None:
    _queued(cli)
    result = cli("send", "1", "--at", when)
    assert result.exit_code == 2
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert line.startswith(f'Error: Invalid value for --at: "{when}"')
    assert reason in line
    assert _job(cli)["state"] == "draft"


def test_help_lists_the_at_forms(cli: Invoke) -> None:
    text = " ".join(cli("send", "--help").stdout.split())
    for form in ("2026-12-01 9am", "2026-12-01T14:00Z", "tomorrow 9am", "Anything else is refused"):
        assert form in text
