"""Parallel output: the newsletter emails and the feeds are written by more than one process.

Pelican writes every output file in one process, one generator after the other. The emails and
the feeds are self-contained: each reads the finished content and writes files of its own that
no other part of the build reads back. So once all content is read and settled, the build forks
children (one per core beyond the parent's, at most one per generator marked
``parallel_output = True``) that run those generators while the parent renders the pages. The
generators share their jobs (one email, one feed) through ``encounter_habit.shares``: each job is
done by whichever process asks for it first, and the parent joins in when its pages are done.
When, at 2,000 posts, the pages, the emails and the feeds took about 6, 7 and 6 seconds, a fixed
split (the child the emails, the parent the pages then the feeds) left the child idle for the
last four seconds.

What the child learns the parent needs: the incremental keys of the files it wrote (so the next
build can reuse them), and its warnings and errors (said once, by the parent, so that a strict
publish still fails on them). The children are ``encounter_habit.forked`` children: they never
return into the parent's code. Where forking is unsafe (no ``fork``, other threads running, as
in a test that serves pages while it builds) or turned off (``PARALLEL_OUTPUT = False``),
everything runs in one process exactly as before.
"""

from __future__ import annotations

import logging
import os
import pickle
import traceback

from pelican import signals

from encounter_habit import incremental, shares
from encounter_habit.forked import ChildFailed, Forked

logger = logging.getLogger(__name__)

_generators: list = []
_children: list[Forked] = []  # the children under way
_forking = False


class Captured(logging.Handler):
    """In the child: keeps log records for the parent to say, instead of printing them."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def remember_generators(generators) -> None:
    _generators[:] = generators


def fork_output(pelican) -> None:
    """At the moment Pelican asks for its writer: start the children that share the parallel
    generators' jobs with the parent, as many as there are cores besides the parent's."""
    global _forking
    if _forking:  # a child asking for its own writer
        return None
    chosen = [g for g in _generators if getattr(g, "parallel_output", False)]
    count = min(len(chosen), max(1, (os.cpu_count() or 1) - 1))
    if not chosen or not shares.can_fork(bool(pelican.settings.get("PARALLEL_OUTPUT", True))):
        return None
    shares.start(chosen)
    for _ in range(count):
        child = Forked.start("parallel-output", lambda result: run_child(pelican, chosen, result))
        if child is None:  # the jobs are shared: this process does those nobody else takes
            break
        _children.append(child)
    return None


def run_child(pelican, generators, result_file) -> None:
    """The child's work: write the generators' output, and report (then it exits). Whatever
    happens, the report goes to the parent, which says the child's messages or fails the build."""
    global _forking
    try:
        captured = Captured()
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.addHandler(captured)
        _forking = True
        writer = pelican._get_writer()
        memo = incremental.active()
        reused = memo.reused  # counted by the parent already
        for generator in generators:
            generator.generate_output(writer)
        result = {
            "keys": memo.keys,
            "bodies": memo.bodies,
            "comments": memo.comments,
            "reused": memo.reused - reused,
            "records": captured.records,
            "error": None,
        }
    except BaseException:  # everything must reach the parent, which fails the build
        result = {"error": traceback.format_exc()}
    pickle.dump(result, result_file, protocol=pickle.HIGHEST_PROTOCOL)


def join_output(pelican) -> None:
    """Wait for the children; take their keys and say their messages, in the order of the
    generators. A failed child fails the build (once all are waited for)."""
    children = list(_children)
    _children.clear()
    failures = []
    for child in children:
        error = join_child(child)
        if error:
            failures.append(error)
    shares.stop()
    if failures:
        raise RuntimeError("writing emails and feeds failed:\n" + "\n".join(failures))


def join_child(child: Forked) -> str | None:
    try:
        result = child.result()
    except ChildFailed as exc:
        result = {"error": f"the output process gave no report: {exc}"}
    if result["error"]:
        return result["error"]
    for name, level, message in result["records"]:
        logging.getLogger(name).log(level, "%s", message)
    memo = incremental.active()
    memo.keys.update(result["keys"])
    memo.bodies.update(result["bodies"])
    memo.comments.update(result["comments"])
    memo.reused += result["reused"]
    return None


def reap_leftover(pelican) -> None:
    """A build that crashed before joining its children: end them before a new build."""
    children = list(_children)
    _children.clear()
    shares.stop()
    for child in children:
        child.kill()  # what it writes is of no use any more


def register() -> None:
    signals.initialized.connect(reap_leftover)
    signals.all_generators_finalized.connect(remember_generators)
    signals.get_writer.connect(fork_output)
    signals.finalized.connect(join_output)
