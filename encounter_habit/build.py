"""Build the site with Pelican into a staging folder and swap it in only when the build finished.

A crash, an exception from a plugin, or (for publishing) any content error leaves the last good
``output/`` exactly where it was. Every ERROR log line of the build is collected, so callers can
report them and decide whether they fail the build.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


class BuildFailed(Exception):
    """The build could not finish; the previous output is untouched."""


@dataclass
class BuildReport:
    """What a build did: where the site is and which errors it met on the way."""

    output: Path
    errors: list[str] = field(default_factory=list)
    articles: int = 0
    pages: int = 0
    made: int = 0  # output files rendered in this build
    reused: int = 0  # output files linked unchanged from the previous build
    unchanged: bool = False  # nothing changed since the last build: Pelican did not run
    quick: bool = False  # a live rebuild from the last build in memory (encounter_habit.live)
    messages: list[tuple[int, str]] = field(default_factory=list)  # (level, text) of warnings+
    valid_until: float | None = None  # when a future-dated post goes live (output then stale)
    files: list[str] = field(default_factory=list)  # every file of the site, relative to output


class ErrorCollector(logging.Handler):
    """Keeps the first line of every ERROR record logged while a build runs, and every warning.

    The warnings and errors are kept so that a later build that finds nothing changed can say
    them again: an author who runs the build twice still hears what is wrong with the content.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.lines: list[str] = []
        self.messages: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.messages.append((record.levelno, message))
        if record.levelno >= logging.ERROR:
            self.lines.append(message.splitlines()[0])


def configure_logging(verbose: bool = False) -> None:
    """Plain one-line log output for tasks (Pelican's rich handler prints tracebacks in boxes)."""
    root = logging.getLogger()
    if any(getattr(h, "_encounter", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler._encounter = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def load_settings(settings_file: str | os.PathLike, overrides: dict | None = None) -> dict:
    """Read a Pelican settings file, with overrides applied on top; BuildFailed if it cannot be."""
    from pelican.settings import read_settings

    if not os.path.isfile(settings_file):
        raise BuildFailed(f"{settings_file}: no such settings file; pass --settings pelicanconf.py")
    try:
        return read_settings(str(settings_file), override=overrides or {})
    except SyntaxError as exc:
        raise BuildFailed(
            f"{exc.filename}:{exc.lineno}: {exc.msg}; fix the settings file"
        ) from None
    except Exception as exc:  # any error the settings module raises while it runs
        raise BuildFailed(
            f"{settings_file}: {type(exc).__name__}: {exc}; fix the settings file"
        ) from None


def build_site(
    settings_file: str | os.PathLike = "pelicanconf.py",
    overrides: dict | None = None,
    *,
    strict: bool = False,
    incremental: bool = True,
    keep: dict | None = None,
    scans: dict | None = None,
) -> BuildReport:
    """Build into a staging folder, then replace OUTPUT_PATH with it in one rename.

    With ``strict``, any ERROR logged during the build fails it (for publishing) and the old
    output stays in place. With ``incremental``, files whose inputs did not change since the last
    build are linked from it instead of made again (see encounter_habit.incremental), and when no
    input file changed at all, the build ends before it starts (see encounter_habit.inputs).

    ``keep`` receives what a live rebuild needs of this build (see encounter_habit.live), and
    ``scans`` may bring input scans already made (as :func:`inputs.unchanged` makes them).
    """
    from encounter_habit import inputs

    started_ns = time.time_ns()  # before any scan: see inputs.take
    stamp_file = inputs.stamp_path(settings_file, overrides) if incremental else None
    scans = {} if scans is None else scans
    if stamp_file:
        report = unchanged_build(stamp_file, strict, scans, started_ns)
        if report:
            return report
    settings = load_settings(settings_file, overrides)
    output = Path(settings["OUTPUT_PATH"]).resolve()
    staging = output.with_name(f".{output.name}.staging")
    scan = None
    if stamp_file:
        roots = inputs.roots_of(settings)
        settings_folder = str(Path(settings_file).resolve().parent)
        skip = [str(output), str(staging), os.path.realpath(settings["CACHE_PATH"])]
        content = (roots[0], tuple(skip))
        if keep is not None and content not in scans:
            # a live rebuild compares the content file by file: keep each file's stat
            keep["table"], keep["folders"] = {}, set()
            scans[content] = inputs.scan(
                content[0],
                skip=content[1],
                recent_ns=started_ns - inputs.RACY_NS,
                table=keep["table"],
                folders=keep["folders"],
            )
        scan = inputs.StartScan(roots, settings_folder, skip, started_ns, scans)
    with scan or contextlib.nullcontext():
        report = build_into(
            settings,
            output,
            staging,
            strict=strict,
            incremental=incremental,
            keep=keep,
            before_reading=scan.take if scan else None,
        )
    stamp = None
    scanned = scan.inputs() if scan else None
    if scanned:
        stamp = save_stamp(stamp_file, report, roots, settings_folder, skip, scanned, output)
    if keep is not None:
        keep.update(settings=settings, output=output, staging=staging)
        keep.update(stamp=stamp, stamp_file=stamp_file)
    return report


def save_stamp(stamp_file, report, roots, settings_folder, skip, scanned, output, folders=None):
    """Note what this build read and made, for the next build to find nothing changed.

    Returns the stamp (None if the output's folders could not be read: then there is none).
    """
    from encounter_habit import inputs

    stats, modules, hashes = scanned
    output_folders = folders or inputs.folders_of(str(output), report.files)[0]
    outputs = len(report.files)
    try:
        output_digest = inputs.folders_digest(output_folders)
    except OSError:  # the output changed under us: no stamp, the next build runs
        return None
    stamp = inputs.Stamp(
        roots=roots,
        settings_folder=settings_folder,
        settings_modules=modules,
        output=str(output),
        output_folders=output_folders,
        output_digest=output_digest,
        skip=skip,
        inputs=stats,
        outputs=outputs,
        environment=inputs.environment(),
        valid_until=report.valid_until,
        hashes=hashes,
        articles=report.articles,
        pages=report.pages,
        messages=report.messages,
        errors=report.errors,
    )
    stamp.save(stamp_file)
    return stamp


def unchanged_build(
    stamp_file: Path, strict: bool, scans: dict, started_ns: int
) -> BuildReport | None:
    """The last build's report when no input changed since it (None: a build is needed).

    The last build's warnings and errors are logged again, and a strict build fails on its errors
    just as it would have if it had run.
    """
    from encounter_habit import inputs

    stamp = inputs.Stamp.load(stamp_file)
    if stamp is None or not inputs.unchanged(stamp, scans, started_ns):
        return None
    for level, message in stamp.messages:
        logger.log(level, "%s", message)
    output = Path(stamp.output)
    if strict and stamp.errors:
        raise BuildFailed(f"{len(stamp.errors)} error(s) in the content; {output} left as it was")
    return BuildReport(
        output=output,
        errors=list(stamp.errors),
        articles=stamp.articles,
        pages=stamp.pages,
        reused=stamp.outputs,
        unchanged=True,
        messages=[tuple(m) for m in stamp.messages],
        valid_until=stamp.valid_until,
    )


def build_into(
    settings: dict,
    output: Path,
    staging: Path,
    *,
    strict: bool,
    incremental: bool,
    keep: dict | None = None,
    before_reading: Callable[[], None] | None = None,
) -> BuildReport:
    """Run Pelican into ``staging``, then put what it made in place at ``output``.

    ``before_reading`` is called once Pelican has started, before it reads any content."""
    from encounter_habit import incremental as memo_module

    shutil.rmtree(staging, ignore_errors=True)
    settings["OUTPUT_PATH"] = str(staging)
    # The staging folder is always fresh, so Pelican must not try to clean it again.
    settings["DELETE_OUTPUT_DIRECTORY"] = False
    # Jinja stats a template's file each time a page asks for it (20,000 stats at 2,000 posts),
    # to reload it if it changed. Every build makes new environments, so it never would.
    settings["JINJA_ENVIRONMENT"] = {**settings["JINJA_ENVIRONMENT"], "auto_reload": False}
    memo = prepare_memo(settings, output, staging) if incremental else None

    forget_logged_warnings()
    collector = ErrorCollector()
    root = logging.getLogger()
    root.addHandler(collector)
    memo_module.activate(memo)
    try:
        with fewer_collections():
            report = run_pelican(settings, staging, keep, before_reading)
    except Exception as exc:  # a crash anywhere in Pelican or a plugin
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildFailed(f"build failed, {output} left as it was: {exc}") from exc
    finally:
        memo_module.activate(None)
        root.removeHandler(collector)
    report.errors = collector.lines
    report.messages = collector.messages
    if strict and report.errors:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildFailed(f"{len(report.errors)} error(s) in the content; {output} left as it was")
    if memo and memo.in_place:
        memo.produced = apply_changes(staging, output, memo)
    else:
        if memo:
            memo.produced = files_under(staging)
        swap_in(staging, output)
    if memo:
        memo.save()
        report.made, report.reused = memo.made, memo.reused
        report.files = memo.produced
    if keep is not None:
        keep["memo"] = memo
    report.output = output
    return report


def prepare_memo(settings: dict, output: Path, staging: Path):
    """Turn on content caching in a cache folder of this code and settings; return the memo."""
    from encounter_habit.incremental import MANIFEST, Memo, code_key

    key = code_key(settings)
    cache_root = Path(settings["CACHE_PATH"]).resolve()
    cache = cache_root / key[:16]
    # Caches of other code or settings (another theme version, publishconf) are kept, the two
    # most recent only, so switching between `build` and `publish` does not start from nothing.
    if cache_root.is_dir():
        others = sorted(
            (p for p in cache_root.iterdir() if p.is_dir() and p != cache),
            key=lambda p: p.stat().st_mtime,
        )
        for old in others[:-1]:
            shutil.rmtree(old, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    os.utime(cache)
    settings.update(
        CACHE_PATH=str(cache),
        CACHE_CONTENT=True,
        LOAD_CONTENT_CACHE=True,
        CONTENT_CACHING_LAYER="reader",
        # Pelican rewrites its cache after every build; compressing it costs more than it saves
        GZIP_CACHE=False,
    )
    # Compiled templates, kept between builds (Jinja checks each template's source checksum).
    from jinja2 import FileSystemBytecodeCache

    (cache / "jinja").mkdir(exist_ok=True)
    settings["JINJA_ENVIRONMENT"] = {
        **settings["JINJA_ENVIRONMENT"],
        "bytecode_cache": FileSystemBytecodeCache(str(cache / "jinja")),
    }
    return Memo(output, staging, cache / MANIFEST, key)


@contextlib.contextmanager
def fewer_collections():
    """Run the cyclic garbage collector less often while a build runs.

    A build holds hundreds of thousands of long-lived objects (posts, comments, their HTML,
    templates). At Python's default thresholds the collector walks all of them again and again:
    at 2,000 posts that was a quarter of the build's CPU time. Collecting the youngest generation
    every 50,000 allocations instead of 700 cut the CPU time of a 2,000-post build from 69 s to 49 s
    for 10 MB more peak memory (turning it off altogether grew memory by 280 MB).
    """
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def forget_memoized_content() -> None:
    """Drop Pelican's class-level caches of every post's HTML once a build is over.

    ``Content.get_content`` and ``get_summary`` are memoized in a dict on the class, keyed by the
    post object: in a process that builds again and again (livereload) each build's posts stayed
    alive for good, and every rebuild at 2,000 posts was two seconds slower than the one before.
    """
    from pelican.contents import Content

    for name in ("get_content", "get_summary"):
        cache = getattr(Content.__dict__.get(name), "cache", None)
        if isinstance(cache, dict):
            cache.clear()


def forget_logged_warnings() -> None:
    """Pelican drops a warning it has logged before in this process: let each build say it again."""
    from pelican.log import LimitFilter

    LimitFilter._raised_messages.clear()
    LimitFilter._group_count.clear()


def run_pelican(
    settings: dict,
    staging: Path,
    keep: dict | None = None,
    before_reading: Callable[[], None] | None = None,
) -> BuildReport:
    """Run one Pelican build with the given settings; return counts (``keep``: see build_site,
    ``before_reading``: see build_into)."""
    from pelican import Pelican

    pelican = Pelican(settings)  # plugins imported and initialised: no content read yet
    if before_reading is not None:
        before_reading()
    context = {}

    # Pelican.run() only logs its counts; keep the generators' context for the report.
    from pelican import signals

    def keep_context(generators):
        for generator in generators:
            context.update(generator.context)
        if keep is not None:
            keep.update(pelican=pelican, generators=list(generators), context=context)

    signals.all_generators_finalized.connect(keep_context)
    try:
        pelican.run()
    finally:
        signals.all_generators_finalized.disconnect(keep_context)
        forget_memoized_content()
    from encounter_habit.inputs import next_publication

    return BuildReport(
        output=staging,
        articles=len(context.get("articles", [])),
        pages=len(context.get("pages", [])),
        valid_until=next_publication(context),
    )


def files_under(folder: Path) -> list[str]:
    """Every file below ``folder``, as '/'-separated paths relative to it.

    As os.walk lists them (a link to a folder is neither listed nor followed), in half its time:
    at 2,000 posts the output has 15,000 files in 8,000 folders, and this runs as the build ends.
    """
    found = []
    pending = [(os.fspath(folder), "")]
    while pending:
        current, prefix = pending.pop()
        try:
            entries = os.scandir(current)
        except OSError:  # gone, or unreadable: os.walk passes over it too
            continue
        with entries:
            for entry in entries:
                if not entry.is_dir():
                    found.append(prefix + entry.name)
                elif not entry.is_symlink():
                    pending.append((entry.path, f"{prefix}{entry.name}/"))
    return found


def apply_changes(staging: Path, output: Path, memo, kept: Iterable[str] = ()) -> list[str]:
    """Move the files this build wrote into ``output`` and delete the ones gone stale.

    Only called once the build has succeeded. Each file is replaced with an atomic rename, so a
    reader sees either the old or the new file, never half of one. Returns every file the site now
    has (the keyed files that were kept, those written, and ``kept``).
    """
    written = files_under(staging)
    folders: set[str] = set()
    for relative in written:
        target = os.path.join(output, relative)
        folder = os.path.dirname(target)
        if folder not in folders:
            os.makedirs(folder, exist_ok=True)
            folders.add(folder)
        os.replace(os.path.join(staging, relative), target)
    produced = set(memo.keys) | set(written) | set(kept)
    emptied: set[str] = set()
    for relative in set(memo.previous_produced) - produced:
        with contextlib.suppress(FileNotFoundError):  # already gone is what we want
            os.remove(os.path.join(output, relative))
        emptied.add(os.path.dirname(os.path.join(output, relative)))
    for folder in sorted(emptied, key=len, reverse=True):
        while folder != str(output) and folder.startswith(str(output)):
            try:
                os.rmdir(folder)  # only succeeds once the folder is empty
            except OSError:
                break
            folder = os.path.dirname(folder)
    shutil.rmtree(staging, ignore_errors=True)
    return sorted(produced)


def swap_in(staging: Path, output: Path) -> None:
    """Replace ``output`` by ``staging`` with renames, so a reader never sees half a site.

    The retired site is deleted by a detached process: the new one is already in place, and
    deleting thousands of files would otherwise add seconds to every incremental build.
    """
    for leftover in output.parent.glob(f".{output.name}.old-*"):
        remove_in_background(leftover)  # a deletion that was cut short (or is still under way)
    retired = output.with_name(f".{output.name}.old-{os.getpid()}-{time.monotonic_ns()}")
    if output.exists():
        os.replace(output, retired)
    os.replace(staging, output)
    if retired.exists():
        remove_in_background(retired)


def remove_in_background(folder: Path) -> None:
    """Delete a folder without waiting for it (rmtree in a detached Python process)."""
    try:
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import shutil, sys; shutil.rmtree(sys.argv[1], ignore_errors=True)",
                str(folder),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
