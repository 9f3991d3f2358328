"""The inbound mailbox: bounces, office replies and mailto unsubscribes read from the
mailbox the organisation already has (IMAP, a Maildir or an mbox).

`reading` classifies one message, `bounces` wraps flufl.bounce, `sources` and
`imap` read the mailbox, `sync` applies what was read through tracking/apply.py,
and `timer` lets a running worker sync every few minutes. `open_source` builds
the configured source from the settings, the edge's one call.
"""

from __future__ import annotations

from capitolmail.config import Settings
from capitolmail.errors import ConfigError
from capitolmail.tracking.inbox.imap import ImapAccount, ImapMailbox
from capitolmail.tracking.inbox.sources import FileMailbox, MailSource


def open_source(settings: Settings) -> MailSource:
    """The mailbox [inbox] names; ConfigError when none is configured."""
    inbox = settings.inbox
    if inbox.source in ("maildir", "mbox"):
        assert inbox.path is not None  # the settings' validator requires it
        return FileMailbox(inbox.source, inbox.path, inbox.max_message_bytes)
    if inbox.source == "imap":
        password, token = settings.inbox_password, settings.inbox_oauth2_token
        account = ImapAccount(
            host=inbox.host,
            port=inbox.imap_port,
            security=inbox.security,
            username=inbox.username,
            folder=inbox.folder,
            password=password.get_secret_value() if password else None,
            oauth2_token=token.get_secret_value() if token else None,
            ca_file=inbox.ca_file,
            timeout=inbox.timeout,
            delete=inbox.delete_processed,
        )
        return ImapMailbox(account, inbox.max_message_bytes)
    raise ConfigError(
        'no inbound mailbox: set [inbox] source = "imap", "maildir" or "mbox" in capitolmail.toml'
    )


def unsubscribe_address(settings: Settings) -> str:
    """Where alerts' List-Unsubscribe mailto points, chosen as letters/kinds/alert.py does."""
    sender = settings.sender
    return (
        settings.inbox.unsubscribe_address
        or sender.unsubscribe_email
        or sender.reply_to
        or sender.email
    )
