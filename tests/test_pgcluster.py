"""The tests' throwaway PostgreSQL cluster does not outlive a test run that was killed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pgcluster import server_binaries

from .test_unknown_outcomes import wait_for

ROOT = Path(__file__).resolve().parents[1]

# Starts a cluster, says where, and waits to be killed.
_SESSION = """
import json, sys
from tests.pgcluster import server_binaries, start_cluster
cluster = start_cluster(server_binaries())
print(json.dumps({"root": str(cluster.root), "port": cluster.port}), flush=True)
sys.stdin.read()
"""


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(server_binaries() is None, reason="PostgreSQL's server binaries are not here")
def test_a_killed_session_leaves_no_cluster_running() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _SESSION],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as session:
        try:
            assert session.stdout is not None
            where = json.loads(session.stdout.readline())
            root, port = Path(where["root"]), where["port"]
            assert _accepts(port) and root.exists()
            session.send_signal(signal.SIGKILL)  # no finally, no atexit: as the OOM killer does
            session.wait(timeout=30)
            wait_for(lambda: not _accepts(port) and not root.exists(), seconds=30)
        finally:
            session.kill()
