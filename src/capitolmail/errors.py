"""The few exceptions capitolmail raises, each handled differently by some caller.

    CapitolmailError              base; str() is the one line the user reads
    ├── ConfigError               capitolmail.toml, CAPITOLMAIL_* variables, .env
    ├── InputError                workspace files: CSV rows, letter.toml, addresses, headers
    │   └── TemplateError         Jinja2 syntax error or undefined name, with template and line
    ├── InvalidValue              one value is wrong (also a ValueError); the caller adds where
    │   ├── InvalidZip            not a ZIP or ZIP+4
    │   ├── HeaderError           a header that cannot go on the wire as it is
    │   └── CommitteeNameError    a committee name that selects nothing, or several
    ├── RenderLimitError          a render went over a size, total or time limit
    ├── StoreError                the database refused or is unreachable
    ├── JobNotFound               a job id that is not in the database
    ├── MessageNotFound           a message id that is not in the database
    ├── SendError                 raised by providers, handled by sending/sender.py
    │   ├── TransientSendError    retry later; carries retry_after
    │   ├── PermanentSendError    fail this message; carries the server's reply
    │   ├── DeliveryUnknownError  the message went out, no verdict came back: `unknown`
    │   └── ProviderSettingsError pause the job until its settings are fixed
    ├── WebhookVerificationError  missing or bad signature; deliberately terse
    ├── MalformedBodyError        a webhook body that is not a JSON list of events: 400
    ├── UnsubscribeTokenError     tampered, truncated or foreign unsubscribe token; terse
    ├── SignOnTokenError          a sign-on link or form token: forged, foreign or expired
    └── HandoverRefused           the sender must not hand this message over: never sent

`InputError` collects every `Problem` before refusing, so a user fixes a whole
CSV in one round instead of one row per run. An `InvalidValue` is what a parser
of one value raises; the code that knows the file, row and field turns it into
a `Problem`, so the parser need not know where its value came from.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class CapitolmailError(Exception):
    """Base class. `str(err)` is shown to the user as `Error: ...`, so keep it one line."""


def closest_match(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `word` (compared without case), in its own spelling."""
    folded: dict[str, str] = {}
    for choice in choices:
        folded.setdefault(choice.casefold(), choice)
    match = difflib.get_close_matches(word.strip().casefold(), list(folded), n=1, cutoff=0.6)
    return folded[match[0]] if match else None


def suggestion_hint(suggestion: str | None) -> str:
    """' (did you mean "x"?)', or "" when there is nothing to suggest."""
    return f' (did you mean "{suggestion}"?)' if suggestion else ""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A click-style hint naming the closest choice, or "".

    Every "unknown key / column / committee / variable" message uses it, so
    suggestions read the same everywhere.
    """
    return suggestion_hint(closest_match(word, choices))


class ConfigError(CapitolmailError):
    """A setting is missing, malformed or unknown."""


def display_path(path: Path, root: Path) -> str:
    """`path` as the user would type it from the workspace folder `root`."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one place in the user's files.

    `path` is shown as the user would type it (relative to the workspace where
    possible); `line` is 1-based; `field` is a CSV column, TOML key or header name.
    """

    path: str
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.field and f'"{self.field}"' not in self.message:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class InputError(CapitolmailError):
    """Something in the workspace's own files is wrong; nothing was written.

    Carries every problem found; `str()` shows the first and how many more, and
    the CLI prints all of them.
    """

    def __init__(
        self,
        problems: Iterable[Problem] | str,
        *,
        path: str | None = None,
        report_path: Path | None = None,
    ) -> None:
        if isinstance(problems, str):
            problems = [Problem(path=path or "", message=problems)]
        self.problems: list[Problem] = list(problems)
        # Where every rejected row was written, when an import wrote them down: the CLI
        # then shows the first few problems and the count by cause instead of all.
        self.report_path = report_path
        if not self.problems:
            raise ValueError("InputError needs at least one problem")
        super().__init__(self._summary())

    def _summary(self) -> str:
        first = str(self.problems[0])
        rest = len(self.problems) - 1
        return first if rest == 0 else f"{first} (and {rest} more problem{'s' * (rest > 1)})"


class TemplateError(InputError):
    """A template does not compile or names something that is not there."""

    def __init__(
        self, path: str, line: int | None, message: str, *, field: str | None = None
    ) -> None:
        super().__init__([Problem(path=path, line=line, message=message, field=field)])


class InvalidValue(CapitolmailError, ValueError):
    """One value is wrong; `str()` says why and what was expected, not where.

    Also a ValueError, so a parser's callers may catch either; the one that
    knows the file, row and field reports it as a `Problem`.
    """


class InvalidZip(InvalidValue):
    """The text is not a ZIP or ZIP+4; the message says what was expected."""


class HeaderError(InvalidValue):
    """A header name or value that cannot go on the wire as it is; `str()` says why.

    Raised at queue time by compose (which names the file and field), so a
    message with such a header is never stored; at send time it would be a bug.
    """

    def __init__(self, header: str, problem: str) -> None:
        super().__init__(f"{header}: {problem}")
        self.header = header
        self.problem = problem


class CommitteeNameError(InvalidValue):
    """A committee value that selects nothing, or more than one; str() is the message."""


class RenderLimitError(CapitolmailError):
    """A render went over a size, total or time limit; the message says which and how
    to fix it, and templates/render.py adds the template and line."""


class StoreError(CapitolmailError):
    """The outbox database could not be opened, migrated or written."""


class JobNotFound(CapitolmailError):
    """The user named a job id that is not in this workspace's database."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f'no job {job_id}; "capitolmail status" lists the jobs')
        self.job_id = job_id


class MessageNotFound(CapitolmailError):
    """A message id (from a webhook, an .eml file or the user) is not in the database."""

    def __init__(self, message_id: str) -> None:
        super().__init__(
            f'no message {message_id}; "capitolmail status JOB --messages" lists a job\'s messages'
        )
        self.message_id = message_id


class SendError(CapitolmailError):
    """Raised by a provider; `sending/sender.py` decides what happens to the message."""


class TransientSendError(SendError):
    """The transport may accept the message later (SMTP 4xx, HTTP 429/5xx, timeouts).

    `rate_limited` marks a refusal that is about pace, not about the message
    (HTTP 429): the sender slows everyone down and does not count an attempt.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, rate_limited: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class PermanentSendError(SendError):
    """The transport will never accept this message as it is; the reply says why."""


class DeliveryUnknownError(SendError):
    """The transport's irreversible step began and no verdict came back.

    The request body went out (SendGrid) or the message data did (SMTP), and then
    the reply never arrived: a read timeout, a connection reset or closed before
    an answer. The provider may have accepted the message, so the sender records
    it `unknown` and never retries it on its own: a retry is what delivered ten
    letters twice when SendGrid answered after our timeout. A provider event for
    the message later proves it was sent; otherwise an operator decides
    (`capitolmail requeue JOB --unknown`).
    """


class ProviderSettingsError(SendError):
    """The provider cannot be used until someone fixes its settings: a refused key or
    login, a certificate that does not verify, TLS that does not match the port, an
    API address that answers 404. Every further message would fail the same way, so
    the job pauses and its messages stay untouched, rather than fail one by one."""


class WebhookVerificationError(CapitolmailError):
    """A webhook request was not signed by the provider. Says little on purpose."""


class MalformedBodyError(CapitolmailError):
    """A webhook body is not what the provider sends: not UTF-8, not a JSON list,
    nested too deep, or with NaN or a key twice. Answered 400, never a traceback."""


class UnsubscribeTokenError(CapitolmailError):
    """An unsubscribe link's token was not made with our secret, or was altered.

    Says nothing about which part failed: the web page shows one message for all.
    """

    def __init__(self) -> None:
        super().__init__("this unsubscribe link is not valid; it may have been cut or altered")


class SignOnTokenError(CapitolmailError):
    """A sign-on link or form token was not made with our secret, was altered, was for
    another purpose or letter, or has expired. One message for all, as for unsubscribing."""

    def __init__(self) -> None:
        super().__init__("this sign-on link is not valid or has expired")


class HandoverRefused(CapitolmailError):
    """The sender could not, or must not, mark the message handed over: do not send it.

    Raised by providers only as the Future's own error; the sender puts the
    message back (not an attempt) or, if another worker took its rows, leaves it.
    Not a SendError: nothing was sent, so no send outcome applies.
    """
