"""`capitolmail serve` as staff run it: a real process, the workspace's settings and database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.web.conftest import call


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_health_checks_from_the_workspace_database(workspace: Path) -> None:
    port = free_port()
    env = {**os.environ, "CAPITOLMAIL_STATUS_TOKEN": "serve-test-token"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parents[2] / "src"), env.get("PYTHONPATH", "")]
    )
    command = [sys.executable, "-m", "capitolmail", "--workspace", str(workspace), "serve"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        reply = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            try:
                reply = call("GET", f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        assert reply is not None, "capitolmail serve did not start"
        assert (reply.status, reply.json()) == (200, {"status": "ok"})
        status = call(
            "GET",
            f"http://127.0.0.1:{port}/status",
            headers={"Authorization": "Bearer serve-test-token"},
        )
        assert status.status == 200 and "No jobs yet" in status.text
        assert (workspace / ".capitolmail" / "capitolmail.db").is_file()
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert "serve-test-token" not in output
    assert f"Serving on http://127.0.0.1:{port}" in output


def test_the_access_log_never_holds_a_token(workspace: Path) -> None:
    """A status token pasted into a URL, and unsubscribe tokens, stay out of the access log."""
    port = free_port()
    token = "status-token-in-a-url-93e1"
    env = {**os.environ, "CAPITOLMAIL_STATUS_TOKEN": token}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parents[2] / "src"), env.get("PYTHONPATH", "")]
    )
    command = [sys.executable, "-m", "capitolmail", "--workspace", str(workspace), "serve"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            try:
                call("GET", f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        replies = [
            call("GET", f"{base}/status?token={token}"),
            call("GET", f"{base}/status?access_token={token}&x=1"),
            call("GET", f"{base}/healthz?token={token}"),
            call("GET", f"{base}/u/{token}"),
            call("GET", f"{base}/u/{token}?token={token}"),
            call("GET", f"{base}/nope?{token}"),
        ]
        # The one request that can succeed shows the log is written at all.
        ok = call("GET", f"{base}/status", headers={"Authorization": f"Bearer {token}"})
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert [reply.status for reply in replies] == [401, 401, 200, 400, 400, 404]
    assert ok.status == 200
    assert '"GET /status?… HTTP/1.1" 401' in output
    assert '"GET /u/… HTTP/1.1" 400' in output
    assert '"GET /status HTTP/1.1" 200' in output
    assert token not in output
