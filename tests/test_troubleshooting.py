"""The README's Troubleshooting section quotes errors word for word: keep the quotes true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import Invoke

README = Path(__file__).resolve().parents[1] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Troubleshooting\n", 1)[1].split("\n## ", 1)[0]
    return " ".join(section.split())


def _quoted_in_readme(line: str) -> None:
    """Each part of the README's quote between its "…" elisions is in the real `line`."""
    for quote in re.findall(r"`([^`]*)`", _section()):
        parts = [part.strip() for part in quote.split("…") if part.strip()]
        if len(parts[0]) > 20 and parts[0] in line:
            assert all(part in line for part in parts), (quote, line)
            return
    pytest.fail(f"the Troubleshooting section does not quote: {line}")


def _error(result: object) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]  # type: ignore[attr-defined]
    assert lines, result.output  # type: ignore[attr-defined]
    return lines[0]


def test_empty_office_email(cli: Invoke, workspace: Path) -> None:
    offices = workspace / "recipients" / "offices.csv"
    lines = offices.read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("bioguide,"))
    first = lines[header + 1].split(",")
    lines[header + 1] = ",".join([first[0], "", *first[2:]])
    offices.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("letters", "check", "block-arms-sale")
    assert result.exit_code == 1
    _quoted_in_readme(_error(result).replace(f":{header + 2}:", ":5:"))


def test_example_values_refused(cli: Invoke, workspace: Path) -> None:
    config = workspace / "capitolmail.toml"
    config.write_text(config.read_text().replace('name = "file"', 'name = "smtp"'))
    result = cli("letters", "check", "block-arms-sale")
    assert result.exit_code == 1
    sender = [ln for ln in result.stderr.splitlines() if "[sender] email" in ln]
    _quoted_in_readme(sender[0])


def test_unknown_committee(cli: Invoke, workspace: Path) -> None:
    letter = workspace / "letters" / "block-arms-sale" / "letter.toml"
    letter.write_text(letter.read_text().replace('["SSFR"]', '["SSFX"]'))
    result = cli("letters", "check", "block-arms-sale")
    assert result.exit_code == 1
    _quoted_in_readme(_error(result))


def test_password_not_set_and_misspelt(cli: Invoke, workspace: Path) -> None:
    config = workspace / "capitolmail.toml"
    config.write_text(
        "allow_example_values = true\n"
        + config.read_text().replace('name = "file"', 'name = "smtp"')
        + '\n[provider.smtp]\nhost = "smtp.example.net"\nusername = "gr-team"\n'
    )
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("send", "1").exit_code == 0
    result = cli("worker", "--once")
    assert result.exit_code == 1
    _quoted_in_readme(_error(result))
    (workspace / ".env").write_text("CAPITOLMAIL_SMTP_PASWORD=x\n", encoding="utf-8")
    line = _error(cli("status"))
    _quoted_in_readme(line.removeprefix("Error: "))
