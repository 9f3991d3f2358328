from __future__ import annotations

import pytest

from capitolmail.recipients.members import Legislator
from capitolmail.templates.environment import attribute_names
from capitolmail.templates.suggestions import suggest_name

LEGISLATOR = attribute_names(
    Legislator("S000001", "sen", "Senator", "Brian", "Schatz", "HI", "Democrat")
)


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("lastname", "last"),
        ("last_name", "last"),
        ("LastName", "last"),
        ("surname", "last"),
        ("firstname", "first"),
        ("nick_name", "nickname"),
        ("fullname", "full_name"),
        ("statename", "state_name"),
        ("website", "url"),
        ("phon", "phone"),
        ("distrct", "district"),
    ],
)
def test_a_legislator_attribute_suggests_what_was_meant(word: str, meant: str) -> None:
    assert suggest_name(word, LEGISLATOR) == meant


def test_nothing_close_suggests_nothing() -> None:
    assert suggest_name("budget", LEGISLATOR) is None


def test_a_synonym_is_suggested_only_when_the_object_has_it() -> None:
    assert suggest_name("lastname", ["first_name", "last_name", "email"]) == "last_name"
    assert suggest_name("surname", ["first_name", "email"]) is None


def test_pydantic_settings_offer_their_fields_not_pydantics() -> None:
    from capitolmail.config.sections import OrganisationSettings

    assert attribute_names(OrganisationSettings(name="Org")) == [
        "name",
        "postal_address",
        "website",
    ]
