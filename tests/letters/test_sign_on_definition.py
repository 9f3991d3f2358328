"""`[sign_on]` in letter.toml: strict like every other table, with lines named."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Invoke
from tests.web.sign_on_support import LETTER, SLUG


def _edit(workspace: Path, old: str, new: str) -> None:
    path = workspace / LETTER
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_deadline_that_is_not_a_date_names_the_line(workspace: Path, cli: Invoke) -> None:
    _edit(workspace, 'closes = "2030-06-30 17:00"', 'closes = "end of June"')
    result = cli("letters", "check", SLUG)
    assert result.exit_code == 1
    assert f"{LETTER.as_posix()}:17: sign_on.closes:" in result.stderr
    assert '"end of June" is not a date and time' in result.stderr


def test_an_unknown_key_suggests_the_right_one(workspace: Path, cli: Invoke) -> None:
    _edit(workspace, "notify =", "notfy =")
    result = cli("letters", "check", SLUG)
    assert 'unknown key "notfy" (did you mean "notify"?)' in result.stderr


def test_a_toml_datetime_is_accepted_and_a_date_alone_refused(workspace: Path, cli: Invoke) -> None:
    _edit(workspace, 'closes = "2030-06-30 17:00"', "closes = 2030-06-30T17:00:00")
    assert cli("letters", "check", SLUG).exit_code == 0
    _edit(workspace, "closes = 2030-06-30T17:00:00", "closes = 2030-06-30")
    result = cli("letters", "check", SLUG)
    assert "has no time of day" in result.stderr


def test_an_alert_cannot_have_a_sign_on_table(workspace: Path, cli: Invoke) -> None:
    path = workspace / "letters/urge-senators/letter.toml"
    path.write_text(path.read_text() + '\n[sign_on]\ncloses = "2030-01-01 12:00"\n')
    result = cli("letters", "check", "urge-senators")
    assert "[sign_on] is for a joint letter" in result.stderr


def test_a_notify_address_is_checked(workspace: Path, cli: Invoke) -> None:
    _edit(workspace, 'notify = ["policy@example.org"]', 'notify = ["policy at example"]')
    result = cli("letters", "check", SLUG)
    assert result.exit_code == 1 and "sign_on.notify" in result.stderr


def test_a_sign_on_letter_without_signers_cannot_be_queued(workspace: Path, cli: Invoke) -> None:
    (workspace / "letters" / SLUG / "signers.csv").unlink()
    _edit(workspace, 'lead_signers = ["Example Rights Coalition"]', "")
    assert cli("letters", "check", SLUG).exit_code == 0
    result = cli("queue", SLUG)
    assert result.exit_code == 1
    assert "no signers yet: approve signatures" in result.stderr
