"""Settings: the one place that reads capitolmail.toml, CAPITOLMAIL_* variables and .env.

Precedence, highest first: CAPITOLMAIL_* environment variables, the workspace's
`.env`, then `capitolmail.toml`. Nested keys use a double underscore in the
environment (`CAPITOLMAIL_PROVIDER__NAME=console`). Every model forbids unknown
keys, so a typo is an error that names the key instead of a silent default.
"""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from capitolmail.errors import (
    ConfigError,
    InputError,
    closest_match,
    did_you_mean,
    suggestion_hint,
)
from capitolmail.message import refuse_control_characters
from capitolmail.period import parse_period
from capitolmail.recipients.addresses import normalised_address
from capitolmail.redaction import url_password, use_secrets
from capitolmail.text_files import read_text
from capitolmail.timing.rate import Rate, parse_rate
from capitolmail.workspace_paths import workspace_file

CONFIG_FILE = "capitolmail.toml"
ENV_FILE = ".env"
# Settings that must never be written in capitolmail.toml, which teams keep in git.
SECRET_FIELDS = ("smtp_password", "sendgrid_api_key", "unsubscribe_secret", "status_token")
STATE_DIR = ".capitolmail"
# Shorter secrets could be found by trying them all, and then any unsubscribe link forged.
UNSUBSCRIBE_SECRET_MIN_BYTES = 16


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A name shown in From or List-Id: one line, and short enough to read in a mail client.
MAX_NAME_LENGTH = 200


def header_text(value: str) -> str:
    """A setting that reaches a header as text: no control character (CR/LF injection)."""
    refuse_control_characters(value)
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"is {len(value)} characters long; keep it under {MAX_NAME_LENGTH}")
    return value.strip()


def header_address(value: str) -> str:
    """A setting that reaches From, Reply-To or a mailto: link: valid, in sending form."""
    return normalised_address(value) if value.strip() else ""


def public_url(value: str) -> str:
    """[web] base_url: where links in every alert point, so anything odd is refused.

    An absolute https URL with no query or fragment (a token is appended to it),
    no spaces or control characters (they would end the List-Unsubscribe header
    or the link). Plain http is accepted only for this machine, for local tests.
    """
    refuse_control_characters(value)
    value = value.strip().rstrip("/")
    if not value:
        return value
    parsed = urlsplit(value)
    local = parsed.hostname in ("localhost", "127.0.0.1", "::1")
    if (
        any(ch.isspace() for ch in value)
        or not value.isascii()
        or not parsed.hostname
        or parsed.query
        or parsed.fragment
        or "?" in value
        or "#" in value
        or parsed.username is not None
        or not (parsed.scheme == "https" or (parsed.scheme == "http" and local))
    ):
        raise ValueError(
            f'"{value}" must be an absolute https URL without spaces, query or fragment, '
            "such as https://act.example.org (http only for localhost)"
        )
    try:
        parsed.port  # noqa: B018 - raises for a port that is not a number
    except ValueError as err:
        raise ValueError(f'"{value}" has an invalid port ({err})') from None
    return value


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
    jobs together ("600/min"); a job's own `--rate` caps it further. Retries of
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
    # `missed` rather than sending late (APScheduler's own default is 1 second).
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


class WebSettings(_Section):
    """`capitolmail serve`: where it listens, the address links point to, webhook checks.

    `base_url` is the public https address of `capitolmail serve` (behind the
    team's proxy); one-click unsubscribe links in alerts point there, so alerts
    cannot be queued without it. `sendgrid_public_key` is the verification key
    SendGrid shows for the signed event webhook: public, so it may live here.
    Switching `verify_webhooks` off is for a local test only.
    """

    base_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=1, le=65535)
    sendgrid_public_key: str = ""
    verify_webhooks: bool = True

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return public_url(value)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CAPITOLMAIL_",
        env_nested_delimiter="__",
        extra="forbid",
        # A byte order mark (Notepad writes one) is dropped instead of ending up in a name.
        env_file_encoding="utf-8-sig",
    )

    organisation: OrganisationSettings = Field(default_factory=OrganisationSettings)
    sender: SenderSettings = Field(default_factory=SenderSettings)
    provider: ProviderSettings = Field(default_factory=ProviderSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    database_url: str = ""
    timezone: str = "America/New_York"
    # How long the same content to the same recipient, under any slug, is refused
    # without --allow-resend (capitolmail.period: "30d", "2w", 30 days); "0" turns it off.
    resend_period: timedelta = timedelta(days=30)
    # Let the worked example's values (example.org addresses, "1234 Example Avenue") go
    # out through smtp or sendgrid: for a test relay only (letters/example_values.py).
    allow_example_values: bool = False
    # Secrets: read from CAPITOLMAIL_* variables or .env only (see SECRET_FIELDS).
    smtp_password: SecretStr | None = None
    sendgrid_api_key: SecretStr | None = None
    # The bearer token that opens `capitolmail serve`'s /status page.
    status_token: SecretStr | None = None
    # Signs one-click unsubscribe links (capitolmail.letters.tokens); changing it voids every
    # link already sent, so generate it once (e.g. `openssl rand -hex 32`) and keep it.
    unsubscribe_secret: SecretStr | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f'unknown time zone "{value}" (try "America/New_York")') from err
        return value

    @field_validator("resend_period", mode="before")
    @classmethod
    def _period(cls, value: object) -> timedelta:
        return parse_period(value)

    @field_validator("unsubscribe_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < (
            UNSUBSCRIBE_SECRET_MIN_BYTES
        ):
            raise ValueError(
                f"too short: use at least {UNSUBSCRIBE_SECRET_MIN_BYTES} random bytes, "
                "e.g. the output of `openssl rand -hex 32`"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            _WorkspaceToml(settings_cls, toml_file=toml_file),
        )

    def database_url_for(self, workspace: Path) -> str:
        """The configured URL, else SQLite inside the workspace's state folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(workspace / STATE_DIR / 'capitolmail.db').resolve()}"

    def outbox_dir_for(self, workspace: Path) -> Path:
        directory = self.provider.file.directory
        return directory if directory.is_absolute() else workspace / directory


class _WorkspaceToml(TomlConfigSettingsSource):
    """capitolmail.toml read as load_settings reads it: UTF-8, a byte order mark
    allowed, and a one-line ConfigError instead of a UnicodeDecodeError."""

    def _read_file(self, file_path: Path) -> dict[str, Any]:
        return _read_toml(file_path)


def load_settings(workspace: Path) -> Settings:
    """Read the workspace's settings, turning every validation problem into one ConfigError."""
    toml_path = _in_workspace(workspace, CONFIG_FILE)
    toml_data = _read_toml(toml_path)
    _refuse_secrets_in_toml(toml_data)
    env_path = _in_workspace(workspace, ENV_FILE)
    if env_path.is_file():
        _read_text(env_path, ENV_FILE)  # python-dotenv would raise UnicodeDecodeError
    bound = type(
        "WorkspaceSettings",
        (Settings,),
        {
            "model_config": {
                **Settings.model_config,
                "toml_file": toml_path,
                "env_file": env_path,
            }
        },
    )
    try:
        settings = bound()
    except ValidationError as err:
        raise ConfigError(_describe(err, toml_data, workspace / ".env")) from None
    smtp = settings.provider.smtp
    if smtp.ca_file is not None and not smtp.ca_file.is_absolute():
        # Like every path in the workspace's files: from the workspace, not from where
        # the worker happens to be started (cron starts it in the home folder).
        smtp.ca_file = workspace / smtp.ca_file
    # From here on no log line, error or `status` of this process shows them.
    use_secrets(secret_values(settings))
    return settings


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold: the SECRET_FIELDS and database_url's password."""
    values = []
    for name in SECRET_FIELDS:
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr) and secret.get_secret_value():
            values.append(secret.get_secret_value())
    password = url_password(settings.database_url)
    if password:
        values.append(password)
    return values


def secret_variable(field: str) -> str:
    return f"CAPITOLMAIL_{field.upper()}"


def require_secret(value: SecretStr | None, field: str) -> SecretStr:
    """The secret, or a ConfigError naming the variable (never a value) to set."""
    if value is None or not value.get_secret_value():
        raise ConfigError(f"{secret_variable(field)} is not set; put it in .env or the environment")
    return value


def _refuse_secrets_in_toml(data: dict[str, Any]) -> None:
    found = [key for key in SECRET_FIELDS if key in data]
    for section in ("smtp", "sendgrid"):
        provider = data.get("provider", {})
        table = provider.get(section, {}) if isinstance(provider, dict) else {}
        if isinstance(table, dict):
            found += [f"{section}_{key}" for key in ("password", "api_key") if key in table]
    if found:
        # "[provider.smtp] password" and a top-level "smtp_password" are the same secret.
        raise ConfigError(
            f"{CONFIG_FILE}: a secret ({found[0]}) must not be kept in {CONFIG_FILE}, which is "
            f"shared in git; remove it and set {secret_variable(found[0])} in .env or the "
            "environment"
        )


def _in_workspace(workspace: Path, name: str) -> Path:
    try:
        return workspace_file(workspace, name)
    except InputError as err:
        raise ConfigError(str(err)) from None


def _read_text(path: Path, shown: str) -> str:
    try:
        return read_text(path, shown)
    except InputError as err:
        raise ConfigError(str(err)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(_read_text(path, CONFIG_FILE))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{CONFIG_FILE}: {err}") from None


def _describe(err: ValidationError, toml_data: dict[str, Any], dotenv: Path) -> str:
    """One line for the first problem, worded for the place the user wrote the value."""
    first = err.errors()[0]
    loc = [str(part) for part in first["loc"]]
    section, key = loc[:-1], loc[-1] if loc else ""
    more = len(err.errors()) - 1
    suffix = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
    if _lookup(toml_data, loc) is not _MISSING:
        where = f"{CONFIG_FILE} [{'.'.join(section)}]" if section else CONFIG_FILE
        if first["type"] == "extra_forbidden":
            message = f'unknown key "{key}"{did_you_mean(key, _field_names(section))}'
        else:
            message = f"{key}: {_message_text(first)}"
        return f"{where}: {message}{suffix}"
    return _describe_variable(first, loc, dotenv) + suffix


def _describe_variable(first: Any, loc: list[str], dotenv: Path) -> str:
    """A problem in a CAPITOLMAIL_* variable, set in the environment or in `.env`.

    An unknown top-level name can only come from `.env` (the environment's unknown
    variables are ignored), and pydantic hands it over whole, prefix included, so
    it is named as written rather than prefixed a second time.
    """
    variable = "CAPITOLMAIL_" + "__".join(part.upper() for part in loc)
    if len(loc) == 1 and first["type"] == "extra_forbidden":
        variable = loc[0].upper()
    line = None if variable in os.environ else _dotenv_line(dotenv, variable)
    where = variable if line is None else f".env:{line}: {variable}"
    if first["type"] != "extra_forbidden":
        return f"{where}: {_message_text(first)}"
    if len(loc) > 1:
        known = _field_names(loc[:-1])
        return f'{where}: unknown key "{loc[-1]}"{did_you_mean(loc[-1], known)}'
    if not variable.startswith("CAPITOLMAIL_"):
        return f"{where}: not a capitolmail setting; their names start with CAPITOLMAIL_"
    # Compared without the prefix every name shares, which would make anything look close.
    match = closest_match(variable.removeprefix("CAPITOLMAIL_"), Settings.model_fields)
    hint = suggestion_hint(secret_variable(match) if match else None)
    return f"{where}: not a capitolmail setting{hint}"


def _message_text(error: Any) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def _dotenv_line(path: Path, variable: str) -> int | None:
    """The line of `.env` that sets `variable` (names compared without case), if any."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for number, text in enumerate(lines, start=1):
        name = text.strip().removeprefix("export ").partition("=")[0].strip()
        if name.upper() == variable.upper():
            return number
    return None


_MISSING = object()


def _lookup(data: Any, loc: list[str]) -> Any:
    for part in loc:
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _field_names(section: list[str]) -> list[str]:
    model: type[BaseModel] = Settings
    for part in section:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)
