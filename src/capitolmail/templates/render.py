"""A letter's templates, compiled once and rendered for every recipient at queue time.

Every failure becomes a `TemplateError` that names the template file (relative to the
workspace) and the template line, because the person who must fix it edits that file,
not our Python. Jinja's `UndefinedError` carries neither; Jinja does rewrite the
traceback so that template frames carry the template's file name and line, so we read
the innermost such frame.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import Template, TemplateNotFound, TemplateSyntaxError, nodes
from jinja2.sandbox import SecurityError
from jinja2.utils import missing

from capitolmail.errors import (
    InputError,
    Problem,
    TemplateError,
    did_you_mean,
    suggestion_hint,
)
from capitolmail.message import has_line_break
from capitolmail.templates.content import first_content_line, html_is_blank, is_blank
from capitolmail.templates.environment import (
    BUILTIN_PREFIX,
    LAYOUTS_DIR,
    MissingValueError,
    build_environment,
)
from capitolmail.templates.inheritance import Finding, check_inheritance, constant_names
from capitolmail.templates.limits import end_budget, start_budget
from capitolmail.templates.loader import WorkspaceLoader
from capitolmail.templates.suggestions import suggest_name
from capitolmail.templates.text import html_to_text
from capitolmail.workspace_paths import TEMPLATES_DIR, is_inside

_STRING_TEMPLATE = "<template>"  # Jinja's file name for templates made from a string
_REFERENCES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
_SUBJECT_KEY = re.compile(r"^\s*\"?subject\"?\s*=", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class RenderedLetter:
    """One recipient's subject and bodies, ready to become an OutgoingMessage."""

    subject: str
    text: str
    html: str | None = None


class LetterTemplates:
    """The subject and body templates of one letter, checked and compiled up front.

    Templates the bodies extend, include or import by a constant name are compiled too,
    so a typo in a shared layout fails `letters check` rather than the 400th message,
    and every template that extends a layout is checked for content Jinja would drop
    (`inheritance.py`). Every rendered part must say something (`content.py`).
    """

    def __init__(
        self,
        letter_dir: Path,
        *,
        workspace_root: Path,
        subject: str,
        text_template: str | Path | None,
        html_template: str | Path | None,
        source: str,
    ) -> None:
        if text_template is None and html_template is None:
            raise InputError(
                [Problem(source, "a letter needs a text or an HTML template", field="templates")]
            )
        self._root = workspace_root.resolve()
        self._source = source
        self._subject_line = _subject_line(self._root / source)
        self._subject_source = subject
        self._env = build_environment(letter_dir, workspace_root=workspace_root)
        self._trees: dict[str, tuple[nodes.Template, str | None]] = {}
        self._content_lines: dict[str | None, int] = {}
        self._text = self._compile(letter_dir, text_template) if text_template else None
        self._html = self._compile(letter_dir, html_template) if html_template else None
        if has_line_break(subject):
            raise self._subject_error("the subject must be one line")
        try:
            self._subject = self._env.from_string(subject)
        except TemplateSyntaxError as err:
            raise self._subject_error(_syntax_message(err)) from err

    def render(self, context: Mapping[str, Any]) -> RenderedLetter:
        """Render subject and bodies for one recipient, within one budget of size, total
        and time (`limits.py`); the text is derived when absent."""
        budget = start_budget()
        try:
            return self._render_letter(context)
        finally:
            end_budget(budget)

    def _render_letter(self, context: Mapping[str, Any]) -> RenderedLetter:
        html = self._render(self._html, context) if self._html else None
        derived = self._text is None
        if self._text is not None:
            text = self._render(self._text, context)
        else:
            text = html_to_text(html or "")
        if self._html is not None and (is_blank(text) if derived else html_is_blank(html or "")):
            raise self._empty_error(self._html, "html", "HTML part, once tags are removed,")
        if self._text is not None and is_blank(text):
            raise self._empty_error(self._text, "text", "text part")
        raw_subject = self._render(self._subject, context)
        if has_line_break(raw_subject):
            raise self._subject_error(
                "the rendered subject contains a line break, which would split the header; "
                "check the values it uses"
            )
        subject = " ".join(raw_subject.split())
        if is_blank(subject):
            raise self._subject_error(
                "the rendered subject is empty; check the values and conditions it uses"
            )
        return RenderedLetter(subject=subject, text=text, html=html)

    def _empty_error(self, template: Template, field: str, part: str) -> TemplateError:
        line = self._content_lines.get(template.filename)
        return TemplateError(
            self._display(template.filename),
            line,
            f"the {part} is empty; check the {{% if %}} conditions and the values it uses",
            field=field,
        )

    # -- compiling ---------------------------------------------------------------------

    def _compile(self, letter_dir: Path, body: str | Path) -> Template:
        """Load a body from the letter's own folder, whatever `templates/` holds.

        Loaded directly rather than through the search path, so a workspace partial
        that happens to be called `body.html.j2` cannot replace the letter's body.
        `body` is a name in the letter's folder, or a path letter.toml chose and
        `workspace_paths` checked, which may also be in the workspace's templates/.
        """
        path = letter_dir / body
        if not path.is_file():
            raise TemplateError(
                self._display(str(path)),
                None,
                "template file not found; create it or fix the file name in letter.toml",
            )
        folder = next(
            (f for f in (letter_dir, self._root / TEMPLATES_DIR) if is_inside(path, f)), None
        )
        if folder is None:
            raise TemplateError(
                self._display(str(path)),
                None,
                "is outside the letter's folder and templates/; keep the letter's files there",
            )
        name = path.resolve().relative_to(folder.resolve()).as_posix()
        loader = WorkspaceLoader(folder, workspace_root=self._root)
        source, filename, _ = loader.get_source(self._env, name)
        tree = self._parse(source, name, filename)
        findings: list[Finding] = []
        self._load_references(tree, filename, seen=set(), findings=findings)
        findings.extend(
            check_inheritance(tree, filename, parse=self._parsed, rendered_directly=True)
        )
        if findings:
            raise InputError(
                [Problem(self._display(f.filename), f.message, line=f.line) for f in findings]
            )
        self._content_lines[filename] = first_content_line(tree)
        try:
            code = self._env.compile(tree, name, filename)
        except TemplateSyntaxError as err:
            raise self._syntax_error(err) from err
        return self._env.template_class.from_code(
            self._env, code, self._env.make_globals(None), None
        )

    def _parse(self, source: str, name: str, filename: str | None) -> nodes.Template:
        try:
            return self._env.parse(source, name, filename)
        except TemplateSyntaxError as err:
            raise self._syntax_error(err) from err

    def _parsed(self, name: str) -> tuple[nodes.Template, str | None]:
        """The syntax tree and file of a template on the search path, parsed once."""
        if name not in self._trees:
            assert self._env.loader is not None
            source, filename, _ = self._env.loader.get_source(self._env, name)
            self._trees[name] = (self._parse(source, name, filename), filename)
        return self._trees[name]

    def _load_references(
        self, tree: nodes.Template, filename: str | None, seen: set[str], findings: list[Finding]
    ) -> None:
        """Compile, depth first, every template `tree` names with a constant string,
        and collect what each one that extends a layout would drop."""
        for node in tree.find_all(_REFERENCES):
            for name in constant_names(node.template) or ():
                self._load_reference(node, name, filename, seen, findings)

    def _load_reference(
        self,
        node: nodes.Node,
        name: str,
        filename: str | None,
        seen: set[str],
        findings: list[Finding],
    ) -> None:
        if name in seen:
            return
        seen.add(name)
        try:
            child_tree, child = self._parsed(name)
        except TemplateNotFound as err:
            if isinstance(node, nodes.Include) and node.ignore_missing:
                return
            hint = did_you_mean(name, self._env.list_templates())
            message = f'template "{name}" not found{hint}'
            raise TemplateError(self._display(filename), node.lineno, message) from err
        self._load_references(child_tree, child, seen, findings)
        findings.extend(
            check_inheritance(
                child_tree,
                child,
                parse=self._parsed,
                rendered_directly=isinstance(node, nodes.Include),
            )
        )
        try:
            self._env.get_template(name)
        except TemplateSyntaxError as err:
            raise self._syntax_error(err) from err

    # -- errors ------------------------------------------------------------------------

    def _render(self, template: Template, context: Mapping[str, Any]) -> str:
        try:
            return template.render(context)
        except Exception as err:
            raise self._runtime_error(err, template, context) from err

    def _runtime_error(
        self, err: Exception, template: Template, context: Mapping[str, Any]
    ) -> InputError:
        if isinstance(err, TemplateSyntaxError):
            return self._syntax_error(err)
        filename, line, scope = _innermost_template_frame(err.__traceback__)
        if filename is None:
            filename, line = template.filename or _STRING_TEMPLATE, None
        message = self._describe(err, filename, line, {**context, **scope})
        if filename == _STRING_TEMPLATE:
            return self._subject_error(message)
        return TemplateError(self._display(filename), line, message)

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

    def _syntax_error(self, err: TemplateSyntaxError) -> InputError:
        if err.filename in (None, _STRING_TEMPLATE):
            return self._subject_error(_syntax_message(err))
        return TemplateError(self._display(err.filename), err.lineno, _syntax_message(err))

    def _subject_error(self, message: str) -> TemplateError:
        """A TemplateError at letter.toml's `subject` key (a one-line template)."""
        return TemplateError(self._source, self._subject_line, message, field="subject")

    def _display(self, filename: str | None) -> str:
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


def _syntax_message(err: TemplateSyntaxError) -> str:
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
