"""The Jinja2 environment every letter is rendered in: sandboxed, strict, and searchable.

Letter templates are written by staff, not developers, and are rendered thousands of
times at queue time, so three choices matter more than convenience:

- **Sandboxed and immutable.** A template cannot reach Python internals
  (`''.__class__`) nor change a shared list or dict that the next recipient's render
  would see (`ImmutableSandboxedEnvironment`, a `SandboxedEnvironment`).
- **Strict.** A misspelt name fails the whole queue with the file, line and a
  suggestion, instead of sending "Dear Senator ," to a hundred offices.
- **Real files, in the workspace.** `FileSystemLoader`s, so Jinja's rewritten tracebacks
  carry the template's own path and line, which `render.py` turns into a `TemplateError`;
  the workspace's own (`loader.py`) refuse a file linked from outside the workspace.
- **Bounded.** Operators, filters, str methods, `~` chains and literals are
  weighed, and every loop step and call looks at the render's deadline
  (`limits.py`): a typo cannot take the machine's memory or time.

Search order: the workspace's `templates/`, then the letter's folder, then the
built-in layouts under the prefix `capitolmail/` (so a team overrides a built-in by
putting `templates/capitolmail/letter.html.j2` in its workspace).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, NoReturn

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    Undefined,
    UndefinedError,
    nodes,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer

from capitolmail.errors import suggestion_hint
from capitolmail.templates import limits
from capitolmail.templates.filters import FILTERS
from capitolmail.templates.guarded import GUARDED_FILTERS, check_str_method
from capitolmail.templates.loader import WorkspaceLoader
from capitolmail.templates.suggestions import suggest_name
from capitolmail.workspace_paths import TEMPLATES_DIR

BUILTIN_PREFIX = "capitolmail"
LAYOUTS_DIR = Path(__file__).parent / "layouts"
_HTML_SUFFIXES = (".html.j2", ".html")
# The str methods the sandbox wraps (a format string could reach attributes).
_STR_FORMATTERS = frozenset({"format", "format_map"})
# Filters the parser wraps around every loop's iterable and every list or dict
# literal (the names cannot be typed in a template: they are not identifiers).
_STEPS_FILTER = "capitolmail-steps"
_BUILT_FILTER = "capitolmail-built"


class MissingValueError(UndefinedError):
    """An undefined name or attribute, with what `render.py` needs to explain it.

    `owner` is the object the attribute was looked up on (`jinja2.utils.missing` for a
    top-level name), so the renderer can name the full expression ("legislator.nick_name").
    """

    def __init__(self, message: str, *, name: Any, owner: Any, suggestion: str | None) -> None:
        super().__init__(message)
        self.name = name
        self.owner = owner
        self.suggestion = suggestion


class LetterUndefined(StrictUndefined):
    """StrictUndefined whose message names the missing value and suggests a close match.

    Sandbox refusals keep Jinja's own hint and `SecurityError`, so they are never
    mistaken for a typo.
    """

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name = self._undefined_name
        if self._undefined_obj is missing:
            return f'"{name}" is undefined'
        owner = type(self._undefined_obj).__name__
        hint = suggestion_hint(self._suggestion())
        return f'"{name}" is undefined on {owner}{hint}'

    def _suggestion(self) -> str | None:
        if self._undefined_obj is missing or not isinstance(self._undefined_name, str):
            return None
        return suggest_name(self._undefined_name, attribute_names(self._undefined_obj))

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        if self._undefined_hint or not issubclass(self._undefined_exception, UndefinedError):
            raise self._undefined_exception(self._undefined_message)
        raise MissingValueError(
            self._undefined_message,
            name=self._undefined_name,
            owner=self._undefined_obj,
            suggestion=self._suggestion(),
        )


# Jinja binds Undefined's dunders (__str__, __iter__, __add__, ...) to the base class's
# function object, so overriding the method alone would not reach them: rebind each one.
for _dunder in dir(StrictUndefined):
    if getattr(StrictUndefined, _dunder) is Undefined._fail_with_undefined_error:
        setattr(LetterUndefined, _dunder, LetterUndefined._fail_with_undefined_error)


def attribute_names(obj: Any) -> list[str]:
    """The names a template could have meant on `obj`: keys, fields, public data attributes.

    Methods are left out: a misspelt `nick_name` should lead to `nickname`, not `count`.
    Properties are listed without being evaluated. A pydantic model (the organisation's
    settings) offers its fields, not pydantic's own `model_*` attributes.
    """
    if isinstance(obj, Mapping):
        return [key for key in obj if isinstance(key, str)]
    model_fields = getattr(type(obj), "model_fields", None)
    if isinstance(model_fields, Mapping):
        computed = getattr(type(obj), "model_computed_fields", None) or {}
        return [*model_fields, *computed]
    names: list[str] = []
    if is_dataclass(obj):
        names.extend(field.name for field in fields(obj))
    for name in dir(obj):
        if name.startswith("_") or name in names:
            continue
        if not callable(inspect.getattr_static(obj, name, None)):
            names.append(name)
    return names


def _autoescape(name: str | None) -> bool:
    """HTML templates escape every value; text templates and the subject (name None) don't."""
    return name is not None and name.endswith(_HTML_SUFFIXES)


class LetterEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with its attribute verdicts remembered.

    The sandbox asks, for every `.name` a template reads, whether the attribute
    is safe; the answer depends only on the object's type and the name (Jinja's
    checks are isinstance tests and name tests), yet costs a dozen calls. An
    alert to 300,000 supporters reads about fifty attributes each, which made
    those checks half of the queueing time. The verdicts are kept per (type,
    name), so the rules are Jinja's own and only the repetition goes.
    """

    intercepted_binops = frozenset({"*", "+", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._verdicts: dict[tuple[type, str], bool] = {}
        self.code_generator_class = BoundedCodeGenerator
        self.filters.update(GUARDED_FILTERS)
        self.filters[_STEPS_FILTER] = limits.loop_start
        self.filters[_BUILT_FILTER] = limits.built
        del self.globals["lipsum"]  # lipsum(10**9) would build a billion paragraphs

    # -- limits (limits.py) ------------------------------------------------------------

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            limits.check_repeat(left, right)
        elif operator == "+":
            limits.check_sum(left, right)
        elif operator == "%":
            limits.check_percent_format(left, right)
        else:
            limits.check_power(left, right)
        return limits.built(self.binop_table[operator](left, right), f"the {operator!r}")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        limits.check_time()
        if isinstance(getattr(__obj, "__self__", None), str) or hasattr(__obj, "__wrapped__"):
            check_str_method(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, str):
            return limits.built_text(result, "the result of a call")
        if isinstance(result, list | tuple | dict):
            limits.built(result, "the result of a call")
        return result

    def concat(self, parts: Any) -> str:  # type: ignore[override]
        """Output of a template, a block, a macro or a `{% set %}` block, bounded."""
        return limits.budgeted_output(parts)

    def bounded_concat(self, join: Any, values: tuple[Any, ...]) -> Any:
        """A `~` chain, weighed."""
        # Built first: the text is at most the operands printed, each of them weighed.
        return limits.built_text(join(values), "the ~ text")

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse, then route every loop's iterable and every literal through the limits."""
        tree: nodes.Template = _RouteThroughLimits().visit(super()._parse(source, name, filename))
        return tree

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        key = (type(obj), attr)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = super().is_safe_attribute(obj, attr, value)
        return verdict

    def getattr(self, obj: Any, attribute: str) -> Any:
        # An attribute already judged safe on this type is read directly; anything
        # else (first sight, unsafe, missing, str.format) takes Jinja's full path.
        if self._verdicts.get((type(obj), attribute)) and attribute not in _STR_FORMATTERS:
            try:
                return getattr(obj, attribute)
            except AttributeError:
                pass
        return super().getattr(obj, attribute)


class _RouteThroughLimits(NodeTransformer):
    """Every loop's iterable becomes `…|capitolmail-steps`, every list or dict literal
    `…|capitolmail-built`."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = _filtered(node.iter, _STEPS_FILTER)
        return node

    def visit_List(self, node: nodes.List) -> nodes.Node:
        return _filtered(self.generic_visit(node), _BUILT_FILTER)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        return _filtered(self.generic_visit(node), _BUILT_FILTER)


def _filtered(node: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


class BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with `~` chains weighed (LetterEnvironment.bounded_concat)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat(")
        if frame.eval_ctx.volatile:
            self.write("(markup_join if context.eval_ctx.volatile else str_join)")
        else:
            self.write("markup_join" if frame.eval_ctx.autoescape else "str_join")
        self.write(", (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def build_environment(letter_dir: Path, *, workspace_root: Path) -> SandboxedEnvironment:
    """One environment per letter; its templates are compiled once and reused.

    `auto_reload=False` because a queue run renders the same templates thousands of times
    and a template edited mid-run must not change half of the letters.
    `trim_blocks`/`lstrip_blocks` so `{% if %}` lines in text letters leave no blank line.
    """
    loader = ChoiceLoader(
        [
            WorkspaceLoader(workspace_root / TEMPLATES_DIR, workspace_root=workspace_root),
            WorkspaceLoader(letter_dir, workspace_root=workspace_root),
            PrefixLoader({BUILTIN_PREFIX: FileSystemLoader(LAYOUTS_DIR)}),
        ]
    )
    env = LetterEnvironment(
        loader=loader,
        undefined=LetterUndefined,
        autoescape=_autoescape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    return env
