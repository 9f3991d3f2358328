"""Reading the YAML files of a congress-legislators snapshot, with line numbers in errors.

Parsing uses libyaml (`CSafeLoader`) when PyYAML was built with it: the pure-Python
`SafeLoader` takes about 2.6 s on legislators-current.yaml against 0.5 s. Line
numbers are only worked out when something is wrong, by composing the node tree a
second time, so the common path pays nothing for good error messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from capitolmail import text_files
from capitolmail.errors import InputError, Problem

Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def text_value(value: Any) -> str | None:
    """A scalar as stripped text; None for absent, empty, boolean or non-scalar values.

    Booleans are refused because YAML 1.1 reads an unquoted `no` or `yes` as one,
    and a name or id that became `False` must not turn into the text "False".
    A list or mapping where a name belongs is refused rather than printed with
    str(), which would turn it into text like "{'a': 1}".
    """
    if value is None or isinstance(value, bool | list | dict | set | tuple | bytes):
        return None
    text = str(value).strip()
    return text or None


# A place inside a document: mapping keys and sequence indexes, outermost first.
Location = Sequence[str | int]


def read_text(path: Path, display: str) -> str:
    """The file as UTF-8 text, or an InputError naming it (missing, unreadable, not
    UTF-8, or larger than MAX_YAML_BYTES: a wrong file, or one made to exhaust memory)."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # text_files.read_text says why it cannot be read
    if size > MAX_YAML_BYTES:
        raise InputError(
            [
                Problem(
                    display,
                    f"is {size / 1_000_000:.0f} MB, more than the {MAX_YAML_BYTES // 1_000_000} "
                    "MB a congress-legislators file may be (the largest is about 1 MB); "
                    "is it the right file?",
                )
            ]
        )
    return text_files.read_text(
        path,
        display,
        missing="file not found; copy it from the congress-legislators repository "
        "or run `capitolmail legislators import`",
        hint="re-download it from upstream",
    )


# The upstream files are 0.06 to 1.1 MB; 32 MB leaves years of growth and still
# bounds what a hostile or mistaken file (legislators-historical.yaml) can cost.
MAX_YAML_BYTES = 32_000_000
# The upstream files nest six levels deep (a term's party_affiliations); a document
# nested hundreds of levels is made to exhaust the parser's stack, not to describe Congress.
MAX_YAML_DEPTH = 20


def refuse_hostile_structure(text: str, display: str) -> None:
    """InputError for an alias (`*name`) or nesting past MAX_YAML_DEPTH, found from
    libyaml's event stream before anything is built.

    Upstream files use neither aliases nor anchors. An alias makes one node appear
    in many places, so a few kilobytes can stand for millions of committee rows
    ("billion laughs"); refusing aliases bounds the work by the file's size.
    """
    depth = 0
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, yaml.AliasEvent):
            raise InputError(
                [
                    Problem(
                        display,
                        "YAML aliases (*name) are not accepted in congress-legislators "
                        "files; re-download the file from upstream",
                        event.start_mark.line + 1,
                    )
                ]
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise InputError(
                    [
                        Problem(
                            display,
                            f"nested more than {MAX_YAML_DEPTH} levels deep; this is not a "
                            "congress-legislators file",
                            event.start_mark.line + 1,
                        )
                    ]
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def parse_yaml(text: str, display: str) -> Any:
    """The parsed document; a YAML syntax error (or an alias, or absurd nesting)
    becomes a Problem with its line."""
    try:
        refuse_hostile_structure(text, display)
        return yaml.load(text, Loader=Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        what = err.problem or err.context or "syntax error"
        raise InputError(
            [Problem(display, f"not valid YAML: {what}; fix the file or re-download it", line)]
        ) from err
    except yaml.YAMLError as err:
        raise InputError([Problem(display, f"not valid YAML: {err}")]) from err


# Something wrong with one record: where it is, which field, and what to do.
Issue = tuple[Location, str | None, str]


def problems_at(text: str, display: str, issues: Sequence[Issue]) -> list[Problem]:
    """Problems with the line where each issue's record or field starts.

    Called only on the error path: composing a 1 MB file costs about as much as
    loading it, and the loaded data carries no marks.
    """
    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError:
        root = None
    return [
        Problem(display, message, _line_of(root, location), field)
        for location, field, message in issues
    ]


def _line_of(root: yaml.Node | None, location: Location) -> int | None:
    """The line of the deepest node on the way to `location` (where the record starts)."""
    node = root
    line = None if node is None else node.start_mark.line + 1
    for step in location:
        if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if not 0 <= step < len(node.value):
                break
            node = node.value[step]
        elif isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(step)), None)
            if node is None:
                break
        else:
            break
        line = node.start_mark.line + 1
    return line
