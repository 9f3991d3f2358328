"""The same letter under a new slug: refused by content, through the command line."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update

from capitolmail.config import load_settings
from capitolmail.outbox.schema import jobs, messages
from capitolmail.period import describe_period, parse_period

from ..conftest import Invoke


def _copy_letter(workspace: Path, slug: str, new_slug: str) -> Path:
    folder = workspace / "letters" / new_slug
    shutil.copytree(workspace / "letters" / slug, folder)
    return folder


def _job_ids(cli: Invoke) -> list[int]:
    return [job["id"] for job in json.loads(cli("status", "--json").stdout)["jobs"]]


def _age_job(workspace: Path, job_id: int, days: int) -> None:
    """Move a job and its messages `days` into the past, as if queued then."""
    url = load_settings(workspace).database_url_for(workspace)
    then = datetime.now(UTC) - timedelta(days=days)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(created_at=then))
            conn.execute(
                update(messages)
                .where(messages.c.job_id == job_id)
                .values(created_at=then, updated_at=then)
            )
    finally:
        engine.dispose()


def _recipients(cli: Invoke, job: int) -> int:
    return json.loads(cli("status", str(job), "--json").stdout)["jobs"][0]["total"]


def test_a_copy_under_a_new_slug_is_refused_naming_the_earlier_job(
    workspace: Path, cli: Invoke
) -> None:
    assert cli("queue", "block-arms-sale").stdout == "1\n"
    total = _recipients(cli, 1)
    _copy_letter(workspace, "block-arms-sale", "block-arms-sale-v2")

    refused = cli("queue", "block-arms-sale-v2")

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert refused.exit_code == 1
    assert refused.stdout == ""
    line = refused.stderr.strip()
    assert line.startswith(
        f"Error: letters/block-arms-sale-v2/letter.toml: {total} recipients already had this "
        f'letter\'s content in job 1 ("block-arms-sale", queued {today}) within 30 days ('
    )
    assert line.endswith(", …); pass --allow-resend to send it again")
    assert _job_ids(cli) == [1]


def test_allow_resend_queues_the_copy(workspace: Path, cli: Invoke) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    _copy_letter(workspace, "block-arms-sale", "block-arms-sale-v2")

    queued = cli("queue", "block-arms-sale-v2", "--allow-resend")

    assert queued.exit_code == 0, queued.stderr
    assert queued.stdout == "2\n"
    assert _recipients(cli, 2) == _recipients(cli, 1)


def test_a_copy_after_the_period_goes(workspace: Path, cli: Invoke) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    _age_job(workspace, 1, days=31)
    _copy_letter(workspace, "block-arms-sale", "block-arms-sale-v2")

    assert cli("queue", "block-arms-sale-v2").stdout == "2\n"


def test_the_period_is_a_setting(workspace: Path, cli: Invoke) -> None:
    config = workspace / "capitolmail.toml"
    config.write_text('resend_period = "60d"\n' + config.read_text())
    assert cli("queue", "block-arms-sale").exit_code == 0
    _age_job(workspace, 1, days=31)
    _copy_letter(workspace, "block-arms-sale", "block-arms-sale-v2")

    refused = cli("queue", "block-arms-sale-v2")

    assert refused.exit_code == 1
    assert "within 60 days" in refused.stderr
    assert _job_ids(cli) == [1]


def test_a_changed_body_is_a_different_letter(workspace: Path, cli: Invoke) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    folder = _copy_letter(workspace, "block-arms-sale", "block-arms-sale-v2")
    for name in ("body.txt.j2", "body.html.j2"):
        body = folder / name
        text = body.read_text()
        assert "notified to Congress this month" in text
        body.write_text(text.replace("this month", "last week"))

    assert cli("queue", "block-arms-sale-v2").stdout == "2\n"


def test_spacing_and_case_do_not_make_a_new_letter(workspace: Path, cli: Invoke) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    folder = _copy_letter(workspace, "block-arms-sale", "block-arms-sale-v2")
    body = folder / "body.txt.j2"
    text = body.read_text()
    body.write_text(text.replace("the pending sale", "the Pending  Sale").replace("\n", "\n\n"))

    refused = cli("queue", "block-arms-sale-v2")

    assert refused.exit_code == 1
    assert "already had this letter's content in job 1" in refused.stderr


def test_a_failed_earlier_message_does_not_count(workspace: Path, cli: Invoke) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("cancel", "1").exit_code == 0
    _copy_letter(workspace, "block-arms-sale", "block-arms-sale-v2")

    assert cli("queue", "block-arms-sale-v2").stdout == "2\n"


def test_an_alert_copied_to_a_new_slug_is_refused(workspace: Path, cli: Invoke) -> None:
    assert cli("supporters", "import", str(workspace / "recipients/supporters.csv")).exit_code == 0
    assert cli("queue", "urge-senators").stdout == "1\n"
    _copy_letter(workspace, "urge-senators", "urge-senators-again")

    refused = cli("queue", "urge-senators-again")

    assert refused.exit_code == 1
    assert (
        "letters/urge-senators-again/letter.toml: 6 supporters already had this alert's "
        'content in job 1 ("urge-senators", queued '
    ) in refused.stderr
    assert "(ada@example.net, ben@example.net, carmen@example.net, …)" in refused.stderr
    assert _job_ids(cli) == [1]
    assert cli("queue", "urge-senators-again", "--allow-resend").stdout == "2\n"


@pytest.mark.parametrize(
    ("written", "days"),
    [("30d", 30), ("2w", 14), (45, 45), ("7", 7), ("P10D", 10), ("0", 0), ("36h", 1.5)],
)
def test_resend_period_forms(written: object, days: float) -> None:
    assert parse_period(written) == timedelta(days=days)


@pytest.mark.parametrize("written", ["thirty days", "-3", -3, "30 minutes", "P", ""])
def test_resend_period_refuses_what_it_cannot_read(written: object) -> None:
    with pytest.raises(ValueError):
        parse_period(written)


def test_a_bad_resend_period_names_the_key(workspace: Path, cli: Invoke) -> None:
    config = workspace / "capitolmail.toml"
    config.write_text('resend_period = "a month"\n' + config.read_text())

    result = cli("queue", "block-arms-sale")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: capitolmail.toml: resend_period: 'a month' is not a period; write it as "
    )


def test_periods_read_as_people_say_them() -> None:
    assert describe_period(timedelta(days=30)) == "30 days"
    assert describe_period(timedelta(days=1)) == "1 day"
    assert describe_period(timedelta(hours=36)) == "36 hours"
