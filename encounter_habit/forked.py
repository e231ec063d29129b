"""A forked helper process: it does one piece of work and hands its result back through a file.

Three parts of a build fork helpers: parallel_reading (half of the posts converted), comments
(the comment files read while the posts are) and parallel_output (emails and feeds written while
the pages are). Each needs the same care, kept here once:

- the result file exists before the fork, so the child never races the parent to name it;
- the objects that exist at the fork are frozen out of the collector's walks: the child's
  collections then leave them alone, and do not copy every page of the parent's memory;
- the child ends with ``os._exit``, whatever happens, and never runs the parent's code after
  the fork (its ``finally`` blocks, atexit handlers, pytest);
- the parent waits for the child, reads its result and removes the file, or kills the child
  when its result is no longer wanted.

Whether forking is safe at all is :func:`encounter_habit.shares.can_fork`'s question.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def collector_paused():
    """No cyclic garbage collection while a child's result is loaded.

    A result is plain data, tens of thousands of tuples and lists that all stay alive (the
    comments' entries, the posts' HTML and metadata): collecting while they are made only walks
    them again and again. Loading the comments of 2,000 posts took 0.07 s, 0.05 s without.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ChildFailed(Exception):
    """The child gave no result: it ended with a non-zero status or left an unreadable file."""


@dataclass
class Forked:
    """A child under way: its process id and the file its result goes to."""

    pid: int
    result_path: str
    waited: float = field(default=0.0, init=False)  # seconds result() waited for the child

    @classmethod
    def start(cls, name: str, work: Callable[[IO[bytes]], None]) -> Forked | None:
        """Fork a child that runs ``work(result_file)`` and exits: with status 0 once ``work``
        returned, 1 if it raised. None (in the parent) when the fork failed: the work is then
        the caller's to do in this process."""
        handle, result_path = tempfile.mkstemp(prefix=f"{name}-", suffix=".pickle")
        os.close(handle)
        parent = os.getpid()
        gc.freeze()
        try:
            pid = os.fork()
        except OSError as exc:
            os.unlink(result_path)
            logger.debug("%s: cannot fork (%s); the work stays in this process", name, exc)
            return None
        finally:
            if os.getpid() == parent:
                gc.unfreeze()
        if pid == 0:
            code = 1
            try:
                with open(result_path, "wb") as result:
                    work(result)
                code = 0
            finally:
                os._exit(code)
        return cls(pid, result_path)

    def result(self, read: Callable[[IO[bytes]], Any] = pickle.load) -> Any:
        """Wait for the child and return ``read(result_file)``; the file is removed.

        Raises ChildFailed when the child ended with a non-zero status or ``read`` failed.
        """
        try:
            started = time.perf_counter()
            _, status = os.waitpid(self.pid, 0)
            self.waited = time.perf_counter() - started
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                raise ChildFailed(f"it ended with status {code}")
            with open(self.result_path, "rb") as handle, collector_paused():
                return read(handle)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise ChildFailed(f"its result could not be read ({exc})") from exc
        finally:
            self._remove_result()

    def kill(self) -> None:
        """End the child, whose result is no longer wanted, and remove its file."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):  # waited for already
            os.waitpid(self.pid, 0)
        self._remove_result()

    def _remove_result(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.result_path)
