"""Engagement: an alert through the SendGrid stand-in with tracking on, SendGrid's signed
open, click and unsubscribe events, and what `report` and `status --json` count of them."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke
from tests.servers.sendgrid import SendGridStandIn

from .conftest import ADDRESS, Elements, Post, figures, messages, sendgrid_event

ACTION = "https://act.example.org/take-action"
HOSTILE_LINK = 'https://evil.example/<script>alert(1)</script>?q="><img src=x>'


def _tracking(sendgrid: SendGridStandIn) -> list[dict[str, Any]]:
    return [payload["tracking_settings"] for payload in sendgrid.accepted]


@pytest.fixture
def alert(workspace: Path, cli: Invoke, sendgrid: SendGridStandIn) -> dict[str, dict[str, Any]]:
    supporters = workspace / "recipients" / "supporters.csv"
    assert cli("supporters", "import", str(supporters)).exit_code == 0
    assert cli("queue", "urge-senators").exit_code == 0
    assert cli("send", "1").exit_code == 0
    result = cli("worker", "--once")
    assert result.exit_code == 0, result.output
    sent = {m["to"].split("@")[0]: m for m in messages(cli)}
    assert sorted(sent) == ["ada", "ben", "carmen", "dee", "eli", "fatima"]
    return sent


def test_alerts_ask_sendgrid_to_track_opens_and_clicks(
    alert: dict[str, dict[str, Any]], sendgrid: SendGridStandIn
) -> None:
    on = {
        "click_tracking": {"enable": True, "enable_text": True},
        "open_tracking": {"enable": True},
    }
    assert _tracking(sendgrid) == [on] * 6


def test_joint_letters_track_nothing_unless_the_letter_says_so(
    workspace: Path, cli: Invoke, sendgrid: SendGridStandIn
) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("send", "1").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    off = {
        "click_tracking": {"enable": False, "enable_text": False},
        "open_tracking": {"enable": False},
    }
    assert _tracking(sendgrid) == [off] * 44

    letter = workspace / "letters" / "block-arms-sale" / "letter.toml"
    letter.write_text(letter.read_text() + "\n[tracking]\nopens = true\n")
    sendgrid.reset()
    assert cli("queue", "block-arms-sale", "--allow-resend").exit_code == 0
    assert cli("send", "2").exit_code == 0
    assert cli("worker", "--once").exit_code == 0
    opens_only = {**off, "open_tracking": {"enable": True}}
    assert _tracking(sendgrid) == [opens_only] * 44


def test_a_bad_tracking_setting_names_the_file_and_key(workspace: Path, cli: Invoke) -> None:
    letter = workspace / "letters" / "block-arms-sale" / "letter.toml"
    letter.write_text(letter.read_text() + '\n[tracking]\nopens = "sometimes"\nclick = true\n')
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 1
    assert "letters/block-arms-sale/letter.toml" in result.stderr
    assert "tracking.opens" in result.stderr
    assert 'unknown key "click" (did you mean "clicks"?)' in result.stderr
    assert "Traceback" not in result.output


def test_opens_and_clicks_are_counted_per_recipient_and_per_link(
    cli: Invoke, alert: dict[str, dict[str, Any]], webhook: Post
) -> None:
    ada, ben, carmen, dee, eli = (alert[n] for n in ("ada", "ben", "carmen", "dee", "eli"))
    webhook([sendgrid_event("delivered", m) for m in alert.values()])
    personal = f"{ACTION}?email=ada%40example.net&t=0123456789abcdef"
    webhook(
        [
            sendgrid_event("open", ada),
            sendgrid_event("open", ada),
            sendgrid_event("open", ben),
            sendgrid_event("click", ada, url=personal),
            sendgrid_event("click", ada, url=ACTION),
            sendgrid_event("click", ben, url=ACTION + "#sign"),
            sendgrid_event("click", carmen, url="javascript:alert(1)"),
            sendgrid_event("click", dee, url=HOSTILE_LINK),
            sendgrid_event("unsubscribe", eli),
        ]
    )

    summary = figures(cli)
    assert summary["opens"] == {"total": 3, "unique": 2}
    assert summary["clicks"] == {"total": 5, "unique": 4}
    links = {link["url"]: (link["total"], link["unique"]) for link in summary["clicks_by_link"]}
    assert links == {
        ACTION: (3, 2),
        "(not a web link)": (1, 1),
        "https://evil.example/<script>alert(1)</script>": (1, 1),  # the query is gone
    }
    assert summary["unsubscribes"] == 1
    assert cli("suppress", "add", "carmen@example.net", "--reason", "unsubscribe").exit_code == 0
    assert figures(cli)["unsubscribes"] == 2

    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(cli("report", "1").stdout))}
    assert (rows[ada["to"]]["opens"], rows[ada["to"]]["clicks"]) == ("2", "2")
    assert rows[ada["to"]]["opened_at"] and rows[ada["to"]]["delivered_at"]
    assert (rows[eli["to"]]["opens"], rows[eli["to"]]["opened_at"]) == ("0", "")

    html = cli("report", "1", "--format", "html").stdout
    page = Elements(html)
    assert "script" not in page.tags and "img" not in page.tags
    text = "".join(page.text)
    assert "Clicks per link" in text and ACTION in text
    assert "0123456789abcdef" not in html and "ada%40example.net" not in html


def test_the_partner_version_of_an_alert_names_no_supporter(
    cli: Invoke, alert: dict[str, dict[str, Any]], webhook: Post
) -> None:
    webhook([sendgrid_event("click", alert["ada"], url=ACTION)])
    for fmt in ("csv", "html"):
        output = cli("report", "1", "--format", fmt, "--for-partners").stdout
        assert not ADDRESS.search(output), fmt
        assert "Okafor" not in output and "Ada " not in output, fmt
        assert "Supporter 1" in output, fmt
    rows = list(csv.DictReader(io.StringIO(cli("report", "1", "--for-partners").stdout)))
    assert list(rows[0])[:3] == ["number", "supporter", "status"]
