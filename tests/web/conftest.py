"""Fixtures for the web tests: a served app over the `store` fixture, HTTP calls, signing.

Requests go over a real loopback socket with urllib, so what is tested is what
SendGrid, a mail client or a browser would meet, headers and all.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from capitolmail.config import Settings
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import Outcome, QueuedMessage, Store
from capitolmail.tracking.sendgrid import SIGNATURE_HEADER, TIMESTAMP_HEADER
from capitolmail.web import create_app
from tests.servers.web import LiveServer

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
UNSUBSCRIBE_SECRET = "an-unsubscribe-secret-for-tests-0123456789"
STATUS_TOKEN = "status-token-for-tests-7f3a"
ORGANISATION = "Peace Action Example"


@dataclass(frozen=True)
class Reply:
    """An answer; header names in lower case."""

    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def call(
    method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Reply:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, _lower(response.headers), response.read().decode())
    except urllib.error.HTTPError as err:
        with err:
            return Reply(err.code, _lower(err.headers), err.read().decode())


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


class Signer:
    """A key pair made in the test, standing in for SendGrid's."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()  # as SendGrid's settings page shows it

    def headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.private_key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            SIGNATURE_HEADER: base64.b64encode(signature).decode(),
            TIMESTAMP_HEADER: stamp,
            "Content-Type": "application/json",
        }


@pytest.fixture
def signer() -> Signer:
    return Signer()


def make_settings(signer: Signer | None = None, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "organisation": {"name": ORGANISATION},
        "web": {"sendgrid_public_key": signer.public_key if signer else ""},
        "status_token": STATUS_TOKEN,
        "unsubscribe_secret": UNSUBSCRIBE_SECRET,
    }
    web = changes.pop("web", {})
    values["web"] = {**values["web"], **web}
    values.update(changes)
    return Settings(**values)


Serve = Callable[..., LiveServer]


@pytest.fixture
def serve(store: Store, signer: Signer) -> Iterator[Serve]:
    """`serve(**settings changes)` starts the app over `store`; stopped after the test."""
    servers: list[LiveServer] = []

    def start(**changes: Any) -> LiveServer:
        server = LiveServer(create_app(make_settings(signer, **changes), store))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def outgoing(index: int, to_email: str) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=str(uuid.uuid4()),
        job_id="ignored",
        from_email="action@peace-action.example",
        from_name=ORGANISATION,
        to_email=to_email,
        to_name=f"Supporter {index}",
        subject="Close Guantánamo",
        text="Call your senators.\n",
    )


def sent_job(store: Store, emails: Sequence[str], *, unsent: int = 0) -> tuple[int, list[str]]:
    """A started job whose first len(emails) messages are `sent`; `unsent` more stay queued.

    Returns the job id and the sent messages' ids, in order.
    """
    addresses = [*emails, *(f"later{i}@example.org" for i in range(unsent))]
    items = [QueuedMessage(outgoing(i, email)) for i, email in enumerate(addresses)]
    job_id = store.create_job(letter_slug="gitmo-alert", kind="alert", messages=items, now=NOW)
    store.schedule_job(job_id, NOW - timedelta(minutes=1), NOW)
    store.start_due_jobs(NOW, grace=timedelta(hours=1), job_id=job_id)
    store.register_worker("w1", "host-a", 1000, NOW)
    claimed = store.claim_due("w1", len(emails), NOW)
    by_address = {claim.message.to_email: claim.message.message_id for claim in claimed}
    ids = [by_address[email] for email in emails]
    for message_id in ids:
        store.record_outcomes([Outcome(message_id, "sent", provider_message_id=None)], NOW)
    return job_id, ids


# -- a real browser (tests/web/test_browser.py, test_sign_on_browser.py) ---------------

BROWSER_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER_PATHS = ("/usr/bin/chromedriver",)


def _first(paths: tuple[str, ...], name: str) -> str | None:
    found = [path for path in paths if Path(path).is_file()]
    return found[0] if found else shutil.which(name)


@pytest.fixture(scope="session")
def _chromium() -> Iterator[Any]:
    """One headless Chromium for the session: starting it costs seconds, and `browser`
    gives each test a clean one (see _fresh)."""
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (pip install '.[test]')"
    )
    binary = _first(BROWSER_PATHS, "chromium")
    driver_path = _first(DRIVER_PATHS, "chromedriver")
    if binary is None or driver_path is None:
        pytest.skip(
            "headless Chromium is not installed: install Debian's chromium and chromium-driver "
            "packages (.ci/run does when apt-get is available)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--no-first-run"):
        options.add_argument(argument)
    service = webdriver.ChromeService(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _fresh(driver: Any, size: dict[str, int]) -> None:
    """Undo what a test may have changed: extra headers (a bearer token), cookies (they
    ignore the port, so one test's would reach the next server), cache, extra windows,
    the window's size, the page."""
    for handle in driver.window_handles[1:]:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(driver.window_handles[0])
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.execute_cdp_cmd("Network.disable", {})
    driver.get("about:blank")
    driver.set_window_size(size["width"], size["height"])


@pytest.fixture
def browser(_chromium: Any) -> Iterator[Any]:
    size = _chromium.get_window_size()
    _fresh(_chromium, size)
    try:
        yield _chromium
    finally:
        _fresh(_chromium, size)
