"""What one render may build: sizes, a total, and a deadline.

Templates are staff input, and a typo must not take the machine:
`{{ ('a' * 10**10)|length }}` once took 9.9 GB, and two nested `range(100000)`
loops ran for ever. Jinja's sandbox stops escapes, not amplification, so:

- **Sizes.** No value the sandbox builds (an operator's result, a filter's, a
  `str` method's, a `~` chain, a list literal) may weigh more than MAX_WEIGHT,
  and each is refused *before* it is built when its size can be told in advance
  (`'a' * n`, `'%999999999s'`, `|center(n)`, `|indent(n)`, `|join` ...). A
  value's weight is its length for a string, the weights of its items for a
  list or dict, so a list of a million references to one long string weighs
  what printing it would cost.
- **A total.** Everything one render builds, its output included, adds up to
  at most MAX_TOTAL: the per-render memory cap, counted on the values the
  sandbox makes rather than with tracemalloc (which slows every allocation).
- **A deadline.** Every loop's start and every call checks RENDER_SECONDS of
  wall time, so nested loops and runaway macros stop; the caps above bound the
  single operations between two checks.

Limits are far above any letter: the longest HTML letter with a thousand
co-signers is about 200 KB.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from itertools import islice
from typing import Any

from capitolmail.errors import RenderLimitError

MAX_WEIGHT = 1_000_000  # characters (or items) in one value, and in one rendered part
MAX_TOTAL = 20_000_000  # characters (or items) one render may build in all
RENDER_SECONDS = 2.0
_OUTPUT_CHUNK = 128  # output parts added up at once
# Digits of a width or precision in a format string ("%999999999s", "{:>999999999}").
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBERS = re.compile(r"\d+")


@dataclass(slots=True)
class _Budget:
    deadline: float
    total: int = 0


_current: ContextVar[_Budget | None] = ContextVar("capitolmail_render_budget", default=None)


def start_budget(seconds: float = RENDER_SECONDS) -> Token[_Budget | None]:
    """Begin one letter's budget; outside one, only sizes are checked. A plain call
    and `end_budget` rather than a context manager, whose cost showed in every render."""
    return _current.set(_Budget(time.monotonic() + seconds))


def end_budget(token: Token[_Budget | None]) -> None:
    _current.reset(token)


def check_time() -> None:
    budget = _current.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise RenderLimitError(
            f"rendering took over {RENDER_SECONDS:g} seconds and was stopped; "
            "look for a loop that runs too often or a macro that calls itself"
        )


def built(value: Any, what: str = "a value") -> Any:
    """`value` after checking its weight and adding it to the render's total."""
    _count(len(value) if isinstance(value, str) else weight(value), what)
    return value


def built_text(text: str, what: str) -> str:
    """`built` for text, in one call: it runs for every `~` chain of every render."""
    size = len(text)
    if size > MAX_WEIGHT:
        raise RenderLimitError(_too_big(what))
    budget = _current.get()
    if budget is not None:
        budget.total += size
        if budget.total > MAX_TOTAL:
            _count(0, what)
    return text


def refuse_over(size: int, what: str) -> None:
    """Refuse, before building it, a value that would weigh `size`."""
    if size > MAX_WEIGHT:
        raise RenderLimitError(_too_big(what))


def _count(size: int, what: str) -> None:
    refuse_over(size, what)
    budget = _current.get()
    if budget is None:
        return
    budget.total += size
    if budget.total > MAX_TOTAL:
        raise RenderLimitError(
            f"the template builds over {MAX_TOTAL:,} characters in all and was stopped; "
            "look for a loop that builds ever longer text"
        )


def _too_big(what: str) -> str:
    return (
        f"{what} would be over {MAX_WEIGHT:,} characters (or items) and was refused; "
        "letters never need one that long"
    )


def weight(value: Any, limit: int = MAX_WEIGHT) -> int:
    """Length for text, items (and their weights) for lists, sets and dicts, digits for
    integers; 1 for anything else. Stops counting just past `limit`."""
    total = 0
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item) + 1
            pending.extend(item)
        elif isinstance(item, Mapping):
            total += len(item) + 1
            pending.extend(item.keys())
            pending.extend(item.values())
        else:
            total += 1
    return total


def loop_start(iterable: Any) -> Any:
    """Every `for` loop's iterable passes here: a look at the clock as the loop starts.

    Per loop rather than per step (a generator around every loop cost a few percent
    of each render): an inner loop starts once per outer step, so nested loops are
    stopped, and one loop alone is at most 100,000 steps of a range or a list's
    MAX_WEIGHT items, whose calls and inner loops look at the clock themselves.
    """
    check_time()
    return iterable


def budgeted_output(parts: Iterable[str]) -> str:
    """The template's output, refused once it is over MAX_WEIGHT.

    Taken _OUTPUT_CHUNK parts at a time (islice and map run in C: a Python loop
    over every part cost a tenth of the render), so at most that many parts are
    held beyond the limit before it is seen.
    """
    if isinstance(parts, list):  # a block's or macro's buffer
        return built("".join(parts), "the rendered text")
    iterator = iter(parts)
    pieces: list[str] = []
    size = 0
    while True:
        chunk = list(islice(iterator, _OUTPUT_CHUNK))
        size += sum(map(len, chunk))
        if size > MAX_WEIGHT:
            error = RenderLimitError(_too_big("the rendered text"))
            if isinstance(iterator, Generator):
                # Raised where the template yielded, so the traceback names its line.
                iterator.throw(error)
            raise error
        pieces += chunk
        if len(chunk) < _OUTPUT_CHUNK:
            break
    _count(size, "the rendered text")
    return "".join(pieces)


# -- sizes told in advance -------------------------------------------------------------


def check_percent_format(template: Any, args: Any) -> None:
    """Refuse "%999999999s" and "%*s" with a huge width before formatting."""
    if not isinstance(template, str):
        return
    stars = False
    for match in _PERCENT_SPEC.finditer(template):
        for group in match.groups():
            if group == "*":
                stars = True
            elif group and int(group) > MAX_WEIGHT:
                raise RenderLimitError(_too_big(f'the format "%{group}…"'))
    values = args if isinstance(args, tuple) else (args,)
    if stars and any(isinstance(v, int) and v > MAX_WEIGHT for v in values):
        raise RenderLimitError(_too_big("a %* width"))


def check_format_spec(template: str, args: Iterable[Any], kwargs: Mapping[str, Any]) -> None:
    """Refuse "{:>999999999}" (and a width given as a huge argument) before formatting."""
    from string import Formatter

    for _, _, spec, _ in Formatter().parse(template):
        if not spec:
            continue
        if any(int(n) > MAX_WEIGHT for n in _NUMBERS.findall(spec)):
            raise RenderLimitError(_too_big(f'the format "{{:{spec[:20]}}}"'))
        if "{" in spec:
            values = [*args, *kwargs.values()]
            if any(isinstance(v, int) and v > MAX_WEIGHT for v in values):
                raise RenderLimitError(_too_big("a format width"))


def check_power(left: Any, right: Any) -> None:
    """Refuse 10 ** 10 ** 10: an integer too long to print is no letter's."""
    ints = isinstance(left, int) and isinstance(right, int)
    if ints and right > 0 and abs(left) > 1 and right * abs(left).bit_length() > MAX_WEIGHT:
        raise RenderLimitError(_too_big("the power"))


def check_repeat(left: Any, right: Any) -> None:
    """Refuse 'a' * 10**10 and [x] * 10**9 before repeating."""
    for seq, count in ((left, right), (right, left)):
        counted = isinstance(count, int) and not isinstance(count, bool) and count > 1
        if counted and isinstance(seq, str | list | tuple):
            refuse_over(weight(seq, MAX_WEIGHT // count + 1) * count, "the repetition")


def check_sum(left: Any, right: Any) -> None:
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        refuse_over(weight(left) + weight(right), "the concatenation")
