"""The benchmark's letter: one joint letter to N Hill offices, ~3 KB on the wire.

One source for both tools. capitolmail gets the letter rendered at queue time
(as `queue_letter` does, so rendering is not part of the send), and mailmerge
gets the very same Jinja text in its template and a CSV row per office, since
it renders each message as it sends: that is how it works, not a handicap we add.

Everything is ASCII and every line is under 78 characters, so both tools send
the parts as 7bit and the byte counts the sink reports can be compared.
"""

from __future__ import annotations

import csv
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from capitolmail.message import OutgoingMessage

if TYPE_CHECKING:
    from capitolmail.outbox import Store

FROM_NAME = "Coalition for Responsible Arms Sales"
FROM_EMAIL = "letters@coalition.example.org"
REPLY_TO = "policy@coalition.example.org"
SLUG = "arms-sale-2025"
SUBJECT = "Joint letter: hold the pending arms sale until the IG review is public"

TEXT = """\
Dear {{ salutation }},

We, the undersigned {{ signers }} organizations, write to ask that you
place a hold on the pending arms sale notified to Congress on March 3
until the Inspector General's review of end-use monitoring is made
public.

The review was requested by your colleagues on the
{{ committee }} in January. Its findings bear directly on
whether the safeguards described in the notification can be verified.
Congress has thirty days to act; we ask that {{ office }} office
use that time to insist on the review first.

Our organizations represent members in every state, including
{{ state }}, and many of them have written to your office
individually. We would welcome a meeting with your staff before the
review period ends.

Please reply to this message or contact our policy director at
policy@coalition.example.org to arrange a time.

Sincerely,

Coalition for Responsible Arms Sales
Friends of the Earth Action - Veterans for Responsible Policy
Council on Human Rights Oversight - Interfaith Peace Network
and {{ others }} other organizations (full list at the link below)

https://coalition.example.org/letters/arms-sale-2025?o={{ ref }}
"""

HTML = """\
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Joint letter</title></head>
<body style="font-family: Georgia, serif; max-width: 640px;">
<p>Dear {{ salutation }},</p>
<p>We, the undersigned <strong>{{ signers }} organizations</strong>,
write to ask that you place a hold on the pending arms sale notified to
Congress on March 3 until the Inspector General's review of end-use
monitoring is made public.</p>
<p>The review was requested by your colleagues on the
{{ committee }} in January. Its findings bear directly on
whether the safeguards described in the notification can be verified.
Congress has thirty days to act; we ask that {{ office }} office
use that time to insist on the review first.</p>
<p>Our organizations represent members in every state, including
{{ state }}, and many of them have written to your office
individually. We would welcome a meeting with your staff before the
review period ends.</p>
<p>Please reply to this message or contact our policy director at
<a href="mailto:policy@coalition.example.org"
>policy@coalition.example.org</a> to arrange a time.</p>
<p>Sincerely,</p>
<ul>
<li>Coalition for Responsible Arms Sales</li>
<li>Friends of the Earth Action</li>
<li>Veterans for Responsible Policy</li>
<li>Council on Human Rights Oversight</li>
<li>Interfaith Peace Network</li>
</ul>
<p>and {{ others }} other organizations:
<a
href="https://coalition.example.org/letters/arms-sale-2025?o={{ ref }}"
>the full list</a>.</p>
</body>
</html>
"""

_STATES = ["Ohio", "Texas", "Maine", "Oregon", "Georgia", "Iowa", "Nevada", "Utah"]
_COMMITTEES = ["Foreign Affairs Committee", "Foreign Relations Committee"]
_SURNAMES = ["Alvarez", "Brennan", "Chen", "Dubois", "Eriksen", "Fofana", "Gupta", "Hale"]


def rows(count: int) -> list[dict[str, str | int]]:
    """One office per message: the variables both tools fill in."""
    rng = random.Random(20250303)
    out: list[dict[str, str | int]] = []
    for i in range(count):
        surname = _SURNAMES[i % len(_SURNAMES)]
        chamber = "Rep." if i % 5 else "Sen."
        out.append(
            {
                "email": f"office{i:05d}@mail.house.example",
                "name": f"{chamber} Pat {surname} {i:05d}",
                "salutation": f"{chamber} {surname}",
                "office": f"{chamber} {surname}'s",
                "state": _STATES[i % len(_STATES)],
                "committee": _COMMITTEES[i % 2],
                "signers": 40 + i % 60,
                "others": 35 + i % 60,
                "ref": f"{rng.getrandbits(40):010x}",
                "message_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            }
        )
    return out


def messages(count: int) -> list[OutgoingMessage]:
    """The letter rendered for `count` offices, as capitolmail's queue stores it."""
    text, html = jinja2.Template(TEXT), jinja2.Template(HTML)
    return [
        OutgoingMessage(
            message_id=str(row["message_id"]),
            job_id="0",
            from_email=FROM_EMAIL,
            from_name=FROM_NAME,
            to_email=str(row["email"]),
            to_name=str(row["name"]),
            subject=SUBJECT,
            text=text.render(row),
            html=html.render(row),
            reply_to=REPLY_TO,
            categories=(SLUG,),
        )
        for row in rows(count)
    ]


def queue_started_job(store: Store, corpus: list[OutgoingMessage], slug: str = SLUG) -> int:
    """Queue `corpus` as one job scheduled now and started, as `capitolmail send` and a
    worker leave it; its id."""
    from capitolmail.outbox import QueuedMessage

    now = datetime.now(UTC)
    job_id = store.create_job(
        letter_slug=slug, kind="letter", messages=[QueuedMessage(m) for m in corpus], now=now
    )
    store.schedule_job(job_id, now, now)
    store.start_due_jobs(now, grace=timedelta(hours=1))
    return job_id


def write_mailmerge_inputs(directory: Path, count: int, port: int) -> tuple[Path, Path, Path]:
    """mailmerge's three files: template, CSV database, server config (no TLS, no login)."""
    directory.mkdir(parents=True, exist_ok=True)
    template = directory / "mailmerge_template.txt"
    database = directory / "mailmerge_database.csv"
    config = directory / "mailmerge_server.conf"
    template.write_text(
        f'TO: "{{{{name}}}}" <{{{{email}}}}>\n'
        f"FROM: {FROM_NAME} <{FROM_EMAIL}>\n"
        f"REPLY-TO: {REPLY_TO}\n"
        f"SUBJECT: {SUBJECT}\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/alternative; boundary="=_bench_boundary"\n'
        "\n"
        "--=_bench_boundary\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        f"{TEXT}\n"
        "--=_bench_boundary\n"
        "Content-Type: text/html; charset=us-ascii\n"
        "\n"
        f"{HTML}\n"
        "--=_bench_boundary--\n",
        encoding="ascii",
    )
    fields = ["email", "name", "salutation", "office", "state", "committee"]
    fields += ["signers", "others", "ref"]
    with database.open("w", newline="", encoding="ascii") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows(count))
    config.write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\nratelimit = 0\n", encoding="ascii"
    )
    return template, database, config
