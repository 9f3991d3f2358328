"""Queue an action alert: each consenting supporter, their own legislators, one message.

The same promise as a joint letter (render now, store frozen, all or nothing),
at a different scale: 300,000 supporters are read a page at a time and their
messages rendered and written as they go, inside one transaction, so memory
stays flat and a template error at the last supporter still stores nothing.

Compliance is checked before anything renders, because an alert that goes out
without it cannot be recalled: the organisation's postal address, a public
address for the one-click unsubscribe link, and the secret that signs it. Every
rendered alert must then show the unsubscribe link and the postal address; the
built-in layout `capitolmail/alert.html.j2` does both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html import escape
from pathlib import Path
from typing import Any

from capitolmail.config import OrganisationSettings, SenderSettings, WebSettings
from capitolmail.errors import CapitolmailError, ConfigError, InputError
from capitolmail.letters.compose import clean_display_name, compose_message
from capitolmail.letters.definition import Letter, load_letter
from capitolmail.letters.resend import DEFAULT_RESEND_PERIOD, refuse_same_content_as_rendered
from capitolmail.message import OutgoingMessage
from capitolmail.outbox import QueuedMessage, Store, SupporterInfo, email_key
from capitolmail.queueing import (
    SUPPRESSED_AT_QUEUE,
    Progress,
    Sender,
    for_recipient,
    refuse_resend,
    resolve_sender,
)
from capitolmail.recipients.audience import AlertAudience, alert_audience
from capitolmail.recipients.constituents import Delegation, DelegationFinder
from capitolmail.recipients.legislators import Roster
from capitolmail.templates.render import LetterTemplates
from capitolmail.unsubscribe import make_token

DEFAULT_LIST_NAME = "Action alerts"
Screen = Callable[[Iterable[QueuedMessage]], Iterator[QueuedMessage]]


@dataclass(frozen=True, slots=True)
class PreparedAlert:
    letter: Letter
    templates: LetterTemplates
    sender: Sender
    audience: AlertAudience
    list_name: str
    list_id: str
    unsubscribe_base: str
    unsubscribe_mailto: str
    secret: str
    organisation: OrganisationSettings


@dataclass
class AlertQueueResult:
    job_id: int | None
    messages: int = 0
    suppressed: int = 0
    representative_unknown: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    senators_unknown: int = 0
    vacant_seats: int = 0

    def count(self, delegation: Delegation) -> None:
        """Tally the alerts that cannot name everyone, each under one reason: no state
        known (nobody named), a vacant seat, or a representative the ZIP does not settle."""
        if not delegation.state_known:
            self.senators_unknown += 1
        elif delegation.vacant:
            self.vacant_seats += 1
        if delegation.state_known and not delegation.district_known and not delegation.house_vacant:
            self.representative_unknown += 1


def prepare_alert(
    root: Path,
    slug: str,
    *,
    roster: Roster,
    organisation: OrganisationSettings,
    sender: SenderSettings,
    web: WebSettings,
    unsubscribe_secret: str | None,
) -> PreparedAlert:
    """Load the alert and check what the law and the inbox providers require of it."""
    letter = load_letter(root, slug)
    definition = letter.definition
    if not definition.is_alert:
        raise InputError(f'"{slug}" is a joint letter, not an alert', path=letter.display_path)
    missing = []
    if not organisation.postal_address.strip():
        missing.append(
            "[organisation] postal_address in capitolmail.toml (CAN-SPAM requires the "
            "sender's postal address in every alert)"
        )
    if not web.base_url:
        missing.append(
            "[web] base_url in capitolmail.toml: the public https address of "
            "`capitolmail serve`, where one-click unsubscribe links point"
        )
    if not unsubscribe_secret:
        missing.append(
            "CAPITOLMAIL_UNSUBSCRIBE_SECRET in .env or the environment (signs unsubscribe "
            "links; e.g. the output of `openssl rand -hex 32`)"
        )
    if missing:
        raise ConfigError("alerts need " + "; and ".join(missing))
    assert unsubscribe_secret is not None
    audience = alert_audience(letter, roster)
    templates = LetterTemplates(
        letter.folder,
        workspace_root=root,
        subject=definition.subject,
        text_template=letter.text_template,
        html_template=letter.html_template,
        source=letter.display_path,
    )
    resolved = resolve_sender(letter, organisation, sender)
    list_name = definition.list_name or DEFAULT_LIST_NAME
    domain = resolved.email.rsplit("@", 1)[1]
    list_id = f"{_label(list_name)}.{domain}"
    return PreparedAlert(
        letter=letter,
        templates=templates,
        sender=resolved,
        audience=audience,
        list_name=list_name,
        list_id=list_id,
        unsubscribe_base=f"{web.base_url}/u/",
        unsubscribe_mailto=sender.unsubscribe_email or resolved.reply_to or resolved.email,
        secret=unsubscribe_secret,
        organisation=organisation,
    )


def queue_alert(
    store: Store,
    prepared: PreparedAlert,
    *,
    roster: Roster,
    now: Any,
    dry_run: bool = False,
    allow_resend: bool = False,
    resend_period: timedelta = DEFAULT_RESEND_PERIOD,
    progress: Progress | None = None,
    screen: Screen | None = None,
) -> AlertQueueResult:
    """Render and store one message per wanted supporter, in one transaction.

    A supporter on the suppression list gets a `suppressed` row (counted by
    `status`, never sent); one who already has this alert is refused unless
    `allow_resend`. With `dry_run` everything renders and nothing is stored.
    `screen` sees every message on its way to the store and may refuse the lot
    (letters/example_values.py refuses example addresses on a real provider).
    """
    result = AlertQueueResult(job_id=None)
    messages = _alert_messages(store, prepared, roster, result, allow_resend, progress)
    if not allow_resend:
        messages = refuse_same_content_as_rendered(
            store, prepared.letter, messages, now=now, period=resend_period, people="supporters"
        )
    if screen is not None:
        messages = screen(messages)
    if dry_run:
        for _ in messages:
            pass
        return result
    try:
        result.job_id = store.create_job(
            letter_slug=prepared.letter.slug, kind="alert", messages=messages, now=now
        )
    except ValueError as err:
        if result.messages == 0:
            raise InputError(
                "no consenting supporter matches this alert's audience; import supporters "
                "with `capitolmail supporters import` or widen [audience]",
                path=prepared.letter.display_path,
            ) from err
        raise
    return result


def preview_alert(
    store: Store, prepared: PreparedAlert, *, roster: Roster, email: str | None
) -> QueuedMessage:
    """The message one supporter (the first in the audience if `email` is None) would get."""
    result = AlertQueueResult(job_id=None)
    wanted = email_key(email) if email else None
    for message in _alert_messages(
        store, prepared, roster, result, allow_resend=True, progress=None, only=wanted
    ):
        return message
    who = f'"{email}" is not' if email else "no consenting supporter is"
    raise CapitolmailError(
        f"{who} in the audience of {prepared.letter.slug}; `capitolmail supporters list` "
        "shows who is imported"
    )


def _alert_messages(
    store: Store,
    prepared: PreparedAlert,
    roster: Roster,
    result: AlertQueueResult,
    allow_resend: bool,
    progress: Progress | None,
    only: str | None = None,
) -> Iterator[QueuedMessage]:
    finder = DelegationFinder(roster)
    letter = prepared.letter
    base_context: dict[str, Any] = {
        "organisation": prepared.organisation,
        "sender": prepared.sender,
        "letter": {"slug": letter.slug, "description": letter.definition.description},
        "list_name": prepared.list_name,
    }
    list_header = f"{prepared.list_name} <{prepared.list_id}>"
    mailto = f"mailto:{prepared.unsubscribe_mailto}?subject=unsubscribe"
    postal = prepared.organisation.postal_address.strip()
    postal_html = escape(postal, quote=False)
    total = store.count_supporters()
    seen = 0
    for page in store.iter_supporters(consenting_only=True):
        wanted = []
        for supporter in page:
            if only is not None and email_key(supporter.email) != only:
                continue
            delegation = finder.find(supporter.state, supporter.district, supporter.postal_code)
            if prepared.audience.wants(supporter, delegation):
                wanted.append((supporter, delegation))
        seen += len(page)
        emails = [supporter.email for supporter, _ in wanted]
        suppressed = store.suppressed_among(emails)
        if not allow_resend:
            refuse_resend(store, letter, emails, people="supporters")
        for supporter, delegation in wanted:
            token = make_token(prepared.secret, supporter.id, prepared.list_id)
            unsubscribe_url = prepared.unsubscribe_base + token
            context = {
                **base_context,
                "supporter": supporter,
                "senators": delegation.senators,
                "representative": delegation.representative,
                "representatives": delegation.representatives,
                "district_known": delegation.district_known,
                "delegation": delegation,
                "unsubscribe_url": unsubscribe_url,
            }
            rendered = _render(prepared, context, supporter)
            _check_compliance(
                prepared,
                rendered.text,
                rendered.html,
                unsubscribe_url,
                postal,
                postal_html,
                supporter,
            )
            message = _compose(prepared, supporter, rendered, unsubscribe_url, mailto, list_header)
            key = email_key(supporter.email)
            reason = None
            if key in suppressed:
                reason = SUPPRESSED_AT_QUEUE
                result.suppressed += 1
            result.messages += 1
            result.count(delegation)
            state = delegation.state or "unknown"
            result.by_state[state] = result.by_state.get(state, 0) + 1
            yield QueuedMessage(
                message=message,
                supporter_id=str(supporter.id),
                suppressed=reason,
            )
        if progress is not None:
            progress(seen, total)


def display_name(supporter: SupporterInfo) -> str:
    """The To name as compose sends it: "Jane Doe, PhD" becomes "Jane Doe PhD"."""
    return clean_display_name(f"{supporter.first_name} {supporter.last_name}")


def _compose(
    prepared: PreparedAlert,
    supporter: SupporterInfo,
    rendered: Any,
    unsubscribe_url: str,
    mailto: str,
    list_header: str,
) -> OutgoingMessage:
    """The alert as it is stored, through the one compose step every letter takes."""
    try:
        return compose_message(
            sender=prepared.sender,
            to_email=supporter.email,
            to_name=f"{supporter.first_name} {supporter.last_name}",
            rendered=rendered,
            source=prepared.letter.display_path,
            headers=(
                ("List-Unsubscribe", f"<{unsubscribe_url}>, <{mailto}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                ("List-Id", list_header),
            ),
            categories=(prepared.letter.slug,),
        )
    except InputError as err:
        raise for_recipient(err, f"for supporter {supporter.email}") from err


def _render(prepared: PreparedAlert, context: dict[str, Any], supporter: SupporterInfo) -> Any:
    try:
        return prepared.templates.render(context)
    except InputError as err:
        raise for_recipient(err, f"for supporter {supporter.email}") from err


def _check_compliance(
    prepared: PreparedAlert,
    text: str,
    html: str | None,
    unsubscribe_url: str,
    postal: str,
    postal_html: str,
    supporter: SupporterInfo,
) -> None:
    parts = [("text", text, postal)]
    if html is not None:
        parts.append(("HTML", html, postal_html))
    for part, body, address in parts:
        missing = [
            what
            for what, needle in (
                ("the unsubscribe link", unsubscribe_url),
                ("the postal address", address),
            )
            if needle not in body
        ]
        if missing:
            raise InputError(
                f"the {part} part of the alert for {supporter.email} does not show "
                f"{' or '.join(missing)}; every alert must (use {{{{ unsubscribe_url }}}} and "
                "{{ organisation.postal_address }}, or extend capitolmail/alert.html.j2)",
                path=prepared.letter.display_path,
            )


def _label(name: str) -> str:
    """ "Action alerts" → "action-alerts": the List-Id label (RFC 2919 allows a-z0-9-)."""
    label = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    # One DNS label at most (63), so the List-Id stays a valid domain-like id.
    return label[:63].strip("-") or "alerts"
