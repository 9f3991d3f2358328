"""A pydantic ValidationError told as one line, in the words of where the value was written.

A value from capitolmail.toml is named by its [table] and key, one from the
environment or `.env` by its CAPITOLMAIL_* name (and `.env` line); unknown keys
get a "did you mean". Apart from the loader because it is about wording, not reading.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from capitolmail.config.names import CONFIG_FILE, secret_variable
from capitolmail.errors import closest_match, did_you_mean, suggestion_hint


def describe(
    err: ValidationError, toml_data: dict[str, Any], dotenv: Path, model: type[BaseModel]
) -> str:
    """One line for the first problem, worded for the place the user wrote the value.

    `model` is the Settings class, passed in so this module does not import its loader.
    """
    first = err.errors()[0]
    loc = [str(part) for part in first["loc"]]
    section, key = loc[:-1], loc[-1] if loc else ""
    more = len(err.errors()) - 1
    suffix = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
    if _lookup(toml_data, loc) is not _MISSING:
        where = f"{CONFIG_FILE} [{'.'.join(section)}]" if section else CONFIG_FILE
        if first["type"] == "extra_forbidden":
            message = f'unknown key "{key}"{did_you_mean(key, _field_names(model, section))}'
        else:
            message = f"{key}: {_message_text(first)}"
        return f"{where}: {message}{suffix}"
    return _describe_variable(first, loc, dotenv, model) + suffix


def _describe_variable(first: Any, loc: list[str], dotenv: Path, model: type[BaseModel]) -> str:
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
        known = _field_names(model, loc[:-1])
        return f'{where}: unknown key "{loc[-1]}"{did_you_mean(loc[-1], known)}'
    if not variable.startswith("CAPITOLMAIL_"):
        return f"{where}: not a capitolmail setting; their names start with CAPITOLMAIL_"
    # Compared without the prefix every name shares, which would make anything look close.
    match = closest_match(variable.removeprefix("CAPITOLMAIL_"), model.model_fields)
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


def _field_names(model: type[BaseModel], section: list[str]) -> list[str]:
    for part in section:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)
