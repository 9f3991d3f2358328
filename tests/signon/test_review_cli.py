"""Staff review from the command line: approve, reject, export, and what queueing sees.

Signatures arrive through the served form (tests/web/sign_on_support.py), as they
would; what is checked is what `capitolmail` prints and what the queued letter says.
"""

from __future__ import annotations

import csv
import io
import json

from tests.pdfs import pdf_text
from tests.web.sign_on_support import SIGNER, SLUG, Served, link_path, served, set_window

__all__ = ["served"]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _sign_and_confirm(served: Served, **changes: str) -> int:
    client = served.client()
    before = {m["Message-ID"] for m in served.deliver()}
    assert client.sign({**SIGNER, **changes}).status == 200
    fresh = [m for m in served.deliver() if m["Message-ID"] not in before]
    confirmations = [m for m in fresh if m["Subject"].startswith("Confirm")]
    assert len(confirmations) == 1
    assert client.call("POST", link_path(confirmations[0], "confirm"), b"", FORM).status == 200
    listed = json.loads(served.cli("signers", "list", SLUG, "--json").stdout)["signatures"]
    return int(listed[-1]["id"])


def test_approved_signers_join_the_letter_in_order_without_duplicates(served: Served) -> None:
    first = _sign_and_confirm(served)
    national = _sign_and_confirm(
        served,
        organization="Aid Workers Alliance",
        state="national",
        email="a@alliance.example.net",
    )
    same = _sign_and_confirm(
        served, organization="center for aid and development", email="b@x.example.net"
    )
    rejected = _sign_and_confirm(served, organization="Spam Org", email="s@spam.example.net")

    pending = served.cli("signers", "pending", SLUG)
    assert pending.exit_code == 0
    assert f"same organization as signature {first}" in pending.stdout
    assert (
        served.cli("signers", "approve", SLUG, str(first), str(national), str(same)).exit_code == 0
    )
    assert served.cli("signers", "reject", SLUG, str(rejected)).exit_code == 0

    preview = served.cli("letters", "preview", SLUG)
    assert preview.exit_code == 0, preview.output
    text = preview.stdout
    # Lead (signers.csv), then national, then state and local; the duplicate once.
    assert text.index("Example Rights Coalition") < text.index("Aid Workers Alliance")
    assert text.index("Aid Workers Alliance") < text.index("The Center for Aid & Development")
    assert text.count("Center for Aid") == 1
    assert "Spam Org" not in text
    assert "Subject: 3 organizations urge you" in text
    check = served.cli("letters", "check", SLUG)
    assert "Sign-on: 0 confirmed (to review), 0 pending (unconfirmed), 3 approved" in check.stderr
    assert "this signature was merged into it" in check.stderr

    # The printed letter lists them too, in the same order ([pdf] on letterhead).
    folder = served.root / "letters" / SLUG
    (folder / "letter.pdf.html.j2").write_text(
        '{% extends "capitolmail/letterhead.html.j2" %}'
        "{% block body %}<p>Protect humanitarian aid workers.</p>{% endblock %}\n"
    )
    toml = folder / "letter.toml"
    toml.write_text(toml.read_text() + '\n[pdf]\nre = "Humanitarian aid workers"\n')
    out = served.root / "letter.pdf"
    pdf = served.cli("letters", "preview", SLUG, "--format", "pdf", "-o", str(out))
    assert pdf.exit_code == 0, pdf.output
    printed = pdf_text(out.read_bytes())
    assert printed.index("Example Rights Coalition") < printed.index("Aid Workers Alliance")
    assert printed.index("Aid Workers Alliance") < printed.index("The Center for Aid & Development")
    assert printed.count("Center for Aid") == 1 and "Spam Org" not in printed


def test_pending_signatures_make_queue_warn_and_status_count_them(served: Served) -> None:
    approved = _sign_and_confirm(served)
    assert served.cli("signers", "approve", SLUG, str(approved)).exit_code == 0
    assert served.client().sign({**SIGNER, "organization": "Late Org"}).status == 200

    status = served.cli("status")
    queued = served.cli("queue", SLUG)

    assert (
        f"{SLUG}: Sign-on: 0 confirmed (to review), 1 pending (unconfirmed), 1 approved"
        in status.stderr
    )
    # The confirmation mails are small jobs of their own, listed like any other.
    assert f"{SLUG}:sign-on" in status.stdout
    assert queued.exit_code == 0, queued.output
    assert (
        f"Warning: 1 signature of {SLUG} still pending (1 unconfirmed, 0 to review)"
        in queued.stderr
    )
    counts = json.loads(served.cli("status", "--json").stdout)["sign_on"][SLUG]
    assert counts == {"pending": 1, "confirmed": 0, "approved": 1, "rejected": 0, "withdrawn": 0}


def test_a_signer_who_withdraws_before_the_letter_is_queued_is_removed(served: Served) -> None:
    signature = _sign_and_confirm(served)
    assert served.cli("signers", "approve", SLUG, str(signature)).exit_code == 0
    confirmation = [m for m in served.deliver() if m["Subject"].startswith("Confirm")][0]
    withdraw = link_path(confirmation, "withdraw")
    client = served.client()

    assert "Withdraw your signature" in client.call("GET", withdraw).text
    assert client.call("POST", withdraw, b"", FORM).status == 200

    assert "Center for Aid" not in served.cli("letters", "preview", SLUG).stdout
    listed = json.loads(served.cli("signers", "list", SLUG, "--json").stdout)["signatures"]
    assert [s["status"] for s in listed] == ["withdrawn"]


def test_a_withdrawal_after_the_letter_is_queued_is_refused(served: Served) -> None:
    signature = _sign_and_confirm(served)
    assert served.cli("signers", "approve", SLUG, str(signature)).exit_code == 0
    assert served.cli("queue", SLUG).exit_code == 0
    confirmation = [m for m in served.deliver() if m["Subject"].startswith("Confirm")][0]

    reply = served.client().call("POST", link_path(confirmation, "withdraw"), b"", FORM)

    assert reply.status == 409 and "already been queued" in reply.text
    listed = json.loads(served.cli("signers", "list", SLUG, "--json").stdout)["signatures"]
    assert [s["status"] for s in listed] == ["approved"]


def test_export_writes_approved_signers_formula_safe(served: Served) -> None:
    signature = _sign_and_confirm(served, organization="=HYPERLINK(1) Org", signatory="+Dana")
    assert served.cli("signers", "approve", SLUG, str(signature)).exit_code == 0

    exported = served.cli("signers", "export", SLUG)

    rows = list(csv.reader(io.StringIO(exported.stdout)))
    assert rows == [
        ["organisation", "signatory", "title", "state"],
        ["'=HYPERLINK(1) Org", "'+Dana", "Executive Director", "OR"],
    ]


def test_an_unconfirmed_signature_cannot_be_approved(served: Served) -> None:
    assert served.client().sign().status == 200
    result = served.cli("signers", "approve", SLUG, "1")
    assert result.exit_code == 1
    assert "cannot be approved: its contact has not confirmed it yet" in result.stderr


def test_a_closed_coalition_needs_the_passphrase(served: Served) -> None:
    set_window(served.root, extra='\npassphrase = "olive-branch-1848"')
    client = served.client()
    wrong = client.sign({**SIGNER, "passphrase": "guess"})
    right = client.sign({**SIGNER, "passphrase": "olive-branch-1848"})
    assert wrong.status == 400 and "not the coalition" in wrong.text
    assert "olive-branch" not in wrong.text
    assert right.status == 200
    assert "olive-branch" not in served.cli("letters", "check", SLUG).output
