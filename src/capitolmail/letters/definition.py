"""letter.toml: what a letter is, who it goes to, and which files make it up.

Validated with pydantic so a typo in a key is an error naming the file, the key
and its line, rather than a letter that silently goes to the wrong offices.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from capitolmail.config.values import header_text
from capitolmail.errors import InputError, Problem, did_you_mean
from capitolmail.letters.copies import check_copies, copy_addresses
from capitolmail.letters.letter_tables import (
    _ALERT_ONLY,
    _JOINT_ONLY,
    AlertTargets,
    Audience,
    PdfOptions,
    SenderOverride,
    SignOn,
    TrackingChoice,
    _Strict,
)
from capitolmail.message import Tracking
from capitolmail.text_files import read_text
from capitolmail.workspace_paths import (
    LETTERS_DIR,
    check_slug,
    letter_file,
    letter_folder,
    workspace_file,
)

LETTER_FILE = "letter.toml"
DEFAULT_TEXT_BODY = "body.txt.j2"
DEFAULT_HTML_BODY = "body.html.j2"


class LetterDefinition(_Strict):
    """A joint letter to offices, or an action alert to supporters (`kind`).

    `list_name` names an alert's mailing list in its List-Id header and on the
    unsubscribe page ("Action alerts" by default).
    """

    kind: Literal["joint", "alert"]
    subject: str = Field(min_length=1)
    description: str = ""
    body_text: str | None = None
    body_html: str | None = None
    signers: str = "signers.csv"
    lead_signers: list[str] = Field(default_factory=list)
    sender: SenderOverride = Field(default_factory=SenderOverride)
    list_name: str = ""
    # Copies of every message: plain addresses, never templates (copies.py says why).
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    audience: Audience
    tracking: TrackingChoice = Field(default_factory=TrackingChoice)
    alert: AlertTargets | None = None
    sign_on: SignOn | None = None
    pdf: PdfOptions | None = None

    @field_validator("list_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # It reaches the List-Id header of every alert: an injected CR/LF would add headers.
        return header_text(value)

    @field_validator("cc", "bcc")
    @classmethod
    def _copy_addresses(cls, values: list[str]) -> list[str]:
        return copy_addresses(values)

    @model_validator(mode="after")
    def _copies_fit(self) -> LetterDefinition:
        check_copies(self.kind, self.cc, self.bcc)
        return self

    @model_validator(mode="after")
    def _audience_fits_kind(self) -> LetterDefinition:
        if self.alert is not None and self.kind != "alert":
            raise ValueError(
                '[alert] is for kind = "alert"; a joint letter names targets in '
                "[audience] targets and target_tags"
            )
        wrong = _ALERT_ONLY if self.kind == "joint" else _JOINT_ONLY
        used = [key for key in wrong if getattr(self.audience, key)]
        if self.sign_on is not None and self.kind != "joint":
            raise ValueError("[sign_on] is for a joint letter: alerts have no signers")
        if self.sign_on is not None:
            # It is the subject of the confirmation mail: one line, no CR/LF.
            try:
                header_text(self.description)
            except ValueError as err:
                raise ValueError(f"description {err} (it is the sign-on mail's subject)") from None
        if used:
            other = "an alert" if self.kind == "joint" else "a joint letter"
            raise ValueError(
                f'audience.{used[0]} is for {other}, not kind = "{self.kind}"'
                + (
                    "; alerts select supporters by tags, states, districts, "
                    "senator_committees and representative_committees; the targets it "
                    "asks them to contact go in [alert] targets"
                    if self.kind == "alert"
                    else ""
                )
            )
        return self

    @property
    def is_alert(self) -> bool:
        return self.kind == "alert"

    @property
    def effective_tracking(self) -> Tracking:
        """The letter's `[tracking]`, each unset value taken from the kind's default."""
        default = self.is_alert
        opens, clicks = self.tracking.opens, self.tracking.clicks
        return Tracking(
            opens=default if opens is None else opens,
            clicks=default if clicks is None else clicks,
        )

    @model_validator(mode="after")
    def _pdf_for_joint_letters(self) -> LetterDefinition:
        if self.pdf is not None and self.kind != "joint":
            raise ValueError('[pdf] is for joint letters (kind = "joint"), not alerts')
        return self


@dataclass(frozen=True, slots=True)
class Letter:
    """A loaded letter: its folder, the path users see in errors, the definition and its files."""

    slug: str
    folder: Path
    display_path: str
    definition: LetterDefinition
    # The bodies and the signers file, resolved and checked to be in the workspace.
    text_template: Path | None
    html_template: Path | None
    signers_file: Path
    signers_display: str
    # [pdf]'s template and logo, resolved and checked like the bodies; None without them.
    pdf_template: Path | None = None
    logo_file: Path | None = None

    def display(self, name: str) -> str:
        """The workspace-relative path of a file in this letter's folder."""
        return f"{LETTERS_DIR}/{self.slug}/{name}"


def letter_slugs(workspace: Path) -> list[str]:
    folder = workspace / LETTERS_DIR
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / LETTER_FILE).is_file())


def load_letter(workspace: Path, slug: str) -> Letter:
    """The letter in letters/SLUG, with every file it names checked to be in the workspace."""
    check_slug(slug, letter_slugs(workspace))
    folder = letter_folder(workspace, slug)
    display_path = f"{LETTERS_DIR}/{slug}/{LETTER_FILE}"
    path = workspace_file(workspace, Path(LETTERS_DIR) / slug / LETTER_FILE)
    if not path.is_file():
        known = letter_slugs(workspace)
        hint = did_you_mean(slug, known)
        listing = ", ".join(known) if known else "none yet"
        raise InputError(
            f'no letter "{slug}"{hint}; letters in this workspace: {listing}',
            path=display_path,
        )
    raw_text = read_text(path, display_path)
    try:
        raw = tomllib.loads(raw_text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(str(err), path=display_path) from None
    try:
        definition = LetterDefinition.model_validate(raw)
    except ValidationError as err:
        raise InputError(_problems(err, display_path, raw_text)) from None

    signers, text, html = _letter_files(workspace, folder, definition, display_path, raw_text)
    pdf_template, logo = _pdf_files(workspace, folder, definition, display_path, raw_text)
    return Letter(
        slug,
        folder.resolve(),
        display_path,
        definition,
        text,
        html,
        signers,
        _shown(workspace, signers),
        pdf_template,
        logo,
    )


def _pdf_files(
    workspace: Path, folder: Path, definition: LetterDefinition, source: str, raw_text: str
) -> tuple[Path | None, Path | None]:
    """[pdf]'s template and logo, checked by workspace_paths and to exist."""
    if definition.pdf is None:
        return None, None
    problems: list[Problem] = []
    found: list[Path | None] = []
    for key, name in (("template", definition.pdf.template), ("logo", definition.pdf.logo)):
        if not name:
            found.append(None)
            continue
        line = _line_of(raw_text, key)
        path = letter_file(workspace, folder, name, source=source, field=f"pdf.{key}", line=line)
        if isinstance(path, Problem):
            problems.append(path)
            path = None
        elif not path.is_file():
            message = f'file "{name}" not found in {LETTERS_DIR}/{folder.name}/'
            problems.append(Problem(source, message, line=line, field=f"pdf.{key}"))
            path = None
        found.append(path)
    if problems:
        raise InputError(problems)
    return found[0], found[1]


def _letter_files(
    workspace: Path, folder: Path, definition: LetterDefinition, source: str, raw_text: str
) -> tuple[Path, Path | None, Path | None]:
    """The signers file and the bodies letter.toml names, each checked by workspace_paths;
    every problem is reported at once, at the key's line."""
    problems: list[Problem] = []

    def named(key: str, name: str) -> Path | None:
        line = _line_of(raw_text, key)
        found = letter_file(workspace, folder, name, source=source, field=key, line=line)
        if isinstance(found, Problem):
            problems.append(found)
            return None
        return found

    signers = named("signers", definition.signers)
    bodies: list[Path | None] = []
    for key, chosen, default in (
        ("body_text", definition.body_text, DEFAULT_TEXT_BODY),
        ("body_html", definition.body_html, DEFAULT_HTML_BODY),
    ):
        found = named(key, chosen or default)
        if chosen and found is not None and not found.is_file():
            message = f'file "{chosen}" not found in {LETTERS_DIR}/{folder.name}/'
            problems.append(Problem(source, message, line=_line_of(raw_text, key), field=key))
        bodies.append(found if found is not None and found.is_file() else None)
    if not any(bodies) and not problems:
        problems.append(
            Problem(source, f"no body: add {DEFAULT_TEXT_BODY} and/or {DEFAULT_HTML_BODY}")
        )
    if problems:
        raise InputError(problems)
    assert signers is not None
    return signers, bodies[0], bodies[1]


def _shown(workspace: Path, path: Path) -> str:
    """A checked file's path relative to the workspace, as users see it in errors."""
    return path.relative_to(workspace.resolve()).as_posix()


def _problems(err: ValidationError, display_path: str, raw_text: str) -> list[Problem]:
    problems = []
    for item in err.errors():
        loc = [str(part) for part in item["loc"] if not isinstance(part, int)]
        field = ".".join(loc)
        key = loc[-1] if loc else ""
        if item["type"] == "extra_forbidden":
            choices = _choices(loc[:-1])
            hint = did_you_mean(key, choices)
            message = f'unknown key "{key}"{hint}'
            field = None
        elif item["type"] == "missing":
            message = f'"{field}" is required'
            field = None
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(Problem(display_path, message, line=_line_of(raw_text, key), field=field))
    return problems


def _choices(section: list[str]) -> list[str]:
    model: Any = LetterDefinition
    for part in section:
        field = model.model_fields.get(part)
        model = field.annotation if field else None
        # An optional table (`SignOn | None`): its keys are the model's.
        model = next((arg for arg in get_args(model) if arg is not type(None)), model)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return list(model.model_fields)


def _line_of(raw_text: str, key: str) -> int | None:
    """The line where `key` is first assigned; TOML parsers do not keep positions."""
    if not key:
        return None
    pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=", re.MULTILINE)
    match = pattern.search(raw_text)
    return raw_text.count("\n", 0, match.start()) + 1 if match else None
