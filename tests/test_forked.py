"""The forked helper process of parallel reading, comment reading and parallel output."""

from __future__ import annotations

import gc
import os
import pickle
import time

import pytest

from encounter_habit.forked import ChildFailed, Forked


def test_the_child_does_its_work_and_the_parent_gets_the_result():
    parent = os.getpid()
    child = Forked.start("test", lambda result: pickle.dump((os.getpid(), [1, 2]), result))
    assert child is not None and os.getpid() == parent
    pid, value = child.result()
    assert pid == child.pid != parent and value == [1, 2]
    assert not os.path.exists(child.result_path), "the result file is removed"


def test_a_child_that_raises_or_exits_gives_no_result(tmp_path):
    def fail(_result):
        raise ValueError("broken")

    ran_on = tmp_path / "ran-on"
    cases = [
        (fail, "status 1"),
        (lambda _result: os._exit(3), "status 3"),
        (lambda _result: None, "could not be read"),  # returned, but wrote no result
    ]
    for work, problem in cases:
        child = Forked.start("test", work)
        with open(ran_on, "a") as handle:  # only this process gets here, never the child
            handle.write(f"{os.getpid()}\n")
        with pytest.raises(ChildFailed, match=problem):
            child.result()
        assert not os.path.exists(child.result_path)
    assert ran_on.read_text().split() == [str(os.getpid())] * len(cases)


def test_an_unreadable_result_is_a_failed_child():
    child = Forked.start("test", lambda result: result.write(b"not a pickle"))
    with pytest.raises(ChildFailed, match="could not be read"):
        child.result()
    assert not os.path.exists(child.result_path)


def test_a_child_no_longer_wanted_is_killed_and_waited_for():
    child = Forked.start("test", lambda _result: time.sleep(60))
    started = time.monotonic()
    child.kill()
    assert time.monotonic() - started < 10
    with pytest.raises(ChildProcessError):  # reaped: no zombie left
        os.waitpid(child.pid, os.WNOHANG)
    assert not os.path.exists(child.result_path)
    child.kill()  # twice is harmless


def test_what_exists_at_the_fork_is_frozen_in_the_child_only():
    assert gc.get_freeze_count() == 0
    child = Forked.start("test", lambda result: pickle.dump(gc.get_freeze_count(), result))
    assert gc.get_freeze_count() == 0, "the parent's collector walks its objects as before"
    assert child.result() > 1000


def test_a_fork_that_fails_leaves_the_work_here_and_says_why(monkeypatch, caplog, tmp_path):
    def no_fork():
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with caplog.at_level("DEBUG", logger="encounter_habit.forked"):
        assert Forked.start("test", lambda result: None) is None
    assert list(tmp_path.iterdir()) == [], "no result file left behind"
    assert "test: cannot fork (Resource temporarily unavailable)" in caplog.text
    assert gc.get_freeze_count() == 0
