"""The sign-on form over HTTP: signing, confirming, and every way it refuses.

Each test talks to the served app over a loopback socket, then checks what staff
would check: `capitolmail signers list`, and the .eml files the outbox wrote.
"""

from __future__ import annotations

import io
import json

from PIL import Image

from tests.web.sign_on_support import SIGNER, SLUG, Served, link_path, served, set_window

__all__ = ["served"]


def _signatures(served: Served) -> list[dict[str, object]]:
    result = served.cli("signers", "list", SLUG, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["signatures"]


def test_a_signature_is_pending_until_its_link_is_confirmed(served: Served) -> None:
    client = served.client()
    page = client.call("GET", f"/sign/{SLUG}")
    assert page.status == 200
    assert "humanitarian aid workers" in page.text  # the letter's text, as rendered
    assert "Signatures close" in page.text

    reply = client.sign()

    assert reply.status == 200, reply.text
    assert "Check your email" in reply.text
    assert [(s["organisation"], s["status"]) for s in _signatures(served)] == [
        ("The Center for Aid & Development", "pending")
    ]
    messages = served.deliver()
    assert [m["To"] for m in messages] == ["Rosa Díaz <rosa@aid-development.example.net>"]
    confirm = link_path(messages[0], "confirm")
    shown = client.call("GET", confirm)
    assert shown.status == 200 and "Confirm your signature" in shown.text
    assert _signatures(served)[0]["status"] == "pending"  # a GET changes nothing

    done = client.call(
        "POST", confirm, b"go=yes", {"Content-Type": "application/x-www-form-urlencoded"}
    )

    assert done.status == 200 and "Signature confirmed" in done.text
    assert _signatures(served)[0]["status"] == "confirmed"
    # The staff address in [sign_on] notify hears of it, through the outbox too.
    notices = [m for m in served.deliver() if "New signature" in m["Subject"]]
    assert [m["To"] for m in notices] == ["policy@example.org"]


def test_a_form_without_its_token_or_with_a_wrong_one_stores_nothing(served: Served) -> None:
    client = served.client()
    missing = client.sign(csrf="")
    client.form_token()  # the cookie is set; the token sent is not the page's
    wrong = client.sign(csrf="eyJ4IjoxfQ.AAAA")
    other = served.client()  # a page's token without its cookie (another browser's)
    stolen = other.call("POST", f"/sign/{SLUG}", *_form_for(client.form_token()))
    assert (missing.status, wrong.status, stolen.status) == (403, 403, 403)
    assert _signatures(served) == []


def _form_for(token: str) -> tuple[bytes, dict[str, str]]:
    from tests.web.sign_on_support import multipart

    body, content_type = multipart({**SIGNER, "csrf": token}, None)
    return body, {"Content-Type": content_type}


def test_a_filled_honeypot_looks_accepted_and_stores_nothing(served: Served) -> None:
    reply = served.client().sign({**SIGNER, "website": "http://spam.example"})
    assert reply.status == 200 and "Check your email" in reply.text
    assert _signatures(served) == []
    assert served.deliver() == []


def test_too_many_signatures_from_one_address_are_refused(served: Served) -> None:
    client = served.client()
    statuses = [
        client.sign({**SIGNER, "organization": f"Organization {i}"}).status for i in range(11)
    ]
    assert statuses == [200] * 10 + [429]
    assert len(_signatures(served)) == 10


def test_too_many_signatures_for_one_letter_are_refused(served: Served) -> None:
    config = served.root / "capitolmail.toml"
    config.write_text(config.read_text() + "sign_on_per_letter_per_hour = 2\n")
    from capitolmail.web import create_app
    from capitolmail.workspace import Workspace
    from tests.servers.web import LiveServer
    from tests.web.sign_on_support import Client

    opened = Workspace.open(served.root)
    server = LiveServer(create_app(opened.settings, opened.store, opened.root))
    server.start()
    try:
        client = Client(server.url)
        statuses = [client.sign({**SIGNER, "organization": f"Org {i}"}).status for i in range(3)]
    finally:
        server.stop()
        opened.close()
    assert statuses == [200, 200, 429]


def test_after_the_deadline_the_form_is_closed(served: Served) -> None:
    client = served.client()
    token = client.form_token()
    set_window(served.root, closes="2026-01-06 09:00")

    page = client.call("GET", f"/sign/{SLUG}")
    late = client.sign(csrf=token)

    assert page.status == 200 and "Sign-on closed" in page.text and "<form" not in page.text
    assert late.status == 403 and "closed" in late.text
    assert _signatures(served) == []


def test_forged_foreign_and_expired_links_are_refused_alike(served: Served) -> None:
    from datetime import UTC, datetime, timedelta

    from capitolmail.signon import tokens

    client = served.client()
    assert client.sign().status == 200
    secret = served.workspace.settings.unsubscribe_secret.get_secret_value()  # type: ignore[union-attr]
    good = link_path(served.deliver()[0], "confirm").rsplit("/", 1)[1]
    payload, signature = good.split(".")
    now = datetime.now(UTC)
    bad = {
        "forged": payload + "." + signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB"),
        "other secret": tokens.make_token("x" * 40, tokens.CONFIRM, SLUG, 1, now + timedelta(1)),
        "expired": tokens.make_token(secret, tokens.CONFIRM, SLUG, 1, now - timedelta(seconds=1)),
        "withdraw token": tokens.make_token(secret, tokens.WITHDRAW, SLUG, 1, now + timedelta(1)),
        "another letter": tokens.make_token(secret, tokens.CONFIRM, "other", 1, now + timedelta(1)),
        "garbage": "not-a-token",
    }
    for name, token in bad.items():
        for method in ("GET", "POST"):
            reply = client.call(method, f"/sign/{SLUG}/confirm/{token}", b"")
            assert reply.status == 400, (name, method)
            assert "This link is not valid" in reply.text
    assert _signatures(served)[0]["status"] == "pending"


def _png(size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "navy").save(out, "PNG")
    return out.getvalue()


def test_a_logo_is_re_encoded_and_bad_logos_are_refused(served: Served) -> None:
    client = served.client()
    cases = {
        "oversized": ("big.png", b"\x89PNG\r\n\x1a\n" + b"0" * (600 * 1024)),
        "not an image": ("logo.png", b"MZ\x90\x00 this is an executable"),
        "svg script": (
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        ),
        "svg handler": ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        "truncated png": ("logo.png", _png()[:40]),
    }
    for name, logo in cases.items():
        reply = client.sign({**SIGNER, "organization": name}, logo=logo)
        assert reply.status in (400, 413), name
        assert "logo" in reply.text.lower(), name
    assert _signatures(served) == []

    reply = client.sign(logo=("logo.png", _png()))
    assert reply.status == 200, reply.text
    signature = _signatures(served)[0]
    assert signature["logo"] == "image/png"
    stored = served.workspace.store.signature_logo(int(signature["id"]))  # type: ignore[arg-type]
    assert stored is not None and Image.open(io.BytesIO(stored[0])).size == (40, 20)


def test_a_duplicate_organisation_is_merged_and_shown_to_staff(served: Served) -> None:
    client = served.client()
    assert client.sign().status == 200
    again = {**SIGNER, "organization": "center for aid and developmént", "signatory": "Lee Park"}
    assert client.sign(again).status == 200

    rows = _signatures(served)
    assert [(r["organisation"], r["merged_into"]) for r in rows] == [
        ("The Center for Aid & Development", None),
        ("center for aid and developmént", rows[0]["id"]),
    ]
    text = served.cli("signers", "list", SLUG).stdout
    assert f"same organization as signature {rows[0]['id']}" in text
    staff = served.client().call(
        "GET",
        f"/sign/{SLUG}/staff",
        headers={"Authorization": "Bearer status-token-for-tests-7f3a"},
    )
    assert staff.status == 200 and "merged" in staff.text


def test_what_a_signer_typed_is_escaped_on_every_page(served: Served) -> None:
    hostile = {
        **SIGNER,
        "organization": "<script>alert(1)</script> Org",
        "signatory": '"><img src=x onerror=alert(1)>',
    }
    client = served.client()
    assert client.sign(hostile).status == 200
    staff = client.call(
        "GET",
        f"/sign/{SLUG}/staff",
        headers={"Authorization": "Bearer status-token-for-tests-7f3a"},
    )
    assert "<script>alert" not in staff.text and "&lt;script&gt;" in staff.text
    assert "<img" not in staff.text
    invalid = client.sign({**hostile, "email": "<b>not-an-address"})
    assert invalid.status == 400 and "<b>not-an-address" not in invalid.text


def test_the_staff_page_needs_the_status_token(served: Served) -> None:
    client = served.client()
    assert client.call("GET", f"/sign/{SLUG}/staff").status == 401
    wrong = client.call("GET", f"/sign/{SLUG}/staff", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401


def test_an_oversized_body_is_refused_unparsed(served: Served) -> None:
    from tests.web.sign_on_support import multipart

    client = served.client()
    token = client.form_token()
    body, content_type = multipart({**SIGNER, "csrf": token, "title": "x" * (700 * 1024)}, None)
    reply = client.call("POST", f"/sign/{SLUG}", body, {"Content-Type": content_type})
    assert reply.status == 413 and "too large" in reply.text
    assert _signatures(served) == []


def test_sign_on_tokens_stay_out_of_the_access_log() -> None:
    from capitolmail.web.security import logged_path

    assert logged_path(f"/sign/{SLUG}/confirm/abc.def") == f"/sign/{SLUG}/confirm/…"
    assert logged_path(f"/sign/{SLUG}/withdraw/abc.def?x=1") == f"/sign/{SLUG}/withdraw/…?…"
    assert logged_path(f"/sign/{SLUG}") == f"/sign/{SLUG}"
