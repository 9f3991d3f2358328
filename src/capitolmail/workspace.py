"""A workspace: the folder a GR team keeps in git, with its settings and its outbox.

Built once at the edge (cli.py, later web/) and passed down; core functions take
the values they need from it rather than reading settings themselves.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from capitolmail.config import Settings, load_settings
from capitolmail.config.names import CONFIG_FILE, ENV_FILE, STATE_DIR
from capitolmail.errors import CapitolmailError, ConfigError, display_path
from capitolmail.outbox import Store
from capitolmail.workspace_paths import within, workspace_file

CONTACTS_FILE = Path("recipients") / "offices.csv"
SUPPORTERS_FILE = Path("recipients") / "supporters.csv"


@dataclass
class Workspace:
    root: Path
    settings: Settings
    _store: Store | None = field(default=None, repr=False)

    @classmethod
    def open(cls, root: Path) -> Workspace:
        root = root.resolve()
        if not (root / CONFIG_FILE).is_file():
            raise ConfigError(
                f"no {CONFIG_FILE} in {root}; run `capitolmail init DIR` to create a workspace "
                "or pass --workspace DIR"
            )
        settings = load_settings(root)
        workspace_file(root, STATE_DIR)
        outbox = settings.outbox_dir_for(root)
        if not within(outbox, root / STATE_DIR):
            raise ConfigError(
                f'{CONFIG_FILE} [provider.file]: directory: "{settings.provider.file.directory}" '
                f"leads out of the workspace's {STATE_DIR}/ folder; the .eml outbox stays in it "
                f'(the default is "{STATE_DIR}/outbox")'
            )
        return cls(root=root, settings=settings)

    @property
    def store(self) -> Store:
        """The outbox database, opened (and migrated) on first use only."""
        if self._store is None:
            self._store = Store.open(self.settings.database_url_for(self.root))
        return self._store

    @property
    def outbox_dir(self) -> Path:
        return self.settings.outbox_dir_for(self.root)

    @property
    def contacts_path(self) -> Path:
        return workspace_file(self.root, CONTACTS_FILE)

    def display(self, path: Path) -> str:
        """`path` as the user would type it from the workspace folder."""
        return display_path(path, self.root)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def init_workspace(target: Path) -> list[Path]:
    """Write the worked example into `target`; refuse to touch an existing workspace."""
    example = resources.files("capitolmail") / "example"
    with resources.as_file(example) as source:
        files = sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        if (target / CONFIG_FILE).exists():
            raise CapitolmailError(
                f"{target / CONFIG_FILE} already exists; init never overwrites a workspace"
            )
        clashes = [target / p.relative_to(source) for p in files]
        clashes = [p for p in clashes if p.exists()]
        if clashes:
            raise CapitolmailError(
                f"{clashes[0]} already exists; init never overwrites files "
                "(choose an empty or new folder)"
            )
        written = []
        for path in files:
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            written.append(dest)
    (target / STATE_DIR).mkdir(exist_ok=True)
    env = target / ENV_FILE
    if not env.exists():
        # A fresh secret per workspace: the example alert works at once, and no two
        # workspaces (or a leaked sample) can forge each other's unsubscribe links.
        env.write_text(
            "# Secrets for this workspace; .gitignore keeps this file out of git.\n"
            "# Signs one-click unsubscribe links: changing it voids links already sent.\n"
            f"CAPITOLMAIL_UNSUBSCRIBE_SECRET={secrets.token_hex(32)}\n",
            encoding="utf-8",
        )
        env.chmod(0o600)
        written.append(env)
    return written
