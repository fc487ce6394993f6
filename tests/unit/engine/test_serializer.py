"""Save -> restore -> identical state (app/engine/serializer.py, Engine.dump/Engine.load)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from app.engine import Engine, WorkflowRunError


@pytest.fixture
def scripted(compile_data):
    return compile_data("scripts/script_after_task.bpmn")


def _complete(engine, workflow, bpmn_id, data):
    task = next(t for t in engine.ready_user_tasks(workflow) if t.bpmn_id == bpmn_id)
    engine.complete_user_task(workflow, task.id, data)


def _ready(engine, workflow):
    return sorted((t.id, t.bpmn_id) for t in engine.ready_user_tasks(workflow))


def test_dump_load_dump_gives_the_same_json(engine, scripted):
    """A state dumped, loaded and dumped again is unchanged."""
    workflow = engine.start(scripted, {"a": 2})
    _complete(engine, workflow, "first", {"b": 3})
    first = engine.dump(workflow)
    second = engine.dump(engine.load(scripted, first))
    assert json.loads(first) == json.loads(second)


def test_dump_load_dump_is_stable_while_a_join_waits(engine, compile_data):
    """A state with one branch parked at a parallel join round-trips unchanged."""
    process = compile_data("parallel_loop/parallel_loop.bpmn")
    workflow = engine.start(process, {})
    _complete(engine, workflow, "review_b", {"b_ok": False})
    first = engine.dump(workflow)
    second = engine.dump(engine.load(process, first))
    assert json.loads(first) == json.loads(second)


def test_state_does_not_carry_the_spec(engine, scripted):
    """Only instance state is stored; the spec comes from the cache."""
    state = json.loads(engine.dump(engine.start(scripted, {"a": 1})))
    assert "spec" not in state
    assert "subprocess_specs" not in state
    assert "tasks" in state


def test_restored_workflow_has_the_same_ready_tasks(engine, scripted):
    """Ready task ids and BPMN ids are the same before and after a round trip."""
    workflow = engine.start(scripted, {"a": 2})
    _complete(engine, workflow, "first", {"b": 3})
    before = _ready(engine, workflow)
    restored = engine.load(scripted, engine.dump(workflow))
    assert before == _ready(engine, restored)
    assert [bpmn_id for _, bpmn_id in before] == ["second"]


def test_task_id_from_before_the_dump_completes_the_restored_task(engine, scripted):
    """A task id handed out before saving still names the task after loading."""
    workflow = engine.start(scripted, {"a": 2, "b": 3})
    (task_id, _), = _ready(engine, workflow)
    restored = engine.load(scripted, engine.dump(workflow))
    engine.complete_user_task(restored, task_id, {})
    assert [b for _, b in _ready(engine, restored)] == ["second"]


def test_date_and_decimal_data_survive_a_round_trip(engine, scripted):
    """Dates and decimals in task data come back with their types."""
    workflow = engine.start(scripted, {"a": 1, "filed_on": date(2024, 2, 29), "fee": Decimal("12.50")})
    restored = engine.load(scripted, engine.dump(workflow))
    data = engine.case_data(restored)
    assert data["filed_on"] == date(2024, 2, 29)
    assert isinstance(data["fee"], Decimal)
    assert data["fee"] == Decimal("12.50")


def test_load_attaches_the_engines_sandboxed_script_engine(scripted):
    """The script engine is not serialised: load must attach the loading engine's one."""
    starter, loader = Engine(), Engine()
    state = starter.dump(starter.start(scripted, {"a": 1}))
    restored = loader.load(scripted, state)
    assert restored.script_engine is loader.script_engine


def test_script_after_load_runs_in_the_sandbox(engine, scripted):
    """After a round trip a script task still computes, and still cannot call open()."""
    workflow = engine.start(scripted, {"a": 2})
    _complete(engine, workflow, "first", {"b": 3})
    workflow = engine.load(scripted, engine.dump(workflow))
    _complete(engine, workflow, "second", {})
    assert engine.case_data(workflow)["total"] == 5

    workflow = engine.load(scripted, engine.dump(workflow))
    with pytest.raises(WorkflowRunError) as info:
        _complete(engine, workflow, "last", {})
    assert info.value.element == "read_file"
    assert "open" in str(info.value)
