"""The models of capitolmail.toml's sections, one class per [table].

Apart from `Settings` and its loader so the defaults and limits of each section
read in one place; providers and letters import only the section they use.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from capitolmail.config.names import STATE_DIR
from capitolmail.config.values import header_address, header_text, public_url
from capitolmail.timing.rate import Rate, parse_rate


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganisationSettings(_Section):
    """Who is sending; shown in From and, for alerts, in the legally required footer."""

    name: str = ""
    postal_address: str = ""
    website: str = ""

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return header_text(value)


class SenderSettings(_Section):
    """The From identity; `name` falls back to the organisation's name."""

    email: str = ""
    name: str = ""
    reply_to: str = ""
    # Where an alert's List-Unsubscribe mailto goes; empty: reply_to, else email.
    unsubscribe_email: str = ""

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return header_text(value)

    @field_validator("email", "reply_to", "unsubscribe_email")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        return header_address(value)


class FileProviderSettings(_Section):
    """Where the offline `.eml` outbox lives, relative to the workspace."""

    directory: Path = Path(STATE_DIR) / "outbox"


class SmtpSettings(_Section):
    """An SMTP relay. The password is a secret: CAPITOLMAIL_SMTP_PASSWORD, never this file.

    `security` is "starttls" (port 587) or "tls" (implicit TLS, port 465), both
    verifying the certificate; "none" sends in the clear and is refused unless
    `allow_plain` is also set, for a relay on the same machine.
    """

    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    allow_plain: bool = False
    username: str = ""
    ca_file: Path | None = None
    connections: int = Field(default=4, ge=1, le=64)
    max_messages_per_connection: int = Field(default=100, ge=1)
    connect_timeout: float = Field(default=10.0, gt=0)
    timeout: float = Field(default=30.0, gt=0)
    local_hostname: str | None = None
    # VERP (verp.py): "bounces@example.org" sends each message from
    # bounces+MESSAGE-UUID@example.org, so the inbound mailbox matches every bounce.
    return_path: str = ""

    @field_validator("return_path")
    @classmethod
    def _return_path(cls, value: str) -> str:
        if not value:
            return value
        address = header_address(value)
        if "+" in address.partition("@")[0]:
            raise ValueError("must not contain '+': capitolmail adds +MESSAGE-ID itself")
        return address


class SendGridSettings(_Section):
    """SendGrid's v3 API. The key is a secret: CAPITOLMAIL_SENDGRID_API_KEY, never this file."""

    base_url: str = "https://api.sendgrid.com"
    connect_timeout: float = Field(default=10.0, gt=0)
    timeout: float = Field(default=30.0, gt=0)
    sandbox_mode: bool = False
    unsubscribe_group_id: int | None = None


class ProviderSettings(_Section):
    name: Literal["file", "console", "smtp", "sendgrid"] = "file"
    file: FileProviderSettings = Field(default_factory=FileProviderSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    sendgrid: SendGridSettings = Field(default_factory=SendGridSettings)


class WorkerSettings(_Section):
    """How the send loop paces itself.

    `concurrency` is the number of messages in flight at once; `rate` caps all
    jobs together ("600/min"), for every worker of the outbox together (the
    provider's limit); a job's own `--rate` caps it further. Retries of
    transient failures back off exponentially from `retry_base_seconds`, with
    jitter, up to `retry_cap_seconds`, and fail after `max_attempts`.
    `grace_period` accepts seconds or ISO 8601 ("PT12H").
    """

    concurrency: int = Field(default=16, ge=1, le=512)
    rate: str | None = None
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_cap_seconds: float = Field(default=3600.0, gt=0)
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    # A worker on another host whose heartbeat is older than this is presumed dead
    # (on this host its pid tells at once); seconds or ISO 8601 ("PT5M").
    stale_after: timedelta = Field(default=timedelta(minutes=5), gt=timedelta(0))
    # How long a worker that lost the database keeps reconnecting before it gives up.
    database_outage_seconds: float = Field(default=300.0, ge=0)
    # A worker that comes back later than this after a job's time marks it
    # `missed` rather than sending late (Store.start_due_jobs decides, for every worker).
    grace_period: timedelta = Field(default=timedelta(hours=12), ge=timedelta(0))
    # How often a running worker looks for new, paused, resumed or cancelled jobs.
    poll_seconds: float = Field(default=1.0, gt=0, le=60)

    @field_validator("rate")
    @classmethod
    def _valid_rate(cls, value: str | None) -> str | None:
        if value:
            parse_rate(value)
        return value or None

    @model_validator(mode="after")
    def _heartbeat_within_stale_after(self) -> WorkerSettings:
        # Three missed heartbeats before others presume the worker dead, so one slow
        # transaction does not cost a live worker its messages.
        if self.heartbeat_seconds * 3 > self.stale_after.total_seconds():
            raise ValueError(
                "heartbeat_seconds must be at most a third of stale_after, or a live worker "
                "could be presumed dead"
            )
        return self

    @property
    def overall_rate(self) -> Rate | None:
        return parse_rate(self.rate) if self.rate else None


class InboxSettings(_Section):
    """The inbound mailbox `capitolmail inbox sync` reads: bounces, replies, mailto unsubscribes.

    `source` is "imap", "maildir" or "mbox" ("" leaves it off). IMAP's password
    (or app password) is CAPITOLMAIL_INBOX_PASSWORD and an XOAUTH2 access token
    CAPITOLMAIL_INBOX_OAUTH2_TOKEN, never this file. `security` is "tls"
    (implicit TLS, port 993) or "starttls" (port 143), both verifying the
    certificate; "none" is refused unless `allow_plain` is also set, for a
    server on the same machine. Nothing is deleted unless `delete_processed` is
    set, and then only mail that was ours (a bounce, a reply, an unsubscribe).
    A running worker syncs every `sync_minutes` (0: only `inbox sync` does).
    """

    source: Literal["", "imap", "maildir", "mbox"] = ""
    path: Path | None = None
    host: str = ""
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    allow_plain: bool = False
    username: str = ""
    folder: str = "INBOX"
    ca_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0)
    delete_processed: bool = False
    sync_minutes: float = Field(default=5.0, ge=0, le=24 * 60)
    # Larger mail is left alone and counted as unparsed; no bounce or reply is this big.
    max_message_bytes: int = Field(default=10_000_000, ge=1000)
    # Where alerts' List-Unsubscribe mailto points; empty: [sender] unsubscribe_email,
    # else reply_to, else email, as alerts choose it.
    unsubscribe_address: str = ""

    @field_validator("unsubscribe_address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        return header_address(value)

    @field_validator("host", "username", "folder")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return header_text(value)

    @model_validator(mode="after")
    def _complete(self) -> InboxSettings:
        if self.source == "imap" and not self.host:
            raise ValueError('source = "imap" needs host (the IMAP server\'s name)')
        if self.source == "imap" and not self.username:
            raise ValueError('source = "imap" needs username')
        if self.source in ("maildir", "mbox") and self.path is None:
            raise ValueError(f'source = "{self.source}" needs path (the mailbox on disk)')
        if self.security == "none" and not self.allow_plain:
            raise ValueError(
                'security = "none" sends the password in the clear; set allow_plain = true '
                "only for a server on this machine"
            )
        return self

    @property
    def imap_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.security == "tls" else 143


class WebSettings(_Section):
    """`capitolmail serve`: where it listens, the address links point to, webhook checks.

    `base_url` is the public https address of `capitolmail serve` (behind the
    team's proxy); one-click unsubscribe links in alerts point there, so alerts
    cannot be queued without it. `sendgrid_public_key` is the verification key
    SendGrid shows for the signed event webhook: public, so it may live here.
    Switching `verify_webhooks` off is for a local test only. The `sign_on_*` limits
    cap how fast one client, and all clients together, can add signatures to a letter.
    """

    base_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=1, le=65535)
    sendgrid_public_key: str = ""
    verify_webhooks: bool = True
    # Sign-on forms (/sign/SLUG): signatures accepted per client address, and per letter,
    # in any hour. Beyond them the form answers 429 and stores nothing.
    sign_on_per_address_per_hour: int = Field(default=10, ge=1)
    sign_on_per_letter_per_hour: int = Field(default=300, ge=1)

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return public_url(value)
