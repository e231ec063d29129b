"""What a build reads from disk, by file stats: an unchanged site skips the build altogether.

After each good build a *stamp* is saved: the stat (mtime, size, inode) of every file under the
content, theme, plugin and package folders and the settings folder's modules, the mtime of every
output folder (a file deleted from or added to the output changes it; editing a generated file in
place is not noticed, as with make), the environment variables settings read, and until when the
output stays true (a post dated in the future appears once that moment passes). The next build first scans the same
folders, which costs a fraction of a second even for tens of thousands of files; when nothing
differs, the output on disk is already what a build would make, and Pelican is not even imported.

A file written in the same moment as the scan could change without its stat changing (the
"racy clean" problem git has); files modified shortly before the scan are therefore also hashed,
and compared by content at the next build.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import marshal
import os
import pickle
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
STAMPS = "stamps"
FORMAT = 5
# Files changed this recently before a scan get their bytes hashed too (filesystem timestamps can
# be as coarse as one or two seconds).
RACY_NS = 2_000_000_000
SKIPPED_FOLDERS = {"__pycache__", ".git", ".pytest_cache", ".ruff_cache"}
# Environment variables a settings file may read (publishconf.py reads ENCOUNTER_SITEURL ...).
ENV_PREFIXES = ("ENCOUNTER_", "PELICAN_")
# ... except those that change how the build runs, not what it makes
NOT_INPUTS = {"ENCOUNTER_WARM_MINUTES"}

Stats = dict[str, tuple[int, int, int]]  # file name -> (mtime_ns, size, inode)
# A scan's table: file path -> its stat packed in one int (see pack). At 10,000 posts a table has
# 200,000 files and is kept by live rebuilds through a whole build: tuples made it 22 MB larger.
Table = dict[str, int]


def pack(st: os.stat_result) -> int:
    """(mtime_ns, size, inode) as one int, equal for equal stats; mtime first (see recent_in)."""
    return (st.st_mtime_ns << 128) | (st.st_size << 64) | st.st_ino


def scan(
    root: str | os.PathLike,
    *,
    skip: tuple[str, ...] = (),
    recent_ns: int | None = None,
    table: Table | None = None,
    folders: set[str] | None = None,
) -> tuple[str, list[str]]:
    """A digest of the path and stat (mtime, size, inode) of every file under ``root``.

    Also returns the files modified at or after ``recent_ns`` (see :func:`take`), and fills
    ``table`` (absolute path -> packed stat, see :func:`pack`) and ``folders`` when given. Only
    the digest goes into stamps: at 10,000 posts (200,000 comment files) a table of every file's
    stat made the stamp 10 MB and its check seconds long.
    """
    table = {} if table is None else table
    folders = set() if folders is None else folders
    recent: list[str] = []
    pending = [os.fspath(root)]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        folders.add(folder)
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIPPED_FOLDERS and entry.path not in skip:
                    pending.append(entry.path)
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:  # deleted while we looked (or a dangling link)
                continue
            table[entry.path] = pack(st)
            if recent_ns is not None and st.st_mtime_ns >= recent_ns:
                recent.append(entry.path)
    return digest_of(table, folders), recent


def digest_of(table: Table, folders: set[str]) -> str:
    """The digest :func:`scan` gives of the folders and files it found (in no particular order)."""
    h = hashlib.blake2b(digest_size=16)
    h.update("\n".join(sorted(folders)).encode("utf-8", "surrogateescape"))
    lines = [f"{path}\0{stat:x}" for path, stat in sorted(table.items())]
    h.update("\n".join(lines).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def refresh(table: Table, folders: set[str], paths: set[str]) -> None:
    """Update what :func:`scan` found for these paths only (they changed, as a watcher says)."""
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            folders.add(path)
            continue
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            table.pop(path, None)
            continue
        table[path] = pack(st)


def recent_in(table: Table, recent_ns: int) -> list[str]:
    """The files of a table modified at or after ``recent_ns`` (as :func:`scan` finds them)."""
    since = recent_ns << 128
    return [path for path, stat in table.items() if stat >= since]


def stamp_path(settings_file: str | os.PathLike, overrides: dict | None) -> Path:
    """Where the stamp of builds with these settings lives (found without reading the settings)."""
    overrides = overrides or {}
    settings_file = Path(settings_file).resolve()
    cache = overrides.get("CACHE_PATH") or settings_file.parent / ".build-cache"
    ident = hashlib.blake2b(digest_size=8)
    for part in (
        str(settings_file),
        os.getcwd(),
        json.dumps(overrides, sort_keys=True, default=str),
    ):
        ident.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return Path(cache).resolve() / STAMPS / f"{ident.hexdigest()}.marshal"


def environment() -> dict[str, str]:
    """The variables settings files may read, and what identifies the installed packages."""
    seen = {
        k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES) and k not in NOT_INPUTS
    }
    packages = sysconfig.get_paths()["purelib"]
    try:  # installing or upgrading any package changes this folder
        seen["\0packages"] = str(os.stat(packages).st_mtime_ns)
    except OSError:
        seen["\0packages"] = ""
    seen["\0python"] = sys.version
    return seen


@dataclass
class Stamp:
    """The inputs and output of the last good build, as file stats."""

    roots: list[str]  # folders whose files the build reads
    settings_folder: str  # its top-level modules only: the settings and what they import
    settings_modules: Stats
    output: str
    output_folders: list[str]  # every folder of the output
    output_digest: str  # of those folders' mtimes
    skip: list[str]  # folders inside roots that are not inputs (output, cache)
    inputs: dict[str, str]  # root -> digest of its files' stats (see scan)
    outputs: int  # how many files the output has
    environment: dict[str, str]
    valid_until: float | None  # POSIX time at which a future-dated post goes live, if any
    hashes: dict[str, str] = field(default_factory=dict)  # path -> bytes hash, for racy files
    articles: int = 0
    pages: int = 0
    messages: list[str] = field(default_factory=list)  # warnings and errors, said again
    errors: list[str] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        with open(temporary, "wb") as handle:
            marshal.dump((FORMAT, vars(self)), handle)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> Stamp | None:
        try:
            with open(path, "rb") as handle:
                version, data = marshal.load(handle)
        except (OSError, EOFError, ValueError, TypeError):
            return None
        if version != FORMAT:
            return None
        try:
            return cls(**data)
        except TypeError:
            return None


def _digest_file(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.blake2b(handle.read(), digest_size=16).hexdigest()
    except OSError:
        return ""


def take(
    roots: list[str],
    settings_folder: str,
    skip: list[str],
    started_ns: int,
    scans: dict | None = None,
):
    """Scan the inputs as a build starts: (digest per root, settings modules, racy file hashes).

    ``scans`` are those :func:`unchanged` just made, reused rather than made twice. Files modified
    shortly before ``started_ns`` are hashed as well: their stats alone cannot tell a later change
    within the same timestamp tick apart.
    """
    scans = scans or {}
    recent_ns = started_ns - RACY_NS
    inputs, racy = {}, []
    for root in roots:
        digest, recent = scans.get((root, tuple(skip))) or scan(
            root, skip=tuple(skip), recent_ns=recent_ns
        )
        inputs[root] = digest
        racy += recent
    modules = settings_modules(settings_folder)
    racy += [
        os.path.join(settings_folder, name)
        for name, (mtime, _size, _ino) in modules.items()
        if mtime >= recent_ns
    ]
    return inputs, modules, {path: _digest_file(path) for path in racy}


def unchanged(stamp: Stamp, scans: dict | None = None, started_ns: int | None = None) -> bool:
    """True when a build now would make exactly the output already on disk.

    The folders it scans are kept in ``scans``, by (root, skip), for :func:`take` to reuse (with
    the files modified since ``started_ns`` less the racy window).
    """
    return first_change(stamp, scans, started_ns) is None


def first_change(
    stamp: Stamp,
    scans: dict | None = None,
    started_ns: int | None = None,
    apart: str | None = None,
) -> str | None:
    """What changed since the stamp, in a few words; None if nothing did.

    The root ``apart`` (and its racy files) is left for the caller to compare file by file: a
    live rebuild needs to know which content files changed, not only that some did.
    """
    scans = {} if scans is None else scans
    if stamp.valid_until is not None and time.time() >= stamp.valid_until:
        return "a future post went live"
    if environment() != stamp.environment:
        return "the environment changed"
    skip = tuple(stamp.skip)
    recent_ns = None if started_ns is None else started_ns - RACY_NS
    for root in stamp.roots:
        if root == apart:
            continue
        if (root, skip) not in scans:  # a caller may have scanned it just before
            scans[root, skip] = scan(root, skip=skip, recent_ns=recent_ns)
        if scans[root, skip][0] != stamp.inputs.get(root):
            return f"{root} changed"
    if settings_modules(stamp.settings_folder) != stamp.settings_modules:
        return "the settings changed"
    for path in changed_racy_files(stamp, apart, inside=False):
        return f"{path} changed"
    try:
        if folders_digest(stamp.output_folders) != stamp.output_digest:
            return "the output was changed by hand"
    except OSError:
        return "an output folder is gone"
    return None


def changed_racy_files(stamp: Stamp, root: str | None, *, inside: bool) -> list[str]:
    """The files hashed as racy whose bytes differ now: those inside ``root``, or outside it."""
    prefix = None if root is None else root.rstrip(os.sep) + os.sep
    return [
        path
        for path, expected in stamp.hashes.items()
        if (prefix is not None and path.startswith(prefix)) == inside
        and _digest_file(path) != expected
    ]


def folders_of(root: str, files: list[str]) -> tuple[list[str], int]:
    """The folders holding these files (relative to ``root``), ``root`` included; and how many
    files there are. The build knows every file it produced: walking the output again to find
    them cost 0.3 s at 2,000 posts."""
    found: set[str] = set()
    for relative in files:
        folder = os.path.dirname(relative)
        while folder and folder not in found:
            found.add(folder)
            folder = os.path.dirname(folder)
    return [root, *sorted(os.path.join(root, f) for f in found)], len(files)


def folders_digest(paths: list[str]) -> str:
    """A digest of the mtimes of these folders (a file added or removed changes its folder's)."""
    text = ",".join(str(os.stat(path).st_mtime_ns) for path in paths)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def roots_of(settings: dict) -> list[str]:
    """Every folder a build reads: content, theme, plugins and this package."""
    roots = [settings["PATH"], settings["THEME"], *settings.get("PLUGIN_PATHS", []), PACKAGE]
    unique = []
    for root in roots:
        resolved = os.path.realpath(root)
        if resolved not in unique:
            unique.append(resolved)
    return unique


def settings_modules(folder: str) -> Stats:
    """The modules beside the settings file (publishconf.py imports pelicanconf.py).

    Only the top level: the settings folder is usually the project root, whose other folders are
    either scanned as roots or not inputs at all (.venv, output, bench).
    """
    found: Stats = {}
    for entry in os.scandir(folder):
        if entry.name.endswith(".py") and entry.is_file():
            st = entry.stat()
            found[entry.name] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return found


def next_publication(context: dict) -> float | None:
    """The earliest moment after now at which some content's date passes (None: no such post)."""
    now = dt.datetime.now(dt.UTC)
    soonest = None
    for name in ("articles", "drafts", "hidden_articles", "pages", "hidden_pages", "draft_pages"):
        for content in context.get(name, []) or []:
            date = getattr(content, "date", None)
            if not isinstance(date, dt.datetime):
                continue
            if date.tzinfo is None:
                date = date.astimezone()  # naive dates are local time
            if date > now and (soonest is None or date < soonest):
                soonest = date
    return soonest.timestamp() if soonest else None


class StartScan:
    """The inputs of a build, scanned as it starts, for the stamp saved once it has succeeded.

    At 2,000 posts the content holds 42,000 files (the comments): scanning them took a third of
    a second at the start of a clean build, with one core busy. Pelican's own start (importing
    the plugins, making the generators) reads no content, so a child process scans the content
    meanwhile. :meth:`take` is called before Pelican reads any content (see build_site): every
    stat is still taken before its file is read, as a scan in this process would be. The other
    roots are scanned at once, before Pelican imports the plugins among them.
    """

    def __init__(
        self,
        roots: list[str],
        settings_folder: str,
        skip: list[str],
        started_ns: int,
        scans: dict,
        *,
        parallel: bool,
    ) -> None:
        self.roots, self.settings_folder, self.skip = roots, settings_folder, skip
        self.started_ns, self.scans = started_ns, scans
        self.content = (roots[0], tuple(skip))  # roots_of puts the content first
        self.taken: tuple | None = None
        self.child = None
        if self.content not in scans and parallel:
            from encounter_habit import shares
            from encounter_habit.forked import Forked

            if shares.can_fork(True):
                self.child = Forked.start("input-scan", self._scan_into)
        for root in roots[1:]:
            if (root, self.content[1]) not in scans:
                scans[root, self.content[1]] = self._scan(root)

    def _scan(self, root: str) -> tuple[str, list[str]]:
        return scan(root, skip=self.content[1], recent_ns=self.started_ns - RACY_NS)

    def _scan_into(self, result) -> None:
        pickle.dump(self._scan(self.content[0]), result, protocol=pickle.HIGHEST_PROTOCOL)

    def take(self) -> tuple:
        """What :func:`take` gives for the stamp, once: with the child's scan of the content, or
        one made now if there is no child (or it failed)."""
        if self.taken is None:
            child, self.child = self.child, None
            if child is not None:
                from encounter_habit.forked import ChildFailed

                with contextlib.suppress(ChildFailed):  # else take() scans it, as if unforked
                    self.scans[self.content] = child.result()
            self.taken = take(
                self.roots, self.settings_folder, self.skip, self.started_ns, self.scans
            )
        return self.taken

    def cancel(self) -> None:
        """End the child if the build ended before it took the scan (it failed early)."""
        child, self.child = self.child, None
        if child is not None:
            child.kill()
