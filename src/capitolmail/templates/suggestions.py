"""The "did you mean" for a name a template misspelt: `legislator.lastname` → `last`.

Plain edit distance is a poor guide for the names letter writers reach for. They
write the word their CRM uses (`lastname`, `surname`, `zipcode`, `organization`),
and `difflib` ranks "lastname" as close to `state_name` and `name` as to `last`,
then breaks the tie alphabetically, so it suggested `state_name`. The suggestion
is followed without a second look, and a letter that says "Dear Senator Hawaii"
is worse than one that fails. So, in order:

1. the same name spelt with other separators or case (`nick_name`, `fullName`);
2. a known synonym among the choices (`lastname`, `surname` → `last` or `last_name`),
   and nothing when the word names a known field the object does not have;
3. the closest by `difflib`, ties broken by the longest shared start, so
   `lastname` prefers `last` to `state_name`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_SEPARATORS = re.compile(r"[\s_\-]+")
_CUTOFF = 0.6  # difflib's own default, as click and errors.closest_match use

# Words people use for the same field, written without separators. Only names that
# some template object really has are ever suggested: a group is a way to find one.
_SYNONYMS: tuple[frozenset[str], ...] = (
    frozenset({"last", "lastname", "surname", "familyname", "lname"}),
    frozenset({"first", "firstname", "givenname", "forename", "fname"}),
    frozenset({"fullname", "officialfull", "officialname", "officialfullname"}),
    frozenset({"postalcode", "zip", "zipcode", "postcode"}),
    frozenset({"email", "emailaddress", "mail"}),
    frozenset({"phone", "phonenumber", "telephone", "tel"}),
    frozenset({"organisation", "organization", "org", "organisationname"}),
    frozenset({"contactform", "contacturl", "contactpage", "webform"}),
    frozenset({"url", "website", "homepage", "web"}),
)


def _plain(name: str) -> str:
    return _SEPARATORS.sub("", name).casefold()


def suggest_name(word: str, choices: Iterable[str]) -> str | None:
    """The choice a person most likely meant by `word`, in its own spelling, or None."""
    options = [choice for choice in dict.fromkeys(choices) if choice != word]
    if not options:
        return None
    plain = _plain(word)
    by_plain: dict[str, str] = {}
    for choice in options:
        by_plain.setdefault(_plain(choice), choice)
    if plain in by_plain:
        return by_plain[plain]
    for group in _SYNONYMS:
        if plain in group:
            # A word for a known field the object lacks: another field is no answer
            # ("surname" is not "first_name", however alike they are spelt).
            return next((c for p, c in by_plain.items() if p in group), None)
    return _closest(plain, by_plain)


def _closest(plain: str, by_plain: dict[str, str]) -> str | None:
    best: tuple[float, int] | None = None
    found: str | None = None
    for choice_plain, choice in by_plain.items():
        ratio = difflib.SequenceMatcher(None, plain, choice_plain).ratio()
        if ratio < _CUTOFF:
            continue
        rank = (round(ratio, 6), _shared_start(plain, choice_plain))
        if best is None or rank > best:
            best, found = rank, choice
    return found


def _shared_start(a: str, b: str) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count
