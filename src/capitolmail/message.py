"""The one message type: what letters produce, the outbox stores and providers consume.

Frozen on purpose: rendering happens once at queue time, and what was previewed
and approved is exactly what a provider hands over. Only transport facts that
belong to the moment of sending (the Date header) are added later.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

# 7-bit transfer encodings (quoted-printable for non-ASCII text) so a message
# survives any relay, including ones without 8BITMIME; CRLF line endings as on the wire.
WIRE_POLICY = email.policy.SMTP.clone(cte_type="7bit")

# Headers the message builds itself; a letter may not set them through `headers`.
STRUCTURAL_HEADERS = frozenset(
    name.lower()
    for name in (
        "From",
        "To",
        "Cc",
        "Bcc",
        "Reply-To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    )
)


def has_line_break(value: str) -> bool:
    """True when `value` would split a header in two (header injection)."""
    return any(ch in value for ch in "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One email to one recipient, fully rendered.

    `message_id` is our UUID; it rides in the Message-ID header (and, for
    SendGrid, in custom_args) so every later event finds its row. `job_id` is
    carried as a label only, so the file provider can group a job's files and an
    ESP can tag them; providers never look the job up.
    """

    message_id: str
    job_id: str
    from_email: str
    from_name: str
    to_email: str
    to_name: str
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    categories: tuple[str, ...] = field(default=())

    @property
    def message_id_header(self) -> str:
        domain = self.from_email.rpartition("@")[2] or "capitolmail.invalid"
        return f"<{self.message_id}@{domain}>"

    def to_email_message(self, *, date: datetime | None = None) -> EmailMessage:
        """Build the RFC 5322 message: text part always, HTML as an alternative.

        `date` is the moment of sending; the Date header is left out when None,
        so a preview does not pretend to have been sent.
        """
        msg = EmailMessage(policy=WIRE_POLICY)
        msg["From"] = _address(self.from_name, self.from_email)
        msg["To"] = _address(self.to_name, self.to_email)
        if self.reply_to:
            msg["Reply-To"] = self.reply_to
        msg["Subject"] = self.subject
        if date is not None:
            msg["Date"] = format_datetime(date)
        msg["Message-ID"] = self.message_id_header
        for name, value in self.headers:
            msg[name] = value
        msg.set_content(self.text, subtype="plain", charset="utf-8")
        if self.html is not None:
            msg.add_alternative(self.html, subtype="html", charset="utf-8")
        return msg

    def to_bytes(self, *, date: datetime | None = None) -> bytes:
        """The message as it goes on the wire, with CRLF line endings."""
        return self.to_email_message(date=date).as_bytes(policy=WIRE_POLICY)


def _address(display_name: str, addr_spec: str) -> Address:
    return Address(display_name=display_name, addr_spec=addr_spec)
