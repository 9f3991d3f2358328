"""Every Jinja failure of one letter as a TemplateError at the file and line to edit.

Apart from `render.py` because finding the place and the words is its own job: Jinja's
`UndefinedError` carries neither file nor line, so the innermost template frame of the
rewritten traceback is read, the failing expression found in the syntax tree, and the
path shown relative to the workspace, the way the person fixing it types it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import Template, TemplateNotFound, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from jinja2.utils import missing

from capitolmail.errors import InputError, TemplateError, suggestion_hint
from capitolmail.templates.environment import BUILTIN_PREFIX, LAYOUTS_DIR, MissingValueError
from capitolmail.templates.suggestions import suggest_name

_STRING_TEMPLATE = "<template>"  # Jinja's file name for templates made from a string
_SUBJECT_KEY = re.compile(r"^\s*\"?subject\"?\s*=", re.MULTILINE)


class TemplateFailures:
    """Turns what went wrong in one letter's templates into a TemplateError.

    `source` is letter.toml as the user names it; the one-line subject template,
    compiled from a string, is reported at its `subject =` line there.
    """

    def __init__(
        self, env: SandboxedEnvironment, *, workspace_root: Path, source: str, subject: str
    ) -> None:
        self._env = env
        self._root = workspace_root
        self._source = source
        self._subject_source = subject
        self._subject_line_number = _subject_line(workspace_root / source)

    def runtime_error(
        self, err: Exception, template: Template, context: Mapping[str, Any]
    ) -> InputError:
        if isinstance(err, TemplateSyntaxError):
            return self.syntax_error(err)
        filename, line, scope = _innermost_template_frame(err.__traceback__)
        if filename is None:
            filename, line = template.filename or _STRING_TEMPLATE, None
        message = self._describe(err, filename, line, {**context, **scope})
        if filename == _STRING_TEMPLATE:
            return self.subject_error(message)
        return TemplateError(self.display(filename), line, message)

    def _describe(
        self, err: Exception, filename: str, line: int | None, scope: Mapping[str, Any]
    ) -> str:
        """The one-line message; `scope` is the context plus the failing frame's variables."""
        if isinstance(err, MissingValueError):
            if err.owner is missing:
                names = [name for name in (*scope, *self._env.globals) if not name.startswith("_")]
                hint = suggestion_hint(suggest_name(str(err.name), names))
                return f'"{err.name}" is undefined{hint}'
            expression = self._expression(filename, line, err, scope)
            if expression is not None and err.owner is None and "." in expression:
                # No field is missing: the value itself is empty for this recipient
                # (an alert's `representative` when a ZIP spans several districts).
                base = expression.rsplit(".", 1)[0]
                return (
                    f'"{base}" is empty here, so "{expression}" is undefined; '
                    f"check it first with {{% if {base} %}}"
                )
            if expression is not None:
                return f'"{expression}" is undefined{suggestion_hint(err.suggestion)}'
            return str(err)
        if isinstance(err, SecurityError):
            return f"{str(err).rstrip('.')}; templates may only read the letter's data"
        if isinstance(err, TemplateNotFound):
            return f'template "{err.name}" not found'
        return str(err) or type(err).__name__

    def _expression(
        self, filename: str, line: int | None, err: MissingValueError, scope: Mapping[str, Any]
    ) -> str | None:
        """The expression on `line` that looked up the missing name, e.g. "legislator.nick_name".

        Found in the template's syntax tree, because the Undefined only knows the object
        and the attribute, not what the template called the object. When one line looks
        up the same name on two objects, the one whose value is the failing object wins.
        """
        tree = self._tree(filename) if line is not None else None
        if tree is None:
            return None
        candidates: list[tuple[str, nodes.Node]] = []
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            key = node.attr if isinstance(node, nodes.Getattr) else _const(node.arg)
            expression = _dotted(node) if node.lineno == line and key == err.name else None
            if expression is not None:
                candidates.append((expression, node.node))
        for expression, base in candidates:
            if self._value_of(base, scope) is err.owner:
                return expression
        return candidates[0][0] if candidates else None

    def _tree(self, filename: str) -> nodes.Template | None:
        try:
            if filename == _STRING_TEMPLATE:
                return self._env.parse(self._subject_source)
            return self._env.parse(Path(filename).read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, TemplateSyntaxError):
            return None

    def _value_of(self, node: nodes.Node, scope: Mapping[str, Any]) -> Any:
        """Evaluate a Name/Getattr/Getitem chain against the failing frame's variables."""
        if isinstance(node, nodes.Name):
            return scope.get(node.name, missing)
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            base = self._value_of(node.node, scope)
            if base is missing:
                return missing
            if isinstance(node, nodes.Getattr):
                return self._env.getattr(base, node.attr)
            return self._env.getitem(base, _const(node.arg))
        return missing

    def syntax_error(self, err: TemplateSyntaxError) -> InputError:
        if err.filename in (None, _STRING_TEMPLATE):
            return self.subject_error(syntax_message(err))
        return TemplateError(self.display(err.filename), err.lineno, syntax_message(err))

    def subject_error(self, message: str) -> TemplateError:
        """A TemplateError at letter.toml's `subject` key (a one-line template)."""
        return TemplateError(self._source, self._subject_line_number, message, field="subject")

    def display(self, filename: str | None) -> str:
        """The template's path as the user types it: relative to the workspace."""
        if filename is None:
            return self._source
        path = Path(filename).resolve()
        if path.is_relative_to(self._root):
            return path.relative_to(self._root).as_posix()
        layouts = LAYOUTS_DIR.resolve()
        if path.is_relative_to(layouts):
            return f"{BUILTIN_PREFIX}/{path.relative_to(layouts).as_posix()}"
        return filename


def _innermost_template_frame(
    tb: TracebackType | None,
) -> tuple[str | None, int | None, dict[str, Any]]:
    """File, line and variables of the deepest template frame in Jinja's rewritten traceback.

    Jinja marks its rewritten frames with `__jinja_exception__` in their globals and gives
    them the template's variables (loop variables included) as locals.
    """
    found: tuple[str | None, int | None, dict[str, Any]] = (None, None, {})
    while tb is not None:
        frame = tb.tb_frame
        if "__jinja_exception__" in frame.f_globals:
            found = (frame.f_code.co_filename, tb.tb_lineno, dict(frame.f_locals))
        tb = tb.tb_next
    return found


def _dotted(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _dotted(node.node)
        return None if base is None else f"{base}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        base, key = _dotted(node.node), _const(node.arg)
        if base is None or key is None:
            return None
        return (
            f"{base}.{key}" if isinstance(key, str) and key.isidentifier() else f"{base}[{key!r}]"
        )
    return None


def _const(node: nodes.Node) -> Any:
    return node.value if isinstance(node, nodes.Const) else None


def syntax_message(err: TemplateSyntaxError) -> str:
    return (err.message or "syntax error").rstrip(".")


def _subject_line(definition: Path) -> int | None:
    """The line of `subject =` in letter.toml, so subject errors name a line.

    Read here rather than passed in because TOML parsers keep no positions and the
    subject is the only key of letter.toml this package reports on.
    """
    try:
        text = definition.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    match = _SUBJECT_KEY.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None
