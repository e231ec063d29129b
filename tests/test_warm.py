"""Warm builds: a repeated `invoke build` is answered by the last build's process, kept alive.

A warm process is only left where forking is safe (no other thread), and a pytest session has
threads: every build here runs in a fresh interpreter of its own, as `invoke build` does. Each
run also proves the warm process let go of the command's pipes: `subprocess.run` reads them to
their end, and would wait for the warm process until its timeout otherwise.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from encounter_habit import warm
from tests.test_incremental import ROOT, Workspace, change_template
from tests.test_live import threads

SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from encounter_habit import warm
    from encounter_habit.build import configure_logging
    configure_logging()
    overrides = json.loads(sys.argv[2])
    report = warm.build(sys.argv[1] + "/pelicanconf.py", overrides, strict=sys.argv[3] == "strict")
    print(json.dumps({"quick": report.quick, "unchanged": report.unchanged, "made": report.made,
                      "errors": report.errors}))
    """
)


@pytest.fixture
def ws(tmp_path):
    ws = Workspace(tmp_path, posts=6)
    # a short cache path, so the socket lives beside the stamp as in a real checkout
    ws.cache = Path(tempfile.mkdtemp(prefix="warm-", dir="/tmp"))
    yield ws
    stop(ws)
    shutil.rmtree(ws.cache, ignore_errors=True)


def overrides(ws) -> dict:
    return {**ws.overrides("incremental", "cache"), "CACHE_PATH": str(ws.cache)}


def build(ws, strict: bool = False, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT), json.dumps(overrides(ws)), "strict" * strict],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        cwd=ROOT,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def socket_of(ws) -> Path:
    found = list((ws.cache / "stamps").glob("*.sock"))
    assert len(found) <= 1, found
    return found[0] if found else ws.cache / "stamps" / "none.sock"


def warm_pid(ws) -> int | None:
    try:
        pid = int(socket_of(ws).with_suffix(".pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            return "\nState:\tZ" not in handle.read()  # a zombie has exited
    except OSError:
        return False


def gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def stop(ws) -> None:
    pid = warm_pid(ws)
    if pid:
        os.kill(pid, 15)


def append(ws, text: str) -> None:
    post = ws.content / "posts" / "post-00002.md"
    post.write_text(post.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")


def test_repeated_builds_are_answered_warm_and_equal_clean_builds(ws):
    first = build(ws)
    assert not first["quick"] and first["made"] > 0
    pid = warm_pid(ws)
    assert pid and pid != os.getpid(), "the build left a warm process"

    append(ws, "An edit the warm process makes at once.")
    edited = build(ws)
    assert edited["quick"] and 0 < edited["made"] <= 25, edited
    page = next((ws.root / "incremental").glob("*/*/post-00002/index.html"))
    assert "An edit the warm process makes at once." in page.read_text(encoding="utf-8")
    ws.assert_same_as_clean("warm edit")

    folder = threads(ws)[0][0]
    (folder / "comment-900.md").write_text(
        "Author: Pat Reader\nDate: 2031-01-01T10:00:00\nType: comment\n\nA warm comment.\n"
    )
    commented = build(ws)
    assert commented["quick"], commented
    ws.assert_same_as_clean("warm comment")

    assert build(ws)["unchanged"]
    assert warm_pid(ws) == pid, "one warm process served every build"

    # a template change: the warm process declines and leaves, and a new one takes its place
    change_template(ws, random.Random(1))
    changed = build(ws)
    assert not changed["quick"] and changed["made"] > 0
    assert gone(pid)
    assert warm_pid(ws) not in (None, pid)
    ws.assert_same_as_clean("template change")


def test_a_build_by_another_process_or_environment_is_not_answered_warm(ws):
    build(ws)
    pid = warm_pid(ws)
    assert pid
    append(ws, "Built by another process.")
    ws.build_incrementally()  # this test's own process: the warm process's memory is stale
    append(ws, "And edited again.")
    after = build(ws)
    assert not after["quick"], "the warm process must not answer after another build"
    assert gone(pid)
    ws.assert_same_as_clean("after another process built")

    pid = warm_pid(ws)
    append(ws, "Built with another environment.")
    other = build(ws, ENCOUNTER_SITEURL="https://example.org")
    assert not other["quick"] and gone(pid)


def test_no_warm_process_for_strict_builds_errors_or_when_turned_off(ws):
    assert not build(ws, strict=True)["quick"]
    assert warm_pid(ws) is None
    append(ws, "Turned off.")
    build(ws, ENCOUNTER_WARM_MINUTES="0")
    assert warm_pid(ws) is None
    (ws.content / "posts" / "bad.md").write_text("Title: Bad\nDate: 2009-13-45\n\nBody.\n")
    report = build(ws)
    assert report["errors"] and warm_pid(ws) is None  # it would only decline: quick builds
    # of a site with errors would not say them again


def test_a_warm_process_leaves_when_idle_or_when_its_socket_goes(ws):
    append(ws, "Short-lived.")
    build(ws, ENCOUNTER_WARM_MINUTES="0.02")  # 1.2 seconds
    pid = warm_pid(ws)
    assert pid and gone(pid)
    assert not socket_of(ws).exists()

    append(ws, "Long-lived.")
    build(ws)
    pid = warm_pid(ws)
    assert pid
    socket_of(ws).unlink()  # `rm -rf .build-cache`, say
    assert gone(pid)


def test_a_warm_process_stops_when_asked(ws, monkeypatch):
    monkeypatch.chdir(ROOT)  # where builds run: part of what names their warm process
    settings = ROOT / "pelicanconf.py"
    assert not warm.stop(settings, overrides(ws)), "none runs yet"
    build(ws)
    pid = warm_pid(ws)
    assert pid
    assert warm.stop(settings, overrides(ws))  # what `invoke clean` does
    assert gone(pid)
