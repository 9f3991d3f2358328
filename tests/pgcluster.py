"""A throwaway PostgreSQL cluster for the test session, from the server's own binaries.

So that the README's plain `python3 -m pytest` runs the store on PostgreSQL too
wherever PostgreSQL is installed, not only where CAPITOLMAIL_TEST_DATABASE_URL
points at a running server. `initdb` and `pg_ctl` in a temporary directory, on a
free loopback port, trust authentication, no fsync (the data is thrown away);
stopped and removed when the session ends. A watchdog process stops and removes
it too if the session's process dies without ending it (a SIGKILL, an OOM kill, a
CI timeout): it waits on the process's pidfd, so it notices at once and never polls.

PostgreSQL refuses to run as root, and the tests run as root here and in CI, so
as root the cluster runs as the `postgres` system user (else `nobody`), which owns
its directory. Why not pytest-postgresql (10.0): it creates the data directory
itself under pytest's 0700 base temp and runs pg_ctl as the current user, so as
root it would need a wrapper script for pg_ctl plus loosened permissions on
pytest's temp tree, and three more packages; this is shorter than that.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SEARCHED = "PATH, `pg_config --bindir` and /usr/lib/postgresql/*/bin"


def server_binaries() -> Path | None:
    """The directory holding `initdb` and `pg_ctl`, or None when PostgreSQL's server
    is not installed (Debian puts them off PATH, under /usr/lib/postgresql/N/bin)."""
    candidates: list[str] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(found.stdout.strip())
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(Path(p).parent.name), reverse=True)
    for directory in candidates:
        bindir = Path(directory)
        if directory and all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl")):
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Who runs the server: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists")


# The watchdog: argv is the pid to outlive, pg_ctl, the data directory, the root to
# remove, and the uid and gid to stop the server as (-1: ourselves). Cluster.stop
# writes "stopped" to its stdin once the cluster is gone; a stdin that closes
# without it, or the pid's end, means the session died with the cluster running.
_WATCHDOG = """
import os, select, shutil, subprocess, sys
pid, pg_ctl, data, root, uid, gid = sys.argv[1:]
try:
    watched = os.pidfd_open(int(pid))
except ProcessLookupError:
    watched = None  # gone already
print("watching", flush=True)
if watched is not None:
    ready, _, _ = select.select([watched, sys.stdin], [], [])
    if sys.stdin in ready and sys.stdin.readline().strip() == "stopped":
        sys.exit(0)
ids = {} if int(uid) < 0 else {"user": int(uid), "group": int(gid)}
subprocess.run([pg_ctl, "stop", "-m", "immediate", "-D", data], capture_output=True, **ids)
shutil.rmtree(root, ignore_errors=True)
"""


@dataclass
class Cluster:
    bindir: Path
    root: Path
    port: int
    user: pwd.struct_passwd | None
    watchdog: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *command: str) -> None:
        """Run a server binary as the cluster's owner; fail with its output."""
        as_user = {"user": self.user.pw_uid, "group": self.user.pw_gid} if self.user else {}
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        env.pop("PGDATA", None)
        done = subprocess.run(
            [str(self.bindir / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            timeout=120,
            **as_user,
        )
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{command[0]} failed ({done.returncode}): {done.stderr.strip()} {tail}"
            )

    def start(self) -> None:
        data = str(self.root / "data")
        self.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "-N")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -F "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        log = str(self.root / "server.log")
        self.run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", log, "-o", options)
        uid, gid = (self.user.pw_uid, self.user.pw_gid) if self.user else (-1, -1)
        self.watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.bindir / "pg_ctl")]
            + [data, str(self.root), str(uid), str(gid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a kill of pytest's process group spares it
        )
        assert self.watchdog.stdout is not None
        self.watchdog.stdout.readline()  # it holds this process's pidfd from here on

    def stop(self) -> None:
        try:
            self.run("pg_ctl", "stop", "-m", "immediate", "-D", str(self.root / "data"))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self.watchdog is not None:
                self.watchdog.communicate(b"stopped\n", timeout=30)


def start_cluster(bindir: Path) -> Cluster:
    """initdb and start a cluster in a fresh temporary directory; the caller stops it."""
    user = _unprivileged_user()
    root = Path(tempfile.mkdtemp(prefix="capitolmail-pg-"))
    if user:
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = Cluster(bindir, root, _free_port(), user)
    try:
        cluster.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster
