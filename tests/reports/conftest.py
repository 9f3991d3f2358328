"""Report tests send real letters (the aiosmtpd sink, the SendGrid stand-in), then feed
the outbox events the way production does: signed webhook batches over a socket, and
TrackingEvents through tracking/apply.py as the inbound mailbox records replies."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from capitolmail.outbox import Store
from capitolmail.tracking.apply import apply_events
from capitolmail.tracking.events import EventType, TrackingEvent
from capitolmail.web import create_app
from capitolmail.workspace import Workspace
from tests.conftest import Invoke
from tests.servers.sendgrid import SendGridStandIn, load_spec
from tests.servers.web import LiveServer
from tests.web.conftest import Signer, call, make_settings

API_KEY = "SG.capitolmail-test.abcdefghijklmnopqrstuvwxyz"
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_counter = iter(range(1, 1_000_000))


def messages(cli: Invoke, job: int = 1) -> list[dict[str, Any]]:
    result = cli("status", str(job), "--json", "--messages")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["jobs"][0]["messages"]


def figures(cli: Invoke, job: int = 1) -> dict[str, Any]:
    return json.loads(cli("status", str(job), "--json").stdout)["jobs"][0]["report"]


def open_store(workspace: Path) -> Store:
    return Store.open(Workspace.open(workspace).settings.database_url_for(workspace))


def record(workspace: Path, *events: TrackingEvent) -> None:
    """Apply events as the inbound mailbox does: TrackingEvents through tracking/apply.py."""
    with open_store(workspace) as store:
        report = apply_events(store, list(events), datetime.now(UTC))
    assert report.applied == len(events), report.summary()


def mailbox_event(
    kind: EventType, message: dict[str, Any], reason: str | None = None
) -> TrackingEvent:
    return TrackingEvent(
        event_type=kind,
        event_name=str(kind),
        timestamp=datetime.now(UTC),
        message_id=message["id"],
        recipient=message["to"],
        event_id=f"mailbox-{next(_counter)}",
        description=reason,
    )


def sendgrid_event(name: str, message: dict[str, Any], **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "email": message["to"],
        "event": name,
        "timestamp": int(time.time()),
        "sg_event_id": f"sg-event-{next(_counter)}",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "capitolmail_job_id": "1",
        "capitolmail_message_id": message["id"],
    }
    data.update(fields)
    return data


Post = Callable[[list[dict[str, Any]]], None]


@pytest.fixture
def webhook(workspace: Path) -> Iterator[Post]:
    """Post signed batches to a served app over the workspace's own database."""
    signer = Signer()
    store = open_store(workspace)
    server = LiveServer(create_app(make_settings(signer), store))
    server.start()

    def post(batch: list[dict[str, Any]]) -> None:
        body = json.dumps(batch).encode()
        reply = call(
            "POST", server.url + "/webhooks/sendgrid", body=body, headers=signer.headers(body)
        )
        assert reply.status == 204, reply.text

    yield post
    server.stop()
    store.close()


@pytest.fixture
def sendgrid(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SendGridStandIn]:
    with SendGridStandIn(API_KEY, spec=load_spec()) as server:
        config = workspace / "capitolmail.toml"
        text = config.read_text().replace('name = "file"', 'name = "sendgrid"')
        config.write_text(
            text + f'\n[provider.sendgrid]\nbase_url = "{server.url}"\nsandbox_mode = true\n'
        )
        monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", API_KEY)
        yield server


class Elements(HTMLParser):
    """The element names and the text of an HTML page, as a browser would parse them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)
