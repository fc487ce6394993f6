"""gunicorn.conf.py: what each web worker does with Python's garbage collector once the app is loaded."""

from __future__ import annotations

import gc
import runpy

import pytest

from support import ROOT


@pytest.fixture()
def collector():
    """Python's collector as it was, restored afterwards (the hook changes the whole process)."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def _conf(monkeypatch, gen0: str | None) -> dict:
    if gen0 is None:
        monkeypatch.delenv("GUNICORN_GC_GEN0", raising=False)
    else:
        monkeypatch.setenv("GUNICORN_GC_GEN0", gen0)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_a_worker_freezes_what_loading_made_and_collects_young_objects_less_often(collector, monkeypatch):
    conf = _conf(monkeypatch, None)
    assert conf["worker_class"] == "sync"
    gc.set_threshold(700, 10, 10)
    loaded = [{"made": i} for i in range(1000)]  # what loading the app made, still referenced
    conf["post_worker_init"](None)
    assert gc.get_threshold() == (10000, 10, 10)
    assert gc.get_freeze_count() >= len(loaded)
    collected = {id(obj) for generation in range(3) for obj in gc.get_objects(generation=generation)}
    assert not any(id(obj) in collected for obj in loaded)  # no collection walks them again


def test_zero_keeps_pythons_thresholds(collector, monkeypatch):
    conf = _conf(monkeypatch, "0")
    gc.set_threshold(700, 10, 10)
    conf["post_worker_init"](None)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() > 0  # freezing does not depend on the threshold
