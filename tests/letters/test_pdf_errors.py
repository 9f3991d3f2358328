"""What a team gets wrong with [pdf], and a machine without Pango: one line, nothing queued."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..conftest import Invoke

LETTER = Path("letters/block-arms-sale")
SRC = Path(__file__).resolve().parents[2] / "src"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _refused(cli: Invoke, workspace: Path, expected: str) -> None:
    for command in (("letters", "check"), ("queue",)):
        result = cli(*command, "block-arms-sale")
        assert result.exit_code == 1, result.output
        first_office = "(for cos.murphy.ct@senate.example.org, Christopher Murphy)"
        assert result.stderr == f"Error: {expected} {first_office}\n"
    assert json.loads(cli("status", "--json").stdout) == {"jobs": []}


def test_a_template_that_loads_a_file_from_disk_is_refused(cli: Invoke, workspace: Path) -> None:
    _edit(
        workspace / LETTER / "letter.pdf.html.j2",
        "{% block body %}",
        '{% block body %}<img src="file:///etc/passwd" alt="">',
    )
    _refused(
        cli,
        workspace,
        'letters/block-arms-sale/letter.pdf.html.j2: the PDF refers to "file:///etc/passwd"; '
        "a PDF letter may only use the logo named in [pdf] logo (and data: URLs), nothing "
        "from disk or the network",
    )


def test_a_stylesheet_from_the_network_is_refused(cli: Invoke, workspace: Path) -> None:
    _edit(
        workspace / LETTER / "letter.pdf.html.j2",
        "{% block body %}",
        '{% block style %}<link rel="stylesheet" href="https://fonts.example.com/a.css">'
        "{% endblock %}\n{% block body %}",
    )
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 1
    assert '"https://fonts.example.com/a.css"' in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_an_undefined_name_in_the_pdf_names_its_template_and_line(
    cli: Invoke, workspace: Path
) -> None:
    _edit(workspace / LETTER / "letter.pdf.html.j2", "{{ signers|length }}", "{{ signer|length }}")
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        'Error: letters/block-arms-sale/letter.pdf.html.j2:6: "signer" is undefined'
    )


def test_the_pdf_template_does_not_see_the_staff_contact(cli: Invoke, workspace: Path) -> None:
    """An office's PDF is printed once for the office: it cannot name one staffer."""
    _edit(workspace / LETTER / "letter.pdf.html.j2", "{{ signers|length }}", "{{ contact.name }}")
    result = cli("letters", "check", "block-arms-sale")
    assert result.exit_code == 1
    assert '"contact" is undefined' in result.stderr


def test_bad_pdf_settings_name_the_key(cli: Invoke, workspace: Path) -> None:
    toml = workspace / LETTER / "letter.toml"
    _edit(toml, 'logo = "../../templates/logo.svg"', 'logo = "../../capitolmail.toml"')
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        'Error: letters/block-arms-sale/letter.toml:31: pdf.logo: "../../capitolmail.toml" '
        "leads out of letters/block-arms-sale/"
    )
    _edit(toml, 'logo = "../../capitolmail.toml"', 'logo = "signers.csv"')
    assert cli("queue", "block-arms-sale").stderr == (
        'Error: letters/block-arms-sale/letter.toml: [pdf] logo "signers.csv" must be a PNG, '
        "JPEG or SVG file\n"
    )
    _edit(toml, 'logo = "signers.csv"', 'logo = ""')
    _edit(toml, "columns = 2", "columns = 5")
    result = cli("queue", "block-arms-sale")
    assert result.exit_code == 1
    assert "pdf.columns: Input should be less than or equal to 3" in result.stderr
    _edit(toml, "columns = 5", "colums = 3")
    result = cli("queue", "block-arms-sale")
    assert 'unknown key "colums" (did you mean "columns"?)' in result.stderr


def test_an_alert_has_no_pdf(cli: Invoke, workspace: Path) -> None:
    toml = workspace / "letters/urge-senators/letter.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[pdf]\n", encoding="utf-8")
    result = cli("letters", "check", "urge-senators")
    assert result.exit_code == 1
    assert '[pdf] is for joint letters (kind = "joint"), not alerts' in result.stderr


def test_preview_as_pdf_of_a_letter_without_one(cli: Invoke, workspace: Path) -> None:
    toml = workspace / LETTER / "letter.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text[: text.index("# The letter as a PDF")], encoding="utf-8")
    result = cli("letters", "preview", "block-arms-sale", "--format", "pdf")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: block-arms-sale has no PDF: add a [pdf] table to its letter.toml "
        "(README: The PDF letter)\n"
    )
    assert not list(workspace.glob("*.pdf"))


# Makes cffi fail to load Pango as it fails where libpango-1.0-0 is not installed.
_NO_PANGO = """
import cffi.api
_dlopen = cffi.api.FFI.dlopen
def dlopen(self, name, *args, **kwargs):
    if "pango" in str(name):
        raise OSError(f"cannot load library '{name}': {name}: cannot open shared object file")
    return _dlopen(self, name, *args, **kwargs)
cffi.api.FFI.dlopen = dlopen
"""


def test_without_pango_one_line_names_the_debian_package(workspace: Path, tmp_path: Path) -> None:
    site = tmp_path / "no-pango"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_NO_PANGO, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(SRC)])}
    result = subprocess.run(
        [sys.executable, "-m", "capitolmail", "--workspace", str(workspace), "queue",
         "block-arms-sale"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: PDF letters need libpango-1.0-0, which WeasyPrint uses to lay out text: "
        "install the Debian package libpango-1.0-0 (apt-get install libpango-1.0-0 "
        "libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation)\n"
    )
    assert not (workspace / ".capitolmail/capitolmail.db").exists()
