"""Settings: the one place that reads capitolmail.toml, CAPITOLMAIL_* variables and .env.

Precedence, highest first: CAPITOLMAIL_* environment variables, the workspace's
`.env`, then `capitolmail.toml`. Nested keys use a double underscore in the
environment (`CAPITOLMAIL_PROVIDER__NAME=console`). Every model forbids unknown
keys, so a typo is an error that names the key instead of a silent default.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from capitolmail.errors import ConfigError, did_you_mean

CONFIG_FILE = "capitolmail.toml"
STATE_DIR = ".capitolmail"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganisationSettings(_Section):
    """Who is sending; shown in From and, for alerts, in the legally required footer."""

    name: str = ""
    postal_address: str = ""
    website: str = ""


class SenderSettings(_Section):
    """The From identity; `name` falls back to the organisation's name."""

    email: str = ""
    name: str = ""
    reply_to: str = ""


class FileProviderSettings(_Section):
    """Where the offline `.eml` outbox lives, relative to the workspace."""

    directory: Path = Path(STATE_DIR) / "outbox"


class ProviderSettings(_Section):
    name: Literal["file", "console"] = "file"
    file: FileProviderSettings = Field(default_factory=FileProviderSettings)


class WorkerSettings(_Section):
    """How the send loop paces itself. Retries back off from `retry_base_seconds`."""

    batch_size: int = Field(default=100, ge=1, le=10_000)
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_base_seconds: float = Field(default=30.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CAPITOLMAIL_",
        env_nested_delimiter="__",
        extra="forbid",
        env_file_encoding="utf-8",
    )

    organisation: OrganisationSettings = Field(default_factory=OrganisationSettings)
    sender: SenderSettings = Field(default_factory=SenderSettings)
    provider: ProviderSettings = Field(default_factory=ProviderSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    database_url: str = ""
    timezone: str = "America/New_York"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f'unknown time zone "{value}" (try "America/New_York")') from err
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
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    @property
    def sender_name(self) -> str:
        return self.sender.name or self.organisation.name

    def database_url_for(self, workspace: Path) -> str:
        """The configured URL, else SQLite inside the workspace's state folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(workspace / STATE_DIR / 'capitolmail.db').resolve()}"

    def outbox_dir_for(self, workspace: Path) -> Path:
        directory = self.provider.file.directory
        return directory if directory.is_absolute() else workspace / directory


def load_settings(workspace: Path) -> Settings:
    """Read the workspace's settings, turning every validation problem into one ConfigError."""
    toml_path = workspace / CONFIG_FILE
    toml_data = _read_toml(toml_path)
    bound = type(
        "WorkspaceSettings",
        (Settings,),
        {
            "model_config": {
                **Settings.model_config,
                "toml_file": toml_path,
                "env_file": workspace / ".env",
            }
        },
    )
    try:
        return bound()
    except ValidationError as err:
        raise ConfigError(_describe(err, toml_data)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{CONFIG_FILE}: {err}") from None


def _describe(err: ValidationError, toml_data: dict[str, Any]) -> str:
    """One line for the first problem, worded for the place the user wrote the value."""
    first = err.errors()[0]
    loc = [str(part) for part in first["loc"]]
    section, key = loc[:-1], loc[-1] if loc else ""
    in_toml = _lookup(toml_data, loc) is not _MISSING
    if not in_toml:
        where = "CAPITOLMAIL_" + "__".join(part.upper() for part in loc)
    elif section:
        where = f"{CONFIG_FILE} [{'.'.join(section)}]"
    else:
        where = CONFIG_FILE
    if first["type"] == "extra_forbidden":
        hint = did_you_mean(key, _field_names(loc[:-1]))
        message = f'unknown key "{key}"{hint}'
    else:
        text = str(first["msg"]).removeprefix("Value error, ")
        message = f"{key}: {text}" if in_toml else text
    more = len(err.errors()) - 1
    suffix = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
    return f"{where}: {message}{suffix}"


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
