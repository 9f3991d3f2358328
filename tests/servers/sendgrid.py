"""A loopback stand-in for SendGrid's `POST /v3/mail/send`, for tests and benchmarks.

A Starlette app served by uvicorn in a background thread, as httpx's tests run
theirs. It checks the bearer key, validates each body against SendGrid's
published OpenAPI schema and against the documented limits the schema does not
carry (../shared/specs/README.md), and answers as SendGrid does: 202 with an
`X-Message-Id`, or 400/401 with `{"errors": [{"message", "field"}]}`.

The limit checks are written again here rather than imported from
`capitolmail.providers.sendgrid_payload`: a mistake shared by the provider and
its stand-in would be invisible to every test.

Each test can script what comes next: `answer(429, reset_in=3)`, `answer(500,
times=2)`, `answer(400, recipient=...)`, `stall(1.0)` (answer late, then
accept, as SendGrid may after our read timeout; `recipients=` stalls several),
`answer(401, delay=1.0)` (a verdict that comes late), `drop()` (close the connection
without answering), and `latency` for every request (benchmarks use 50 ms).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.headers import payload_header_problems
from tests.servers.threaded import ServerThread

SPEC_PATH = Path(__file__).parents[2].parent / "shared" / "specs" / "sendgrid" / "tsg_mail_v3.json"
SPEC_MISSING = (
    f"SendGrid's OpenAPI spec is not at {SPEC_PATH}; check out the shared specs beside the "
    "repository (CI does) to validate payloads against the published schema"
)
_SPEC_URI = "urn:sendgrid:tsg_mail_v3"
_REQUEST_SCHEMA = "/components/requestBodies/PostMailSend/content/application~1json/schema"

RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
_REASONS = {
    400: "invalid request",
    401: "authorization required",
    403: "access forbidden",
    404: "not found",
    413: "content too large",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def load_spec() -> dict[str, Any] | None:
    """SendGrid's OpenAPI document, or None when ../shared is not beside the repository."""
    if not SPEC_PATH.is_file():
        return None
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


def request_validator(spec: dict[str, Any]) -> Draft4Validator:
    """Draft 4 validator for the mail-send body, resolving `#/components/...` in the whole spec."""
    registry: Registry[Any] = Registry().with_resource(
        _SPEC_URI, Resource(contents=spec, specification=DRAFT4)
    )
    return Draft4Validator(
        {"$ref": f"{_SPEC_URI}#{_REQUEST_SCHEMA}"},
        registry=registry,
        format_checker=Draft4Validator.FORMAT_CHECKER,
    )


def schema_problems(validator: Draft4Validator, payload: Any) -> list[dict[str, str | None]]:
    """Schema errors in SendGrid's error shape, the field as a dotted path."""
    return [
        {"message": error.message, "field": ".".join(str(p) for p in error.absolute_path) or None}
        for error in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
    ]


def limit_problems(payload: dict[str, Any]) -> list[dict[str, str | None]]:
    """The documented limits the schema does not carry, in SendGrid's error shape."""
    problems: list[dict[str, str | None]] = []
    seen: set[str] = set()
    count = 0
    personalizations = payload.get("personalizations")
    if not isinstance(personalizations, list):
        return problems
    for p_index, personalization in enumerate(personalizations):
        if not isinstance(personalization, dict):
            continue
        for kind in ("to", "cc", "bcc"):
            for r_index, recipient in enumerate(personalization.get(kind) or []):
                if not isinstance(recipient, dict):
                    continue
                count += 1
                field = f"personalizations.{p_index}.{kind}.{r_index}"
                address = str(recipient.get("email", "")).lower()
                if address in seen:
                    problems.append(
                        {
                            "message": "Each email address in the personalization block should "
                            "be unique between to, cc, and bcc. We found the first duplicate "
                            f"instance of [{address}] in the {field} field.",
                            "field": f"{field}.email",
                        }
                    )
                seen.add(address)
                name = str(recipient.get("name", ""))
                if ";" in name or "," in name:
                    problems.append(
                        {
                            "message": "The recipient's name cannot contain ; or ,",
                            "field": f"{field}.name",
                        }
                    )
        args = personalization.get("custom_args")
        if isinstance(args, dict):
            size = len(json.dumps(args, separators=(",", ":"), ensure_ascii=False).encode())
            if size >= 10_000:
                problems.append(
                    {
                        "message": f"The custom_args must total less than 10,000 bytes ({size})",
                        "field": f"personalizations.{p_index}.custom_args",
                    }
                )
        problems += _reserved(personalization.get("headers"), f"personalizations.{p_index}")
    if count > 1000:
        problems.append(
            {
                "message": "The total number of recipients must be no more than 1000",
                "field": "personalizations",
            }
        )
    problems += _reserved(payload.get("headers"), "")
    return problems


def _reserved(headers: Any, where: str) -> list[dict[str, str | None]]:
    if not isinstance(headers, dict):
        return []
    prefix = f"{where}.headers" if where else "headers"
    return [
        {"message": f"The header {name} is reserved and cannot be set", "field": prefix}
        for name in headers
        if str(name).lower() in RESERVED_HEADERS
    ]


def payload_as_email(payload: dict[str, Any]) -> EmailMessage:
    """Roughly the message SendGrid would build from the first personalization.

    SendGrid adds Date (and, when the payload has none, Message-ID) as it sends;
    this leaves both to the payload, so a test sees only what we sent.
    """
    personalization = payload["personalizations"][0]
    msg = EmailMessage()
    msg["From"] = _address(payload["from"])
    msg["To"] = [_address(r) for r in personalization["to"]]
    if personalization.get("cc"):
        msg["Cc"] = [_address(r) for r in personalization["cc"]]
    if payload.get("reply_to"):
        msg["Reply-To"] = _address(payload["reply_to"])
    msg["Subject"] = personalization.get("subject") or payload["subject"]
    for name, value in {**payload.get("headers", {}), **personalization.get("headers", {})}.items():
        msg[name] = value
    parts = {part["type"]: part["value"] for part in payload["content"]}
    msg.set_content(parts["text/plain"])
    if "text/html" in parts:
        msg.add_alternative(parts["text/html"], subtype="html")
    return msg


def _address(entry: dict[str, str]) -> Address:
    return Address(display_name=entry.get("name", ""), addr_spec=entry["email"])


@dataclass
class _Rule:
    status: int | None = None
    errors: list[dict[str, Any]] | None = None
    body: str | None = None
    reset_in: float | None = None
    delay: float = 0.0
    drop: bool = False
    recipient: str | None = None
    times: int | None = 1

    def matches(self, recipients: set[str]) -> bool:
        return self.recipient is None or self.recipient.lower() in recipients


class SendGridStandIn(ServerThread):
    """Start with `with SendGridStandIn(api_key=...) as server:`; post to `server.url`."""

    def __init__(
        self,
        api_key: str,
        *,
        spec: dict[str, Any] | None = None,
        latency: float = 0.0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`tls`: (certificate chain, key) PEM files to serve https with."""
        self.api_key = api_key
        self.latency = self._default_latency = latency
        self.validator = request_validator(spec) if spec is not None else None
        self.accepted: list[dict[str, Any]] = []
        self.receipts: list[str] = []
        self.requests = 0
        self.client_ports: set[int] = set()
        self.in_flight = 0
        self.max_in_flight = 0
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        super().__init__(
            self._asgi,
            name="sendgrid-stand-in",
            interface="asgi3",
            proxy_headers=False,
            timeout_keep_alive=30,  # keep the client's pooled connections for a benchmark's pauses
            **({"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls else {}),
        )
        app = Starlette(routes=[Route("/v3/mail/send", self._mail_send, methods=["POST"])])
        self._app = app

    # -- scripting, called from the test's thread --------------------------------------

    def answer(
        self,
        status: int,
        *,
        times: int | None = 1,
        recipient: str | None = None,
        reset_in: float | None = None,
        errors: list[dict[str, Any]] | None = None,
        body: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer `status` to the next `times` requests (None: all) for `recipient` (None: any),
        `delay` seconds after reading each.

        `body` answers that text instead of SendGrid's JSON `errors` (as a proxy's
        error page would).

        For 429, `reset_in` sets `X-RateLimit-Reset` to now + that many seconds;
        without it the header is left out.
        """
        rule = _Rule(status=status, errors=errors, body=body, reset_in=reset_in, delay=delay)
        self._add(rule, times, recipient)

    def stall(
        self,
        seconds: float,
        *,
        times: int | None = 1,
        recipient: str | None = None,
        recipients: Iterable[str] = (),
    ) -> None:
        """Wait `seconds` before handling the request as usual (usually: accept it).

        A request stalled past the client's timeout is still accepted: SendGrid has
        the message even though its answer came too late to be read. `recipients`
        stalls each of them `times` times, as one rule each.
        """
        for address in list(recipients) or [recipient]:
            self._add(_Rule(delay=seconds), times, address)

    def accepted_ids(self) -> list[str]:
        """Our message id of each accepted request, in arrival order (a duplicate shows twice)."""
        with self._lock:
            return [
                str(p["personalizations"][0].get("custom_args", {}).get("capitolmail_message_id"))
                for p in self.accepted
            ]

    def drop(self, *, times: int | None = 1, recipient: str | None = None) -> None:
        """Close the connection after reading the request, without answering."""
        self._add(_Rule(drop=True), times, recipient)

    def reset(self) -> None:
        """Forget scripted answers and what arrived; latency returns to the constructor's."""
        with self._lock:
            self._rules.clear()
            self.accepted.clear()
            self.receipts.clear()
            self.requests = 0
            self.client_ports.clear()
            self.max_in_flight = 0
            self.latency = self._default_latency

    def _add(self, rule: _Rule, times: int | None, recipient: str | None) -> None:
        rule.times, rule.recipient = times, recipient
        with self._lock:
            self._rules.append(rule)

    def _take_rule(self, recipients: set[str]) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(recipients):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule
        return None

    # -- lifecycle -----------------------------------------------------------------------

    # -- the app -------------------------------------------------------------------------

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        # uvicorn passes its request cycle's bound `receive`; its transport is the only way
        # for an ASGI app to close a connection without sending a response.
        cycle = getattr(receive, "__self__", None)
        if scope["type"] == "http":
            scope.setdefault("state", {})["cycle"] = cycle
        await self._app(scope, receive, send)

    async def _mail_send(self, request: Request) -> Response:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if request.client is not None:
                self.client_ports.add(request.client.port)
        try:
            return await self._handle(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _handle(self, request: Request) -> Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _errors(401, [{"message": _REASONS[401], "field": None}])
        body = await request.body()
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _errors(
                400, [{"message": "Content-Type should be application/json.", "field": None}]
            )
        try:
            payload = json.loads(body)
        except ValueError:
            return _errors(
                400,
                [
                    {
                        "message": "Bad Request: the JSON in the request body is invalid",
                        "field": None,
                    }
                ],
            )
        rule = self._take_rule(_recipients(payload))
        if rule is not None:
            if rule.drop:
                await _close_without_answer(request)
                return Response(status_code=500)  # never sent: the connection is gone
            if rule.delay:
                await asyncio.sleep(rule.delay)
            if rule.status is not None:
                return self._scripted(rule)
        problems = schema_problems(self.validator, payload) if self.validator else []
        if isinstance(payload, dict):
            problems += limit_problems(payload)
            problems += [
                {"message": problem, "field": "headers"}
                for problem in payload_header_problems(payload)
            ]
        elif not problems:
            problems = [{"message": "The request body must be a JSON object", "field": None}]
        if problems:
            return _errors(400, problems)
        receipt = f"{secrets.token_urlsafe(16)[:16]}-{next(self._ids):06d}"
        with self._lock:
            self.accepted.append(payload)
            self.receipts.append(receipt)
        return Response(status_code=202, headers={"X-Message-Id": receipt})

    def _scripted(self, rule: _Rule) -> Response:
        assert rule.status is not None
        if rule.body is not None:
            return Response(rule.body, status_code=rule.status, media_type="text/plain")
        errors = rule.errors or [{"message": _REASONS.get(rule.status, "error"), "field": None}]
        headers = {}
        if rule.status == 429 and rule.reset_in is not None:
            headers["X-RateLimit-Reset"] = str(math.ceil(time.time() + rule.reset_in))
        return _errors(rule.status, errors, headers)


def _recipients(payload: Any) -> set[str]:
    if not isinstance(payload, dict) or not isinstance(payload.get("personalizations"), list):
        return set()
    return {
        str(recipient.get("email", "")).lower()
        for personalization in payload["personalizations"]
        if isinstance(personalization, dict)
        for kind in ("to", "cc", "bcc")
        for recipient in personalization.get(kind) or []
        if isinstance(recipient, dict)
    }


async def _close_without_answer(request: Request) -> None:
    cycle = request.scope.get("state", {}).get("cycle")
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("this uvicorn does not expose the connection's transport")
    transport.abort()
    for _ in range(100):  # until uvicorn has seen the connection go, so it sends nothing
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.01)


def _errors(
    status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"errors": errors}, status_code=status, headers=headers)
