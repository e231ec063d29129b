"""Parallel reading: half of the posts are converted from Markdown by a second process.

A clean build converts every post with Python-Markdown, one after the other: at 2,000 posts that
is about a third of the build, on one core. Converting a post depends on nothing but its file and
the settings, so as soon as the articles generator exists, and before it reads anything, the
build forks: the child converts the posts the parent would read last, while the parent reads the
others as usual. When the parent reaches the first post of the child's share it waits for the
child once, and from then on Pelican's ``MarkdownReader.read`` answers those posts with what the
child made. Everything else (``Readers.read_file``, the header checks of content_checks, Pelican's
content cache, the Article objects) still happens in the parent, in the usual order.

What comes back is each post's (HTML, metadata). The metadata holds objects that refer to the
settings dict (tags, authors, the category); they are pickled with that dict left out and tied
back to the parent's own settings, as if the parent had read them itself. The parent reads a
post again itself when the child could not read it (an exception) or logged anything while
reading it, so that errors and warnings are said exactly as in one process, and when the post was
saved again since the child read it. If the child fails altogether, the parent reads all of its
posts. A forked child never causes a failed or a different build.

The build stays in one process when forking is unsafe (no ``fork``, other threads running, as in
a test that serves pages while it builds), turned off (``PARALLEL_READING = False``), or not worth
it: fewer than ``PARALLEL_READING_MIN_FILES`` posts need converting (Pelican's content cache
answers the rest), as in an incremental build after an edit or two.
"""

from __future__ import annotations

import logging
import os
import pickle
import time

from pelican import signals
from pelican.readers import MarkdownReader
from pelican.utils import file_suffix

from encounter_habit import shares
from encounter_habit.forked import Forked

logger = logging.getLogger(__name__)

# A fork costs the parent about 3 ms and a post about 4 ms to convert, but with fewer posts to
# convert than this the saving is a fraction of a second: not worth a second process (an
# incremental build after a few edits stays in one).
DEFAULT_MIN_FILES = 50
# The child's part of the posts still to convert. The parent also does Pelican's part for every
# post (header checks, metadata, Article objects): about 0.4 ms a post, against about 4 ms to
# convert one. At 2,000 posts an even split left the child idle for 0.7 s at the end, and 56%
# left the parent waiting 0.3-0.8 s for it; 53% is about even.
CHILD_SHARE = 0.53
SETTINGS_ID = "settings"

_child: dict | None = None  # the child under way: see fork_reading


class Captured(logging.Handler):
    """In the child: keeps the log records of the post being read, instead of printing them."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class SharedPickler(pickle.Pickler):
    """Pickles a reader's answers without the settings dict the tags and authors refer to."""

    def __init__(self, file, settings: dict) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.settings = settings

    def persistent_id(self, obj):
        return SETTINGS_ID if obj is self.settings else None


class SharedUnpickler(pickle.Unpickler):
    """Ties what the child pickled back to the parent's own settings dict."""

    def __init__(self, file, settings: dict) -> None:
        super().__init__(file)
        self.settings = settings

    def persistent_load(self, pid):
        if pid == SETTINGS_ID:
            return self.settings
        raise pickle.UnpicklingError(f"unknown shared object {pid!r}")


def check_settings(pelican) -> None:
    """Validate PARALLEL_READING_MIN_FILES once at start-up."""
    value = pelican.settings.get("PARALLEL_READING_MIN_FILES", DEFAULT_MIN_FILES)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        logger.error(
            "parallel_reading: PARALLEL_READING_MIN_FILES must be a whole number of at least 1, "
            "got %r; using %r",
            value,
            DEFAULT_MIN_FILES,
        )
        pelican.settings["PARALLEL_READING_MIN_FILES"] = DEFAULT_MIN_FILES


def unread_posts(generator) -> list[tuple[str, MarkdownReader]]:
    """(absolute path, reader) of every Markdown post that Pelican's cache will not answer.

    In the order ArticlesGenerator.generate_context will read them, as it makes the same call
    on the same folder in the same process (were the order different, the parent would only
    wait longer for the child).
    """
    settings = generator.settings
    readers = generator.readers
    # Pelican caches either the articles (generator layer) or the readers' answers, never both:
    # ask only the one that is on (each question is a stat of the file).
    whole_articles = settings["CONTENT_CACHING_LAYER"] == "generator"
    found = []
    for relative in generator.get_files(
        settings["ARTICLE_PATHS"], exclude=settings["ARTICLE_EXCLUDES"]
    ):
        reader = readers.readers.get(file_suffix(relative))
        if not isinstance(reader, MarkdownReader):
            continue
        path = os.path.abspath(os.path.join(generator.path, relative))
        if whole_articles:
            cached = generator.get_cached_data(relative, None)
        else:
            cached = readers.get_cached_data(path, None)
        if cached is None:
            found.append((path, reader))
    return found


def child_share(posts: list) -> list:
    """The posts the child converts: those the parent would reach last."""
    return posts[len(posts) - int(len(posts) * CHILD_SHARE) :]


def fork_reading(generator) -> None:
    """The articles generator exists and has read nothing yet: start the child on its share."""
    global _child
    settings = generator.settings
    if not shares.can_fork(settings.get("PARALLEL_READING", True) is not False):
        return
    posts = unread_posts(generator)
    minimum = settings.get("PARALLEL_READING_MIN_FILES", DEFAULT_MIN_FILES)
    if len(posts) < minimum:
        logger.debug(
            "parallel_reading: %d post(s) to convert, fewer than %d: one process",
            len(posts),
            minimum,
        )
        return
    share = child_share(posts)
    if not share:
        return
    reads = [(path, reader.read) for path, reader in share]
    process = Forked.start("parallel-reading", lambda result: run_child(reads, result, settings))
    if process is None:  # (Forked says why) the parent reads every post
        return
    child = {
        "process": process,
        "generator": generator,
        "share": {path for path, _reader in share},
        "count": len(share),
        "answers": None,
        "readers": [],
    }
    for reader in {id(reader): reader for _path, reader in share}.values():
        reader.read = answer_from_child(reader.read, child)
        child["readers"].append(reader)
    _child = child
    logger.debug(
        "parallel_reading: %d of %d posts go to process %d", len(share), len(posts), process.pid
    )


def run_child(share: list, result, settings: dict) -> None:
    """The child's work: convert its posts and write down the answers (then it exits)."""
    import resource  # Unix only, as fork is

    started = time.perf_counter()
    captured = Captured()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(captured)
    # Pelican's loggers drop repeated messages: here every record must be seen, so that the
    # parent reads again each post that said anything and its filters decide as they would.
    logging.Filterer.filter = lambda self, record: True
    answers = {}
    for path, read in share:
        captured.records.clear()
        try:
            before = file_state(path)
            answer = read(path)
        except Exception:  # the parent reads this post itself and reports the error
            continue
        if not captured.records:
            answers[path] = (before, answer)
    report = {
        "answers": answers,
        "seconds": time.perf_counter() - started,
        "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    SharedPickler(result, settings).dump(report)


def answer_from_child(read, child: dict):
    """A MarkdownReader.read that returns the child's answer for the posts of its share."""

    def read_or_recall(source_path):
        if source_path in child["share"]:
            child["share"].discard(source_path)
            state, answer = child_answers(child).pop(source_path, (None, None))
            # A post saved since the child read it is read again: Pelican's cache notes the
            # file's stamp of now, so it must hold the text of now.
            if answer is not None and state == file_state(source_path):
                return answer
        return read(source_path)

    return read_or_recall


def file_state(path: str) -> tuple[int, int, int] | None:
    """What tells a file's versions apart without reading it."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def child_answers(child: dict) -> dict:
    """Wait for the child once and load its answers; empty (read them here) if it failed."""
    if child["answers"] is not None:
        return child["answers"]
    started = time.perf_counter()
    settings = child["generator"].settings
    answers = {}
    try:
        process = child["process"]
        report = process.result(lambda handle: SharedUnpickler(handle, settings).load())
        answers = report["answers"]
        logger.debug(
            "parallel_reading: waited %.2f s for process %d (%d of %d posts converted in %.2f s, "
            "peak %d MB), loaded its answers in %.2f s",
            process.waited,
            process.pid,
            len(answers),
            child["count"],
            report["seconds"],
            report["peak_kb"] // 1024,
            time.perf_counter() - started - process.waited,
        )
    except Exception as exc:  # whatever went wrong there, the posts can still be read here
        logger.info(
            "parallel_reading: the reading process gave no answers (%s); reading its %d posts here",
            exc,
            child["count"],
        )
    finally:
        child["process"] = None
    child["answers"] = answers
    return answers


def finish_reading(generator) -> None:
    """The articles are read: put the readers back, and end a child whose answers went unused."""
    global _child
    child = _child
    if child is None or child["generator"] is not generator:
        return
    _child = None
    end_child(child)


def end_child(child: dict) -> None:
    for reader in child["readers"]:
        del reader.read  # the class's own again, for later reads (a live rebuild)
    child["readers"] = []
    if (
        child["process"] is not None
    ):  # none of its posts was asked for (content_checks skipped them)
        child["process"].kill()
        child["process"] = None
    child["answers"] = {}


def reap_leftover(pelican) -> None:
    """A build that crashed while reading: end its child before a new build starts."""
    global _child
    child, _child = _child, None
    if child is not None:
        end_child(child)


def register() -> None:
    signals.initialized.connect(check_settings)
    signals.initialized.connect(reap_leftover)
    signals.article_generator_init.connect(fork_reading)
    signals.article_generator_finalized.connect(finish_reading)
