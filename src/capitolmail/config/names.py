"""The names a user writes settings under: files, the state folder, secret variables.

Apart from the models so that every part of the settings (the models, the loader,
the wording of its errors) can name `capitolmail.toml` or `CAPITOLMAIL_SMTP_PASSWORD`
without importing the rest.
"""

from __future__ import annotations

CONFIG_FILE = "capitolmail.toml"
ENV_FILE = ".env"
# Settings that must never be written in capitolmail.toml, which teams keep in git.
SECRET_FIELDS = (
    "smtp_password",
    "sendgrid_api_key",
    "unsubscribe_secret",
    "status_token",
    "inbox_password",
    "inbox_oauth2_token",
)
STATE_DIR = ".capitolmail"
# Shorter secrets could be found by trying them all, and then any unsubscribe link forged.
UNSUBSCRIBE_SECRET_MIN_BYTES = 16


def secret_variable(field: str) -> str:
    return f"CAPITOLMAIL_{field.upper()}"
