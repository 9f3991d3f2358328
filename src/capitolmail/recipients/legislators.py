"""The roster: every current member of Congress and committee, from one snapshot.

The packaged snapshot (recipients/data/congress-legislators/) makes a fresh install
work offline; a workspace can import a newer one into recipients/legislators/,
because members arrive and leave every few weeks and the data must follow.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from capitolmail.errors import CapitolmailError, InputError, Problem
from capitolmail.recipients.atomic_write import replace_files
from capitolmail.recipients.committees import (
    Committee,
    CommitteeSeat,
    parse_committees,
    parse_memberships,
)
from capitolmail.recipients.import_record import Departure, ImportRecord, read_record
from capitolmail.recipients.members import LEGISLATORS_FILE, Legislator, parse_legislators
from capitolmail.recipients.yaml_files import (
    Issue,
    parse_yaml,
    problems_at,
    read_text,
)
from capitolmail.workspace_paths import workspace_file

__all__ = [
    "Committee",
    "CommitteeSeat",
    "Legislator",
    "Roster",
    "import_legislators",
    "load_roster",
    "workspace_roster",
]

COMMITTEES_FILE = "committees-current.yaml"
MEMBERSHIP_FILE = "committee-membership-current.yaml"
FILES = (LEGISLATORS_FILE, COMMITTEES_FILE, MEMBERSHIP_FILE)
WORKSPACE_FOLDER = Path("recipients") / "legislators"
PACKAGED_SOURCE = "packaged congress-legislators snapshot"


class Roster:
    """The legislators and committees of one snapshot; `source` says which one.

    `departed` are members an import found gone (import_record.py), by bioguide
    id, and `imported_on` the day of that import; the packaged snapshot has neither.
    """

    __slots__ = ("_by_id", "_committees", "departed", "imported_on", "source")

    def __init__(
        self, legislators: Iterable[Legislator], committees: Mapping[str, Committee], source: str
    ) -> None:
        self._by_id = {leg.bioguide: leg for leg in legislators}
        self._committees = MappingProxyType(dict(committees))
        self.source = source
        self.departed: Mapping[str, Departure] = MappingProxyType({})
        self.imported_on: date | None = None

    def with_record(self, record: ImportRecord) -> Roster:
        """The same snapshot, knowing who left and when it was imported (a new object,
        so the cached roster is never changed)."""
        copy = Roster.__new__(Roster)
        copy._by_id, copy._committees, copy.source = self._by_id, self._committees, self.source
        copy.departed = MappingProxyType(record.departures())
        copy.imported_on = record.imported_on
        return copy

    def departure(self, bioguide: str) -> Departure | None:
        """The member's departure when an import found them gone, else None."""
        return self.departed.get(bioguide.strip().upper())

    def get(self, bioguide: str) -> Legislator | None:
        """Bioguide ids are upper-case upstream; a lower-case one from a CSV still matches."""
        return self._by_id.get(bioguide.strip().upper())

    def __contains__(self, bioguide: object) -> bool:
        return isinstance(bioguide, str) and self.get(bioguide) is not None

    def __iter__(self) -> Iterator[Legislator]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:
        return f"<Roster {len(self)} legislators from {self.source}>"

    @property
    def committees(self) -> Mapping[str, Committee]:
        return self._committees

    def committee(self, key: str) -> Committee | None:
        return self._committees.get(key.strip().upper())


_cache: dict[tuple[str, str], tuple[object, Roster]] = {}
_cache_lock = threading.Lock()


def packaged_folder() -> Traversable:
    return resources.files("capitolmail.recipients") / "data" / "congress-legislators"


def load_roster(folder: Path | None = None) -> Roster:
    """The roster in `folder` (the three YAML files), or the packaged snapshot.

    Cached in-process by folder and the files' modification times and sizes, so a
    command that asks twice parses once, and an import or a hand edit is seen.
    """
    if folder is None:
        base: Traversable = packaged_folder()
        source = PACKAGED_SOURCE
    else:
        base, source = folder, str(folder)
    key, stamp = _cache_key(base, source)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and stamp is not None and hit[0] == stamp:
        return hit[1]
    roster = _build(_read_all({name: base / name for name in FILES}), source)
    with _cache_lock:
        _cache[key] = (stamp, roster)
    return roster


def workspace_roster(workspace_root: Path) -> Roster:
    """The workspace's imported snapshot when there is one, else the packaged one;
    with the import's record (who left, when) when the import wrote one."""
    folder = workspace_file(workspace_root, WORKSPACE_FOLDER)
    if not (folder / LEGISLATORS_FILE).is_file():
        return load_roster()
    roster = load_roster(folder)
    record = read_record(folder)
    return roster if record is None else roster.with_record(record)


def import_legislators(
    source: Path, destination: Path, extra: Mapping[Path, bytes] | None = None
) -> Roster:
    """Validate a newer snapshot, then copy it into `destination`; nothing is written if
    any file is wrong. `extra` files are written in the same all-or-nothing step.

    `source` is a legislators-current.yaml (under any name) or a folder of upstream
    files. Committee files absent from the source are kept from `destination` when
    it has them (a previous, possibly newer, import), else from the packaged snapshot.
    """
    texts, roster = read_snapshot(source, destination)
    return write_snapshot(destination, texts, roster, extra or {})


Texts = dict[str, tuple[str, str]]


def read_snapshot(source: Path, destination: Path) -> tuple[Texts, Roster]:
    """The files an import would write and the roster they make; nothing is written."""
    if source.is_dir():
        legislators_path = source / LEGISLATORS_FILE
        if not legislators_path.is_file():
            raise InputError([Problem(str(source), f"folder has no {LEGISLATORS_FILE}")])
    elif source.is_file():
        legislators_path = source
    else:
        raise InputError([Problem(str(source), "not found; pass a file or a folder")])
    origins: dict[str, Traversable] = {LEGISLATORS_FILE: legislators_path}
    for name in (COMMITTEES_FILE, MEMBERSHIP_FILE):
        candidates: list[Traversable] = [destination / name, packaged_folder() / name]
        if source.is_dir():
            candidates.insert(0, source / name)
        origins[name] = next(path for path in candidates if path.is_file())
    texts = _read_all(origins)
    return texts, _build(texts, str(destination))


def write_snapshot(
    destination: Path, texts: Texts, roster: Roster, extra: Mapping[Path, bytes]
) -> Roster:
    """Write what `read_snapshot` read, with `extra`, all or nothing; the roster, cached."""
    files = {destination / name: text.encode() for name, (text, _) in texts.items()}
    try:
        replace_files({**files, **extra})
    except OSError as err:
        raise CapitolmailError(f"cannot write {destination}: {err.strerror or err}") from err
    key, stamp = _cache_key(destination, roster.source)
    with _cache_lock:
        _cache[key] = (stamp, roster)
    return roster


def _read_all(paths: Mapping[str, Traversable]) -> dict[str, tuple[str, str]]:
    """(text, name shown in errors) per file; every unreadable file is reported at once."""
    texts: dict[str, tuple[str, str]] = {}
    problems: list[Problem] = []
    for name, path in paths.items():
        if isinstance(path, Path):
            try:
                texts[name] = read_text(path, str(path)), str(path)
            except InputError as err:
                problems.extend(err.problems)
        else:  # a zipped install: the packaged files cannot be missing or edited
            texts[name] = path.read_bytes().decode("utf-8"), f"{PACKAGED_SOURCE}: {name}"
    if problems:
        raise InputError(problems)
    return texts


def _cache_key(base: Traversable, source: str) -> tuple[tuple[str, str], object]:
    """((folder, source), stamps); a zipped install cannot change, so its stamp is fixed."""
    if not isinstance(base, Path):
        return (source, source), "packaged"
    key = (str(base.resolve()), source)
    stamps = []
    for name in FILES:
        try:
            stat = (base / name).stat()
        except OSError:
            return key, None
        stamps.append((stat.st_mtime_ns, stat.st_size))
    return key, tuple(stamps)


def _build(texts: dict[str, tuple[str, str]], source: str) -> Roster:
    """Parse all three files and collect every problem before refusing."""
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    for name, (text, display) in texts.items():
        try:
            parsed[name] = parse_yaml(text, display)
        except InputError as err:
            problems.extend(err.problems)
    if problems:
        raise InputError(problems)

    def check(name: str, issues: list[Issue]) -> None:
        if issues:
            text, display = texts[name]
            problems.extend(problems_at(text, display, issues))

    committees, issues = parse_committees(parsed[COMMITTEES_FILE])
    check(COMMITTEES_FILE, issues)
    seats, issues = parse_memberships(parsed[MEMBERSHIP_FILE], committees)
    check(MEMBERSHIP_FILE, issues)
    legislators, issues = parse_legislators(parsed[LEGISLATORS_FILE], seats)
    check(LEGISLATORS_FILE, issues)
    if problems:
        raise InputError(problems)
    return Roster(legislators, committees, source)
