"""One-shot build commands end without the collector's last walks over the built site."""

from __future__ import annotations

import gc
import importlib.util

import pytest
from invoke import Context

from tests.conftest import ROOT


@pytest.fixture
def tasks(monkeypatch):
    spec = importlib.util.spec_from_file_location("project_tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built: list[tuple] = []
    monkeypatch.setattr(module, "_build", lambda *args, **kwargs: built.append(args))
    monkeypatch.delenv("ENCOUNTER_DEPLOY_TARGET", raising=False)  # publish: no rsync
    yield module, built
    gc.unfreeze()


@pytest.mark.parametrize("name", ["build", "publish"])
def test_build_and_publish_freeze_what_is_left_before_exiting(tasks, name):
    module, built = tasks
    gc.unfreeze()
    before = gc.get_freeze_count()
    getattr(module, name)(Context())
    assert built  # the build ran first
    assert gc.get_freeze_count() > before
