"""Every answer of `capitolmail serve` carries the security headers: pages, errors,
Starlette's own 404/405, a 413, a 500; and no redirect points where the Host header says."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from capitolmail.errors import StoreError
from capitolmail.outbox import Store
from capitolmail.web.security import SecurityHeaders
from capitolmail.web.webhooks import MAX_BODY
from tests.servers.web import LiveServer
from tests.web.conftest import STATUS_TOKEN, Reply, Serve, Signer, call, sent_job
from tests.web.test_unsubscribe_pages import FORM, ONE_CLICK, add_supporter, link
from tests.web.test_webhooks import PATH, event

BEARER = {"Authorization": f"Bearer {STATUS_TOKEN}"}


def assert_secure(reply: Reply) -> None:
    headers = reply.headers
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") in ("no-referrer", "same-origin")
    assert "no-store" in headers.get("cache-control", "")
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", "")


Case = Callable[[Store, str, Signer], Reply]


def _webhook(body: bytes, *, sign: bool = True) -> Case:
    def case(store: Store, url: str, signer: Signer) -> Reply:
        headers = signer.headers(body) if sign else {"Content-Type": "application/json"}
        return call("POST", url + PATH, body=body, headers=headers)

    return case


def _delivered(store: Store, url: str, signer: Signer) -> Reply:
    _, (jane,) = sent_job(store, ["jane@example.org"])
    body = json.dumps([event("delivered", jane, "jane@example.org")]).encode()
    return call("POST", url + PATH, body=body, headers=signer.headers(body))


def _unsubscribe(method: str) -> Case:
    def case(store: Store, url: str, signer: Signer) -> Reply:
        add_supporter(store, "jane@example.org")
        server = type("S", (), {"url": url})()
        body = ONE_CLICK if method == "POST" else None
        return call(method, link(server, "jane@example.org"), body=body, headers=FORM)

    return case


CASES: dict[str, tuple[int, Case]] = {
    "healthz": (200, lambda store, url, signer: call("GET", url + "/healthz")),
    "status": (200, lambda store, url, signer: call("GET", url + "/status", headers=BEARER)),
    "status without token": (401, lambda store, url, signer: call("GET", url + "/status")),
    "status with a token in the query": (
        401,
        lambda store, url, signer: call("GET", f"{url}/status?token={STATUS_TOKEN}"),
    ),
    "unsubscribe page": (200, _unsubscribe("GET")),
    "unsubscribe done": (200, _unsubscribe("POST")),
    "unsubscribe bad link": (400, lambda store, url, signer: call("GET", url + "/u/not-a-token")),
    "webhook applied": (204, _delivered),
    "webhook malformed": (400, _webhook(b"[" * 1000)),
    "webhook unsigned": (401, _webhook(b"[]", sign=False)),
    "webhook too large": (413, _webhook(b" " * (MAX_BODY + 1))),
    "not found": (404, lambda store, url, signer: call("GET", url + "/nope")),
    "trailing slash": (404, lambda store, url, signer: call("GET", url + "/status/")),
    "method not allowed": (405, lambda store, url, signer: call("GET", url + PATH)),
    "method not allowed on status": (405, lambda store, url, signer: call("POST", url + "/status")),
}


@pytest.mark.parametrize(("status", "case"), CASES.values(), ids=CASES.keys())
def test_every_route_and_error_carries_the_headers(
    store: Store, serve: Serve, signer: Signer, status: int, case: Case
) -> None:
    server = serve()

    reply = case(store, server.url, signer)

    assert reply.status == status
    assert_secure(reply)


def test_the_status_page_says_a_token_in_the_url_is_ignored(store: Store, serve: Serve) -> None:
    server = serve()

    reply = call("GET", f"{server.url}/status?token={STATUS_TOKEN}")

    assert reply.status == 401
    assert "not accepted in the URL" in reply.text
    assert STATUS_TOKEN not in reply.text


def test_database_failures_carry_the_headers(
    store: Store, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise StoreError("could not reach the database in sqlite:///x: gone; check it")

    monkeypatch.setattr(store, "ping", down)
    monkeypatch.setattr(store, "list_jobs", down)
    server = serve()

    for reply in (
        call("GET", server.url + "/healthz"),
        call("GET", server.url + "/status", headers=BEARER),
    ):
        assert reply.status == 503
        assert_secure(reply)


def test_a_bug_is_a_plain_500_with_the_headers(
    store: Store, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug, with sqlite:///secret in its text")

    monkeypatch.setattr(store, "list_jobs", broken)
    server = serve()

    reply = call("GET", server.url + "/status", headers=BEARER)

    assert (reply.status, reply.text) == (500, "internal error")
    assert_secure(reply)


def _raw_get(url: str, path: str, host: str) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", path, headers={"Host": host})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_a_trailing_slash_does_not_redirect_to_the_host_header(serve: Serve) -> None:
    server = serve()

    response = _raw_get(server.url, "/status/", "evil.example")

    assert response.status == 404
    assert response.getheader("Location") is None


def test_a_redirect_built_from_the_host_header_is_made_relative() -> None:
    """Any redirect a handler builds from the request URL (Starlette's habit) leaves
    as a path, while a redirect to a configured address is kept."""

    async def to_request_url(request: Request) -> RedirectResponse:
        return RedirectResponse(str(request.url.replace(path="/landing")) + "?a=1", 303)

    async def to_configured(request: Request) -> RedirectResponse:
        return RedirectResponse("https://mail.example.org/landing", 303)

    routes = [Route("/go", to_request_url), Route("/configured", to_configured)]
    server = LiveServer(SecurityHeaders(Starlette(routes=routes)))
    server.start()
    try:
        moved = _raw_get(server.url, "/go", "evil.example")
        forwarded = _raw_get(server.url, "/configured", "mail.example.org.evil.example")
    finally:
        server.stop()

    assert (moved.status, moved.getheader("Location")) == (303, "/landing?a=1")
    assert moved.getheader("X-Frame-Options") == "DENY"
    assert forwarded.getheader("Location") == "https://mail.example.org/landing"
