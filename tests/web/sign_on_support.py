"""A served sign-on workspace for tests: the worked example, its app on loopback, a client.

The client keeps cookies (the form's CSRF cookie) and posts multipart forms the
way a browser does, over a real socket.
"""

from __future__ import annotations

import email
import email.policy
import http.cookiejar
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from capitolmail.cli import main
from capitolmail.web import create_app
from capitolmail.workspace import Workspace
from tests.servers.web import LiveServer
from tests.web.conftest import STATUS_TOKEN, Reply

SLUG = "protect-aid-workers"
LETTER = Path("letters") / SLUG / "letter.toml"
SIGNER = {
    "organization": "The Center for Aid & Development",
    "signatory": "Rosa Díaz",
    "title": "Executive Director",
    "state": "OR",
    "email": "rosa@aid-development.example.net",
    "consent": "yes",
}


def set_window(root: Path, *, opens: str = "2026-01-05 09:00", closes: str = "2030-06-30 17:00",
               extra: str = "") -> None:  # fmt: skip
    path = root / LETTER
    text = path.read_text(encoding="utf-8")
    text = re.sub(r'^opens = ".*"$', f'opens = "{opens}"', text, flags=re.MULTILINE)
    text = re.sub(r'^closes = ".*"$', f'closes = "{closes}"{extra}', text, flags=re.MULTILINE)
    path.write_text(text, encoding="utf-8")


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def call(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> Reply:  # fmt: skip
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=20) as response:
                return Reply(response.status, _lower(response.headers), response.read().decode())
        except urllib.error.HTTPError as err:
            with err:
                return Reply(err.code, _lower(err.headers), err.read().decode())

    def form_token(self) -> str:
        page = self.call("GET", f"/sign/{SLUG}")
        assert page.status == 200, page.text
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text
        return unescape(found.group(1))

    def sign(self, fields: dict[str, str] | None = None, *, csrf: str | None = None,
             logo: tuple[str, bytes] | None = None) -> Reply:  # fmt: skip
        values = dict(SIGNER if fields is None else fields)
        values.setdefault("csrf", self.form_token() if csrf is None else csrf)
        if csrf == "":
            values.pop("csrf")
        body, content_type = multipart(values, logo)
        return self.call("POST", f"/sign/{SLUG}", body, {"Content-Type": content_type})


def multipart(values: dict[str, str], logo: tuple[str, bytes] | None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in values.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    if logo is not None:
        filename, data = logo
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="logo"; filename="{filename}"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class Served:
    root: Path
    server: LiveServer
    workspace: Workspace
    runner: CliRunner = field(default_factory=CliRunner)

    def client(self) -> Client:
        return Client(self.server.url)

    def cli(self, *args: str) -> Any:
        return self.runner.invoke(
            main, ["--workspace", str(self.root), *args], catch_exceptions=False
        )

    def deliver(self) -> list[email.message.EmailMessage]:
        """Run the worker once: every queued mail into the .eml outbox; all of them."""
        assert self.cli("worker", "--once").exit_code == 0
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted((self.root / ".capitolmail/outbox").glob("*/*.eml"))
        ]


def link_path(message: email.message.EmailMessage, kind: str) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(rf"https://act\.example\.org(/sign/{SLUG}/{kind}/[A-Za-z0-9_.-]+)",
                      str(body.get_content()))  # fmt: skip
    assert found, body.get_content()
    return found.group(1)


@pytest.fixture
def served(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("CAPITOLMAIL_STATUS_TOKEN", STATUS_TOKEN)
    opened = Workspace.open(workspace)
    server = LiveServer(create_app(opened.settings, opened.store, opened.root))
    server.start()
    try:
        yield Served(workspace, server, opened)
    finally:
        server.stop()
        opened.close()


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}
