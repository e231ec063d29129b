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
publish still fails on them). The child never returns into the parent's code: it ends with
``os._exit``. Where forking is unsafe (no ``fork``, other threads running, as in a test that
serves pages while it builds) or turned off (``PARALLEL_OUTPUT = False``), everything runs in
one process exactly as before.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
import traceback

from pelican import signals

from encounter_habit import incremental, shares

logger = logging.getLogger(__name__)

_generators: list = []
_children: list[dict] = []  # pid and result file of each child under way
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
        handle, result_path = tempfile.mkstemp(prefix="parallel-output-", suffix=".pickle")
        os.close(handle)
        pid = os.fork()
        if pid == 0:
            run_child(pelican, chosen, result_path)  # never returns
        _children.append({"pid": pid, "result": result_path})
    return None


def run_child(pelican, generators, result_path: str) -> None:
    """The child's whole life: write the generators' output, report, and exit."""
    global _forking
    code = 1
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
        code = 0
    except BaseException:  # everything must reach the parent, which fails the build
        result = {"error": traceback.format_exc()}
    try:
        with open(result_path, "wb") as handle:
            pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        os._exit(code)


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


def join_child(child: dict) -> str | None:
    _, status = os.waitpid(child["pid"], 0)
    try:
        with open(child["result"], "rb") as handle:
            result = pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError):
        result = {"error": f"the output process ended with status {status} and no report"}
    finally:
        os.unlink(child["result"])
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
    """A build that crashed before joining its children: wait for them before a new build."""
    children = list(_children)
    _children.clear()
    shares.stop()
    for child in children:
        os.waitpid(child["pid"], 0)
        if os.path.exists(child["result"]):
            os.unlink(child["result"])


def register() -> None:
    signals.initialized.connect(reap_leftover)
    signals.all_generators_finalized.connect(remember_generators)
    signals.get_writer.connect(fork_output)
    signals.finalized.connect(join_output)
