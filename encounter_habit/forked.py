"""A forked helper process: it does one piece of work and hands its result back through a file.

A child may also hand its result over in batches (``Forked.start(..., batches=True)``): each
batch can be read by the parent as soon as it is sent, while the child works on the next.

Three parts of a build fork helpers: parallel_reading (most of the posts converted), comments
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
from collections.abc import Callable, Iterator
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


class BatchSender:
    """In a child started with ``batches=True``: sends the parent its result a batch at a time."""

    def __init__(self, result: IO[bytes], ready: int) -> None:
        self.result = result
        self.ready = ready

    def send(self, batch: Any, dump: Callable[[Any, IO[bytes]], None] = pickle.dump) -> None:
        """Write ``batch`` with ``dump``, then tell the parent it may read it."""
        dump(batch, self.result)
        self.result.flush()
        os.write(self.ready, b".")  # one byte a batch: never fills the pipe


@dataclass
class Forked:
    """A child under way: its process id, the file its result goes to, and (when it sends its
    result in batches) the pipe that says when a batch is ready."""

    pid: int
    result_path: str
    ready: int | None = None
    waited: float = field(default=0.0, init=False)  # seconds the parent waited for the child

    @classmethod
    def start(
        cls, name: str, work: Callable[[Any], None], *, batches: bool = False
    ) -> Forked | None:
        """Fork a child that runs ``work(result_file)`` and exits: with status 0 once ``work``
        returned, 1 if it raised. With ``batches``, ``work`` gets a BatchSender instead, and the
        parent reads with ``batches()``. None (in the parent) when the fork failed: the work is
        then the caller's to do in this process."""
        handle, result_path = tempfile.mkstemp(prefix=f"{name}-", suffix=".pickle")
        os.close(handle)
        ready, sent = os.pipe() if batches else (None, None)
        parent = os.getpid()
        gc.freeze()
        try:
            pid = os.fork()
        except OSError as exc:
            os.unlink(result_path)
            for end in (ready, sent):
                if end is not None:
                    os.close(end)
            logger.debug("%s: cannot fork (%s); the work stays in this process", name, exc)
            return None
        finally:
            if os.getpid() == parent:
                gc.unfreeze()
        if pid == 0:
            code = 1
            try:
                with open(result_path, "wb") as result:
                    if sent is None:
                        work(result)
                    else:
                        os.close(ready)
                        work(BatchSender(result, sent))
                code = 0
            finally:
                os._exit(code)
        if sent is not None:
            # The child's copy is the only one left: its exit is the end of the batches. (Any
            # child forked later does not inherit this end.)
            os.close(sent)
        return cls(pid, result_path, ready)

    def batches(self, read: Callable[[IO[bytes]], Any] = pickle.load) -> Iterator[Any]:
        """Each batch the child sends, ``read`` from the file as soon as it is sent (waiting for
        it until then). Once the child has ended and every batch is read, raises ChildFailed if
        the child ended with a non-zero status or a batch could not be read; the batches read
        before stay good. A caller that stops before the end calls ``kill()``."""
        try:
            # Unbuffered: a read never takes in part of the batch the child is still writing.
            with open(self.result_path, "rb", buffering=0) as handle:
                while True:
                    started = time.perf_counter()
                    signal_byte = os.read(self.ready, 1)
                    self.waited += time.perf_counter() - started
                    if not signal_byte:  # the child has ended
                        break
                    with collector_paused():
                        batch = read(handle)
                    yield batch
            _, status = os.waitpid(self.pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                raise ChildFailed(f"it ended with status {code}")
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            self.kill()
            raise ChildFailed(f"its result could not be read ({exc})") from exc
        finally:
            self._close_ready()
            self._remove_result()

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
        self._close_ready()
        self._remove_result()

    def _close_ready(self) -> None:
        if self.ready is not None:
            os.close(self.ready)
            self.ready = None

    def _remove_result(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.result_path)
