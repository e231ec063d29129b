"""Warm builds: a repeated ``invoke build`` hands its work to the last build's process.

A fresh process cannot rebuild a 2,000-post site in under a second: before it can render the one
page an edit changed, it has to import Pelican and rebuild every post object, comment thread and
listing from the caches (seconds), only to find that nearly all of them are as they were. The
last build's process had all of that in memory. So, as build servers do (Gradle's daemon, mypy's
dmypy), the process of an ordinary ``invoke build`` does not throw its work away: once the build
is on disk and the command has returned, a detached copy of it (a fork) stays behind, listening
on a Unix socket in the build cache. The next ``invoke build`` asks it first; it rebuilds from
memory as ``invoke livereload`` does (encounter_habit.live) and answers with the report.

It only ever answers with a quick rebuild (post bodies edited) or "nothing changed". Anything
else (a new post, a header, a template, code, settings or environment change, a build by another
process since, a strict build) is declined: the warm process exits, since what it holds is now
stale (and its code may be too), and the asking process builds the ordinary way, leaving a new
warm process behind. A warm process also exits after ``ENCOUNTER_WARM_MINUTES`` (default 15)
without a request, or once its socket is removed or taken over. ``ENCOUNTER_WARM_MINUTES=0``
turns warm builds off; so does ``invoke build --cold``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import logging
import os
import socket
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path

from encounter_habit import inputs
from encounter_habit.build import BuildReport, build_site

logger = logging.getLogger(__name__)

MINUTES_VARIABLE = "ENCOUNTER_WARM_MINUTES"
DEFAULT_MINUTES = 15.0
TICK_SECONDS = 2.0  # how often an idle warm process checks that its socket is still its own
MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to about 107 bytes
PROTOCOL = 1


def idle_minutes() -> float:
    """How long a warm process waits for the next build (0: no warm process)."""
    value = os.environ.get(MINUTES_VARIABLE, "")
    try:
        return max(0.0, float(value)) if value else DEFAULT_MINUTES
    except ValueError:
        logger.warning(
            "%s=%r is not a number of minutes; using %g", MINUTES_VARIABLE, value, DEFAULT_MINUTES
        )
        return DEFAULT_MINUTES


def socket_path(settings_file: str | os.PathLike, overrides: dict | None) -> Path | None:
    """The warm process's socket for builds with these settings: beside their stamp, or in a
    private folder of the temporary directory when that path is too long for a socket."""
    stamp = inputs.stamp_path(settings_file, overrides)
    path = stamp.with_suffix(".sock")
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    private = Path(tempfile.gettempdir()) / f"encounter-habit-{os.getuid()}"
    try:
        private.mkdir(mode=0o700, exist_ok=True)
        if private.stat().st_uid != os.getuid():  # someone else's folder: never talk to it
            return None
    except OSError:
        return None
    path = private / f"{stamp.stem}.sock"
    return path if len(os.fsencode(path)) <= MAX_SOCKET_PATH else None


def pid_file(path: Path) -> Path:
    return path.with_suffix(".pid")


def stop(settings_file: str | os.PathLike, overrides: dict | None = None) -> bool:
    """End the warm process of builds with these settings, if one runs; True if one did.

    Asked through its socket, never by a signal to the pid it noted: that pid may have gone to
    another process since.
    """
    path = socket_path(settings_file, overrides)
    if path is None:
        return False
    answer = _request(path, {"protocol": PROTOCOL, "stop": True})
    return bool(answer and answer.get("declined") == "asked to stop")


def build(
    settings_file: str | os.PathLike,
    overrides: dict | None = None,
    *,
    strict: bool = False,
    warm: bool = True,
) -> BuildReport:
    """Build the site: through the warm process if one can answer, else here (leaving one)."""
    from encounter_habit.live import LiveSite

    path = socket_path(settings_file, overrides) if warm and idle_minutes() > 0 else None
    if path is not None and not strict:
        report = ask(path)
        if report is not None:
            return report
    if path is None or strict:
        return build_site(settings_file, overrides, strict=strict)
    site = LiveSite(settings_file, overrides)
    report = site.build()
    if site.last is not None and not report.messages:
        # A site with warnings or errors is rebuilt the ordinary way (see LiveSite.quick_build):
        # a warm process would only decline.
        keep_warm(site, path)
    return report


# The asking side ------------------------------------------------------------------------------


def ask(path: Path) -> BuildReport | None:
    """The warm process's report of a rebuild; None if there is none, or it declined."""
    answer = _request(path, {"protocol": PROTOCOL, "environment": inputs.environment()})
    if not answer or "report" not in answer:
        if answer:
            logger.debug("warm: declined: %s", answer.get("declined"))
        return None
    fields = answer["report"]
    for level, message in fields["messages"]:  # said here, as the build would have said them
        logger.log(level, "%s", message)
    fields.update(output=Path(fields["output"]), messages=[tuple(m) for m in fields["messages"]])
    return BuildReport(**fields)


def _request(path: Path, request: dict) -> dict | None:
    """Send one request to the warm process at ``path``; its answer (None: no warm process)."""
    try:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError:
        return None
    with client:
        try:
            client.connect(str(path))
            client.sendall(json.dumps(request).encode() + b"\n")
            return _receive(client)
        except OSError:  # no warm process (a stale socket), or it died while building
            return None


def _receive(connection: socket.socket) -> dict | None:
    chunks = []
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks) or b"null")
    except ValueError:
        return None


# The warm side ----------------------------------------------------------------------------


def keep_warm(site, path: Path) -> int | None:
    """Leave a detached copy of this process serving ``site``'s next builds; its pid, or None.

    Only where forking is safe: with other threads running (a test session, a server), a forked
    child could inherit a lock held by one of them forever.
    """
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # Bound here, before the fork: the next build may ask before the child has run at all.
        # A socket left by a warm process that died is replaced; a live one was asked first
        # and has declined (and is exiting), so taking its name over is right too.
        path.parent.mkdir(parents=True, exist_ok=True)
        spare = path.with_name(f".{path.name}.{os.getpid()}")
        spare.unlink(missing_ok=True)
        listener.bind(str(spare))
        listener.listen(8)
        os.replace(spare, path)
    except OSError as exc:
        listener.close()
        logger.debug("warm: no warm process: %s", exc)
        return None
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    reader, writer = os.pipe()
    first = os.fork()
    if first:  # the build's own process: return to the command, which prints and exits
        listener.close()
        os.close(writer)
        with os.fdopen(reader, "rb") as handle:
            pid = handle.read().decode() or "0"
        os.waitpid(first, 0)
        if int(pid):
            with contextlib.suppress(OSError):
                pid_file(path).write_text(pid)
        return int(pid) or None
    # The first child: a new session, so the warm process has no terminal, and a second fork,
    # so it is nobody's child (the build's process does not wait for it).
    try:
        os.close(reader)
        os.setsid()
        if os.fork():
            os._exit(0)
        os.write(writer, str(os.getpid()).encode())
        os.close(writer)
        _detach(keep=listener.fileno())
        serve(site, listener, path)
    except BaseException:  # never return into the build's code in a copy of its process
        pass
    os._exit(0)


def _detach(keep: int) -> None:
    """Let go of the terminal and of every pipe and socket the command was given: a caller that
    reads our output to its end (``./dev build | tail``, a test's ``subprocess.run``) would
    otherwise wait for us. Open regular files are left alone: objects still hold them."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 256))
    for fd in fds:
        if fd < 3 or fd == keep:
            continue
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode):
            os.close(fd)
    logging.getLogger().handlers.clear()  # they wrote to the command's stderr
    logging.getLogger().addHandler(logging.NullHandler())


def serve(site, listener: socket.socket, path: Path) -> None:
    """Answer build requests until idle for too long, declining, or the socket is not ours."""
    inode = os.stat(path).st_ino
    deadline = time.monotonic() + idle_minutes() * 60
    listener.settimeout(TICK_SECONDS)
    tidy = False
    with listener:
        while time.monotonic() < deadline:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                if not tidy:  # idle: let the build's garbage go (seconds at 10,000 posts), then
                    gc.unfreeze()  # hide what is kept from the collector again (LiveSite)
                    gc.collect()
                    gc.freeze()
                    tidy = True
                try:
                    if os.stat(path).st_ino != inode:
                        return  # a newer warm process took the name over
                except OSError:
                    return  # the cache (or the whole site) was removed
                continue
            with connection:
                connection.settimeout(None)
                answer = answer_request(site, connection)
                connection.sendall(json.dumps(answer).encode())
            if "report" not in answer:
                break
            deadline = time.monotonic() + idle_minutes() * 60
    try:
        if os.stat(path).st_ino == inode:
            path.unlink()
            pid_file(path).unlink(missing_ok=True)
    except OSError:
        pass


def answer_request(site, connection: socket.socket) -> dict:
    """Rebuild from memory for one request; the report, or why not."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            return {"declined": "no request"}
        line += chunk
    try:
        request = json.loads(line)
    except ValueError:
        return {"declined": "an unreadable request"}
    if request.get("protocol") != PROTOCOL:
        return {"declined": "another version asked"}
    if request.get("stop"):
        return {"declined": "asked to stop"}
    stamp = site.last["stamp"] if site.last else None
    if stamp is None or request.get("environment") != stamp.environment:
        return {"declined": "the environment differs"}
    try:
        report = site.quick_build()
    except Exception as exc:  # the ordinary build, in the asking process, is always right
        return {"declined": f"the quick rebuild failed: {exc!r}"}
    if report is None:
        return {"declined": site.declined or "an ordinary build is needed"}
    # every field but the list of all output files, which the asking build does not need
    fields = {k: v for k, v in dataclasses.asdict(report).items() if k != "files"}
    return {"report": {**fields, "output": str(report.output)}}
