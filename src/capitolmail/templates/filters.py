"""The filters letter writers use: salutations, state names, lists, the signer block.

Duck-typed on purpose: a filter reads `legislator.title` or `signers.national` and does
not import the recipients or letters modules, so templates can be tested with small
stand-ins and this package stays below `letters/` in the import graph.

Names are never re-cased: "DeLauro", "Van Hollen" and "Hernández Rivera" are printed
exactly as the data spells them, because a wrongly cased name is the first thing a
Hill staffer notices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape

from capitolmail.recipients.states import state_name as _state_name

LEAD_HEADING = "Lead organizations"
NATIONAL_HEADING = "National organizations"
STATE_HEADING = "State and local organizations"


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def salutation(legislator: Any) -> str:
    """ "Dear Senator Schatz:", from the legislator's `title` and `last` as given."""
    title, last = _field(legislator, "title"), _field(legislator, "last")
    if not title or not last:
        raise ValueError("salutation needs a legislator with a title and a last name")
    return f"Dear {title} {last}:"


def state_name(code: str | None) -> str:
    """ "OR" → "Oregon"; an empty state (a national organisation) prints nothing."""
    return "" if code is None else _state_name(str(code))


@pass_eval_context
def join_and(eval_ctx: EvalContext, items: Iterable[Any], conjunction: str = "and") -> str:
    """ "A, B and C": the list style of a letter, with no serial comma.

    In HTML templates each item is escaped and the result is Markup, so items that are
    already Markup are not escaped twice.
    """
    values = list(items)
    if eval_ctx.autoescape:
        parts = [escape(value) for value in values]
        if len(parts) < 2:
            return Markup("").join(parts)
        return Markup(", ").join(parts[:-1]) + Markup(f" {escape(conjunction)} ") + parts[-1]
    words = [str(value) for value in values]
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _signer_line(signer: Any) -> tuple[str, str | None]:
    """The organisation with its state, and the "Name, Title" that follows a dash.

    A name that already ends in its state ("Action Network for Peace (California)", or
    "(CA)") is not given it twice.
    """
    name = str(_field(signer, "organisation"))
    code = _field(signer, "state")
    if code:
        suffixes = (f"({state_name(code)})".casefold(), f"({code})".casefold())
        if not name.casefold().endswith(suffixes):
            name = f"{name} ({state_name(code)})"
    person = ", ".join(str(v) for v in (_field(signer, "signatory"), _field(signer, "title")) if v)
    return name, person or None


def _groups(signers: Any, headings: tuple[str, str, str]) -> list[tuple[str, list[Any]]]:
    """(heading, signers) for each non-empty group, from a SignerList or any iterable."""
    if all(hasattr(signers, group) for group in ("lead", "national", "state_and_local")):
        groups = [list(signers.lead), list(signers.national), list(signers.state_and_local)]
    else:
        everyone = list(signers)
        national = [s for s in everyone if not _field(s, "state")]
        groups = [[], national, [s for s in everyone if _field(s, "state")]]
    return [(heading, group) for heading, group in zip(headings, groups, strict=True) if group]


@pass_eval_context
def signer_block(
    eval_ctx: EvalContext,
    signers: Any,
    lead_heading: str = LEAD_HEADING,
    national_heading: str = NATIONAL_HEADING,
    state_heading: str = STATE_HEADING,
) -> str:
    """The co-signers under a heading per group, one organisation per line.

    Lead organisations get their own group, first, rather than the top of the national
    list: a lead may be a state organisation, and "National organizations" would then
    mislabel it. A heading passed as "" is left out (US letters may want
    "National Organizations"). In HTML templates the result is Markup with every
    name escaped; the HTML form converts back to exactly the text form.
    """
    groups = _groups(signers, (lead_heading, national_heading, state_heading))
    if eval_ctx.autoescape:
        return Markup("\n").join(_html_group(heading, group) for heading, group in groups)
    blocks = []
    for heading, group in groups:
        lines = [heading] if heading else []
        for signer in group:
            name, person = _signer_line(signer)
            lines.append(f"{name} — {person}" if person else name)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _html_group(heading: str, group: list[Any]) -> Markup:
    lines = [Markup("<strong>{}</strong>").format(heading)] if heading else []
    for signer in group:
        name, person = _signer_line(signer)
        if person:
            lines.append(Markup("{} — {}").format(name, person))
        else:
            lines.append(escape(name))
    body = Markup("<br>\n").join(lines)
    return Markup('<p style="margin:0 0 16px 0;">{}</p>').format(body)


def signer_groups(signers: Any) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """(heading, [(organisation with its state, "Name, Title" or None)]) per non-empty
    group: what the PDF letterhead lays out in columns, worded as `signer_block` words it."""
    return [
        (heading, [_signer_line(signer) for signer in group])
        for heading, group in _groups(signers, (LEAD_HEADING, NATIONAL_HEADING, STATE_HEADING))
    ]


FILTERS: dict[str, Callable[..., Any]] = {
    "salutation": salutation,
    "state_name": state_name,
    "join_and": join_and,
    "signer_block": signer_block,
    "signer_groups": signer_groups,
}
