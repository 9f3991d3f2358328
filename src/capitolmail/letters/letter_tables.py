"""The tables of letter.toml other than the letter itself: who it goes to ([audience]),
its sender, targets of an alert, tracking, sign-on and the PDF.

Each is a strict pydantic model (an unknown key is an error naming it), kept apart
from definition.py, which reads the file and puts them together.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from capitolmail.config.values import header_text
from capitolmail.recipients.addresses import normalised_address
from capitolmail.timing.when import parse_when

_UTC_ZONE = ZoneInfo("UTC")
DEFAULT_PDF_TEMPLATE = "letter.pdf.html.j2"
# `date` for annotations where a field is itself called `date` ([pdf]).
CalendarDate = date


def normalise_address(value: str) -> str:
    """A valid address in the form it is sent (recipients.addresses); no DNS lookups."""
    return normalised_address(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Audience(_Strict):
    """Who gets the letter.

    A joint letter goes to offices: filters that are given intersect; `include`
    adds offices regardless of them and `exclude` removes offices last. `roles`
    picks office contacts by role (case-insensitive); empty means every contact
    of a selected office. `targets` (ids) and `target_tags` add recipients from
    recipients/targets.csv, beside the offices or instead of them.

    An alert goes to consenting supporters: `tags` (any of them), `states`,
    `districts` ("CA-12", "DE-AL") and what their legislators are: a senator on
    one of `senator_committees`, or a representative on one of
    `representative_committees`. Filters that are given intersect.
    """

    everyone: bool = False
    chambers: list[str] = Field(default_factory=list)
    states: list[str] = Field(default_factory=list)
    committees: list[str] = Field(default_factory=list)
    parties: list[str] = Field(default_factory=list)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list)
    target_tags: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    districts: list[str] = Field(default_factory=list)
    senator_committees: list[str] = Field(default_factory=list)
    representative_committees: list[str] = Field(default_factory=list)


# The audience keys each kind of letter understands; the others are a mistake to report.
_JOINT_ONLY = (
    "everyone",
    "chambers",
    "committees",
    "parties",
    "include",
    "exclude",
    "roles",
    "targets",
    "target_tags",
)
# The keys that select congressional offices (the rest of a joint audience names targets).
OFFICE_KEYS = ("everyone", "chambers", "states", "committees", "parties", "include")


class AlertTargets(_Strict):
    """`[alert]`: the targets (recipients/targets.csv) an alert asks supporters to contact,
    by id or tag, beside or instead of their own members of Congress; templates see
    them as `targets` (and the first as `target`)."""

    targets: list[str] = Field(default_factory=list)
    target_tags: list[str] = Field(default_factory=list)


_ALERT_ONLY = ("tags", "districts", "senator_committees", "representative_committees")


class SenderOverride(_Strict):
    """Per-letter From and Reply-To; empty values fall back to capitolmail.toml."""

    name: str = ""
    email: str = ""
    reply_to: str = ""

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return header_text(value)

    @field_validator("email", "reply_to")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        return normalise_address(value) if value else value


class TrackingChoice(_Strict):
    """`[tracking]` in letter.toml: opens and clicks, each on or off.

    Unset means the kind's default: off for joint letters (rewritten links and a
    tracking pixel in mail to a congressional office look like phishing to its
    filters), on for alerts. Only SendGrid tracks; SMTP sends the letter as it is.
    """

    opens: bool | None = None
    clicks: bool | None = None


class SignOn(_Strict):
    """`[sign_on]`: organisations sign this joint letter through `capitolmail serve`.

    `opens` and `closes` are dates and times in the workspace's time zone (or ISO 8601
    with an offset); the form refuses signatures outside them. `passphrase` is for a
    closed coalition: it is a secret, masked wherever settings are shown. `notify` lists
    the staff addresses told of each confirmed signature.
    """

    opens: str = ""
    closes: str
    passphrase: SecretStr | None = None
    notify: list[str] = Field(default_factory=list)

    @field_validator("opens", "closes", mode="before")
    @classmethod
    def _when_text(cls, value: object) -> object:
        # TOML's own datetimes arrive as datetime objects; a date alone has no time of day.
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")
        if isinstance(value, date):
            raise ValueError(f"{value} has no time of day; write it like 2026-12-01 17:00")
        return value

    @field_validator("opens", "closes")
    @classmethod
    def _parses(cls, value: str) -> str:
        if value:
            try:
                parse_when(value, _UTC_ZONE, datetime.now(UTC))
            except ValueError as err:
                raise ValueError(str(err).replace("UTC", "the workspace's time zone")) from None
        return value

    @field_validator("notify")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [normalise_address(address) for address in value]

    def window(self, zone: Any) -> tuple[datetime | None, datetime]:
        """(opens, closes) as instants in `zone`, the workspace's time zone."""
        now = datetime.now(UTC)
        opens = parse_when(self.opens, zone, now) if self.opens else None
        return opens, parse_when(self.closes, zone, now)


class PdfOptions(_Strict):
    """`[pdf]`: the letter also goes as a PDF on letterhead, made at queue time.

    `template` (in the letter's folder or templates/) extends
    "capitolmail/letterhead.html.j2"; `per_office = false` makes one PDF for the
    whole letter instead of one per office, with no addressee block. `filename` is
    the attachment's name without ".pdf" (the slug by default; per office, the
    bioguide id is added). `logo` is an image file (PNG, JPEG or SVG) in the
    letter's folder or templates/. `re` is the RE: line. `columns` lays the signers
    out in 2 or 3 columns. `date` fixes the letter's date; by default it is the day
    it is queued, in the workspace's time zone.
    """

    template: str = DEFAULT_PDF_TEMPLATE
    per_office: bool = True
    filename: str = ""
    logo: str = ""
    re: str = ""
    columns: int = Field(default=2, ge=2, le=3)
    date: CalendarDate | None = None

    @field_validator("re", "filename")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return header_text(value)
