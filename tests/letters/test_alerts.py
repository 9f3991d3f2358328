"""Action alerts end to end, through the command line, into the .eml outbox.

The worked example's eight supporters cover the cases a GR team worries about:
a ZIP in one district (Ada, San Francisco), an at-large state (Ben, Delaware),
Puerto Rico and DC (no senators, a non-voting member), a ZIP split between two
districts (Eli, Manhattan), a district given in the file (Fatima, IL-5), a
supporter outside the audience's tags (Gus) and one without consent (Hana).
"""

from __future__ import annotations

import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from capitolmail.config import load_settings
from capitolmail.letters.tokens import verify_token
from capitolmail.outbox import Store

from ..conftest import Invoke

AUDIENCE = ["ada", "ben", "carmen", "dee", "eli", "fatima"]
BASE = "https://act.example.org/u/"
LIST_ID = "action-alerts.example.org"


@pytest.fixture
def alerts(workspace: Path, cli: Invoke) -> Path:
    result = cli("supporters", "import", str(workspace / "recipients" / "supporters.csv"))
    assert result.exit_code == 0, result.output
    return workspace


def _config(workspace: Path, old: str, new: str) -> None:
    path = workspace / "capitolmail.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _letter(workspace: Path, old: str, new: str, name: str = "letter.toml") -> None:
    path = workspace / "letters" / "urge-senators" / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _send(cli: Invoke, job: str = "1") -> None:
    assert cli("send", job).exit_code == 0
    assert cli("worker", "--once").exit_code == 0


def _outbox(workspace: Path, job: int = 1) -> dict[str, EmailMessage]:
    parser = BytesParser(policy=policy.default)
    found = {}
    for path in sorted((workspace / ".capitolmail" / "outbox" / str(job)).glob("*.eml")):
        message = parser.parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        found[str(message["To"].addresses[0].username)] = message
    return found


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return " ".join(str(part.get_content()).split())


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _job(cli: Invoke, job: int = 1) -> dict:
    return json.loads(cli("status", str(job), "--json", "--messages").stdout)["jobs"][0]


def test_each_supporter_gets_their_own_legislators(alerts: Path, cli: Invoke) -> None:
    result = cli("queue", "urge-senators")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"
    assert "6 alerts to supporters in 6 states and territories (6 to send, 0 suppressed)" in (
        result.stderr
    )
    assert "Note: 1 supporter without a known representative (a ZIP split" in result.stderr
    _send(cli)
    sent = _outbox(alerts)
    assert sorted(sent) == AUDIENCE, "no consent (hana) and no matching tag (gus) get nothing"

    ada = _text(sent["ada"])
    assert sent["ada"]["Subject"] == "Ada, call your senators today: block the arms sale"
    assert "- Senator Alex Padilla: 202-224-3553" in ada
    assert "- Senator Adam B. Schiff" in ada
    assert "- Representative Nancy Pelosi, CA-11" in ada

    ben = _text(sent["ben"])
    assert "Senator Christopher A. Coons" in ben
    assert "Senator Lisa Blunt Rochester" in ben
    assert "- Representative Sarah McBride, DE at-large" in ben

    carmen = _text(sent["carmen"])
    assert "Puerto Rico has no senators" in carmen
    assert "Senator" not in carmen
    assert "- Resident Commissioner Pablo José Hernández, PR" in carmen

    dee = _text(sent["dee"])
    assert "District of Columbia has no senators" in dee
    assert "- Delegate Eleanor Holmes Norton, DC" in dee

    eli = _text(sent["eli"])
    assert "Senator Charles E. Schumer" in eli
    assert "Senator Kirsten E. Gillibrand" in eli
    assert "Representative" not in eli, "a split ZIP never guesses the representative"
    assert "Your ZIP code is split between Jerrold Nadler and Adriano Espaillat" in eli
    assert "find your representative at https://www.house.gov/" in eli
    assert "split between Jerrold Nadler and Adriano Espaillat" in _html(sent["eli"])

    fatima = _text(sent["fatima"])
    assert "- Representative Mike Quigley, IL-5" in fatima  # the district in the file wins


def test_every_alert_carries_exact_unsubscribe_headers_and_footer(
    alerts: Path, cli: Invoke
) -> None:
    assert cli("queue", "urge-senators").exit_code == 0
    _send(cli)
    secret = load_settings(alerts).unsubscribe_secret
    assert secret is not None
    with Store.open(f"sqlite:///{alerts / '.capitolmail' / 'capitolmail.db'}") as store:
        ids = {s.email.split("@")[0]: s.id for s in store.list_supporters()}

    for name, message in _outbox(alerts).items():
        link, mailto = str(message["List-Unsubscribe"]).split(", ")
        assert mailto == "<mailto:policy@example.org?subject=unsubscribe>"
        assert link.startswith(f"<{BASE}") and link.endswith(">")
        token = link[len(BASE) + 1 : -1]
        assert verify_token(secret.get_secret_value(), token) == (ids[name], LIST_ID)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"] == f"Action alerts <{LIST_ID}>"
        url = link[1:-1]
        address = "1234 Example Avenue NW, Suite 500, Washington, DC 20005"
        assert f"Unsubscribe with one click: {url}" in _text(message)
        assert address in _text(message)
        assert f'<a href="{url}"' in _html(message)
        assert address in _html(message)


def test_tokens_differ_per_supporter_and_a_tampered_one_is_refused(
    alerts: Path, cli: Invoke
) -> None:
    assert cli("queue", "urge-senators").exit_code == 0
    _send(cli)
    links = {str(m["List-Unsubscribe"]).split(", ")[0] for m in _outbox(alerts).values()}
    assert len(links) == len(AUDIENCE)
    secret = load_settings(alerts).unsubscribe_secret
    assert secret is not None
    token = sorted(links)[0][len(BASE) + 1 : -1]
    payload, signature = token.split(".")
    forged = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature
    from capitolmail.errors import UnsubscribeTokenError

    with pytest.raises(UnsubscribeTokenError):
        verify_token(secret.get_secret_value(), forged)


def test_an_address_suppressed_after_queueing_is_not_emailed(alerts: Path, cli: Invoke) -> None:
    assert cli("queue", "urge-senators").exit_code == 0
    assert cli("suppress", "add", "ELI@example.net", "--reason", "unsubscribe").exit_code == 0
    _send(cli)

    assert sorted(_outbox(alerts)) == ["ada", "ben", "carmen", "dee", "fatima"]
    job = _job(cli)
    assert job["counts"] == {"sent": 5, "suppressed": 1}
    eli = next(m for m in job["messages"] if m["to"] == "eli@example.net")
    assert eli["state"] == "suppressed"
    assert eli["attempts"] == 0
    assert "suppression list" in eli["last_error"]


def test_an_address_suppressed_before_queueing_is_stored_suppressed(
    alerts: Path, cli: Invoke
) -> None:
    assert cli("suppress", "add", "dee@example.net").exit_code == 0
    result = cli("queue", "urge-senators")
    assert "(5 to send, 1 suppressed)" in result.stderr
    _send(cli)
    assert "dee" not in _outbox(alerts)
    assert _job(cli)["counts"] == {"sent": 5, "suppressed": 1}


def test_joint_letters_honour_the_suppression_list_too(workspace: Path, cli: Invoke) -> None:
    offices = (workspace / "recipients" / "offices.csv").read_text().splitlines()
    rows = [line.split(",") for line in offices if line and not line.startswith("#")]
    assert rows[0][:2] == ["bioguide", "email"]
    bounced = next(row[1] for row in rows[1:] if row[0] == "M001176")  # Merkley, on SSFR
    assert cli("suppress", "add", bounced, "--reason", "bounce").exit_code == 0
    result = cli("queue", "block-arms-sale")
    assert "1 suppressed, not to be sent" in result.stderr
    _send(cli)
    job = _job(cli)
    assert job["counts"] == {"sent": 43, "suppressed": 1}
    assert bounced not in {str(m["To"].addresses[0].addr_spec) for m in _outbox(workspace).values()}


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ('tags = ["gitmo"]', ["carmen", "gus"]),
        ('states = ["PR", "District of Columbia"]', ["carmen", "dee"]),
        ('districts = ["DE-AL", "CA-11"]', ["ada", "ben"]),
        ('senator_committees = ["SSFR"]', ["ben", "fatima"]),
        ('representative_committees = ["HSFA"]', ["ben"]),
        ('tags = ["arms-trade"]\nstates = ["NY", "IL"]', ["eli", "fatima"]),
    ],
)
def test_the_audience_selects_supporters_by_tags_place_and_legislators(
    alerts: Path, cli: Invoke, audience: str, expected: list[str]
) -> None:
    _letter(alerts, 'tags = ["arms-trade", "all-alerts"]', audience)
    result = cli("queue", "urge-senators")
    assert result.exit_code == 0, result.output
    _send(cli)
    assert sorted(_outbox(alerts)) == expected


def test_a_joint_only_audience_key_in_an_alert_is_an_error(alerts: Path, cli: Invoke) -> None:
    _letter(alerts, 'tags = ["arms-trade", "all-alerts"]', 'committees = ["SSFR"]')
    result = cli("queue", "urge-senators")
    assert result.exit_code == 1
    assert "letters/urge-senators/letter.toml" in result.stderr
    assert 'audience.committees is for a joint letter, not kind = "alert"' in result.stderr


def test_a_bad_district_is_reported_with_file_and_field(alerts: Path, cli: Invoke) -> None:
    _letter(alerts, 'tags = ["arms-trade", "all-alerts"]', 'districts = ["CA-eleven"]')
    result = cli("queue", "urge-senators")
    assert result.exit_code == 1
    assert "letters/urge-senators/letter.toml" in result.stderr
    assert "audience.districts" in result.stderr
    assert '"CA-eleven" is not a district such as "CA-12" or "DE-AL"' in result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("postal_address = ", "# postal_address = "),
            "[organisation] postal_address in capitolmail.toml",
        ),
        (('base_url = "https://act.example.org"', ""), "[web] base_url in capitolmail.toml"),
    ],
)
def test_an_alert_without_what_the_law_requires_is_refused_before_rendering(
    alerts: Path, cli: Invoke, change: tuple[str, str], message: str
) -> None:
    _config(alerts, *change)
    result = cli("queue", "urge-senators")
    assert result.exit_code == 1
    assert message in result.stderr
    assert json.loads(cli("status", "--json").stdout)["jobs"] == []


def test_an_alert_without_the_unsubscribe_secret_is_refused(alerts: Path, cli: Invoke) -> None:
    (alerts / ".env").write_text("")
    result = cli("queue", "urge-senators")
    assert result.exit_code == 1
    assert "CAPITOLMAIL_UNSUBSCRIBE_SECRET" in result.stderr
    assert json.loads(cli("status", "--json").stdout)["jobs"] == []


def test_a_template_that_drops_the_unsubscribe_link_stores_nothing(
    alerts: Path, cli: Invoke
) -> None:
    _letter(alerts, '{% include "capitolmail/alert_footer.txt.j2" %}', "", name="body.txt.j2")
    result = cli("queue", "urge-senators")
    assert result.exit_code == 1
    assert "the text part of the alert for ada@example.net does not show" in result.stderr
    assert "the unsubscribe link or the postal address" in result.stderr
    assert json.loads(cli("status", "--json").stdout)["jobs"] == []


def test_a_template_error_at_the_last_supporter_stores_nothing(alerts: Path, cli: Invoke) -> None:
    _letter(
        alerts,
        "Dear {{ supporter.first_name }},",
        "Dear {{ supporter.first_name }}{{ 1 // 0 if supporter.first_name == 'Fatima' else '' }},",
        name="body.txt.j2",
    )
    result = cli("queue", "urge-senators")
    assert result.exit_code == 1
    assert "letters/urge-senators/body.txt.j2:3" in result.stderr
    assert "(for supporter fatima@example.net)" in result.stderr
    assert json.loads(cli("status", "--json").stdout)["jobs"] == []


def test_a_reimport_with_a_new_zip_changes_whom_the_alert_names(alerts: Path, cli: Invoke) -> None:
    csv = alerts / "recipients" / "supporters.csv"
    csv.write_text(
        csv.read_text().replace(
            "ada@example.net,Ada,Okafor,94110", "ada@example.net,Ada,Okafor,19901"
        )
    )
    assert cli("supporters", "import", str(csv)).exit_code == 0
    assert cli("queue", "urge-senators").exit_code == 0
    _send(cli)
    ada = _text(_outbox(alerts)["ada"])
    assert "Senator Christopher A. Coons" in ada
    assert "Padilla" not in ada


def test_an_alert_is_not_queued_twice_for_the_same_supporters(alerts: Path, cli: Invoke) -> None:
    assert cli("queue", "urge-senators").exit_code == 0
    again = cli("queue", "urge-senators")
    assert again.exit_code == 1
    assert 'already have alert "urge-senators"' in again.stderr
    assert "--allow-resend" in again.stderr
    assert len(json.loads(cli("status", "--json").stdout)["jobs"]) == 1


def test_preview_and_check_of_an_alert(alerts: Path, cli: Invoke) -> None:
    check = cli("letters", "check", "urge-senators")
    assert check.exit_code == 0
    assert "OK: urge-senators renders 6 alerts (0 to suppressed addresses)." in check.stderr
    preview = cli("letters", "preview", "urge-senators", "--to", "carmen@example.net")
    assert preview.exit_code == 0
    assert "To: Carmen Rivera <carmen@example.net>" in preview.stdout
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in preview.stdout
    missing = cli("letters", "preview", "urge-senators", "--to", "hana@example.net")
    assert missing.exit_code == 1
    assert '"hana@example.net" is not in the audience of urge-senators' in missing.stderr
    assert json.loads(cli("status", "--json").stdout)["jobs"] == []


def test_a_one_click_unsubscribe_between_queueing_and_sending_stops_that_alert(
    alerts: Path, cli: Invoke
) -> None:
    """Gmail's one-click POST reaches `capitolmail serve`; the worker then skips Eli."""
    from capitolmail.letters.tokens import make_token
    from capitolmail.web import create_app
    from tests.servers.web import LiveServer
    from tests.web.conftest import call

    assert cli("queue", "urge-senators").exit_code == 0
    settings = load_settings(alerts)
    secret = settings.unsubscribe_secret
    assert secret is not None
    with Store.open(settings.database_url_for(alerts)) as store:
        eli = next(s for s in store.list_supporters() if s.email == "eli@example.net")
        token = make_token(secret.get_secret_value(), eli.id, LIST_ID)
        with LiveServer(create_app(settings, store)) as server:
            reply = call(
                "POST",
                f"{server.url}/u/{token}",
                body=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert reply.status == 200
        assert store.suppressed_among(["eli@example.net"]) == {"eli@example.net"}

    _send(cli)
    assert sorted(_outbox(alerts)) == ["ada", "ben", "carmen", "dee", "fatima"]
    job = _job(cli)
    assert job["counts"] == {"sent": 5, "suppressed": 1}


def test_an_alert_queues_and_sends_on_each_database(
    workspace: Path, cli: Invoke, database_url: str
) -> None:
    """Queueing reads supporters on one connection while it writes the job on another."""
    config = workspace / "capitolmail.toml"
    config.write_text(f'database_url = "{database_url}"\n' + config.read_text())
    assert (
        cli("supporters", "import", str(workspace / "recipients" / "supporters.csv")).exit_code == 0
    )
    assert cli("suppress", "add", "ben@example.net").exit_code == 0
    result = cli("queue", "urge-senators")
    assert result.exit_code == 0, result.output
    assert "(5 to send, 1 suppressed)" in result.stderr
    _send(cli)
    assert sorted(_outbox(workspace)) == ["ada", "carmen", "dee", "eli", "fatima"]
    assert _job(cli)["counts"] == {"sent": 5, "suppressed": 1}


def test_a_comma_in_a_supporters_name_does_not_reach_the_to_header(
    alerts: Path, cli: Invoke
) -> None:
    csv = alerts / "recipients" / "supporters.csv"
    csv.write_text(
        csv.read_text().replace("ada@example.net,Ada,Okafor,", 'ada@example.net,Ada,"Okafor, PhD",')
    )
    assert cli("supporters", "import", str(csv)).exit_code == 0
    assert cli("queue", "urge-senators").exit_code == 0
    _send(cli)
    ada = _outbox(alerts)["ada"]
    assert str(ada["To"]) == "Ada Okafor PhD <ada@example.net>"
    assert _text(ada).startswith("Dear Ada,")
