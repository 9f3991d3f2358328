"""The store under test, on a real SQLite file and, when configured, on PostgreSQL.

PostgreSQL runs only when CAPITOLMAIL_TEST_DATABASE_URL is set. Each test gets
its own schema (via the connection's search_path), created and dropped here, so
tests never see each other's tables nor those of other test modules sharing the
database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from capitolmail.outbox import Store

DATABASE_URL_VARIABLE = "CAPITOLMAIL_TEST_DATABASE_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / '.capitolmail' / 'capitolmail.db'}"
        return
    base = os.environ.get(DATABASE_URL_VARIABLE)
    if not base:
        pytest.skip(
            f"{DATABASE_URL_VARIABLE} is not set; set it to e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test to run the store on PostgreSQL"
        )
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


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened
