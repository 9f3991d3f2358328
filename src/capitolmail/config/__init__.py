"""Settings: the one place that reads capitolmail.toml, CAPITOLMAIL_* variables and .env.

Precedence, highest first: CAPITOLMAIL_* environment variables, the workspace's
`.env`, then `capitolmail.toml`. Nested keys use a double underscore in the
environment (`CAPITOLMAIL_PROVIDER__NAME=console`). Every model forbids unknown
keys, so a typo is an error that names the key instead of a silent default.

This module is the facade callers use: `Settings`, `load_settings` and the
secret helpers. The sections' models (`sections`), the checks on values that
reach headers (`values`), the names users write (`names`) and the wording of
validation errors (`problems`) live beside it.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from capitolmail.config.names import (
    CONFIG_FILE,
    ENV_FILE,
    SECRET_FIELDS,
    STATE_DIR,
    UNSUBSCRIBE_SECRET_MIN_BYTES,
    secret_variable,
)
from capitolmail.config.problems import describe
from capitolmail.config.sections import (
    InboxSettings,
    OrganisationSettings,
    ProviderSettings,
    SenderSettings,
    WebSettings,
    WorkerSettings,
)
from capitolmail.errors import ConfigError, InputError
from capitolmail.period import parse_period
from capitolmail.redaction import url_password, use_secrets
from capitolmail.text_files import read_text
from capitolmail.workspace_paths import workspace_file


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
    inbox: InboxSettings = Field(default_factory=InboxSettings)
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
    # The inbound mailbox's IMAP password (or app password), or an XOAUTH2 access token.
    inbox_password: SecretStr | None = None
    inbox_oauth2_token: SecretStr | None = None

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
        raise ConfigError(describe(err, toml_data, workspace / ".env", Settings)) from None
    smtp = settings.provider.smtp
    if smtp.ca_file is not None and not smtp.ca_file.is_absolute():
        # Like every path in the workspace's files: from the workspace, not from where
        # the worker happens to be started (cron starts it in the home folder).
        smtp.ca_file = workspace / smtp.ca_file
    inbox = settings.inbox
    if inbox.ca_file is not None and not inbox.ca_file.is_absolute():
        inbox.ca_file = workspace / inbox.ca_file
    if inbox.path is not None and not inbox.path.is_absolute():
        inbox.path = workspace / inbox.path
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
    inbox = data.get("inbox", {})
    if isinstance(inbox, dict):
        found += [f"inbox_{key}" for key in ("password", "oauth2_token") if key in inbox]
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
