"""Jobs shared between the build's processes: each done by exactly one, whichever is free first.

The parallel_output plugin forks children to write the emails and the feeds while the parent
renders the pages. Which process should write what cannot be decided well in advance: how long
the emails, the feeds and the pages take depends on the site (a post with forty comments has a
long comment feed), so a fixed split left one core idle for seconds. Instead a generator that
writes many independent files hands its list of jobs to :func:`take`, and every process that runs
the generator asks a shared counter for the next job nobody took yet. The children start on them
at once; the parent joins in when its pages are done.

For this to work each process must build the same list of jobs, in the same order, from the
content all of them share (forked after it was read). :func:`take` checks the length and fails
the build if two processes disagree, rather than leave files unwritten.

Without sharing (one process: live rebuilds, no ``fork``, ``PARALLEL_OUTPUT = False``) ``take``
hands out every job, in order.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

Job = TypeVar("Job")

UNSET = -1
_lock: Any = None
_slots: Any = None  # per owner: next job to take, then the number of jobs
_owners: dict[int, int] = {}  # id(owner) -> its slot pair
_parent: int | None = None  # the process that started sharing


def can_fork(enabled: bool) -> bool:
    """Whether the build may fork a helper process now: turned on by its setting, and safe.

    A fork copies only the thread that calls it: with other threads running (a test that serves
    pages while it builds, livereload's server) the child could wait forever on a lock one of
    them held.
    """
    return enabled and hasattr(os, "fork") and threading.active_count() == 1


def start(owners: Sequence[Any]) -> None:
    """Before forking: share the jobs of these owners (generators) among the processes to come."""
    global _lock, _slots, _parent
    _parent = os.getpid()
    _lock = multiprocessing.Lock()
    _slots = multiprocessing.RawArray("q", [0, UNSET] * len(owners))
    _owners.clear()
    _owners.update({id(owner): 2 * index for index, owner in enumerate(owners)})


def stop() -> None:
    """After the children are done: every process hands out all its jobs again."""
    global _lock, _slots
    _lock = _slots = None
    _owners.clear()


def shared(owner: Any) -> bool:
    """Whether other processes take some of this owner's jobs."""
    return id(owner) in _owners


def speaks(owner: Any) -> bool:
    """Whether this process says what an owner has to say about all its jobs (a summary, a
    problem found before the jobs): the parent, so that it is said once, not once per process."""
    return id(owner) not in _owners or os.getpid() == _parent


def take(owner: Any, jobs: Sequence[Job]) -> Iterator[Job]:
    """The jobs this process does: all of them, or while they are shared, each one that no
    other process took first."""
    slot = _owners.get(id(owner))
    if slot is None:
        yield from jobs
        return
    while True:
        with _lock:
            index, count = _slots[slot], _slots[slot + 1]
            if count == UNSET:
                _slots[slot + 1] = count = len(jobs)
            elif count != len(jobs):
                raise RuntimeError(
                    f"{type(owner).__name__}: {len(jobs)} jobs here but {count} in another "
                    "process of this build; their content differs"
                )
            if index >= count:
                return
            _slots[slot] = index + 1
        yield jobs[index]
