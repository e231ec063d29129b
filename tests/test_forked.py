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


def test_batches_reach_the_parent_while_the_child_still_works(tmp_path):
    go_on = tmp_path / "go-on"

    def work(sender):
        sender.send(["first"])
        deadline = time.monotonic() + 20
        while not go_on.exists() and time.monotonic() < deadline:  # till the parent has it
            time.sleep(0.01)
        sender.send(["second" if go_on.exists() else "only once the child was done"])

    child = Forked.start("test", work, batches=True)
    batches = child.batches()
    assert next(batches) == ["first"]
    go_on.touch()
    assert list(batches) == [["second"]]
    assert not os.path.exists(child.result_path) and child.ready is None
    with pytest.raises(ChildProcessError):  # reaped: no zombie left
        os.waitpid(child.pid, os.WNOHANG)


def test_the_batches_a_child_sent_before_it_died_stay_good():
    def work(sender):
        sender.send("kept")
        os._exit(3)

    child = Forked.start("test", work, batches=True)
    batches = child.batches()
    assert next(batches) == "kept"
    with pytest.raises(ChildFailed, match="status 3"):
        next(batches)
    assert not os.path.exists(child.result_path) and child.ready is None


def test_a_batch_child_no_longer_wanted_is_killed_and_its_pipe_closed():
    def work(sender):
        sender.send(1)
        time.sleep(60)

    child = Forked.start("test", work, batches=True)
    batches = child.batches()
    assert next(batches) == 1
    batches.close()
    child.kill()
    assert child.ready is None and not os.path.exists(child.result_path)
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)
