"""Loading a template file from one folder of the workspace, and from nowhere else.

Jinja's FileSystemLoader refuses `..` in a template name but follows symbolic
links, so `templates/footer.txt.j2 -> /etc/passwd` would be read and rendered
into every message; and it reads files with a plain UTF-8 decode, so one Latin-1
byte is a traceback. This loader resolves the file and refuses it unless it is
still inside its folder (workspace_paths), and reads it through text_files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, TemplateNotFound
from jinja2.loaders import split_template_path

from capitolmail.errors import InputError, display_path
from capitolmail.text_files import read_text
from capitolmail.workspace_paths import is_inside


class WorkspaceLoader(FileSystemLoader):
    """Templates in `folder`; a file whose resolved path leaves it is refused.

    `workspace_root` is where error messages' paths are shown from. A folder that
    is itself a link out of the workspace confines nothing, so it serves nothing.
    """

    def __init__(self, folder: Path, *, workspace_root: Path) -> None:
        super().__init__(folder)
        self._folder = folder
        self._root = workspace_root

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = self._folder.joinpath(*split_template_path(template))
        if not path.is_file():
            raise TemplateNotFound(template)
        shown = _shown(path, self._root)
        if not (is_inside(path, self._folder) and is_inside(self._folder, self._root)):
            raise InputError(
                "is a symbolic link out of the workspace; templates may only read "
                "files in the workspace",
                path=shown,
            )
        source = read_text(path, shown)
        filename = os.path.normpath(path)
        mtime = os.path.getmtime(filename)

        def uptodate() -> bool:
            try:
                return os.path.getmtime(filename) == mtime
            except OSError:
                return False

        return source, filename, uptodate


def _shown(path: Path, root: Path) -> str:
    """The path as written under the workspace: a link is named, not its target."""
    if path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    return display_path(path, root)
