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

import bisect
import datetime as dt
import hashlib
import json
import marshal
import os
import sys
import sysconfig
import time
from collections.abc import Callable, Iterable, Iterator
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
    for _folder, entries in entries_under(root, skip, folders):
        for entry in entries:
            try:
                st = entry.stat()
            except FileNotFoundError:  # deleted while we looked (or a dangling link)
                continue
            table[entry.path] = pack(st)
            if recent_ns is not None and st.st_mtime_ns >= recent_ns:
                recent.append(entry.path)
    return digest_of(table, folders), recent


def entries_under(
    root: str | os.PathLike,
    skip: tuple[str, ...],
    folders: set[str],
    unreadable: Callable[[], None] | None = None,
) -> Iterator[tuple[str, list[os.DirEntry]]]:
    """(folder, its entries other than folders to go into) for every folder a scan goes into,
    top-down as os.walk goes; each is added to ``folders``. A folder that cannot be listed fails
    the walk, or with ``unreadable`` is told to it and left out, as os.walk does."""
    pending = [os.fspath(root)]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):  # gone meanwhile
            continue
        except OSError:
            if unreadable is None:
                raise
            unreadable()
            continue
        folders.add(folder)
        others, below = [], []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIPPED_FOLDERS and entry.path not in skip:
                    below.append(entry.path)
            else:
                others.append(entry)
        pending.extend(reversed(below))
        yield folder, others


def digest_of(table: Table, folders: set[str], blocks: Iterable[tuple[str, str]] = ()) -> str:
    """The digest :func:`scan` gives of the folders and files it found (in no particular order).

    ``blocks`` are the files of other folders, as (the folder, its :func:`stat_lines`): those of
    one folder are a run of the sorted lines, which goes where the folder's path sorts.
    """
    h = hashlib.blake2b(digest_size=16)
    h.update("\n".join(sorted(folders)).encode("utf-8", "surrogateescape"))
    lines = stat_lines(table)
    for folder, block in blocks:
        if block:
            lines.insert(bisect.bisect_left(lines, folder + os.sep), block)
    h.update("\n".join(lines).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def stat_lines(table: Table) -> list[str]:
    """A line for each file's path and stat, sorted."""
    return [f"{path}\0{stat:x}" for path, stat in sorted(table.items())]


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


class ReaderStamps:
    """The stamps of the files under one folder of the content, taken by the reader that reads
    them (see :class:`StartScan`).

    At 2,000 posts the comment archive is 40,000 of the content's 42,000 files, and the comments
    plugin opens and fstats each one as it reads it. Stamped from those fstats, the files need no
    scan of their own: that scan cost the start of a clean build a third of a second with one core
    idle. The fstat of an open file is the stat of exactly what was read. What a reader stamps
    equals what :func:`scan` finds under the folder: the folders it walks, the files (links
    followed, dangling ones left out) and the racy ones, hashed from the bytes read.
    """

    def __init__(self, root: str, skip: tuple[str, ...] = (), recent_ns: int | None = None):
        self.root, self.skip, self.recent_ns = root, skip, recent_ns
        self.table: Table = {}
        self.folders: set[str] = set()
        self.hashes: dict[str, str] = {}
        self.walked = False  # every folder walked
        self.failed = False  # something it should stamp could not be read
        self.lines = ""  # the table as joined stat_lines, once sealed

    def walk(self) -> Iterator[tuple[str, list[str]]]:
        """(folder, the names of its files) for every folder under the root, top-down as
        os.walk goes. What is neither a file nor a folder to go into (a link to a folder) is
        stamped here: the reader has nothing to read in it."""
        for folder, entries in entries_under(self.root, self.skip, self.folders, self._unreadable):
            files = []
            for entry in entries:
                if linked_folder(entry):
                    self.stat(entry.path)
                else:
                    files.append(entry.name)
            yield folder, files
        self.walked = True

    def _unreadable(self) -> None:
        self.failed = True  # a scan would fail on it

    @property
    def complete(self) -> bool:
        """Whether the stamps are all a scan would have found."""
        return self.walked and not self.failed

    def stamp(self, path: str, st: os.stat_result, data: bytes | None = None) -> None:
        """Note a file's stat, taken as it was read (``data``: the bytes read)."""
        self.table[path] = pack(st)
        if self.recent_ns is not None and st.st_mtime_ns >= self.recent_ns:
            self.hashes[path] = (
                hashlib.blake2b(data, digest_size=16).hexdigest()
                if data is not None
                else _digest_file(path)
            )

    def seal(self) -> ReaderStamps:
        """The table turned into the lines the content's digest is made of. Sealed in the reading
        process, which is done with the build's critical work, the 40,000 comment files' lines
        cost the build's end nothing and travel to it as one string."""
        if self.table:
            self.lines, self.table = "\n".join(stat_lines(self.table)), {}
        return self

    def stat(self, path: str) -> None:
        """Stamp a file the reader does not read (or could not)."""
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):  # gone, or a dangling link
            return
        except OSError:
            self.failed = True
            return
        self.stamp(path, st)


def linked_folder(entry: os.DirEntry) -> bool:
    """Whether an entry that is no folder itself links to one (as os.walk tells)."""
    try:
        return entry.is_dir()
    except OSError:  # a link that cannot be followed (a loop): a file to the reader
        return False


_started: StartScan | None = None  # the scan of the build under way (see StartScan.leave)


def leave_to_reader(folder: str | os.PathLike) -> None:
    """A plugin that will read every file under ``folder`` in this build (before its stamp is
    saved) stamps them itself: the start scan leaves them out (see :class:`ReaderStamps`).
    Called as Pelican starts, before it reads any content; a no-op outside a build."""
    if _started is not None:
        _started.leave(folder)


def reader_stamps(folder: str | os.PathLike) -> ReaderStamps | None:
    """What the reader of ``folder`` fills as it reads: None if the build wants no stamps."""
    if _started is None:
        return None
    return _started.readers.get(os.path.realpath(folder))


def stamps_read(stamps: ReaderStamps | None) -> None:
    """Stamps a reader filled in another process (the comments plugin reads in a child)."""
    if _started is None or stamps is None:
        return
    wanted = _started.readers.get(stamps.root)
    if wanted is not None and wanted.recent_ns == stamps.recent_ns:  # of this build, not another
        _started.readers[stamps.root] = stamps


class StartScan:
    """The inputs of a build, scanned as it starts, for the stamp saved once it has succeeded.

    The theme, plugin and package folders are scanned at once, before Pelican imports the plugins
    among them; the content by :meth:`take`, once Pelican has started and before it reads any
    content (see build_site): every stat is taken before its file is read. A folder a plugin reads
    whole and stamps itself (:func:`leave_to_reader`) is left out of that scan, and its stamps are
    added by :meth:`inputs` once the build is done. Only one StartScan is active at a time.
    """

    def __init__(
        self,
        roots: list[str],
        settings_folder: str,
        skip: list[str],
        started_ns: int,
        scans: dict,
    ) -> None:
        self.roots, self.settings_folder, self.skip = roots, settings_folder, skip
        self.started_ns, self.scans = started_ns, scans
        self.content = (roots[0], tuple(skip))  # roots_of puts the content first
        self.readers: dict[str, ReaderStamps] = {}
        self.taken: tuple | None = None
        for root in roots[1:]:
            if (root, self.content[1]) not in scans:
                scans[root, self.content[1]] = self._scan(root)

    def _scan(self, root: str, skip: tuple[str, ...] = (), **found) -> tuple[str, list[str]]:
        return scan(root, skip=self.content[1] + skip, recent_ns=self.started_ns - RACY_NS, **found)

    def __enter__(self) -> StartScan:
        global _started
        _started = self
        return self

    def __exit__(self, *exc) -> None:
        global _started
        _started = None

    def leave(self, folder: str | os.PathLike) -> None:
        """Leave ``folder`` to its reader if it is a folder of the content that a scan would go
        into, and the content is still to be scanned."""
        if self.taken is not None or self.content in self.scans:
            return
        root = self.content[0]
        real = os.path.realpath(folder)
        relative = os.path.relpath(real, root)
        if relative == os.curdir or relative.split(os.sep)[0] == os.pardir:
            return
        inside = root
        for part in relative.split(os.sep):  # a scan goes into each folder on the way down
            inside = os.path.join(inside, part)
            if part in SKIPPED_FOLDERS or inside in self.content[1] or not os.path.isdir(inside):
                return
        self.readers[real] = ReaderStamps(real, self.content[1], self.started_ns - RACY_NS)

    def take(self) -> None:
        """Scan the content, but for the folders left to their readers; hash the racy files
        (all before any content is read)."""
        if self.taken is not None:
            return
        table: Table = {}
        folders: set[str] = set()
        if self.content not in self.scans:
            digest, recent = self._scan(
                self.content[0], tuple(self.readers), table=table, folders=folders
            )
            # with folders left out, the content's digest is made once their readers are done
            self.scans[self.content] = ("" if self.readers else digest, recent)
        self.taken = (
            *take(self.roots, self.settings_folder, self.skip, self.started_ns, self.scans),
            table,
            folders,
        )

    def inputs(self) -> tuple | None:
        """What :func:`take` gives for the stamp, with the readers' stamps; None if a reader did
        not stamp its whole folder, or the content was never taken before reading (then no stamp
        can be saved: a scan made now could postdate what was read)."""
        if self.taken is None:
            return None
        stats, modules, hashes, table, folders = self.taken
        if self.readers:
            if not all(stamps.complete for stamps in self.readers.values()):
                return None
            blocks = []
            for root, stamps in self.readers.items():
                folders |= stamps.folders
                hashes.update(stamps.hashes)
                blocks.append((root, stamps.seal().lines))
            stats[self.content[0]] = digest_of(table, folders, blocks)
            self.scans[self.content] = (stats[self.content[0]], self.scans[self.content][1])
        return stats, modules, hashes
