"""The inbound mailbox over IMAP, with IMAPClient: TLS by default, STARTTLS or (on this
machine only) plain; a password, an app password or an XOAUTH2 token.

The folder is opened read-only unless deleting was asked for, and bodies are
fetched with BODY.PEEK, so a sync never marks mail as read for the people who
also use the mailbox. A message is known by the folder's UIDVALIDITY and its
UID (RFC 3501: the pair never names another message), so only UIDs not yet
read are fetched, sizes first: mail over the limit is never downloaded.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from capitolmail.errors import CapitolmailError, ConfigError
from capitolmail.redaction import Redactor
from capitolmail.tracking.inbox.sources import BATCH, AlreadyRead, MailboxMessage


@dataclass(frozen=True, slots=True)
class ImapAccount:
    """Where and how to log in; exactly one of `password` and `oauth2_token` is used."""

    host: str
    port: int
    security: str  # "tls" | "starttls" | "none"
    username: str
    folder: str
    password: str | None
    oauth2_token: str | None
    ca_file: Path | None
    timeout: float
    delete: bool


class ImapMailbox:
    def __init__(self, account: ImapAccount, max_bytes: int) -> None:
        if not account.password and not account.oauth2_token:
            raise ConfigError(
                '[inbox] source = "imap" needs CAPITOLMAIL_INBOX_PASSWORD (or an app '
                "password) or CAPITOLMAIL_INBOX_OAUTH2_TOKEN; put it in .env or the environment"
            )
        self._account = account
        self._max_bytes = max_bytes
        self._client: IMAPClient | None = None
        self._redact = Redactor([account.password, account.oauth2_token])
        self.mailbox = f"imap://{account.username}@{account.host}:{account.port}/{account.folder}"
        self.pending: int | None = None

    def __enter__(self) -> ImapMailbox:
        account = self._account
        where = f"IMAP server {account.host}:{account.port}"
        try:
            self._client = self._connect()
            if account.oauth2_token:
                self._oauth2_login(self._client, account.oauth2_token)
            else:
                assert account.password is not None
                self._client.login(account.username, account.password)
            selected = self._client.select_folder(account.folder, readonly=not account.delete)
        except LoginError as err:
            self._close()
            raise CapitolmailError(self._refused(where, err)) from None
        except ssl.SSLError as err:
            self._close()
            raise CapitolmailError(
                f"{where}: TLS failed ({self._said(err)}); check [inbox] security "
                '("tls" for port 993, "starttls" for 143) and ca_file'
            ) from None
        except (OSError, IMAPClientError) as err:
            self._close()
            raise CapitolmailError(f"{where}: {self._said(err)}") from None
        validity = selected.get(b"UIDVALIDITY", b"0")
        self.mailbox += f";UIDVALIDITY={_text(validity)}"
        return self

    def _oauth2_login(self, client: IMAPClient, token: str) -> None:
        """XOAUTH2 where the server offers it; where it does not, its refusal would read as
        a bad token, so say plainly that this server takes a password instead."""
        if not client.has_capability("AUTH=XOAUTH2"):
            account = self._account
            self._close()
            raise CapitolmailError(
                f"IMAP server {account.host}:{account.port} does not offer XOAUTH2 login; "
                "remove CAPITOLMAIL_INBOX_OAUTH2_TOKEN and set CAPITOLMAIL_INBOX_PASSWORD "
                "(or an app password) instead"
            )
        client.oauth2_login(self._account.username, token)

    def _refused(self, where: str, err: LoginError) -> str:
        """Names the one credential that was tried: a token, unlike a password, expires."""
        name = self._account.username
        if self._account.oauth2_token:
            return (
                f"{where} refused the XOAUTH2 login of {name} ({self._said(err)}); the access "
                "token in CAPITOLMAIL_INBOX_OAUTH2_TOKEN has expired or is not for this account: "
                "put a fresh one there and check [inbox] username"
            )
        return (
            f"{where} refused the login of {name} ({self._said(err)}); check "
            "[inbox] username and CAPITOLMAIL_INBOX_PASSWORD (or an app password)"
        )

    def _connect(self) -> IMAPClient:
        account = self._account
        context = ssl.create_default_context(
            cafile=str(account.ca_file) if account.ca_file else None
        )
        client = IMAPClient(
            account.host,
            port=account.port,
            ssl=account.security == "tls",
            ssl_context=context,
            timeout=account.timeout,
        )
        if account.security == "starttls":
            client.starttls(context)
        return client

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType
    ) -> None:
        self._close()

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(OSError, IMAPClientError):  # leaving anyway
            client.logout()

    def new_messages(self, already_read: AlreadyRead) -> Iterator[list[MailboxMessage]]:
        client = self._live()
        uids = sorted(self._call(lambda: client.search("ALL")))
        seen = already_read([str(uid) for uid in uids])
        fresh = [uid for uid in uids if str(uid) not in seen]
        self.pending = len(fresh)
        for start in range(0, len(fresh), BATCH):
            yield self._fetch(fresh[start : start + BATCH])

    def _fetch(self, uids: list[int]) -> list[MailboxMessage]:
        client = self._live()
        sizes = self._call(lambda: client.fetch(uids, ["RFC822.SIZE"]))
        small = [uid for uid in uids if _size(sizes.get(uid)) <= self._max_bytes]
        bodies = self._call(lambda: client.fetch(small, ["BODY.PEEK[]"])) if small else {}
        found = []
        for uid in uids:
            body = bodies.get(uid, {}).get(b"BODY[]")
            raw = body if isinstance(body, bytes) and uid in small else None
            found.append(MailboxMessage(str(uid), raw, _size(sizes.get(uid))))
        return found

    def delete(self, keys: Sequence[str]) -> None:
        client = self._live()
        uids = [int(key) for key in keys]
        if uids:
            self._call(lambda: client.delete_messages(uids))
            if self._call(lambda: client.has_capability("UIDPLUS")):
                self._call(lambda: client.uid_expunge(uids))
            else:
                self._call(client.expunge)

    def _live(self) -> IMAPClient:
        assert self._client is not None, "use the source in a with block"
        return self._client

    def _call(self, operation):  # type: ignore[no-untyped-def]
        try:
            return operation()
        except (OSError, IMAPClientError) as err:
            account = self._account
            raise CapitolmailError(
                f"IMAP server {account.host}:{account.port}: {self._said(err)}"
            ) from None

    def _said(self, err: BaseException) -> str:
        return self._redact(" ".join(str(err).split()) or type(err).__name__)[:300]


def _size(data: dict[bytes, object] | None) -> int:
    value = (data or {}).get(b"RFC822.SIZE", 0)
    return value if isinstance(value, int) else 0


def _text(value: object) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
