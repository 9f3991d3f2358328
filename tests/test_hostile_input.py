"""Hostile workspace files and arguments, through the command line (issue 12).

Every case must end the same way: exit 1, exactly one `Error:` line on stderr
and no traceback, nothing queued, nothing written outside the workspace, and
nothing of a file outside the workspace printed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from capitolmail.cli import main
from capitolmail.workspace import init_workspace
from tests.conftest import Invoke

SECRET = "root:*:19000:0:99999:7:::"
LETTER = Path("letters/block-arms-sale")
TOML = LETTER / "letter.toml"

Setup = Callable[[Path, Path], list[str]]


def _set_key(ws: Path, key: str, value: str) -> None:
    path = ws / TOML
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(
        "".join(f'{key} = "{value}"\n' if line.startswith(f"{key} =") else line for line in lines),
        encoding="utf-8",
    )


def _append_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(path.read_bytes() + data)


def _queue(ws: Path, outside: Path) -> list[str]:
    return ["queue", "block-arms-sale"]


def key_is(key: str, value: str) -> Setup:
    def setup(ws: Path, outside: Path) -> list[str]:
        _set_key(ws, key, value.format(outside=outside))
        return _queue(ws, outside)

    return setup


def links_out(relative: str, key: str | None = None) -> Setup:
    """`relative` (in the workspace) becomes a link to the secret outside it."""

    def setup(ws: Path, outside: Path) -> list[str]:
        link = ws / relative
        link.unlink(missing_ok=True)
        link.symlink_to(outside / "shadow")
        if key is not None:
            _set_key(ws, key, link.name)
        return _queue(ws, outside)

    return setup


def include_link(ws: Path, outside: Path) -> list[str]:
    (ws / "templates" / "footer.txt.j2").symlink_to(outside / "shadow")
    _append_bytes(ws / LETTER / "body.txt.j2", b'{% include "footer.txt.j2" %}\n')
    return _queue(ws, outside)


def templates_folder_links_out(ws: Path, outside: Path) -> list[str]:
    for path in (ws / "templates").iterdir():
        path.rename(outside / path.name)
    (ws / "templates").rmdir()
    (ws / "templates").symlink_to(outside)
    _append_bytes(ws / LETTER / "body.txt.j2", b'{% include "shadow" %}\n')
    return _queue(ws, outside)


def letter_folder_links_out(ws: Path, outside: Path) -> list[str]:
    (ws / "letters" / "evil").symlink_to(outside / "letter")
    return ["queue", "evil"]


def queue_path(form: str) -> Setup:
    def setup(ws: Path, outside: Path) -> list[str]:
        return ["queue", form.format(ws=ws, outside=outside)]

    return setup


def latin1_in(relative: str, *command: str) -> Setup:
    def setup(ws: Path, outside: Path) -> list[str]:
        _append_bytes(ws / relative, "# Comité\n".encode("latin-1"))
        return list(command) or _queue(ws, outside)

    return setup


def config_adds(text: str, *command: str) -> Setup:
    def setup(ws: Path, outside: Path) -> list[str]:
        config = ws / "capitolmail.toml"
        config.write_text(config.read_text() + text.format(outside=outside))
        return list(command)

    return setup


def outbox_links_out(ws: Path, outside: Path) -> list[str]:
    (ws / ".capitolmail" / "outbox").symlink_to(outside)
    return ["status"]


def contacts_import_over_a_link(ws: Path, outside: Path) -> list[str]:
    offices = ws / "recipients" / "offices.csv"
    new = ws / "new-offices.csv"
    new.write_bytes(offices.read_bytes())
    offices.unlink()
    offices.symlink_to(outside / "shadow")
    return ["contacts", "import", str(new)]


def legislators_import_into_a_link(ws: Path, outside: Path) -> list[str]:
    (ws / "recipients" / "legislators").symlink_to(outside)
    packaged = Path(__file__).parents[1] / "src/capitolmail/recipients/data/congress-legislators"
    return ["legislators", "import", str(packaged / "legislators-current.yaml")]


def arguments(*command: str) -> Setup:
    return lambda ws, outside: list(command)


HUGE = "99999999999999999999999"

CASES: dict[str, Setup] = {
    "signers absolute": key_is("signers", "{outside}/shadow"),
    "signers dot-dot": key_is("signers", "../../../outside/shadow"),
    "signers link": links_out("letters/block-arms-sale/evil.csv", "signers"),
    "body_text absolute": key_is("body_text", "{outside}/shadow"),
    "body_text another letter": key_is("body_text", "../urge-senators/body.txt.j2"),
    "body_html link": links_out("letters/block-arms-sale/body.html.j2"),
    "body_text nul": key_is("body_text", "body\\u0000.txt.j2"),
    "include a link": include_link,
    "templates folder a link": templates_folder_links_out,
    "letter folder a link": letter_folder_links_out,
    "queue an absolute path": queue_path("{outside}/letter"),
    "queue a path in the workspace": queue_path("{ws}/letters/block-arms-sale"),
    "queue dot-dot": queue_path("../../outside/letter"),
    "offices.csv a link": links_out("recipients/offices.csv"),
    ".env a link": links_out(".env"),
    "contacts import over a link": contacts_import_over_a_link,
    "legislators import into a link": legislators_import_into_a_link,
    "letter.toml latin-1": latin1_in(str(TOML)),
    "signers.csv latin-1": latin1_in(str(LETTER / "signers.csv")),
    "body template latin-1": latin1_in(str(LETTER / "body.txt.j2")),
    "partial latin-1": latin1_in("templates/closing.txt.j2"),
    "offices.csv latin-1": latin1_in("recipients/offices.csv"),
    "capitolmail.toml latin-1": latin1_in("capitolmail.toml", "status"),
    ".env latin-1": latin1_in(".env", "status"),
    "outbox directory absolute": config_adds(
        '\n[provider.file]\ndirectory = "{outside}"\n', "status"
    ),
    "outbox directory dot-dot": config_adds(
        '\n[provider.file]\ndirectory = ".capitolmail/../../outside"\n', "status"
    ),
    "outbox folder a link": outbox_links_out,
    "status huge": arguments("status", HUGE),
    "status negative": arguments("status", "--", "-1"),
    "status thousands of digits": arguments("status", "9" * 5000),
    "status not a number": arguments("status", "1e3"),
    "send huge": arguments("send", HUGE),
    "pause huge": arguments("pause", HUGE),
    "resume huge": arguments("resume", HUGE),
    "cancel huge": arguments("cancel", HUGE),
    "requeue huge": arguments("requeue", HUGE, "--failed"),
    "supporters list huge limit": arguments("supporters", "list", "--limit", HUGE),
    "serve port out of range": arguments("serve", "--port", "70000"),
    "worker poll nan": arguments("worker", "--once", "--poll", "nan"),
    "worker poll inf": arguments("worker", "--once", "--poll", "inf"),
}


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): b"" if path.is_dir() else path.read_bytes()
        for path in sorted(folder.rglob("*"))
    }


def _jobs(ws: Path) -> int:
    database = ws / ".capitolmail" / "capitolmail.db"
    if not database.is_file():
        return 0
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        return conn.execute("SELECT count(*) FROM jobs").fetchone()[0] if "jobs" in tables else 0


@pytest.mark.parametrize("setup", CASES.values(), ids=CASES.keys())
def test_hostile_input_is_one_line_and_changes_nothing(tmp_path: Path, setup: Setup) -> None:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    init_workspace(ws)
    outside.mkdir()
    (outside / "shadow").write_text(SECRET + "\n")
    # A whole letter outside the workspace, which a path could queue.
    (outside / "letter").mkdir()
    for path in (ws / LETTER).iterdir():
        (outside / "letter" / path.name).write_bytes(path.read_bytes())
    command = setup(ws, outside)
    before = _tree(outside)

    result = CliRunner().invoke(main, ["--workspace", str(ws), *command], catch_exceptions=False)

    lines = result.stderr.splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    assert SECRET not in result.output and "root:" not in result.output
    assert _jobs(ws) == 0
    assert _tree(outside) == before


def test_errors_name_the_file_the_key_and_why(tmp_path: Path) -> None:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    init_workspace(ws)
    outside.mkdir()

    def error(setup: Setup) -> str:
        command = setup(ws, outside)
        result = CliRunner().invoke(main, ["--workspace", str(ws), *command])
        return result.stderr.strip()

    toml = (ws / TOML).read_text(encoding="utf-8")
    assert error(key_is("signers", "/etc/shadow")) == (
        'Error: letters/block-arms-sale/letter.toml:14: signers: "/etc/shadow" is an absolute '
        "path; name a file in letters/block-arms-sale/ or templates/"
    )
    (ws / TOML).write_text(toml, encoding="utf-8")
    assert error(key_is("body_text", "../urge-senators/body.txt.j2")) == (
        'Error: letters/block-arms-sale/letter.toml:10: body_text: "../urge-senators/body.txt.j2" '
        "leads out of letters/block-arms-sale/; a letter's files stay in "
        "letters/block-arms-sale/ or templates/"
    )
    (ws / TOML).write_text(toml, encoding="utf-8")
    assert error(queue_path("/abs/letters/block-arms-sale")) == (
        'Error: "/abs/letters/block-arms-sale" is not a letter name (did you mean '
        '"block-arms-sale"?); give the name of a folder in letters/, such as block-arms-sale'
    )
    assert error(arguments("status", HUGE)) == (
        f'Error: no job {HUGE}; "capitolmail status" lists the jobs'
    )
    (ws / TOML).write_bytes(b'kind = "joint"\n# Comit\xe9\n' + toml.encode())
    assert error(_queue) == (
        "Error: letters/block-arms-sale/letter.toml:2: not UTF-8 text: byte 0xE9 at column 8 "
        "(byte offset 22); save it as UTF-8"
    )


def test_a_letter_may_use_a_body_from_templates(cli: Invoke, workspace: Path) -> None:
    shared = workspace / "templates" / "shared-body.txt.j2"
    shared.write_text((workspace / LETTER / "body.txt.j2").read_text(encoding="utf-8"))
    _set_key(workspace, "body_text", "../../templates/shared-body.txt.j2")
    result = cli("letters", "check", "block-arms-sale")
    assert result.exit_code == 0, result.output


def test_byte_order_marks_are_accepted(cli: Invoke, workspace: Path) -> None:
    bom = b"\xef\xbb\xbf"
    for relative in (
        TOML,
        "capitolmail.toml",
        ".env",
        LETTER / "body.txt.j2",
        LETTER / "signers.csv",
    ):
        path = workspace / relative
        path.write_bytes(bom + path.read_bytes())
    result = cli("letters", "check", "block-arms-sale")
    assert result.exit_code == 0, result.output
    # The .env's first variable is read under its own name, not "\ufeffCAPITOLMAIL_…".
    shown = cli("config", "show")
    assert '"unsubscribe_secret": "**********"' in shown.stdout


def test_the_outbox_does_not_follow_a_link_planted_in_it(
    cli: Invoke, workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    assert cli("queue", "block-arms-sale").exit_code == 0
    assert cli("send", "1").exit_code == 0
    outbox = workspace / ".capitolmail" / "outbox"
    outbox.mkdir(parents=True)
    (outbox / "1").symlink_to(outside)

    result = cli("worker", "--once")

    assert result.exit_code == 1
    assert list(outside.iterdir()) == []
    assert "symbolic link" in cli("status", "1", "--messages").stdout
