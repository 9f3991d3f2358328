from __future__ import annotations

import json
import socket
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import urllib3
from pydantic import SecretStr

from capitolmail.config.sections import SendGridSettings
from capitolmail.errors import (
    ConfigError,
    DeliveryUnknownError,
    PermanentSendError,
    ProviderSettingsError,
    SendError,
    TransientSendError,
)
from capitolmail.providers import SendGridProvider
from capitolmail.providers.sendgrid_payload import build_payload

from ..servers.sendgrid import SPEC_MISSING, SendGridStandIn, load_spec, payload_as_email
from ..servers.smtp import make_certificates
from .contract import ProviderContract, sample_message

API_KEY = "SG.stand-in-key.0123456789abcdef"
MESSAGE_ID = "6f1c2d3e-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def sendgrid_server() -> Iterator[SendGridStandIn]:
    with SendGridStandIn(API_KEY, spec=load_spec()) as server:
        yield server


class TestSendGridProvider(ProviderContract):
    @pytest.fixture(autouse=True)
    def _server(self, sendgrid_server: SendGridStandIn) -> None:
        sendgrid_server.reset()
        self.server = sendgrid_server

    def make_provider(
        self, *, api_key: str = API_KEY, pool_size: int = 4, **settings: Any
    ) -> SendGridProvider:
        return SendGridProvider(
            SendGridSettings(base_url=self.server.url, **settings),
            api_key=SecretStr(api_key),
            pool_size=pool_size,
        )

    def received(self, provider: SendGridProvider) -> list[bytes]:
        return [payload_as_email(payload).as_bytes() for payload in self.server.accepted]

    def recipient_names(self, provider: SendGridProvider) -> dict[str, str]:
        return {
            to["email"]: to.get("name", "")
            for payload in self.server.accepted
            for personalization in payload["personalizations"]
            for to in personalization["to"]
        }

    def send_expecting(self, error: type[SendError], **settings: Any) -> SendError:
        with self.make_provider(**settings) as provider, pytest.raises(error) as caught:
            provider.send(sample_message())
        return caught.value

    # -- the contract, adjusted where SendGrid differs -------------------------------------

    carries_date = False  # SendGrid stamps Date as it sends; the payload has none

    def test_our_ids_ride_in_custom_args(self) -> None:
        """What ties SendGrid's events back to our row (Message-ID may be rewritten)."""
        with self.make_provider() as provider:
            provider.send(sample_message())
        [payload] = self.server.accepted
        assert "Date" not in payload["headers"]
        assert payload["personalizations"][0]["custom_args"] == {
            "capitolmail_message_id": MESSAGE_ID,
            "capitolmail_job_id": "7",
        }

    # -- replies ---------------------------------------------------------------------------

    def test_accepted_message_returns_sendgrids_message_id(self) -> None:
        with self.make_provider() as provider:
            receipt = provider.send(sample_message())
        assert receipt.provider_message_id == self.server.receipts[0]
        assert self.server.requests == 1

    def test_payload_is_what_build_payload_makes(self) -> None:
        settings = {"sandbox_mode": True, "unsubscribe_group_id": 99}
        with self.make_provider(**settings) as provider:
            provider.send(sample_message())
        expected = build_payload(sample_message(), sandbox_mode=True, unsubscribe_group_id=99)
        assert self.server.accepted == [expected]

    def test_payloads_are_checked_against_the_published_schema(self) -> None:
        if self.server.validator is None:
            pytest.skip(SPEC_MISSING)
        with self.make_provider(sandbox_mode=True, unsubscribe_group_id=5) as provider:
            provider.send(sample_message(html=None, to_name=""))
        assert len(self.server.accepted) == 1

    def test_400_keeps_sendgrids_field_and_message(self) -> None:
        self.server.answer(
            400,
            errors=[
                {
                    "message": "The from email does not contain a valid address.",
                    "field": "from.email",
                    "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html",
                }
            ],
        )
        err = self.send_expecting(PermanentSendError)
        assert str(err) == (
            "SendGrid refused the message: from.email: The from email does not contain a "
            "valid address."
        )

    def test_several_errors_are_joined_and_a_null_field_left_out(self) -> None:
        self.server.answer(
            400,
            errors=[
                {"message": "invalid request", "field": "null"},
                {"message": "The subject is required.", "field": "subject"},
            ],
        )
        err = self.send_expecting(PermanentSendError)
        assert (
            str(err)
            == "SendGrid refused the message: invalid request; subject: The subject is required."
        )

    def test_other_4xx_is_permanent_and_names_the_status(self) -> None:
        self.server.answer(413)
        err = self.send_expecting(PermanentSendError)
        assert str(err) == "SendGrid refused the message (413): content too large"

    @pytest.mark.parametrize("status", [404, 405])
    def test_wrong_endpoint_stops_the_job_naming_the_setting(self, status: int) -> None:
        self.server.answer(status)
        err = self.send_expecting(ProviderSettingsError)
        assert str(err) == (
            f"SendGrid answered {status} at {self.server.url}/v3/mail/send; "
            "check [provider.sendgrid] base_url"
        )

    @pytest.mark.parametrize("status", [401, 403])
    def test_refused_key_is_an_auth_error_that_never_shows_the_key(self, status: int) -> None:
        self.server.answer(status)
        err = self.send_expecting(ProviderSettingsError)
        assert str(err).startswith(f"SendGrid refused the API key ({status}): ")
        assert "CAPITOLMAIL_SENDGRID_API_KEY" in str(err)
        self.assert_no_key(err)

    def test_wrong_key_is_refused_by_the_stand_in_and_not_shown(self) -> None:
        err = self.send_expecting(ProviderSettingsError, api_key="SG.wrong-key.ffff")
        assert str(err).startswith("SendGrid refused the API key (401): authorization required")
        assert "SG.wrong-key.ffff" not in str(err) + repr(err)

    def test_key_echoed_in_a_reply_is_redacted(self) -> None:
        self.server.answer(401, errors=[{"message": f"key {API_KEY} was revoked", "field": None}])
        err = self.send_expecting(ProviderSettingsError)
        assert "key [redacted] was revoked" in str(err)
        self.assert_no_key(err)

    def test_repr_never_shows_the_key(self) -> None:
        provider = self.make_provider()
        with provider:
            assert API_KEY not in repr(provider)
            assert API_KEY not in str(provider)
        assert "stand-in-key" not in repr(provider)

    def test_429_with_reset_header_says_when_to_retry(self) -> None:
        self.server.answer(429, reset_in=3)
        err = self.send_expecting(TransientSendError)
        assert isinstance(err, TransientSendError)
        assert str(err).startswith("429")
        assert err.retry_after is not None and 2.0 <= err.retry_after <= 4.0
        assert err.rate_limited

    def test_429_without_reset_header_leaves_the_delay_to_the_sender(self) -> None:
        self.server.answer(429)
        err = self.send_expecting(TransientSendError)
        assert isinstance(err, TransientSendError)
        assert str(err).startswith("429")
        assert err.retry_after is None

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_5xx_is_transient_with_status_and_reply_and_is_not_retried_here(
        self, status: int
    ) -> None:
        self.server.answer(status, errors=[{"message": "try again later", "field": None}])
        err = self.send_expecting(TransientSendError)
        assert str(err) == f"SendGrid answered {status}: try again later"
        assert self.server.requests == 1

    def test_scripted_answers_run_out_and_sending_resumes(self) -> None:
        self.server.answer(500, times=2)
        with self.make_provider() as provider:
            for _ in range(2):
                with pytest.raises(TransientSendError):
                    provider.send(sample_message())
            provider.send(sample_message())
        assert len(self.server.accepted) == 1

    def test_answer_for_one_recipient_leaves_the_others_alone(self) -> None:
        self.server.answer(400, recipient="Bounce@Example.org", times=None)
        with self.make_provider() as provider:
            with pytest.raises(PermanentSendError, match="invalid request"):
                provider.send(sample_message(to_email="bounce@example.org"))
            provider.send(sample_message())
            with pytest.raises(PermanentSendError):
                provider.send(sample_message(to_email="bounce@example.org"))
        assert len(self.server.accepted) == 1

    # -- transport failures ----------------------------------------------------------------

    def test_no_answer_within_the_timeout_is_unknown_and_quick(self) -> None:
        self.server.stall(1.0)
        started = time.monotonic()
        err = self.send_expecting(DeliveryUnknownError, timeout=0.3)
        assert time.monotonic() - started < 0.9
        assert str(err) == (
            "SendGrid did not answer within 0.3 s; it may have accepted the message (not retried)"
        )
        # ...and it did: why a retry here would have delivered it twice.
        deadline = time.monotonic() + 3
        while not self.server.accepted and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.server.accepted) == 1

    def test_connection_closed_without_an_answer_is_unknown_and_not_retried_here(
        self,
    ) -> None:
        self.server.drop()
        err = self.send_expecting(DeliveryUnknownError)
        assert "closed the connection without an answer" in str(err)
        assert "it may have accepted the message (not retried)" in str(err)
        assert self.server.requests == 1
        assert self.server.accepted == []

    def test_pooled_connection_is_reused_after_a_drop(self) -> None:
        with self.make_provider(pool_size=1) as provider:
            provider.send(sample_message())
            self.server.drop()
            with pytest.raises(DeliveryUnknownError):
                provider.send(sample_message())
            provider.send(sample_message())
        assert len(self.server.accepted) == 2

    def test_nothing_listening_is_transient(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        provider = SendGridProvider(
            SendGridSettings(base_url=f"http://127.0.0.1:{port}", connect_timeout=1),
            api_key=SecretStr(API_KEY),
        )
        # Nothing can have reached SendGrid: the one transport failure that is retried.
        with provider, pytest.raises(TransientSendError, match="cannot connect to SendGrid"):
            provider.send(sample_message())

    # -- lifecycle and concurrency ---------------------------------------------------------

    def test_open_twice_and_send_after_close_are_harmless(self) -> None:
        provider = self.make_provider()
        provider.open()
        provider.open()
        provider.close()
        provider.send(sample_message())  # opens again on demand
        provider.close()
        assert len(self.server.accepted) == 1

    def test_64_threads_share_a_small_pool_and_each_message_arrives_once(self) -> None:
        self.server.latency = 0.02
        ids = [f"6f1c2d3e-0000-4000-8000-{n:012d}" for n in range(500)]
        with self.make_provider(pool_size=16) as provider, ThreadPoolExecutor(64) as threads:
            receipts = list(
                threads.map(lambda mid: provider.send(sample_message(message_id=mid)), ids)
            )
        arrived = Counter(
            payload["personalizations"][0]["custom_args"]["capitolmail_message_id"]
            for payload in self.server.accepted
        )
        assert arrived == Counter(ids)
        assert sorted(r.provider_message_id for r in receipts) == sorted(self.server.receipts)
        # block=True: 64 threads wait for 16 keep-alive connections, none opened beyond them.
        assert self.server.max_in_flight <= 16
        assert len(self.server.client_ports) <= 16

    # -- settings --------------------------------------------------------------------------

    def test_plain_http_is_refused_except_to_localhost(self) -> None:
        with pytest.raises(ConfigError, match="would send the API key unencrypted"):
            SendGridProvider(
                SendGridSettings(base_url="http://api.sendgrid.com"), api_key=SecretStr(API_KEY)
            )

    @pytest.mark.parametrize("key", ["", "SG.abc\n", "SG.a b"])
    def test_missing_or_mangled_key_is_a_config_error(self, key: str) -> None:
        with pytest.raises(ConfigError, match="CAPITOLMAIL_SENDGRID_API_KEY") as caught:
            SendGridProvider(SendGridSettings(), api_key=SecretStr(key))
        assert key.strip() == "" or key.strip() not in str(caught.value)

    @staticmethod
    def assert_no_key(err: BaseException) -> None:
        text = "".join(traceback.format_exception(err)) + repr(err)
        assert API_KEY not in text
        assert "stand-in-key" not in text


# The stand-in is part of the suite: it must refuse what SendGrid refuses.


def post(server: SendGridStandIn, body: bytes, *, key: str = API_KEY) -> tuple[int, Any]:
    response = urllib3.request(
        "POST",
        f"{server.url}/v3/mail/send",
        body=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        retries=False,
    )
    return response.status, json.loads(response.data) if response.data else None


def test_stand_in_refuses_a_wrong_key_in_sendgrids_shape(sendgrid_server: SendGridStandIn) -> None:
    sendgrid_server.reset()
    status, reply = post(sendgrid_server, b"{}", key="nope")
    assert (status, reply) == (
        401,
        {"errors": [{"message": "authorization required", "field": None}]},
    )


def test_stand_in_refuses_bad_json(sendgrid_server: SendGridStandIn) -> None:
    sendgrid_server.reset()
    status, reply = post(sendgrid_server, b"{not json")
    assert status == 400 and "invalid" in reply["errors"][0]["message"]


def valid_payload() -> dict[str, Any]:
    return build_payload(sample_message())


def with_recipients(payload: dict[str, Any], **kinds: list[dict[str, str]]) -> dict[str, Any]:
    payload["personalizations"][0].update(kinds)
    return payload


def many(count: int) -> list[dict[str, str]]:
    return [{"email": f"p{n}@example.org"} for n in range(count)]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param(
            with_recipients(valid_payload(), to=many(600), cc=many(1001)[600:]),
            "personalizations",
            id="1001-recipients",
        ),
        pytest.param(
            with_recipients(valid_payload(), to=many(1), bcc=[{"email": "P0@Example.org"}]),
            "personalizations.0.bcc.0.email",
            id="address-twice",
        ),
        pytest.param(
            with_recipients(valid_payload(), to=[{"email": "a@example.org", "name": "Doe, J"}]),
            "personalizations.0.to.0.name",
            id="comma-in-name",
        ),
        pytest.param(
            with_recipients(valid_payload(), custom_args={"big": "x" * 10_000}),
            "personalizations.0.custom_args",
            id="custom-args-size",
        ),
        pytest.param(
            {**valid_payload(), "headers": {"dkim-signature": "v=1"}},
            "headers",
            id="reserved-header",
        ),
    ],
)
def test_stand_in_refuses_each_documented_limit(
    sendgrid_server: SendGridStandIn, payload: dict[str, Any], field: str
) -> None:
    sendgrid_server.reset()
    status, reply = post(sendgrid_server, json.dumps(payload).encode())
    assert status == 400
    assert field in [error["field"] for error in reply["errors"]]
    assert sendgrid_server.accepted == []


def test_stand_in_refuses_what_the_schema_refuses(sendgrid_server: SendGridStandIn) -> None:
    if sendgrid_server.validator is None:
        pytest.skip(SPEC_MISSING)
    sendgrid_server.reset()
    payload = valid_payload()
    payload["from"] = {"email": "no-at-sign"}
    payload["subject"] = ""
    status, reply = post(sendgrid_server, json.dumps(payload).encode())
    assert status == 400
    assert {error["field"] for error in reply["errors"]} == {"from.email", "subject"}


def test_untrusted_certificate_stops_the_job_and_says_why(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A certificate the client does not trust meets every message the same way: a
    # transient error would retry all of them, so the job pauses (ProviderSettingsError).
    certificates = make_certificates(tmp_path_factory.mktemp("sendgrid-tls"))
    files = (
        certificates.ca_file.with_name("server.pem"),
        certificates.ca_file.with_name("server.key"),
    )
    with SendGridStandIn(API_KEY, tls=files) as server:
        url = server.url
        assert url.startswith("https://127.0.0.1:")
        provider = SendGridProvider(
            SendGridSettings(base_url=server.url), api_key=SecretStr(API_KEY)
        )
        with provider, pytest.raises(ProviderSettingsError) as caught:
            provider.send(sample_message())
        assert server.requests == 0
    assert str(caught.value) == (
        f"the certificate of {url} is not trusted (self-signed certificate in certificate"
        " chain): check [provider.sendgrid] base_url; behind a proxy that inspects TLS, add its"
        " CA to the system's trusted certificates"
    )
