"""Parallel reading: more than half of the posts are converted from Markdown by a second process.

A clean build converts every post with Python-Markdown, one after the other: at 2,000 posts that
is about a third of the build, on one core. Converting a post depends on nothing but its file and
the settings, so as soon as the articles generator exists, and before it reads anything, the
build forks: the child converts the posts the parent would read last, while the parent reads the
others as usual. The child hands its answers over in batches, as it makes them: from the first
post of the child's share on, Pelican's ``MarkdownReader.read`` answers with what the child made,
waiting for the batch that holds the post when it has not come yet. Everything else
(``Readers.read_file``, the header checks of content_checks, Pelican's content cache, the Article
objects) still happens in the parent, in the usual order.

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

# The child's answers go over this many posts at a time (about 0.1 s of its work). The parent
# does Pelican's part for each post the child converted (below) as soon as its batch is there,
# while the child converts the next: with all the answers in one piece, that part of 1,000 posts
# (0.4 s) came after the child had finished, with one core idle.
BATCH = 32
# A fork costs the parent about 3 ms and a post 1 to 4 ms to convert, but with fewer posts to
# convert than this the saving is a fraction of a second: not worth a second process (an
# incremental build after a few edits stays in one).
DEFAULT_MIN_FILES = 50
# The child's part of the posts still to convert. The parent also does Pelican's part for every
# post (header checks, metadata, Article objects): about 0.4 ms a post, against about 1.3 ms to
# convert one since the quick Markdown passes (2.4 ms before). The two are even when
# 1.3 * parent's + 0.4 * all = 1.3 * child's, at 65% for the child. Timed at 2,000 posts, 58% left
# the parent last by 0.2-0.5 s and 66% left it waiting 0.15-0.5 s for the child: 62% is between.
CHILD_SHARE = 0.62
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
    process = Forked.start(
        "parallel-reading", lambda sender: run_child(reads, sender, settings), batches=True
    )
    if process is None:  # (Forked says why) the parent reads every post
        return
    child = {
        "process": process,
        "batches": process.batches(lambda handle: SharedUnpickler(handle, settings).load()),
        "generator": generator,
        "share": {path for path, _reader in share},
        "count": len(share),
        "answers": {},
        "converted": 0,
        "readers": [],
    }
    for reader in {id(reader): reader for _path, reader in share}.values():
        reader.read = answer_from_child(reader.read, child)
        child["readers"].append(reader)
    _child = child
    logger.debug(
        "parallel_reading: %d of %d posts go to process %d", len(share), len(posts), process.pid
    )


def run_child(share: list, sender, settings: dict) -> None:
    """The child's work: convert its posts and send the answers, a batch at a time, then a
    last batch with how long that took (then it exits)."""
    import resource  # Unix only, as fork is

    def send(answers: dict, report: dict | None = None) -> None:
        sender.send(
            (answers, report), lambda batch, result: SharedPickler(result, settings).dump(batch)
        )

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
        if len(answers) == BATCH:
            send(answers)
            answers = {}
    report = {
        "seconds": time.perf_counter() - started,
        "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    send(answers, report)


def answer_from_child(read, child: dict):
    """A MarkdownReader.read that returns the child's answer for the posts of its share."""

    def read_or_recall(source_path):
        if source_path in child["share"]:
            child["share"].discard(source_path)
            state, answer = child_answer(child, source_path)
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


def child_answer(child: dict, path: str) -> tuple:
    """The child's (file state, answer) for ``path``, waiting for its batches until the answer
    has come or the child has ended; (None, None) if it never comes (read it here)."""
    answers = child["answers"]
    while path not in answers and child["batches"] is not None:
        try:
            batch, report = next(child["batches"])
        except StopIteration:
            child["batches"] = None
        except Exception as exc:  # whatever went wrong there, the posts can still be read here
            child["batches"] = None
            logger.info(
                "parallel_reading: the reading process gave no more answers (%s); reading the "
                "rest of its posts here",
                exc,
            )
        else:
            answers.update(batch)
            child["converted"] += len(batch)
            if report is not None:
                logger.debug(
                    "parallel_reading: waited %.2f s in all for process %d (%d of %d posts "
                    "converted in %.2f s, peak %d MB)",
                    child["process"].waited,
                    child["process"].pid,
                    child["converted"],
                    child["count"],
                    report["seconds"],
                    report["peak_kb"] // 1024,
                )
    return answers.pop(path, (None, None))


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
    if child["batches"] is not None:  # some of its posts were never asked for (content_checks
        child["batches"].close()  # skipped them): end it
        child["batches"] = None
        child["process"].kill()
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
