from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from capitolmail.config.sections import SmtpSettings
from capitolmail.errors import (
    ConfigError,
    DeliveryUnknownError,
    PermanentSendError,
    ProviderSettingsError,
    TransientSendError,
)
from capitolmail.providers import smtp_pool
from capitolmail.providers.smtp import SmtpProvider

from ..servers.smtp import Certificates, MailServer, make_certificates, running_mail_server
from .contract import ProviderContract, sample_message

SENATE = "fpla.schatz.hi@senate.example.org"
HOUSE = "scheduler.case@house.example.org"
OTHER = "legislative.director@senate.example.org"
PASSWORD = "correct-horse-battery-staple"


def settings_for(server: MailServer, **changes: Any) -> SmtpSettings:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "allow_plain": True,
        "local_hostname": "client.capitolmail.test",
        "connect_timeout": 2.0,
        "timeout": 2.0,
    }
    options.update(changes)
    return SmtpSettings(**options)


def message_to(recipient: str, n: int = 1) -> Any:
    return sample_message(to_email=recipient, message_id=f"6f1c2d3e-0000-4000-8000-{n:012d}")


def recipients(server: MailServer) -> list[str]:
    return [to for received in server.received() for to in received.rcpt_tos]


def wait_for(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the server never got there"
        time.sleep(0.02)


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


class TestSmtpProvider(ProviderContract):
    @pytest.fixture(autouse=True)
    def _server(self, mail_server: MailServer) -> None:
        self.server = mail_server

    def make_provider(self, **changes: Any) -> SmtpProvider:
        return SmtpProvider(settings_for(self.server, **changes))

    def received(self, provider: Any) -> list[bytes]:
        return [received.raw for received in self.server.received()]

    # -- what goes on the wire ----------------------------------------------------------

    def test_wire_bytes_use_crlf_and_the_envelope_matches_the_headers(self) -> None:
        with self.make_provider() as provider:
            receipt = provider.send(sample_message())
        [received] = self.server.received()
        assert received.mail_from == "advocacy@example.org"
        assert received.rcpt_tos == (SENATE,)
        assert b"\n" not in received.raw.replace(b"\r\n", b"")
        assert received.raw.startswith(b"From: Example Rights Coalition <advocacy@example.org>\r\n")
        assert receipt.provider_message_id == "Q000001"

    def test_a_line_starting_with_a_dot_arrives_unchanged(self) -> None:
        with self.make_provider() as provider:
            provider.send(sample_message(text=".\n.. two dots\nend\n", html=None))
        [received] = self.server.received()
        assert received.message.get_content() == ".\n.. two dots\nend\n"

    def test_receipt_is_the_whole_reply_when_it_names_no_queue_id(self) -> None:
        self.server.answer("DATA", "250 2.0.0 accepted for delivery")
        with self.make_provider() as provider:
            receipt = provider.send(sample_message())
        assert receipt.provider_message_id == "2.0.0 accepted for delivery"
        assert len(self.server.received()) == 1

    def test_non_ascii_address_is_refused_before_connecting(self) -> None:
        with (
            self.make_provider() as provider,
            pytest.raises(PermanentSendError, match="not an ASCII address"),
        ):
            provider.send(sample_message(to_email="josé@senate.example.org"))
        assert self.server.sessions == 0

    # -- replies ------------------------------------------------------------------------

    def test_451_is_transient_with_the_reply_and_the_connection_is_kept(self) -> None:
        self.server.answer("RCPT", "451 4.3.0 try again later", recipient=HOUSE)
        with self.make_provider() as provider:
            with pytest.raises(TransientSendError) as caught:
                provider.send(message_to(HOUSE))
            provider.send(message_to(SENATE))
        assert str(caught.value) == (
            f"127.0.0.1:{self.server.port} deferred RCPT TO:<{HOUSE}>: 451 4.3.0 try again later"
        )
        assert caught.value.retry_after is None
        assert recipients(self.server) == [SENATE]
        assert self.server.sessions == 1

    def test_550_is_permanent_and_keeps_the_reply(self) -> None:
        reply = f"550 5.1.1 <{HOUSE}>: Recipient address rejected: User unknown"
        self.server.answer("RCPT", reply, recipient=HOUSE)
        with self.make_provider() as provider:
            with pytest.raises(PermanentSendError, match=f"refused RCPT TO:<{HOUSE}>: 550 5.1.1"):
                provider.send(message_to(HOUSE))
            provider.send(message_to(SENATE, 2))
        assert recipients(self.server) == [SENATE]
        assert self.server.sessions == 1

    def test_421_on_one_recipient_is_transient_and_replaces_the_connection(self) -> None:
        self.server.answer("RCPT", "421 4.7.0 too many errors, closing", recipient=HOUSE)
        with self.make_provider() as provider:
            provider.send(message_to(SENATE, 1))
            with pytest.raises(TransientSendError, match="421 4.7.0 too many errors, closing"):
                provider.send(message_to(HOUSE, 2))
            provider.send(message_to(OTHER, 3))
        assert recipients(self.server) == [SENATE, OTHER]
        assert [received.session for received in self.server.received()] == [1, 2]

    def test_rejection_at_the_end_of_data_is_permanent_and_nothing_is_stored(self) -> None:
        self.server.answer("DATA", "554 5.7.1 message rejected as spam", times=1)
        with self.make_provider() as provider:
            with pytest.raises(PermanentSendError, match="the message data: 554 5.7.1 message"):
                provider.send(message_to(SENATE))
            provider.send(message_to(SENATE, 2))
        assert [r.message["Message-ID"] for r in self.server.received()] == [
            "<6f1c2d3e-0000-4000-8000-000000000002@example.org>"
        ]

    def test_a_4xx_at_the_end_of_data_is_transient(self) -> None:
        self.server.answer("DATA", "452 4.3.1 insufficient system storage")
        with (
            self.make_provider() as provider,
            pytest.raises(TransientSendError, match="452 4.3.1 insufficient system storage"),
        ):
            provider.send(message_to(SENATE))
        assert self.server.received() == []

    # -- dropped and slow connections ---------------------------------------------------

    def test_connection_dropped_before_data_is_retried_once_and_delivered_once(self) -> None:
        with self.make_provider() as provider:
            provider.send(message_to(SENATE, 1))
            self.server.hang_up("MAIL", times=1)
            provider.send(message_to(HOUSE, 2))
        assert recipients(self.server) == [SENATE, HOUSE]
        assert [received.session for received in self.server.received()] == [1, 2]

    def test_two_drops_before_data_are_transient_and_nothing_is_delivered(self) -> None:
        self.server.hang_up("MAIL", times=2)
        with self.make_provider() as provider:
            with pytest.raises(TransientSendError, match="dropped two connections"):
                provider.send(message_to(SENATE))
            provider.send(message_to(HOUSE, 2))
        assert recipients(self.server) == [HOUSE]

    def test_connection_dropped_after_data_is_unknown_and_not_retried(self) -> None:
        self.server.hang_up("DATA", times=1)
        with self.make_provider() as provider:
            with pytest.raises(DeliveryUnknownError) as caught:
                provider.send(message_to(SENATE, 1))
            provider.send(message_to(HOUSE, 2))
        assert "lost after the message data was sent" in str(caught.value)
        assert "may have been delivered (not retried, to avoid a duplicate)" in str(caught.value)
        assert recipients(self.server) == [SENATE, HOUSE]  # one copy each
        assert [received.session for received in self.server.received()] == [1, 2]

    def test_no_reply_to_data_in_time_is_unknown(self) -> None:
        self.server.slow("DATA", 1.0, recipient=SENATE)
        with (
            self.make_provider(timeout=0.3) as provider,
            pytest.raises(
                DeliveryUnknownError,
                match=r"did not answer the end of the message data within 0.3 s; "
                r"it may have been delivered",
            ),
        ):
            provider.send(message_to(SENATE))
        wait_for(lambda: len(self.server.received()) == 1)  # it was, after all

    def test_no_reply_before_data_in_time_is_transient(self) -> None:
        self.server.slow("RCPT", 1.0, recipient=SENATE)
        with self.make_provider(timeout=0.3) as provider:
            with pytest.raises(
                TransientSendError, match=r"did not answer RCPT TO:<.*> within 0.3 s"
            ):
                provider.send(message_to(SENATE))
            provider.send(message_to(HOUSE, 2))
        assert recipients(self.server) == [HOUSE]
        assert self.server.sessions == 2

    @pytest.mark.parametrize("noop_after", [smtp_pool.IDLE_CHECK_AFTER, 0.1])
    def test_connection_the_server_dropped_while_idle_is_replaced(
        self, noop_after: float, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # With the default check the stale connection fails on MAIL and is retried;
        # with a short one, NOOP finds it dead first. Either way: one copy, new session.
        monkeypatch.setattr(smtp_pool, "IDLE_CHECK_AFTER", noop_after)
        with running_mail_server(idle_timeout=0.3) as server:
            with SmtpProvider(settings_for(server)) as provider:
                provider.send(message_to(SENATE, 1))
                wait_for(lambda: server.open_sessions == 0)
                provider.send(message_to(HOUSE, 2))
            assert recipients(server) == [SENATE, HOUSE]
            assert server.sessions == 2

    def test_idle_connection_that_answers_noop_is_reused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(smtp_pool, "IDLE_CHECK_AFTER", 0.05)
        with self.make_provider() as provider:
            provider.send(message_to(SENATE, 1))
            time.sleep(0.1)
            provider.send(message_to(HOUSE, 2))
        assert self.server.sessions == 1

    def test_connection_refused_is_transient(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        provider = SmtpProvider(settings_for(self.server, port=port))
        with (
            provider,
            pytest.raises(TransientSendError, match=f"cannot connect to 127.0.0.1:{port}"),
        ):
            provider.send(sample_message())

    # -- the pool -----------------------------------------------------------------------

    def test_a_connection_is_replaced_after_max_messages(self) -> None:
        with self.make_provider(max_messages_per_connection=3) as provider:
            for n in range(7):
                provider.send(message_to(SENATE, n))
        assert [received.session for received in self.server.received()] == [1, 1, 1, 2, 2, 2, 3]
        assert self.server.sessions == 3

    def test_16_threads_share_4_connections_and_every_message_arrives_once(self) -> None:
        with (
            self.make_provider(connections=4, max_messages_per_connection=1000) as provider,
            ThreadPoolExecutor(max_workers=16) as pool,
        ):
            receipts = list(pool.map(lambda n: provider.send(message_to(SENATE, n)), range(200)))
        ids = sorted(str(received.message["Message-ID"]) for received in self.server.received())
        expected = sorted(f"<6f1c2d3e-0000-4000-8000-{n:012d}@example.org>" for n in range(200))
        assert ids == expected
        assert len({receipt.provider_message_id for receipt in receipts}) == 200
        assert self.server.most_open_sessions == 4
        assert self.server.sessions == 4

    def test_close_quits_idle_connections_and_the_provider_can_open_again(self) -> None:
        provider = self.make_provider()
        with provider:
            provider.send(message_to(SENATE, 1))
        wait_for(lambda: self.server.open_sessions == 0)
        provider.close()
        with provider:
            provider.open()
            provider.send(message_to(HOUSE, 2))
        assert recipients(self.server) == [SENATE, HOUSE]

    # -- security and login ---------------------------------------------------------------

    def test_plain_connection_needs_allow_plain(self) -> None:
        with pytest.raises(ConfigError) as caught:
            self.make_provider(allow_plain=False)
        assert str(caught.value) == (
            '[provider.smtp] security = "none" sends mail and the password unencrypted;'
            " set allow_plain = true only for a relay on the same machine"
        )

    def test_username_without_password_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match="^CAPITOLMAIL_SMTP_PASSWORD is not set"):
            self.make_provider(username="capitol")

    def test_login_with_the_right_password_delivers(self) -> None:
        self.server.require_auth("capitol", PASSWORD)
        settings = settings_for(self.server, username="capitol")
        with SmtpProvider(settings, password=SecretStr(PASSWORD)) as provider:
            provider.send(sample_message())
        assert recipients(self.server) == [SENATE]

    def test_refused_login_is_an_auth_error_without_the_password(self) -> None:
        self.server.require_auth("capitol", PASSWORD)
        wrong = "hunter2-not-the-password"
        settings = settings_for(self.server, username="capitol")
        with (
            SmtpProvider(settings, password=SecretStr(wrong)) as provider,
            pytest.raises(ProviderSettingsError) as caught,
        ):
            provider.send(sample_message())
        assert str(caught.value) == (
            f"127.0.0.1:{self.server.port} refused the login of 'capitol': 535 5.7.8"
            " Authentication credentials invalid; check [provider.smtp] username and"
            " CAPITOLMAIL_SMTP_PASSWORD"
        )
        chain: list[BaseException] = []
        err: BaseException | None = caught.value
        while err is not None:
            chain.append(err)
            err = err.__cause__ or err.__context__
        assert len(chain) > 1  # the smtplib error is kept as the cause
        assert not any(wrong in f"{e} {e!r}" for e in chain)
        assert self.server.received() == []

    def test_starttls_verifies_the_certificate_against_ca_file(
        self, certificates: Certificates
    ) -> None:
        with running_mail_server(starttls=certificates.server_context) as server:
            settings = settings_for(server, security="starttls", ca_file=certificates.ca_file)
            with SmtpProvider(settings) as provider:
                provider.send(sample_message())
            [received] = server.received()
        assert received.tls

    def test_starttls_login_delivers(self, certificates: Certificates) -> None:
        with running_mail_server(starttls=certificates.server_context) as server:
            server.require_auth("capitol", PASSWORD)
            settings = settings_for(
                server, security="starttls", ca_file=certificates.ca_file, username="capitol"
            )
            with SmtpProvider(settings, password=SecretStr(PASSWORD)) as provider:
                provider.send(sample_message())
            assert [received.tls for received in server.received()] == [True]

    def test_certificate_from_another_ca_stops_the_job(self, certificates: Certificates) -> None:
        # A certificate that fails verification will not fix itself, and failing every
        # message one by one would throw the job away: ProviderSettingsError pauses it.
        with running_mail_server(starttls=certificates.server_context) as server:
            settings = settings_for(server, security="starttls", ca_file=certificates.other_ca_file)
            with (
                SmtpProvider(settings) as provider,
                pytest.raises(ProviderSettingsError) as caught,
            ):
                provider.send(sample_message())
            assert server.received() == []
        assert str(caught.value) == (
            f"the certificate of 127.0.0.1:{server.port} is not trusted (self-signed certificate"
            " in certificate chain): set [provider.smtp] ca_file to the CA that signed it, or set"
            " host to a name the certificate lists"
        )

    def test_implicit_tls_to_a_starttls_relay_stops_the_job(self) -> None:
        # The relay greets in plain text; retrying every message as "temporary" never helps.
        settings = settings_for(self.server, security="tls", port=self.server.port)
        with (
            SmtpProvider(settings) as provider,
            pytest.raises(ProviderSettingsError) as caught,
        ):
            provider.send(sample_message())
        assert str(caught.value) == (
            f"127.0.0.1:{self.server.port} answered in plain text where TLS was expected"
            f" (WRONG_VERSION_NUMBER): port {self.server.port} speaks STARTTLS; set"
            ' [provider.smtp] security = "starttls"'
        )
        assert self.server.received() == []

    def test_implicit_tls_verifies_the_certificate(self, certificates: Certificates) -> None:
        with running_mail_server(implicit_tls=certificates.server_context) as server:
            settings = settings_for(server, security="tls", ca_file=certificates.ca_file)
            with SmtpProvider(settings) as provider:
                provider.send(sample_message())
            assert [received.tls for received in server.received()] == [True]

    def test_relay_without_starttls_is_refused(self, certificates: Certificates) -> None:
        settings = settings_for(self.server, security="starttls", ca_file=certificates.ca_file)
        with (
            SmtpProvider(settings) as provider,
            pytest.raises(ProviderSettingsError, match=r"does not offer STARTTLS"),
        ):
            provider.send(sample_message())
        assert self.server.received() == []

    def test_unreadable_ca_file_is_a_config_error(self, tmp_path: Path) -> None:
        settings = settings_for(self.server, security="starttls", ca_file=tmp_path / "no.pem")
        with pytest.raises(ConfigError, match=r"^\[provider.smtp\] ca_file: cannot load .*no\.pem"):
            SmtpProvider(settings)
