"""Static checks on `{% extends %}`: content in a child template that Jinja would drop.

Jinja renders a template that extends a layout by rendering the layout and filling
the blocks it calls. Anything else the child holds vanishes without an error: a
block the layout does not have (`{% block bdy %}` for `body`), text or `{{ … }}`
after `{% endblock %}`, a block that sits inside a layout block the child replaces.
The result is a letter with no letter in it, sent to every office. Text *before*
`{% extends %}` is the opposite case: Jinja prints it above the layout's
`<!DOCTYPE html>`. All of this is decidable from the syntax trees alone, so it is
checked once when a letter is compiled (`letters check`, `queue`), not per message.

A layout named by an expression (`{% extends layout %}`) cannot be checked before
render time, and a letter is rendered thousands of times with whatever that value
is; it is refused with a message that says to name the layout in quotes. A
conditional between two quoted names (`{% extends "a" if x else "b" %}`) is checked
against both. `{% extends %}` must be a top-level statement (not inside `{% if %}`),
which is also the only place where Jinja's own "outside blocks" rule is predictable.

A layout marks a block `required` (the built-in letter layouts do so for `body`):
a letter that extends it without filling that block is refused here, with the
line of its `{% extends %}`, instead of failing at Jinja's render-time check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from jinja2 import nodes

from capitolmail.errors import suggestion_hint
from capitolmail.templates.suggestions import suggest_name

# Loads a template by name: its syntax tree and file name (raises TemplateError).
Parse = Callable[[str], tuple[nodes.Template, str | None]]

_DYNAMIC = (
    "{% extends %} needs the layout's name in quotes, e.g. "
    '{% extends "capitolmail/letter.html.j2" %}: a layout chosen at render time '
    "cannot be checked for the blocks this template fills"
)
_NOT_TOP_LEVEL = (
    "{% extends %} must be a top-level statement, outside {% if %}, {% for %} and "
    "{% block %}; to choose between two layouts write "
    '{% extends "a.html.j2" if condition else "b.html.j2" %}'
)
# Statements that print where they stand, like `{{ … }}` does.
_PRINTING = (nodes.Include, nodes.CallBlock, nodes.FilterBlock)
# Statements whose body is not printed where they stand.
_NOT_PRINTED_HERE = (nodes.Block, nodes.Macro, nodes.AssignBlock)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in one template; `filename` is the name Jinja gives its file."""

    filename: str | None
    line: int | None
    message: str


def check_inheritance(
    tree: nodes.Template, filename: str | None, *, parse: Parse, rendered_directly: bool
) -> list[Finding]:
    """Every way content in `tree` (a template that extends another) would not show.

    `rendered_directly` is true for a letter's own body and for included partials,
    false for a layout some other template extends: only a template that is rendered
    as it is must fill the blocks its layout requires.
    """
    extends = list(tree.find_all(nodes.Extends))
    if not extends:
        return []
    found: list[Finding] = []
    top = [node for node in tree.body if isinstance(node, nodes.Extends)]
    for node in extends:
        if not any(node is other for other in top):
            found.append(Finding(filename, node.lineno, _NOT_TOP_LEVEL))
    if len(top) > 1:
        found.append(
            Finding(filename, top[1].lineno, "a template can extend only one layout; remove this")
        )
    if not top:
        return found
    statement = top[0]
    layouts = constant_names(statement.template)
    if layouts is None:
        return [*found, Finding(filename, statement.lineno, _DYNAMIC)]
    found.extend(_stray_output(tree, filename, statement, layouts[0]))
    for layout in layouts:
        chain = _ancestors(layout, parse, filename, statement.lineno)
        if isinstance(chain, Finding):
            found.append(chain)
            continue
        found.extend(_block_findings(tree, filename, statement, layout, chain, rendered_directly))
    return sorted(dict.fromkeys(found), key=lambda finding: finding.line or 0)


def constant_names(node: nodes.Expr) -> list[str] | None:
    """The templates an `{% extends %}` (or include) may name: one constant, or a
    conditional between constants; None when the name is only known at render time."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        first, second = constant_names(node.expr1), constant_names(node.expr2)
        if first is None or second is None:
            return None
        return list(dict.fromkeys([*first, *second]))
    return None


def _ancestors(
    layout: str, parse: Parse, filename: str | None, line: int
) -> list[nodes.Template] | Finding | None:
    """The layout and the layouts it extends, nearest first; None when one is dynamic
    (reported where that layout is itself checked)."""
    chain: list[nodes.Template] = []
    names: list[str] = []
    name: str | None = layout
    while name is not None:
        if name in names:
            circle = " → ".join([*names, name])
            return Finding(filename, line, f"layouts extend each other in a circle: {circle}")
        names.append(name)
        tree, _ = parse(name)
        chain.append(tree)
        statement = next((n for n in tree.body if isinstance(n, nodes.Extends)), None)
        if statement is None:
            return chain
        parents = constant_names(statement.template)
        if parents is None or len(parents) != 1:
            return None
        name = parents[0]
    return chain


# -- output outside blocks ---------------------------------------------------------------


def _stray_output(
    tree: nodes.Template, filename: str | None, statement: nodes.Extends, layout: str
) -> Iterator[Finding]:
    """Text, `{{ … }}` and printing statements of a child template outside its blocks."""
    position = next(i for i, node in enumerate(tree.body) if node is statement)
    for index, top in enumerate(tree.body):
        for line, what in _printing(top):
            if index < position:
                message = (
                    f"{what} before {{% extends %}} would be printed above the layout "
                    f'"{layout}"; move it into a {{% block %}} or delete it'
                )
            else:
                message = (
                    f"{what} outside {{% block %}} is never shown in a template that "
                    f'extends "{layout}"; move it into a {{% block %}} or delete it'
                )
            yield Finding(filename, line, message)


def _printing(node: nodes.Node) -> Iterator[tuple[int, str]]:
    """(line, description) for what `node` prints outside blocks; one per Output."""
    if isinstance(node, _NOT_PRINTED_HERE):
        return
    if isinstance(node, nodes.Output):
        for item in node.nodes:
            if isinstance(item, nodes.TemplateData):
                if not item.data.strip():
                    continue
                leading = item.data[: len(item.data) - len(item.data.lstrip())]
                yield item.lineno + leading.count("\n"), "text"
            else:
                yield item.lineno, "{{ … }}"
            return
        return
    if isinstance(node, _PRINTING):
        keyword = {nodes.Include: "include", nodes.CallBlock: "call"}.get(type(node), "filter")
        yield node.lineno, f"{{% {keyword} %}}"
        return
    for child in node.iter_child_nodes():
        yield from _printing(child)


# -- blocks ------------------------------------------------------------------------------


def _block_findings(
    tree: nodes.Template,
    filename: str | None,
    statement: nodes.Extends,
    layout: str,
    ancestors: list[nodes.Template] | None,
    rendered_directly: bool,
) -> Iterator[Finding]:
    if ancestors is None:
        return
    chain = [tree, *ancestors]
    layout_blocks = sorted({block.name for t in ancestors for block in t.find_all(nodes.Block)})
    shown = _shown_blocks(chain)
    misspelt: set[str | None] = set()
    for block in _outer_blocks(tree):
        if block.name not in layout_blocks:
            meant = suggest_name(block.name, layout_blocks)
            misspelt.add(meant)
            hint = suggestion_hint(meant)
            listing = ", ".join(layout_blocks) if layout_blocks else "none"
            yield Finding(
                filename,
                block.lineno,
                f'block "{block.name}" is not in the layout "{layout}", so it is never '
                f"shown{hint}; the layout's blocks: {listing}",
            )
        elif block.name not in shown:
            holder = _holder(block.name, ancestors)
            yield Finding(
                filename,
                block.lineno,
                f'block "{block.name}" is never shown: the layout has it inside block '
                f'"{holder}", which is replaced without it',
            )
    if not rendered_directly:
        return
    for depth, template in enumerate(chain):
        for block in template.find_all(nodes.Block):
            filled = any(_defines(t, block.name) for t in chain[:depth])
            # A misspelt block already explains why the required one is missing.
            if block.required and not filled and block.name in shown - misspelt:
                yield Finding(
                    filename,
                    statement.lineno,
                    f'fills no {{% block {block.name} %}}, which the layout "{layout}" '
                    "requires; put the letter's content in it",
                )


def _outer_blocks(node: nodes.Node) -> Iterator[nodes.Block]:
    """Blocks of a template that are not inside another of its blocks."""
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Block):
            yield child
        else:
            yield from _outer_blocks(child)


def _defines(tree: nodes.Template, name: str) -> bool:
    return any(block.name == name for block in tree.find_all(nodes.Block))


def _holder(name: str, ancestors: list[nodes.Template]) -> str:
    """The block right around block `name` in the nearest layout that has it."""
    for template in ancestors:
        holder = _enclosing(template, name, None)
        if holder is not None:
            return holder
    return "?"


def _enclosing(node: nodes.Node, name: str, around: str | None) -> str | None:
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Block):
            if child.name == name:
                return around
            found = _enclosing(child, name, child.name)
        else:
            found = _enclosing(child, name, around)
        if found is not None:
            return found
    return None


def _shown_blocks(chain: list[nodes.Template]) -> set[str]:
    """Names of the blocks that render, with the most derived definition of each.

    Rendering starts at the root layout (the last in `chain`), whose blocks are called
    where they stand; a block's definition calls the blocks inside it, `{{ super() }}`
    the next definition up, and `{{ self.name() }}` any block by name.
    """
    definitions: dict[str, list[nodes.Block]] = {}
    for template in chain:
        for block in template.find_all(nodes.Block):
            definitions.setdefault(block.name, []).append(block)
    shown: set[str] = set()
    done: set[tuple[str, int]] = set()
    calls, _ = _calls(chain[-1])
    work = [(name, 0) for name in calls]
    while work:
        name, depth = work.pop()
        versions = definitions.get(name, [])
        if (name, depth) in done or depth >= len(versions):
            continue
        done.add((name, depth))
        shown.add(name)
        inner, uses_super = _calls(versions[depth])
        work.extend((called, 0) for called in inner)
        if uses_super:
            work.append((name, depth + 1))
    return shown


def _calls(node: nodes.Node) -> tuple[list[str], bool]:
    """Blocks `node` renders directly, and whether it calls `super()`."""
    names: list[str] = []
    uses_super = False
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Block):
            names.append(child.name)
            continue
        if isinstance(child, nodes.Call) and isinstance(child.node, nodes.Name):
            uses_super = uses_super or child.node.name == "super"
        if (
            isinstance(child, nodes.Getattr)
            and isinstance(child.node, nodes.Name)
            and child.node.name == "self"
        ):
            names.append(child.attr)
        inner, inner_super = _calls(child)
        names.extend(inner)
        uses_super = uses_super or inner_super
    return names, uses_super
