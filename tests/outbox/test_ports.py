"""Every consumer's Protocol matches the Store it is handed.

The Protocols are for type checkers; this test is what notices when a Store
method is renamed or its parameters change under a consumer that declared it.
"""

from __future__ import annotations

import inspect
from typing import Protocol

import pytest

from capitolmail.cli.ports import JobAdministration
from capitolmail.outbox import Store
from capitolmail.recipients.supporters import SupporterBatches
from capitolmail.sending.starting import JobStarting
from capitolmail.tracking.apply import DeliveryStore
from capitolmail.tracking.unsubscribes import UnsubscribeStore
from capitolmail.web.status import JobStatusReads

PORTS: list[type] = [
    DeliveryStore,
    JobAdministration,
    JobStarting,
    JobStatusReads,
    SupporterBatches,
    UnsubscribeStore,
]


def _members(port: type) -> list[str]:
    # Protocol adds dunders of its own (__init__, __subclasshook__); ports declare none.
    return [
        name
        for name, value in vars(port).items()
        if inspect.isfunction(value) and not name.startswith("_")
    ]


def _shape(function: object) -> list[tuple[str, inspect._ParameterKind, object]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("port", PORTS, ids=lambda port: port.__name__)
def test_store_provides_the_port(port: type) -> None:
    members = _members(port)
    assert members, f"{port.__name__} declares no methods"
    for name in members:
        assert hasattr(Store, name), f"Store has no {name}, which {port.__name__} needs"
        assert _shape(getattr(Store, name)) == _shape(getattr(port, name)), name


def test_a_changed_signature_is_noticed() -> None:
    class Wrong(Protocol):
        def get_job(self, job: int) -> object: ...

    assert _shape(Store.get_job) != _shape(Wrong.get_job)
