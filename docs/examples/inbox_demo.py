"""Fill a practice mailbox for the README's inbound-mailbox walkthrough.

    python3 docs/examples/inbox_demo.py WORKSPACE

After `capitolmail demo WORKSPACE` has sent the joint letter (job 1) and the
walkthrough has sent the `urge-senators` alert (job 2) into .eml files, this
writes four messages into WORKSPACE/mailbox/, a Maildir, as if they had come
back to policy@example.org:

  1. a bounce (a delivery status notification, RFC 3464) for one letter: 5.1.1,
     no such mailbox, quoting the letter's headers the way mail servers do;
  2. a reply from a second office, answering its letter;
  3. an out-of-office auto-reply from a third office;
  4. an unsubscribe email from one supporter to the alert's List-Unsubscribe
     `mailto:` address.

Each message points at the real Message-ID of a letter or alert sent in this
workspace, and is dated a few minutes after it (a date still to come counts as
the time of the sync). Only Python's standard library is used. Run it once per
workspace.
"""

import mailbox
import sys
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

OUR_MAILBOX = "policy@example.org"  # the example's Reply-To: replies come back here


def sent(workspace: Path, job: int) -> list:
    """The messages capitolmail wrote for one job, in file name order."""
    folder = workspace / ".capitolmail" / "outbox" / str(job)
    paths = sorted(folder.glob("*.eml"))
    if not paths:
        sys.exit(f"{folder}: no .eml files; send job {job} first (see the README)")
    return [message_from_bytes(path.read_bytes(), policy=policy.default) for path in paths]


def minutes_after(message, minutes: int) -> str:
    """A Date header for mail that came back `minutes` after `message` was sent."""
    return format_datetime(message["Date"].datetime + timedelta(minutes=minutes))


def bounce(letter) -> bytes:
    """The report a receiving server sends when the address does not exist."""
    to = parseaddr(letter["To"])[1]
    returned = "".join(
        f"{name}: {letter[name]}\n" for name in ("From", "To", "Subject", "Date", "Message-ID")
    )
    return f"""\
From: Mail Delivery System <MAILER-DAEMON@mx.senate.example.org>
To: advocacy@example.org
Subject: Undelivered Mail Returned to Sender
Date: {minutes_after(letter, 1)}
Message-ID: {make_msgid(domain="mx.senate.example.org")}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"

--dsn
Content-Type: text/plain

Your message could not be delivered to {to}: no such mailbox.

--dsn
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.senate.example.org

Final-Recipient: rfc822; {to}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{to}>: Recipient address rejected: User unknown

--dsn
Content-Type: text/rfc822-headers

{returned}
--dsn--
""".encode()


def answer(letter, text: str, **headers: str) -> EmailMessage:
    """An email from the office that received `letter`, answering it."""
    mail = EmailMessage()
    mail["From"] = letter["To"]
    mail["To"] = OUR_MAILBOX
    mail["Subject"] = "Re: " + letter["Subject"]
    mail["Date"] = minutes_after(letter, 30)
    mail["Message-ID"] = make_msgid(domain="senate.example.org")
    mail["In-Reply-To"] = letter["Message-ID"]  # what makes it a reply to *that* letter
    mail["References"] = letter["Message-ID"]
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return mail


def unsubscribe(alert) -> EmailMessage:
    """What a mail client sends when the supporter presses "Unsubscribe"."""
    mailto = next(
        part.strip(" <>") for part in str(alert["List-Unsubscribe"]).split(",") if "mailto:" in part
    )
    link = urlsplit(mailto)  # mailto:policy@example.org?subject=unsubscribe
    mail = EmailMessage()
    mail["From"] = alert["To"]
    mail["To"] = link.path
    mail["Subject"] = parse_qs(link.query).get("subject", ["unsubscribe"])[0]
    mail["Date"] = minutes_after(alert, 5)
    mail["Message-ID"] = make_msgid(domain="example.net")
    mail.set_content("Please take me off this list.")
    return mail


def main(workspace: Path) -> None:
    letters, alerts = sent(workspace, 1), sent(workspace, 2)
    box = mailbox.Maildir(workspace / "mailbox", create=True)
    box.add(bounce(letters[0]))
    box.add(answer(letters[1], "Thank you. The Senator has read your coalition's letter."))
    box.add(
        answer(
            letters[2],
            "Thank you for contacting our office. We read every message.",
            Auto_Submitted="auto-replied",  # RFC 3834: sent by a machine, not a person
        )
    )
    box.add(unsubscribe(alerts[0]))
    box.close()
    print(f"Wrote 4 messages into {workspace / 'mailbox'}/ (a Maildir):")
    print(f"  a bounce for {parseaddr(letters[0]['To'])[1]}")
    print(f"  a reply from {parseaddr(letters[1]['To'])[1]}")
    print(f"  an auto-reply from {parseaddr(letters[2]['To'])[1]}")
    print(f"  an unsubscribe from {parseaddr(alerts[0]['To'])[1]}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 docs/examples/inbox_demo.py WORKSPACE")
    main(Path(sys.argv[1]))
