"""Jinja's built-in filters and str methods, with their output sizes checked.

Each filter that builds a value has its result weighed (`limits.built`); those
whose argument sets the size (`center(10**9)`, `indent(10**9)`, `join` with a
long separator, `replace` of "" with a long text, `batch`, `slice`, `wordwrap`'s
wrap string, `tojson`'s indent, `format`'s widths, `sum` of lists) are also
refused before they run, because building first is what takes the memory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jinja2.defaults import DEFAULT_FILTERS

from capitolmail.errors import RenderLimitError
from capitolmail.templates.limits import (
    MAX_WEIGHT,
    built,
    check_format_spec,
    check_percent_format,
    refuse_over,
    weight,
)

_MAX_INDENT = 64  # tojson's indent: deeper is no letter's


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count_arg(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _precheck_center(value: Any, width: Any = 80, *_: Any) -> None:
    refuse_over(max(len(_text(value)), _count_arg(width)), "|center")


def _precheck_indent(value: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    text = _text(value)
    per_line = len(width) if isinstance(width, str) else _count_arg(width)
    refuse_over(len(text) + (text.count("\n") + 1) * per_line, "|indent")


def _precheck_join(value: Any, d: Any = "", *_: Any, **__: Any) -> None:
    if hasattr(value, "__len__") and isinstance(d, str):
        refuse_over(max(len(value) - 1, 0) * len(d) + weight(value), "|join")


def _precheck_replace(value: Any, old: Any = "", new: Any = "", count: Any = None) -> None:
    text, old, new = _text(value), _text(old), _text(new)
    times = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    refuse_over(len(text) + times * max(len(new) - len(old), 0), "|replace")


def _precheck_wordwrap(value: Any, width: Any = 79, *args: Any, **kwargs: Any) -> None:
    wrap = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    text = _text(value)
    lines = len(text) // max(_count_arg(width), 1) + text.count("\n") + 1
    refuse_over(len(text) + lines * len(_text(wrap) or "\n"), "|wordwrap")


def _precheck_count(name: str) -> Callable[..., None]:
    def check(value: Any, count: Any = 1, *_: Any, **__: Any) -> None:
        refuse_over(_count_arg(count), f"|{name}")

    return check


def _precheck_tojson(value: Any, indent: Any = None) -> None:
    size = len(indent) if isinstance(indent, str) else _count_arg(indent)
    if size > _MAX_INDENT:
        raise RenderLimitError(f"|tojson's indent is over {_MAX_INDENT}; use a smaller one")


def _precheck_format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent_format(value, args or tuple(kwargs.values()))


def _precheck_sum(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    if isinstance(start, list | tuple) and isinstance(iterable, list | tuple):
        refuse_over(weight(start) + sum(weight(item) for item in iterable), "|sum")


_PRECHECKS: dict[str, Callable[..., None]] = {
    "center": _precheck_center,
    "indent": _precheck_indent,
    "join": _precheck_join,
    "replace": _precheck_replace,
    "wordwrap": _precheck_wordwrap,
    "batch": _precheck_count("batch"),
    "slice": _precheck_count("slice"),
    "tojson": _precheck_tojson,
    "format": _precheck_format,
    "sum": _precheck_sum,
}


def _guard(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` with its result weighed (and its arguments checked first, when a
    precheck is known); keeps Jinja's pass_context/pass_eval_context marks."""
    precheck = _PRECHECKS.get(name)
    what = f"the result of |{name}"
    passes = getattr(function, "jinja_pass_arg", None)

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if precheck is not None:
            precheck(*(args[1:] if passes else args), **kwargs)
        return built(function(*args, **kwargs), what)

    return guarded


# Filters that build a value from their input's items or arguments. The others
# (escape, upper, default, length, sort, map ...) return at most a few times their
# input, or a lazy iterator, and are left as they are: their result is weighed
# where it is printed or built on.
_BUILDERS = frozenset({*_PRECHECKS, "list", "string", "pprint", "xmlattr", "urlize", "truncate"})

GUARDED_FILTERS: dict[str, Callable[..., Any]] = {
    name: _guard(name, function) for name, function in DEFAULT_FILTERS.items() if name in _BUILDERS
}

# str methods a template can call whose arguments set the size of the result.
_STR_PRECHECKS: dict[str, Callable[[str, tuple[Any, ...], dict[str, Any]], int]] = {
    "center": lambda s, a, k: max(len(s), _count_arg(a[0] if a else 0)),
    "ljust": lambda s, a, k: max(len(s), _count_arg(a[0] if a else 0)),
    "rjust": lambda s, a, k: max(len(s), _count_arg(a[0] if a else 0)),
    "zfill": lambda s, a, k: max(len(s), _count_arg(a[0] if a else 0)),
    "expandtabs": lambda s, a, k: len(s) * max(_count_arg(a[0] if a else k.get("tabsize", 8)), 1),
    "join": lambda s, a, k: (
        max(len(a[0]) - 1, 0) * len(s) + weight(a[0]) if a and hasattr(a[0], "__len__") else 0
    ),
    "replace": lambda s, a, k: (
        len(s) + (s.count(a[0]) if a[0] else len(s) + 1) * max(len(a[1]) - len(a[0]), 0)
        if len(a) >= 2 and isinstance(a[0], str) and isinstance(a[1], str)
        else 0
    ),
}


def check_str_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse `'x'.ljust(10**9)`, `'{:>999999999}'.format(1)` and the like before the call."""
    target = getattr(method, "__wrapped__", method)  # the sandbox wraps str.format
    owner = getattr(target, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(target, "__name__", "")
    if name in ("format", "format_map"):
        values = dict(args[0]) if name == "format_map" and args else kwargs
        check_format_spec(owner, args if name == "format" else (), values)
        return
    estimate = _STR_PRECHECKS.get(name)
    if estimate is not None:
        refuse_over(estimate(owner, args, kwargs), f".{name}()")


__all__ = ["GUARDED_FILTERS", "MAX_WEIGHT", "check_str_method"]
