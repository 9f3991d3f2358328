"""Every template error names its file and line, with the objects templates really see.

One table over every kind of error a letter writer makes: syntax, undefined names and
attributes (on a Legislator, an office contact, a supporter, the signers, the
organisation's settings, a dict), filters, errors inside a layout, a partial or a
macro, and errors in the subject, which is a template in letter.toml.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from capitolmail.config.sections import OrganisationSettings
from capitolmail.errors import InputError
from capitolmail.letters.signers import Signer, SignerList
from capitolmail.outbox.supporters import SupporterInfo
from capitolmail.recipients.contacts import OfficeContact
from capitolmail.recipients.members import Legislator
from capitolmail.templates import LetterTemplates

LETTER = "letters/arms-sale"
TOML = f"{LETTER}/letter.toml"
TEXT = f"{LETTER}/body.txt.j2"
HTML = f"{LETTER}/body.html.j2"
SUBJECT_LINE = 3
SIGNER = Signer("Example Rights Coalition", "Jordan Avery", "Director")
NOW = datetime(2026, 1, 5, tzinfo=UTC)
CONTEXT = {
    "legislator": Legislator("S000001", "sen", "Senator", "Brian", "Schatz", "HI", "Democrat"),
    "contact": OfficeContact("S000001", "la@schatz.senate.example", "Ana Ruiz", "LA", 2),
    "supporter": SupporterInfo(
        1, "ada@example.net", "Ada", "Lovelace", "96813", "HI", 1, True, NOW, (), NOW, NOW
    ),
    "signers": SignerList((SIGNER,), (SIGNER,), (), ()),
    "organisation": OrganisationSettings(name="Example Rights Coalition"),
    "letter": {"slug": "arms-sale", "description": "Block the sale"},
    "representative": None,
}

# (files, subject, expected error): the body is body.txt.j2 unless the files name
# body.html.j2; the subject is written on line 3 of letter.toml.
CASES = {
    "syntax error": (
        {TEXT: "Dear {{ legislator.last }},\n\n{{ legislator.last }\n"},
        "Hello",
        f"{TEXT}:3: unexpected '}}'",
    ),
    "unclosed statement": (
        {TEXT: "Dear {{ legislator.last }},\n{% if legislator.nickname %}\nHi\n"},
        "Hello",
        f"{TEXT}:3: Unexpected end of template. Jinja was looking for the following tags: "
        "'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'",
    ),
    "undefined name": (
        {TEXT: "Dear {{ legislator.last }},\nReply by {{ deadlin }}.\n"},
        "Hello",
        f'{TEXT}:2: "deadlin" is undefined',
    ),
    "misspelt name": (
        {TEXT: "Dear {{ legislator.last }},\n\n{{ signer }}\n"},
        "Hello",
        f'{TEXT}:3: "signer" is undefined (did you mean "signers"?)',
    ),
    "US spelling of a name": (
        {TEXT: "From {{ organization.name }}\n"},
        "Hello",
        f'{TEXT}:1: "organization" is undefined (did you mean "organisation"?)',
    ),
    "legislator.lastname": (
        {TEXT: "\nDear Senator {{ legislator.lastname }},\n"},
        "Hello",
        f'{TEXT}:2: "legislator.lastname" is undefined (did you mean "last"?)',
    ),
    "legislator.surname": (
        {TEXT: "Dear Senator {{ legislator.surname }},\n"},
        "Hello",
        f'{TEXT}:1: "legislator.surname" is undefined (did you mean "last"?)',
    ),
    "legislator.firstname": (
        {TEXT: "Dear {{ legislator.firstname }},\n"},
        "Hello",
        f'{TEXT}:1: "legislator.firstname" is undefined (did you mean "first"?)',
    ),
    "legislator.fullname": (
        {TEXT: "To {{ legislator.fullname }}\n"},
        "Hello",
        f'{TEXT}:1: "legislator.fullname" is undefined (did you mean "full_name"?)',
    ),
    "contact attribute": (
        {TEXT: "To {{ contact.nam }}\n"},
        "Hello",
        f'{TEXT}:1: "contact.nam" is undefined (did you mean "name"?)',
    ),
    "contact email_address": (
        {TEXT: "To {{ contact.email_address }}\n"},
        "Hello",
        f'{TEXT}:1: "contact.email_address" is undefined (did you mean "email"?)',
    ),
    "supporter lastname": (
        {TEXT: "Dear {{ supporter.firstname }} {{ supporter.lastname }}\n"},
        "Hello",
        f'{TEXT}:1: "supporter.firstname" is undefined (did you mean "first_name"?)',
    ),
    "supporter zip": (
        {TEXT: "Your ZIP: {{ supporter.zipcode }}\n"},
        "Hello",
        f'{TEXT}:1: "supporter.zipcode" is undefined (did you mean "postal_code"?)',
    ),
    "signers attribute": (
        {TEXT: "Led by {{ signers.leads | join_and }}\n"},
        "Hello",
        f'{TEXT}:1: "signers.leads" is undefined (did you mean "lead"?)',
    ),
    "signer in a loop": (
        {TEXT: "{% for s in signers %}\n{{ s.organization }}\n{% endfor %}\n"},
        "Hello",
        f'{TEXT}:2: "s.organization" is undefined (did you mean "organisation"?)',
    ),
    "organisation settings": (
        {TEXT: "From {{ organisation.nme }}\n"},
        "Hello",
        f'{TEXT}:1: "organisation.nme" is undefined (did you mean "name"?)',
    ),
    "dict key": (
        {TEXT: "About {{ letter.descripton }}\n"},
        "Hello",
        f'{TEXT}:1: "letter.descripton" is undefined (did you mean "description"?)',
    ),
    "attribute of an empty value": (
        {TEXT: "Hi\nCall {{ representative.last }}\n"},
        "Hello",
        f'{TEXT}:2: "representative" is empty here, so "representative.last" is undefined; '
        "check it first with {% if representative %}",
    ),
    "unknown filter": (
        {TEXT: "\n{{ legislator | salutaton }}\n"},
        "Hello",
        f"{TEXT}:2: No filter named 'salutaton'",
    ),
    "filter that fails": (
        {TEXT: "\n\n{{ contact | salutation }}\n"},
        "Hello",
        f"{TEXT}:3: salutation needs a legislator with a title and a last name",
    ),
    "wrong types": (
        {TEXT: "We are {{ signers | length + ' groups' }}\n"},
        "Hello",
        f"{TEXT}:1: unsupported operand type(s) for +: 'int' and 'str'",
    ),
    "looping over an undefined name": (
        {TEXT: "Hi\n{% for s in signer %}{{ s }}{% endfor %}\n"},
        "Hello",
        f'{TEXT}:2: "signer" is undefined (did you mean "signers"?)',
    ),
    "undefined name in a layout": (
        {
            "templates/base.html.j2": "<html>\n<p>{{ organisation.nam }}</p>\n"
            "{% block body %}{% endblock %}\n</html>\n",
            HTML: '{% extends "base.html.j2" %}{% block body %}<p>x</p>{% endblock %}',
        },
        "Hello",
        'templates/base.html.j2:2: "organisation.nam" is undefined (did you mean "name"?)',
    ),
    "syntax error in a layout": (
        {
            "templates/base.html.j2": "<html>\n{% block body %}\n</html>\n",
            HTML: '{% extends "base.html.j2" %}{% block body %}<p>x</p>{% endblock %}',
        },
        "Hello",
        "templates/base.html.j2:3: Unexpected end of template. Jinja was looking for the "
        "following tags: 'endblock'. The innermost block that needs to be closed is 'block'",
    ),
    "undefined name in a block of the letter": (
        {
            HTML: '{% extends "capitolmail/letter.html.j2" %}\n{% block body %}\n'
            "<p>{{ legislator | salutation }}</p>\n<p>{{ legislator.lastname }}</p>\n"
            "{% endblock %}\n"
        },
        "Hello",
        f'{HTML}:4: "legislator.lastname" is undefined (did you mean "last"?)',
    ),
    "undefined name in a partial": (
        {
            "templates/closing.txt.j2": "Thanks,\n{{ deadline }}\n",
            TEXT: "Dear {{ legislator.last }},\n{% include 'closing.txt.j2' %}\n",
        },
        "Hello",
        'templates/closing.txt.j2:2: "deadline" is undefined',
    ),
    "missing partial": (
        {TEXT: "Dear {{ legislator.last }},\n{% include 'closing.txt' %}\n"},
        "Hello",
        f'{TEXT}:2: template "closing.txt" not found',
    ),
    "undefined name in an imported macro": (
        {
            "templates/macros.txt.j2": "{% macro sign() %}\n{{ organisation.nam }}\n{% endmacro %}",
            TEXT: "{% import 'macros.txt.j2' as m with context %}\n"
            "Dear {{ legislator.last }},\n{{ m.sign() }}\n",
        },
        "Hello",
        'templates/macros.txt.j2:2: "organisation.nam" is undefined (did you mean "name"?)',
    ),
    "syntax error in the subject": (
        {TEXT: "Body\n"},
        "About {{ letter.slug }",
        f"{TOML}:{SUBJECT_LINE}: subject: unexpected '}}'",
    ),
    "undefined name in the subject": (
        {TEXT: "Body\n"},
        "{{ signerz | length }} groups",
        f'{TOML}:{SUBJECT_LINE}: subject: "signerz" is undefined (did you mean "signers"?)',
    ),
    "undefined attribute in the subject": (
        {TEXT: "Body\n"},
        "For Senator {{ legislator.lastname }}",
        f'{TOML}:{SUBJECT_LINE}: subject: "legislator.lastname" is undefined '
        '(did you mean "last"?)',
    ),
    "filter that fails in the subject": (
        {TEXT: "Body\n"},
        "{{ contact | salutation }}",
        f"{TOML}:{SUBJECT_LINE}: subject: salutation needs a legislator with a title and a "
        "last name",
    ),
}


def _workspace(root: Path, files: dict[str, str], subject: str) -> LetterTemplates:
    (root / LETTER).mkdir(parents=True)
    (root / TOML).write_text(
        f'kind = "joint"\n# the subject\nsubject = "{subject}"\n', encoding="utf-8"
    )
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return LetterTemplates(
        root / LETTER,
        workspace_root=root,
        subject=subject,
        text_template="body.txt.j2" if TEXT in files else None,
        html_template="body.html.j2" if HTML in files else None,
        source=TOML,
    )


@pytest.mark.parametrize(("files", "subject", "expected"), CASES.values(), ids=CASES.keys())
def test_every_template_error_names_file_and_line(
    tmp_path: Path, files: dict[str, str], subject: str, expected: str
) -> None:
    with pytest.raises(InputError) as info:
        _workspace(tmp_path, files, subject).render(CONTEXT)

    assert [str(problem) for problem in info.value.problems] == [expected]
