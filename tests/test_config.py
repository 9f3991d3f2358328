from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from capitolmail.config import load_settings
from capitolmail.errors import ConfigError

from .conftest import Invoke


def _write(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "capitolmail.toml").write_text(text, encoding="utf-8")
    return root


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.provider.name == "file"
    assert settings.timezone == "America/New_York"
    assert settings.database_url_for(tmp_path) == (
        f"sqlite:///{tmp_path.resolve()}/.capitolmail/capitolmail.db"
    )
    assert settings.outbox_dir_for(tmp_path) == tmp_path / ".capitolmail" / "outbox"


def test_unknown_key_names_section_and_suggests(tmp_path: Path) -> None:
    _write(tmp_path, '[provider]\nnmae = "file"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert (
        str(info.value) == 'capitolmail.toml [provider]: unknown key "nmae" (did you mean "name"?)'
    )


def test_bad_value_names_the_key(tmp_path: Path) -> None:
    _write(tmp_path, '[provider]\nname = "carrier-pigeon"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == (
        "capitolmail.toml [provider]: name: Input should be 'file', 'console', 'smtp' or 'sendgrid'"
    )


def test_toml_syntax_error_is_a_config_error(tmp_path: Path) -> None:
    _write(tmp_path, "[organisation\n")
    with pytest.raises(ConfigError, match=r"^capitolmail\.toml: "):
        load_settings(tmp_path)


def test_environment_overrides_file_and_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, '[organisation]\nname = "From the file"\n[provider]\nname = "file"\n')
    (tmp_path / ".env").write_text("CAPITOLMAIL_ORGANISATION__NAME=From dotenv\n")
    assert load_settings(tmp_path).organisation.name == "From dotenv"
    monkeypatch.setenv("CAPITOLMAIL_PROVIDER__NAME", "console")
    monkeypatch.setenv("CAPITOLMAIL_ORGANISATION__NAME", "From the environment")
    settings = load_settings(tmp_path)
    assert settings.provider.name == "console"
    assert settings.organisation.name == "From the environment"


def test_bad_environment_value_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPITOLMAIL_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == (
        'CAPITOLMAIL_TIMEZONE: unknown time zone "Mars/Olympus_Mons" (try "America/New_York")'
    )


def test_secrets_are_refused_in_the_toml_file(tmp_path: Path) -> None:
    _write(tmp_path, '[provider.smtp]\nhost = "smtp.example.org"\npassword = "hunter2"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == (
        "capitolmail.toml: a secret (smtp_password) must not be kept in capitolmail.toml, "
        "which is shared in git; remove it and set CAPITOLMAIL_SMTP_PASSWORD in .env or "
        "the environment"
    )
    assert "hunter2" not in str(info.value)


def test_secrets_come_from_dotenv_and_are_masked(tmp_path: Path) -> None:
    _write(tmp_path, '[provider]\nname = "sendgrid"\n')
    (tmp_path / ".env").write_text("CAPITOLMAIL_SENDGRID_API_KEY=SG.secret-value\n")
    settings = load_settings(tmp_path)
    assert settings.sendgrid_api_key is not None
    assert settings.sendgrid_api_key.get_secret_value() == "SG.secret-value"
    dumped = settings.model_dump_json()
    assert "SG.secret-value" not in dumped and "**********" in dumped
    assert "SG.secret-value" not in repr(settings)


def test_a_missing_secret_names_the_variable(tmp_path: Path) -> None:
    from capitolmail.providers import create_provider

    _write(tmp_path, '[provider]\nname = "sendgrid"\n')
    with pytest.raises(ConfigError) as info:
        create_provider(load_settings(tmp_path), outbox_dir=tmp_path)
    assert str(info.value) == (
        "CAPITOLMAIL_SENDGRID_API_KEY is not set; put it in .env or the environment"
    )


def test_every_provider_name_settings_accept_builds_the_transport_of_that_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typing import get_args

    from capitolmail.config.sections import ProviderSettings
    from capitolmail.providers import create_provider

    monkeypatch.setenv("CAPITOLMAIL_SENDGRID_API_KEY", "SG.test-key")
    names = get_args(ProviderSettings.model_fields["name"].annotation)
    assert names == ("file", "console", "smtp", "sendgrid")
    for name in names:
        _write(tmp_path, f'[provider]\nname = "{name}"\n')
        provider = create_provider(load_settings(tmp_path), outbox_dir=tmp_path)
        try:
            assert provider.name == name
        finally:
            provider.close()


def test_worker_rate_is_validated(tmp_path: Path) -> None:
    _write(tmp_path, '[worker]\nrate = "lots"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == (
        'capitolmail.toml [worker]: rate: "lots" is not a rate; write it like "120/min" or "10/s"'
    )


def test_the_unsubscribe_secret_is_a_secret(tmp_path: Path) -> None:
    _write(tmp_path, 'unsubscribe_secret = "0123456789abcdef0123"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == (
        "capitolmail.toml: a secret (unsubscribe_secret) must not be kept in capitolmail.toml, "
        "which is shared in git; remove it and set CAPITOLMAIL_UNSUBSCRIBE_SECRET in .env or "
        "the environment"
    )
    assert "0123456789abcdef0123" not in str(info.value)

    _write(tmp_path, "")
    (tmp_path / ".env").write_text("CAPITOLMAIL_UNSUBSCRIBE_SECRET=0123456789abcdef0123\n")
    settings = load_settings(tmp_path)
    assert settings.unsubscribe_secret is not None
    assert settings.unsubscribe_secret.get_secret_value() == "0123456789abcdef0123"
    assert "0123456789abcdef0123" not in settings.model_dump_json()


def test_a_short_unsubscribe_secret_is_refused_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "")
    monkeypatch.setenv("CAPITOLMAIL_UNSUBSCRIBE_SECRET", "hunter2")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert str(info.value) == (
        "CAPITOLMAIL_UNSUBSCRIBE_SECRET: too short: use at least 16 random bytes, e.g. the "
        "output of `openssl rand -hex 32`"
    )


def test_worker_fault_settings_read_seconds_or_iso_durations(tmp_path: Path) -> None:
    (tmp_path / "capitolmail.toml").write_text(
        '[worker]\nstale_after = "PT2M"\ndatabase_outage_seconds = 45\nheartbeat_seconds = 5\n'
    )
    worker = load_settings(tmp_path).worker
    assert worker.stale_after == timedelta(minutes=2)
    assert worker.database_outage_seconds == 45


def test_a_heartbeat_too_slow_for_stale_after_is_refused(tmp_path: Path) -> None:
    (tmp_path / "capitolmail.toml").write_text(
        "[worker]\nstale_after = 20\nheartbeat_seconds = 10\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert "heartbeat_seconds must be at most a third of stale_after" in str(info.value)


def test_unknown_dotenv_key_is_named_once_with_its_line(cli: Invoke, workspace: Path) -> None:
    # pydantic hands an unknown .env name over whole: the prefix must not be doubled.
    (workspace / ".env").write_text(
        "# secrets for this workspace\nCAPITOLMAIL_NOT_A_SETTING=1\n", encoding="utf-8"
    )
    result = cli("config", "show")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: .env:2: CAPITOLMAIL_NOT_A_SETTING: not a capitolmail setting"
    ]
    (workspace / ".env").write_text("CAPITOLMAIL_SMTP_PASWORD=hunter2\n", encoding="utf-8")
    result = cli("config", "show")
    assert result.stderr.splitlines() == [
        "Error: .env:1: CAPITOLMAIL_SMTP_PASWORD: not a capitolmail setting"
        ' (did you mean "CAPITOLMAIL_SMTP_PASSWORD"?)'
    ]
    assert "hunter2" not in result.output
    (workspace / ".env").write_text("export NOT_A_SETTING=1\n", encoding="utf-8")
    result = cli("config", "show")
    assert result.stderr.splitlines() == [
        "Error: .env:1: NOT_A_SETTING: not a capitolmail setting;"
        " their names start with CAPITOLMAIL_"
    ]


def test_unknown_nested_key_names_the_variable_and_where_it_was_set(
    cli: Invoke, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workspace / ".env").write_text("CAPITOLMAIL_PROVIDER__SMTP__PROT=25\n", encoding="utf-8")
    result = cli("config", "show")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        'Error: .env:1: CAPITOLMAIL_PROVIDER__SMTP__PROT: unknown key "prot" (did you mean "port"?)'
    ]
    (workspace / ".env").unlink()
    monkeypatch.setenv("CAPITOLMAIL_PROVIDER__SMTP__PROT", "25")
    result = cli("config", "show")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        'Error: CAPITOLMAIL_PROVIDER__SMTP__PROT: unknown key "prot" (did you mean "port"?)'
    ]
