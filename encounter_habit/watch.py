"""Which content files changed, told by the kernel (Linux inotify) instead of found by a scan.

A process that builds again and again (livereload, the warm build process) has to find what
changed before each rebuild. Scanning means a stat of every file: at 2,000 posts, 42,000 files
and a third of a second, most of a quick rebuild. Here every folder of the content is watched
once, and the next look only reads the kernel's queue of events: the files to stat again.

The events of a save are queued by the kernel before the editor's write returns, so a build
asked for after a save sees them. Whenever the queue cannot be trusted to be complete (it
overflowed; a watched folder was moved or deleted; a watch could not be added) :meth:`changes`
answers None, and the caller scans as before; the watches are then set up afresh.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import struct

from encounter_habit.inputs import SKIPPED_FOLDERS

logger = logging.getLogger(__name__)

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
)
# The folder itself was replaced, or events were lost: only a scan can tell what changed.
UNTRUSTED = IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF
EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)


@functools.cache  # find_library runs ldconfig: once per process, not at every (re)start
def _libc():
    name = ctypes.util.find_library("c")
    if not name or not hasattr(os, "O_NONBLOCK"):
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        libc.inotify_init1, libc.inotify_add_watch  # noqa: B018 - present on Linux only
    except (OSError, AttributeError):
        return None
    return libc


class Watcher:
    """Watches every folder under ``root`` (but ``skip``) for changes to the files in it."""

    def __init__(self, root: str, skip: tuple[str, ...] = ()) -> None:
        self.root, self.skip = root, skip
        self.rescan = False  # set by the owner: its table was taken before the watches were
        self.fd: int | None = None
        self.folders: dict[int, str] = {}  # watch descriptor -> folder
        self._start()

    @classmethod
    def create(cls, root: str, skip: tuple[str, ...] = ()) -> Watcher | None:
        """A watcher, or None where the kernel cannot watch (not Linux, too many folders)."""
        watcher = cls(root, skip)
        return watcher if watcher.fd is not None else None

    def _start(self) -> None:
        libc = _libc()
        if libc is None:
            return
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return
        self.fd, self._libc, self.folders = fd, libc, {}
        if not self._watch_tree(self.root):
            self.close()

    def _watched(self, folder: str) -> bool:
        """Is this folder one a scan goes into? (see inputs.scan)"""
        return os.path.basename(folder) not in SKIPPED_FOLDERS and folder not in self.skip

    def _walk(self, top: str):
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if self._watched(os.path.join(folder, d))]
            yield folder, files

    def _everything_under(self, top: str) -> list[str]:
        """A folder that appeared with files already in it (moved in, or made by a copy)."""
        found = []
        for folder, files in self._walk(top):
            found.append(folder)
            found += [os.path.join(folder, name) for name in files]
        return found

    def _watch_tree(self, top: str) -> bool:
        for folder, _files in self._walk(top):
            wd = self._libc.inotify_add_watch(self.fd, os.fsencode(folder), MASK)
            if wd < 0:  # ENOSPC: more folders than fs.inotify.max_user_watches allows
                logger.debug("watch: cannot watch %s: %s", folder, os.strerror(ctypes.get_errno()))
                return False
            self.folders[wd] = folder
        return True

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.fd, self.folders = None, {}

    def changes(self) -> set[str] | None:
        """Paths of the files (and folders) that changed since the last call; None: scan."""
        if self.fd is None:
            self._start()
            return None
        found: set[str] = set()
        trusted = not self.rescan
        self.rescan = False
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = EVENT.unpack_from(data, offset)
                name = data[offset + EVENT.size : offset + EVENT.size + length].rstrip(b"\0")
                offset += EVENT.size + length
                if mask & UNTRUSTED or wd not in self.folders:
                    trusted = False
                    continue
                path = os.path.join(self.folders[wd], os.fsdecode(name))
                if mask & IN_ISDIR:
                    if mask & (IN_DELETE | IN_MOVED_FROM):  # the files in it went with it
                        trusted = False
                    elif mask & (IN_CREATE | IN_MOVED_TO) and trusted and self._watched(path):
                        found.add(path)
                        if not self._watch_tree(path):
                            trusted = False
                        found.update(self._everything_under(path))
                    continue
                found.add(path)
        if not trusted:
            self.close()
            self._start()
            return None
        return found
