"""The HTML part as mail clients get it: CSS inlined when the letter is rendered (so the
preview, the stored message and what the relay receives are the same inlined bytes),
and `letters check` warnings about links, images and Gmail's 102 KB clip."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Invoke, use_smtp_relay
from tests.servers.smtp import running_mail_server

LETTER = Path("letters/block-arms-sale")
BODY = LETTER / "body.html.j2"
STYLED = """<!DOCTYPE html>
<html><head><style>
p.lead { color: #123456; font-family: Georgia, serif }
@media (max-width: 600px) { p.lead { font-size: 18px } }
</style></head>
<body><p class="lead">{{ legislator | salutation }}</p><p>We urge you to act.</p></body></html>
"""


def _body(workspace: Path, text: str) -> None:
    (workspace / BODY).write_text(text)


def _warnings(cli: Invoke) -> list[str]:
    result = cli("letters", "check", "block-arms-sale")
    assert result.exit_code == 0, result.output
    return [line for line in result.stderr.splitlines() if line.startswith("Warning:")]


def _add_to_body(workspace: Path, html: str) -> int:
    """Insert `html` before "Sincerely" in the example body; returns its template line."""
    path = workspace / BODY
    lines = path.read_text().splitlines(keepends=True)
    at = next(n for n, line in enumerate(lines) if "Sincerely" in line)
    lines.insert(at, html + "\n")
    path.write_text("".join(lines))
    return at + 1


def test_style_rules_are_inlined_in_the_preview_and_in_what_is_sent(
    cli: Invoke, workspace: Path
) -> None:
    _body(workspace, STYLED)
    preview = cli("letters", "preview", "block-arms-sale", "--format", "html").stdout
    assert '<p class="lead" style="color: #123456;font-family: Georgia, serif;">Dear ' in preview
    # What cannot be inlined stays for the clients that read it; the rest is gone.
    assert "<style>@media (max-width: 600px) { p.lead { font-size: 18px } }" in preview
    assert "p.lead { color" not in preview
    with running_mail_server() as server:
        use_smtp_relay(workspace, server.port)
        assert cli("queue", "block-arms-sale").stdout == "1\n"
        assert cli("send", "1").exit_code == 0
        assert cli("worker", "--once").exit_code == 0
        received = server.received()
    assert len(received) == 44
    first_office = received[0].message["To"].addresses[0].addr_spec
    sent = {
        m.message["To"].addresses[0].addr_spec: m.message.get_body(("html",)).get_content()
        for m in received
    }
    shown = cli("letters", "preview", "block-arms-sale", "--to", first_office, "--format", "html")
    assert sent[first_office].rstrip("\n") == shown.stdout.rstrip("\n")
    assert all('style="color: #123456;' in html for html in sent.values())


def test_a_letter_without_style_rules_is_sent_as_rendered(cli: Invoke, workspace: Path) -> None:
    preview = cli("letters", "preview", "block-arms-sale", "--format", "html").stdout
    template = (workspace / BODY).read_text()
    assert preview.startswith('<!DOCTYPE html>\n<html lang="en">')  # not reserialised
    assert "<style" not in preview and "Sincerely" in template


def test_a_linked_stylesheet_is_refused_naming_the_template(cli: Invoke, workspace: Path) -> None:
    _body(workspace, STYLED.replace("<head>", '<head><link rel="stylesheet" href="brand.css">'))
    for command in (("letters", "check"), ("queue",)):
        result = cli(*command, "block-arms-sale")
        assert result.exit_code == 1
        assert result.stderr.startswith(
            'Error: letters/block-arms-sale/body.html.j2: html: <link rel="stylesheet" '
            'href="brand.css"> cannot be inlined (stylesheets are not fetched); put the CSS '
            "in a <style> element in the template (for "
        )
        assert len(result.stderr.splitlines()) == 1
    assert json.loads(cli("status", "--json").stdout)["jobs"] == []


def test_the_worked_example_has_nothing_to_warn_about(cli: Invoke) -> None:
    assert _warnings(cli) == []  # its one link is mailto:


def test_links_that_are_not_https_are_warned_with_their_template_line(
    cli: Invoke, workspace: Path
) -> None:
    line = _add_to_body(
        workspace,
        '<p><a href="http://example.org/report?a=1&amp;b=2">the report</a>, '
        "<A HREF=javascript:void(0)>more</A>, <a href='#'>top</a>, "
        '<a href="https://example.org/ok">ok</a>, <a href="tel:+12025550100">call</a>, '
        '<a href="MAILTO:policy@example.org">write</a></p>',
    )
    assert _warnings(cli) == [
        f"Warning: letters/block-arms-sale/body.html.j2:{line}: link "
        '"http://example.org/report?a=1&b=2" is not https; use https:// (in all 44 messages)',
        f"Warning: letters/block-arms-sale/body.html.j2:{line}: link "
        '"javascript:void(0)" is not https; a javascript: link, where only https:, mailto: '
        "and tel: are expected (in all 44 messages)",
        f'Warning: letters/block-arms-sale/body.html.j2:{line}: link "#" is not https; a '
        "relative or empty link goes nowhere in an email (in all 44 messages)",
    ]


def test_a_link_from_the_recipients_data_names_the_first_office(
    cli: Invoke, workspace: Path
) -> None:
    _add_to_body(
        workspace,
        "{% if legislator.state in ('DE', 'CT') %}"
        '<p><a href="http://{{ legislator.bioguide|lower }}.example.org">site</a></p>'
        "{% endif %}",
    )
    (warning,) = _warnings(cli)
    assert warning.startswith(
        'Warning: letters/block-arms-sale/body.html.j2: link "http://m001169.example.org"'
    ) and warning.endswith(
        "is not https; use https:// (first for office M001169 (cos.murphy.ct@senate.example.org)"
        " and 1 other value from the recipients' data; in 4 of 44 messages)"
    ), warning


def test_images_without_alt_text(cli: Invoke, workspace: Path) -> None:
    line = _add_to_body(
        workspace,
        '<img src="https://example.org/logo.png"><img src="cid:seal" alt="">'
        '<img src="https://example.org/sig.png" alt="Signature">'
        '<img alt="Chart" src="http://example.org/chart.png">',
    )
    assert _warnings(cli) == [
        f'Warning: letters/block-arms-sale/body.html.j2:{line}: image "https://example.org/'
        'logo.png" has no alt text (add alt="…", or alt="" if it is only decoration) (in all 44'
        " messages)",
        f'Warning: letters/block-arms-sale/body.html.j2:{line}: image "http://example.org/'
        'chart.png" is not loaded over https (in all 44 messages)',
    ]


def test_an_html_part_gmail_would_clip(cli: Invoke, workspace: Path) -> None:
    _add_to_body(workspace, "<p>" + "Civilians must be protected. " * 3580 + "</p>")
    (warning,) = _warnings(cli)
    assert warning.startswith("Warning: letters/block-arms-sale/body.html.j2: the HTML part is ")
    size = int(warning.split(" is ")[1].split(" ")[0].replace(",", ""))
    assert 104_448 < size < 110_000
    assert warning.endswith(
        " and 43 more; Gmail clips an HTML part over 102 KB (104,448 bytes) and hides the rest "
        'behind "View entire message"'
    )
    assert "bytes for office " in warning
