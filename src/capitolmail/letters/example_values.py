"""Refuse to send the worked example's invented values through a real provider.

`capitolmail init` writes a workspace that runs end to end: a sender at
example.org, "1234 Example Avenue", office contacts at senate.example.org. That is
right for the offline outbox and wrong on a real relay, where a Hill office would
read a letter signed by an organization that does not exist, or an alert would
carry a fake postal address. So `letters check` and `queue` refuse such values
unless the provider sends nowhere (file, console, SendGrid's sandbox), naming
where each one is. Reserved names follow RFC 2606 and RFC 6761: example.com,
example.net, example.org and their subdomains, and the .example, .test, .invalid
and .localhost top-level domains. `allow_example_values = true` in capitolmail.toml
lifts the check, for a test relay only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from capitolmail.config import Settings
from capitolmail.config.names import CONFIG_FILE
from capitolmail.errors import InputError, Problem
from capitolmail.outbox import QueuedMessage

if TYPE_CHECKING:
    from capitolmail.letters.definition import Letter
    from capitolmail.letters.signers import Signer
    from capitolmail.recipients.contacts import OfficeContact
    from capitolmail.recipients.target_rows import Target

RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_TLDS = ("example", "test", "invalid", "localhost")
# What `capitolmail init` writes that is not an address (src/capitolmail/example/).
PLACEHOLDERS = ("1234 Example Avenue", "Example Rights Coalition")
_SHOWN = 3


def sends_for_real(settings: Settings) -> bool:
    """True when the provider hands mail to someone: the check applies."""
    provider = settings.provider
    if provider.name in ("file", "console"):
        return False
    return not (provider.name == "sendgrid" and provider.sendgrid.sandbox_mode)


def is_reserved_domain(domain: str) -> bool:
    host = domain.strip().rstrip(".").casefold()
    if host in RESERVED_TLDS or host.rsplit(".", 1)[-1] in RESERVED_TLDS:
        return True
    return any(host == name or host.endswith("." + name) for name in RESERVED_DOMAINS)


def is_example_address(address: str) -> bool:
    return "@" in address and is_reserved_domain(address.rpartition("@")[2])


def is_example_url(url: str) -> bool:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host is not None and is_reserved_domain(host)


def has_placeholder(text: str) -> bool:
    folded = text.casefold()
    return any(placeholder.casefold() in folded for placeholder in PLACEHOLDERS)


def refuse_in_letter(
    settings: Settings,
    letter: Letter,
    *,
    contacts: Iterable[OfficeContact],
    signers: Iterable[Signer],
    contacts_path: str,
    targets: Iterable[Target] = (),
    targets_path: str = "",
) -> None:
    """Refuse a joint letter with example values, when the provider sends for real.

    Takes the letter's parts rather than the joint kind itself, so this check stays
    a leaf the kind imports, not a module that imports the kind back.
    """
    if settings.allow_example_values or not sends_for_real(settings):
        return
    found_contacts = [(c.line, c.email) for c in contacts if is_example_address(c.email)]
    found_signers = [(s.line, s.organisation) for s in signers if has_placeholder(s.organisation)]
    found_targets = [(t.line, t.email) for t in targets if t.email and is_example_address(t.email)]
    refuse(
        [
            *settings_problems(settings, letter, alert=False),
            rows_problem(contacts_path, "email", found_contacts, "office contact"),
            rows_problem(targets_path, "email", found_targets, "target"),
            rows_problem(letter.signers_display, "organisation", found_signers, "signer"),
        ],
        settings.provider.name,
    )


def refuse_in_alert(settings: Settings, letter: Letter) -> None:
    """Refuse an alert's settings with example values (its recipients: `screen_alert`)."""
    if settings.allow_example_values or not sends_for_real(settings):
        return
    refuse(settings_problems(settings, letter, alert=True), settings.provider.name)


def screen_alert(
    settings: Settings,
) -> Callable[[Iterable[QueuedMessage]], Iterator[QueuedMessage]] | None:
    """The stream check for an alert's supporters, or None when it does not apply."""
    if settings.allow_example_values or not sends_for_real(settings):
        return None
    provider = settings.provider.name

    def screen(queued: Iterable[QueuedMessage]) -> Iterator[QueuedMessage]:
        return refuse_example_recipients(queued, where="supporters", provider=provider)

    return screen


def settings_problems(settings: Settings, letter: Letter, *, alert: bool) -> list[Problem]:
    """Example values in capitolmail.toml, or in the letter's own [sender]."""
    problems: list[Problem] = []
    letter_path = letter.display_path
    sender_override = letter.definition.sender.model_dump()

    def flag(path: str, field: str, value: str, what: str) -> None:
        problems.append(Problem(path, f'"{value}" is {what}', field=field))

    organisation = settings.organisation
    for key, value in (
        ("name", organisation.name),
        ("postal_address", organisation.postal_address),
    ):
        if has_placeholder(value):
            flag(CONFIG_FILE, f"[organisation] {key}", value, "the worked example's placeholder")
    if organisation.website and is_example_url(organisation.website):
        flag(CONFIG_FILE, "[organisation] website", organisation.website, "an example domain")
    sender = settings.sender
    for key, value in (
        ("email", sender.email),
        ("reply_to", sender.reply_to),
        ("unsubscribe_email", sender.unsubscribe_email if alert else ""),
    ):
        own = sender_override.get(key, "")
        if own and is_example_address(own):
            flag(letter_path, f"[sender] {key}", own, "an example address")
        elif not own and value and is_example_address(value):
            flag(CONFIG_FILE, f"[sender] {key}", value, "an example address")
    if alert and settings.web.base_url and is_example_url(settings.web.base_url):
        flag(CONFIG_FILE, "[web] base_url", settings.web.base_url, "an example domain")
    return problems


def rows_problem(
    path: str, field: str, found: Sequence[tuple[int | None, str]], what: str
) -> Problem | None:
    """One problem for every offending row of a file: a 44-line error helps nobody."""
    if not found:
        return None
    shown = ", ".join(value for _, value in found[:_SHOWN]) + (", …" if len(found) > _SHOWN else "")
    count = len(found)
    return Problem(
        path,
        f"{count} {what}{'s' * (count != 1)} at example domains or with example values ({shown})",
        line=found[0][0],
        field=field,
    )


def refuse(problems: Iterable[Problem | None], provider: str) -> None:
    """InputError listing every place, each line ending in what to do about it."""
    fix = (
        f"use your own, or set allow_example_values = true in {CONFIG_FILE} to "
        f"send it through {provider} anyway (for a test relay only)"
    )
    found = [
        Problem(p.path, f"{p.message}; {fix}", line=p.line, field=p.field)
        for p in problems
        if p is not None
    ]
    if found:
        raise InputError(found)


def refuse_example_recipients(
    queued: Iterable[QueuedMessage], *, where: str, provider: str
) -> Iterator[QueuedMessage]:
    """`queued`, passed on; at its end, InputError when any went to an example domain.

    For a streamed alert, whose supporters are read from the database a page at a
    time: the job is written in one transaction, so refusing at the end stores
    nothing, and only the offending addresses are held.
    """
    found: list[tuple[int | None, str]] = []
    for item in queued:
        if is_example_address(item.message.to_email):
            found.append((None, item.message.to_email))
        yield item
    refuse([rows_problem(where, "email", found, "supporter")], provider)
