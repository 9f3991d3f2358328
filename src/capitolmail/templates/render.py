"""A letter's templates, compiled once and rendered for every recipient at queue time.

Every failure becomes a `TemplateError` that names the template file (relative to the
workspace) and the template line, because the person who must fix it edits that file,
not our Python; `failures.py` finds that place and words the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Template, TemplateNotFound, TemplateSyntaxError, nodes

from capitolmail.errors import InputError, Problem, TemplateError, did_you_mean
from capitolmail.message import has_line_break
from capitolmail.templates.content import first_content_line, html_is_blank, is_blank
from capitolmail.templates.environment import build_environment
from capitolmail.templates.failures import TemplateFailures, syntax_message
from capitolmail.templates.inheritance import Finding, check_inheritance, constant_names
from capitolmail.templates.inline_css import CssInlineError, inline_css
from capitolmail.templates.limits import end_budget, start_budget
from capitolmail.templates.loader import WorkspaceLoader
from capitolmail.templates.text import html_to_text
from capitolmail.workspace_paths import TEMPLATES_DIR, is_inside

_REFERENCES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


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
        document_template: str | Path | None = None,
    ) -> None:
        if text_template is None and html_template is None:
            raise InputError(
                [Problem(source, "a letter needs a text or an HTML template", field="templates")]
            )
        self._root = workspace_root.resolve()
        self._env = build_environment(letter_dir, workspace_root=workspace_root)
        self._failures = TemplateFailures(
            self._env, workspace_root=self._root, source=source, subject=subject
        )
        self._trees: dict[str, tuple[nodes.Template, str | None]] = {}
        self._content_lines: dict[str | None, int] = {}
        self._text = self._compile(letter_dir, text_template) if text_template else None
        self._html = self._compile(letter_dir, html_template) if html_template else None
        # The printed letter (letters/pdf_letter.py makes it a PDF), compiled in the same
        # environment with the same checks; rendered on its own budget.
        self._document = self._compile(letter_dir, document_template) if document_template else None
        if has_line_break(subject):
            raise self._failures.subject_error("the subject must be one line")
        try:
            self._subject = self._env.from_string(subject)
        except TemplateSyntaxError as err:
            raise self._failures.subject_error(syntax_message(err)) from err

    def render(self, context: Mapping[str, Any]) -> RenderedLetter:
        """Render subject and bodies for one recipient, within one budget of size, total
        and time (`limits.py`); the text is derived when absent."""
        budget = start_budget()
        try:
            return self._render_letter(context)
        finally:
            end_budget(budget)

    def render_document(self, context: Mapping[str, Any]) -> str:
        """The printed letter's HTML for one recipient, within its own render budget."""
        if self._document is None:
            raise ValueError("this letter has no document template")
        budget = start_budget()
        try:
            html = self._render(self._document, context)
        finally:
            end_budget(budget)
        if html_is_blank(html):
            raise self._empty_error(self._document, "pdf", "PDF letter, once tags are removed,")
        return html

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
        if html is not None:
            html = self._inlined(html)
        raw_subject = self._render(self._subject, context)
        if has_line_break(raw_subject):
            raise self._failures.subject_error(
                "the rendered subject contains a line break, which would split the header; "
                "check the values it uses"
            )
        subject = " ".join(raw_subject.split())
        if is_blank(subject):
            raise self._failures.subject_error(
                "the rendered subject is empty; check the values and conditions it uses"
            )
        return RenderedLetter(subject=subject, text=text, html=html)

    def _inlined(self, html: str) -> str:
        """The HTML part with its CSS inlined (inline_css.py), or an error naming its file."""
        try:
            return inline_css(html)
        except CssInlineError as err:
            assert self._html is not None
            raise TemplateError(
                self._failures.display(self._html.filename), None, str(err), field="html"
            ) from None

    def _empty_error(self, template: Template, field: str, part: str) -> TemplateError:
        line = self._content_lines.get(template.filename)
        return TemplateError(
            self._failures.display(template.filename),
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
                self._failures.display(str(path)),
                None,
                "template file not found; create it or fix the file name in letter.toml",
            )
        folder = next(
            (f for f in (letter_dir, self._root / TEMPLATES_DIR) if is_inside(path, f)), None
        )
        if folder is None:
            raise TemplateError(
                self._failures.display(str(path)),
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
            display = self._failures.display
            raise InputError(
                [Problem(display(f.filename), f.message, line=f.line) for f in findings]
            )
        self._content_lines[filename] = first_content_line(tree)
        try:
            code = self._env.compile(tree, name, filename)
        except TemplateSyntaxError as err:
            raise self._failures.syntax_error(err) from err
        return self._env.template_class.from_code(
            self._env, code, self._env.make_globals(None), None
        )

    def _parse(self, source: str, name: str, filename: str | None) -> nodes.Template:
        try:
            return self._env.parse(source, name, filename)
        except TemplateSyntaxError as err:
            raise self._failures.syntax_error(err) from err

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
            raise TemplateError(self._failures.display(filename), node.lineno, message) from err
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
            raise self._failures.syntax_error(err) from err

    # -- rendering -------------------------------------------------------------------

    def _render(self, template: Template, context: Mapping[str, Any]) -> str:
        try:
            return template.render(context)
        except Exception as err:
            raise self._failures.runtime_error(err, template, context) from err
