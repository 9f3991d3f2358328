"""The packaged roster, parsed once for the whole run, and the raw files beside it.

The raw YAML is read here with PyYAML directly, not through capitolmail, so tests
compare what the roster says with what the upstream files say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import capitolmail.recipients
from capitolmail.recipients.legislators import Roster, load_roster

DATA = Path(capitolmail.recipients.__file__).parent / "data" / "congress-legislators"


def read_raw(name: str) -> Any:
    with (DATA / name).open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.fixture(scope="session")
def roster() -> Roster:
    return load_roster()


@pytest.fixture(scope="session")
def raw_membership() -> dict[str, list[dict[str, Any]]]:
    return read_raw("committee-membership-current.yaml")


@pytest.fixture(scope="session")
def raw_legislators() -> list[dict[str, Any]]:
    return read_raw("legislators-current.yaml")
