"""An action alert: each consenting supporter, their own legislators, one message.

The same promise as a joint letter (render now, store frozen, all or nothing),
at a different scale: 300,000 supporters are read a page at a time from the
outbox database, so memory stays flat while the pipeline streams them into one
transaction, and a template error at the last supporter still stores nothing.

Compliance is checked before anything renders, because an alert that goes out
without it cannot be recalled: the organisation's postal address, a public
address for the one-click unsubscribe link, and the secret that signs it. Every
rendered alert must then show the unsubscribe link and the postal address; the
built-in layout `capitolmail/alert.html.j2` does both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path

from capitolmail.attachment import Attachment
from capitolmail.config import Settings
from capitolmail.config.sections import OrganisationSettings, SenderSettings, WebSettings
from capitolmail.errors import CapitolmailError, ConfigError, InputError
from capitolmail.letters.definition import Letter
from capitolmail.letters.example_values import refuse_in_alert, screen_alert
from capitolmail.letters.identity import Sender, resolve_sender
from capitolmail.letters.kind import (
    Envelope,
    Labels,
    Page,
    Screen,
    letter_templates,
    shared_context,
)
from capitolmail.letters.kinds.alert_report import AlertTally
from capitolmail.letters.recipient_shape import RecipientShape, target_shape
from capitolmail.letters.tokens import make_token
from capitolmail.outbox import Store, SupporterInfo, email_key
from capitolmail.recipients.audience import AlertAudience, alert_audience
from capitolmail.recipients.constituents import Delegation, DelegationFinder
from capitolmail.recipients.legislators import Roster
from capitolmail.recipients.targets import TARGETS_DISPLAY, workspace_targets
from capitolmail.templates.render import LetterTemplates, RenderedLetter

DEFAULT_LIST_NAME = "Action alerts"


@dataclass(frozen=True, slots=True)
class Supporter:
    """One supporter of the audience, with the members who represent them."""

    info: SupporterInfo
    delegation: Delegation


@dataclass(frozen=True, slots=True)
class Alert:
    letter: Letter
    templates: LetterTemplates
    sender: Sender
    audience: AlertAudience
    finder: DelegationFinder
    list_name: str
    list_id: str
    unsubscribe_base: str
    unsubscribe_mailto: str
    secret: str
    organisation: OrganisationSettings
    # The targets [alert] names (the same for every supporter), in targets.csv order.
    targets: tuple[RecipientShape, ...] = ()

    labels = Labels(
        job_kind="alert",
        people="supporters",
        reached_people="supporters",
        progress="Rendering alerts",
        audience_in_store=True,
    )

    def total(self, store: Store | None) -> int:
        assert store is not None
        return store.count_supporters()

    def pages(self, store: Store | None, only: str | None = None) -> Iterator[Page]:
        """The audience a page of consenting supporters at a time (`only`: one email key)."""
        assert store is not None
        seen = 0
        for page in store.iter_supporters(consenting_only=True):
            wanted = []
            for info in page:
                if only is not None and email_key(info.email) != only:
                    continue
                delegation = self.finder.find(info.state, info.district, info.postal_code)
                if self.audience.wants(info, delegation):
                    wanted.append(Supporter(info, delegation))
            seen += len(page)
            yield Page(wanted, seen)

    def envelope(self, recipient: Supporter) -> Envelope:
        return self._envelope(recipient, recipient.info.id)

    def proof_envelope(self, recipient: Supporter, to_email: str) -> Envelope:
        """The supporter's alert, but its unsubscribe link and List-Unsubscribe header
        carry a token for `to_email`, the staffer's own address.

        The real token would let whoever holds the proof (or their mail client's
        one-click button) unsubscribe the supporter; this one can only unsubscribe
        the staffer, and still shows the unsubscribe page working end to end.
        """
        if email_key(to_email) == email_key(recipient.info.email):
            raise CapitolmailError(
                f'--to: "{to_email}" is the supporter this proof shows; a proof goes to '
                "yourself (pick another supporter with --as)"
            )
        return self._envelope(recipient, to_email)

    def _envelope(self, recipient: Supporter, unsubscriber: int | str) -> Envelope:
        """`unsubscriber`: whom the unsubscribe token names (a supporter id, or an address)."""
        info, delegation = recipient.info, recipient.delegation
        token = make_token(self.secret, unsubscriber, self.list_id)
        unsubscribe_url = self.unsubscribe_base + token
        mailto = f"mailto:{self.unsubscribe_mailto}?subject=unsubscribe"
        return Envelope(
            to_email=info.email,
            to_name=f"{info.first_name} {info.last_name}",
            who=f"for supporter {info.email}",
            context={
                **shared_context(self.letter, self.organisation, self.sender),
                "list_name": self.list_name,
                "supporter": info,
                "senators": delegation.senators,
                "representative": delegation.representative,
                "representatives": delegation.representatives,
                "district_known": delegation.district_known,
                "delegation": delegation,
                "targets": self.targets,
                "target": self.targets[0] if self.targets else None,
                "unsubscribe_url": unsubscribe_url,
            },
            headers=(
                ("List-Unsubscribe", f"<{unsubscribe_url}>, <{mailto}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                ("List-Id", f"{self.list_name} <{self.list_id}>"),
            ),
            supporter_id=str(info.id),
        )

    def attachments(self, envelope: Envelope) -> tuple[Attachment, ...]:
        """Alerts carry no files: a supporter reads the email itself."""
        return ()

    def check(self, rendered: RenderedLetter, envelope: Envelope) -> None:
        """Every part must show the unsubscribe link and the postal address (CAN-SPAM)."""
        postal = self.organisation.postal_address.strip()
        parts = [("text", rendered.text, postal)]
        if rendered.html is not None:
            parts.append(("HTML", rendered.html, escape(postal, quote=False)))
        needles = (("the unsubscribe link", envelope.context["unsubscribe_url"]),)
        for part, body, address in parts:
            missing = [
                what
                for what, needle in (*needles, ("the postal address", address))
                if needle not in body
            ]
            if missing:
                raise InputError(
                    f"the {part} part of the alert for {envelope.to_email} does not show "
                    f"{' or '.join(missing)}; every alert must (use {{{{ unsubscribe_url }}}} "
                    "and {{ organisation.postal_address }}, or extend capitolmail/alert.html.j2)",
                    path=self.letter.display_path,
                )

    def tally(self) -> AlertTally:
        return AlertTally(self.letter.slug)

    def pick(self, store: Store | None, to: str | None) -> Supporter:
        """The supporter a preview shows: the first in the audience, or the one `to` names."""
        wanted = email_key(to) if to else None
        for page in self.pages(store, only=wanted):
            for supporter in page.recipients:
                return supporter
        who = f'"{to}" is not' if to else "no consenting supporter is"
        raise CapitolmailError(
            f"{who} in the audience of {self.letter.slug}; `capitolmail supporters list` "
            "shows who is imported"
        )

    def example_screen(self, settings: Settings) -> Screen | None:
        refuse_in_alert(settings, self.letter)
        return screen_alert(settings)

    def nobody(self) -> InputError:
        return InputError(
            "no consenting supporter matches this alert's audience; import supporters "
            "with `capitolmail supporters import` or widen [audience]",
            path=self.letter.display_path,
        )


def prepare_alert(
    letter: Letter,
    *,
    root: Path,
    roster: Roster,
    organisation: OrganisationSettings,
    sender: SenderSettings,
    web: WebSettings,
    unsubscribe_secret: str | None,
) -> Alert:
    """Load the alert and check what the law and the inbox providers require of it."""
    _refuse_missing_compliance(organisation, web, unsubscribe_secret)
    assert unsubscribe_secret is not None
    audience = alert_audience(letter, roster)
    targets = alert_targets(letter, root)
    templates = letter_templates(letter, root)
    resolved = resolve_sender(letter, organisation, sender)
    list_name = letter.definition.list_name or DEFAULT_LIST_NAME
    domain = resolved.email.rsplit("@", 1)[1]
    return Alert(
        letter=letter,
        templates=templates,
        sender=resolved,
        audience=audience,
        finder=DelegationFinder(roster),
        list_name=list_name,
        list_id=f"{_label(list_name)}.{domain}",
        unsubscribe_base=f"{web.base_url}/u/",
        unsubscribe_mailto=sender.unsubscribe_email or resolved.reply_to or resolved.email,
        secret=unsubscribe_secret,
        organisation=organisation,
        targets=targets,
    )


def alert_targets(letter: Letter, root: Path) -> tuple[RecipientShape, ...]:
    """The targets `[alert]` names; each must be reachable (a contact form, email or phone),
    since the alert asks every supporter to contact it."""
    chosen = letter.definition.alert
    if chosen is None or not (chosen.targets or chosen.target_tags):
        return ()
    targets = workspace_targets(root).select(
        chosen.targets, chosen.target_tags, source=letter.display_path, section="alert"
    )
    unreachable = [t for t in targets if not (t.contact_url or t.email or t.phone)]
    if unreachable:
        names = ", ".join(f"{t.id} (line {t.line})" for t in unreachable)
        raise InputError(
            f"{names} in {TARGETS_DISPLAY}: no contact_url, email or phone, so supporters "
            "could not contact it; fill one in or take it out of [alert]",
            path=letter.display_path,
        )
    return tuple(target_shape(t) for t in targets)


def _refuse_missing_compliance(
    organisation: OrganisationSettings, web: WebSettings, unsubscribe_secret: str | None
) -> None:
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


def _label(name: str) -> str:
    """ "Action alerts" → "action-alerts": the List-Id label (RFC 2919 allows a-z0-9-)."""
    label = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    # One DNS label at most (63), so the List-Id stays a valid domain-like id.
    return label[:63].strip("-") or "alerts"
