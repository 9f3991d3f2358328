"""The README's inbound-mailbox walkthrough, run exactly as written.

The shell block under "Worked example: a bounce, a reply, an auto-reply and an
unsubscribe" is taken out of README.md and run by bash in a copy of the
checkout's layout (docs/examples/inbox_demo.py is the repository's own file),
with `capitolmail` and `python3` meaning this worktree's code. A README edit
that breaks the walkthrough, or a change to the inbox sync it shows, fails here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from email import message_from_bytes
from email.utils import parseaddr
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADING = "### Worked example: a bounce, a reply, an auto-reply and an unsubscribe"
SYNC_LINE = (
    "Inbox: 4 read: 1 bounces, 0 soft bounces, 1 replies, 1 auto-replies, 1 unsubscribes, "
    "0 not matched to a message, 0 other, 0 unparsed."
)


def walkthrough_commands() -> str:
    """The first ```sh block after the walkthrough's heading in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(HEADING)
    block = re.compile(r"```sh\n(.*?)```", re.DOTALL).search(text, start)
    assert block, f"README.md: no ```sh block after {HEADING!r}"
    return block.group(1)


def tool(bin_dir: Path, name: str, command: str) -> None:
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" {command} "$@"\n')
    path.chmod(0o755)


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Run the README block once; return the workspace and what the commands printed."""
    checkout = tmp_path_factory.mktemp("checkout")
    (checkout / "docs" / "examples").mkdir(parents=True)
    script = ROOT / "docs" / "examples" / "inbox_demo.py"
    (checkout / "docs" / "examples" / "inbox_demo.py").symlink_to(script)
    bin_dir = tmp_path_factory.mktemp("bin")
    tool(bin_dir, "capitolmail", "-m capitolmail")
    tool(bin_dir, "python3", "")
    env = {name: value for name, value in os.environ.items() if not name.startswith("CAPITOLMAIL_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT / "src")
    env["COLUMNS"] = "200"
    run = subprocess.run(
        ["bash", "-e", "-c", walkthrough_commands()],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"walkthrough failed:\n{run.stdout}\n{run.stderr}"
    return checkout / "inbox-demo", run.stdout


def capitolmail(workspace: Path, *args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "capitolmail", "--workspace", str(workspace), *args],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return run.stdout


def sent_to(workspace: Path, job: int) -> list[str]:
    """The To address of each .eml of a job, in the file order the script uses."""
    folder = workspace / ".capitolmail" / "outbox" / str(job)
    return [
        parseaddr(str(message_from_bytes(path.read_bytes())["To"]))[1]
        for path in sorted(folder.glob("*.eml"))
    ]


def test_the_sync_reads_one_of_each_as_the_readme_shows(walkthrough: tuple[Path, str]) -> None:
    workspace, printed = walkthrough
    assert SYNC_LINE in printed.splitlines()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"$ capitolmail inbox sync\n{SYNC_LINE}\n" in readme[readme.index(HEADING) :]
    again = capitolmail(workspace, "inbox", "sync")
    assert again.startswith("Inbox: 0 read:"), again


def test_the_bounced_letter_is_bounced_and_its_address_suppressed(
    walkthrough: tuple[Path, str],
) -> None:
    workspace, printed = walkthrough
    letters = sent_to(workspace, 1)
    job = json.loads(capitolmail(workspace, "status", "1", "--json", "--messages"))["jobs"][0]
    states = {message["to"]: message["state"] for message in job["messages"]}
    assert len(states) == len(letters) == 44
    bounced = [address for address, state in states.items() if state == "bounced"]
    assert bounced == [letters[0]]
    assert {state for address, state in states.items() if address != letters[0]} == {"sent"}
    assert "sent 43, bounced 1" in printed
    assert "Job 1: 1 replied, 1 answered by an auto-reply (inbox sync)" in printed

    suppressed = json.loads(capitolmail(workspace, "suppress", "list", "--json"))
    reasons = {row["email"]: row["reason"] for row in suppressed}
    supporter = sent_to(workspace, 2)[0]
    assert reasons == {letters[0]: "bounce", supporter: "unsubscribe"}


def test_the_report_shows_the_bounce_the_reply_and_the_auto_reply(
    walkthrough: tuple[Path, str],
) -> None:
    workspace, _ = walkthrough
    html = (workspace / "report.html").read_text(encoding="utf-8")
    figures = dict(
        (label, int(number))
        for number, label in re.findall(
            r'<div class="figure"[^>]*><b>([\d,]+)</b>([^<]+)</div>', html
        )
    )
    assert figures["bounced"] == 1
    assert figures["replies"] == 1
    assert figures["auto-replies"] == 1
    assert "<b>22 of 22</b>offices reached" in html
    assert "550 5.1.1" in html

    assert "Unsubscribes: 1" in capitolmail(workspace, "status", "2")
    report = json.loads(capitolmail(workspace, "status", "2", "--json"))["jobs"][0]["report"]
    assert report["unsubscribes"] == 1
