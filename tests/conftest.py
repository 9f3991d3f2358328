"""Fixtures shared by the whole suite: real workspaces, a CLI runner, real databases.

The store runs on a real SQLite file and on PostgreSQL too: the server
CAPITOLMAIL_TEST_DATABASE_URL names when set, else a throwaway cluster the session
starts from the installed server binaries (tests/pgcluster.py); with neither, the
PostgreSQL half skips and says why. Each PostgreSQL test gets its own schema (via
the connection's search_path), created and dropped here, so tests never see each
other's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, make_url, text

from capitolmail.cli import main
from capitolmail.outbox import Store
from capitolmail.workspace import init_workspace
from tests.headers import wire_format_problems
from tests.pgcluster import SEARCHED, server_binaries, start_cluster

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read CAPITOLMAIL_* variables; a developer's own must not leak into tests."""
    for name in list(os.environ):
        if name.startswith("CAPITOLMAIL_") and name != "CAPITOLMAIL_TEST_DATABASE_URL":
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _every_eml_file_is_well_formed(tmp_path: Path) -> Iterator[None]:
    """Every .eml a test leaves under its tmp_path (the file provider's outbox, a
    preview saved as eml) passes tests/headers.py: headers parse, no line over 998
    octets, ASCII only, exactly one From/To/Subject/Message-ID, no Bcc."""
    yield
    problems = [
        f"{path.relative_to(tmp_path)}: {problem}"
        for path in sorted(tmp_path.rglob("*.eml"))
        if path.is_file() and not path.name.startswith(".tmp-")
        for problem in wire_format_problems(path.read_bytes())
    ]
    assert not problems, "malformed .eml file(s):\n  " + "\n  ".join(problems)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh copy of the worked example, exactly as `capitolmail init` writes it."""
    root = tmp_path / "ws"
    init_workspace(root)
    return root


@pytest.fixture
def cli(workspace: Path) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, ["--workspace", str(workspace), *args], catch_exceptions=False)

    return invoke


DATABASE_URL_VARIABLE = "CAPITOLMAIL_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[str | None]:
    """The PostgreSQL server the session's store tests use, as a URL: the variable's
    when set (CI sets it), else a throwaway cluster started from the installed server
    binaries (tests/pgcluster.py), else None and the PostgreSQL half skips."""
    base = os.environ.get(DATABASE_URL_VARIABLE)
    if base:
        yield base
        return
    bindir = server_binaries()
    if bindir is None:
        yield None
        return
    cluster = start_cluster(bindir)
    try:
        yield cluster.url
    finally:
        cluster.stop()


NO_POSTGRESQL = (
    f"no PostgreSQL: {DATABASE_URL_VARIABLE} is not set and no server binaries "
    f"(initdb, pg_ctl) in {SEARCHED}; set it (e.g. "
    "postgresql+psycopg://postgres@127.0.0.1:5432/test) or install PostgreSQL's server"
)


@contextmanager
def own_schema(base: str) -> Iterator[str]:
    """`base` with a fresh schema on the search path, dropped afterwards."""
    schema = f"capitolmail_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store on SQLite, then on PostgreSQL (in a schema of the test's own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / '.capitolmail' / 'capitolmail.db'}"
        return
    # Asked for here, not as a parameter: a run of SQLite tests starts no cluster.
    base = request.getfixturevalue("postgresql_server")
    if not base:
        pytest.skip(NO_POSTGRESQL)
    with own_schema(base) as url:
        yield url


@pytest.fixture
def postgresql_url(postgresql_server: str | None) -> Iterator[str]:
    """PostgreSQL only (in a schema of the test's own), for what SQLite cannot share."""
    if not postgresql_server:
        pytest.skip(NO_POSTGRESQL)
    with own_schema(postgresql_server) as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


def use_smtp_relay(workspace: Path, port: int, *, smtp: str = "", rest: str = "") -> None:
    """Send the workspace's mail through a loopback test relay on `port`.

    The example's own values stay (a test relay is not a real recipient), so
    `allow_example_values` is set; `smtp` adds lines to [provider.smtp] and `rest`
    adds tables after it (a [worker] table, say).
    """
    config = workspace / "capitolmail.toml"
    text = config.read_text().replace('name = "file"', 'name = "smtp"')
    config.write_text(
        "allow_example_values = true\n"
        + text
        + f'\n[provider.smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        f'security = "none"\nallow_plain = true\n{smtp}{rest}'
    )
