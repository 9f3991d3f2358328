"""Who a letter is from: the letter's own [sender], else the workspace's.

Resolved once per command, before anything renders, because a missing or
malformed From address would otherwise surface as one error per message.
"""

from __future__ import annotations

from dataclasses import dataclass

from capitolmail.config.sections import OrganisationSettings, SenderSettings
from capitolmail.errors import ConfigError
from capitolmail.letters.definition import Letter
from capitolmail.letters.letter_tables import normalise_address
from capitolmail.message import control_character


@dataclass(frozen=True, slots=True)
class Sender:
    """The resolved From and Reply-To: the letter's own, else the workspace's."""

    name: str
    email: str
    reply_to: str


def resolve_sender(
    letter: Letter, organisation: OrganisationSettings, settings: SenderSettings
) -> Sender:
    override = letter.definition.sender
    name = override.name or settings.name or organisation.name
    email = override.email or settings.email
    reply_to = override.reply_to or settings.reply_to
    if not email:
        raise ConfigError(
            "no sender address: set [sender] email in capitolmail.toml "
            f"or [sender] email in {letter.display_path}"
        )
    try:
        email = normalise_address(email)
        reply_to = normalise_address(reply_to) if reply_to else ""
    except ValueError as err:
        raise ConfigError(f"capitolmail.toml [sender]: {err}") from None
    found = control_character(name)
    if found is not None:
        raise ConfigError(
            f"capitolmail.toml: the sender name contains a control character, {found}"
        )
    return Sender(name=name, email=email, reply_to=reply_to)
