"""Moving running workflows to a newer process version (app/engine/migrate.py), and loading
states stored in older serializer formats (app/engine/serializer.load_state)."""

from __future__ import annotations

import json

import pytest

from app.engine import EngineError
from app.engine.migrate import MigrationRefused, check, migrate
from app.engine.serializer import load_state
from support import DATA


def _compile(compile_data, *names):
    return compile_data(*(f"migration/{n}" for n in names))


def _ready(engine, workflow) -> list[str]:
    return sorted(t.bpmn_id for t in engine.ready_user_tasks(workflow))


def _complete(engine, workflow, bpmn_id, data=None):
    task = next(t for t in engine.ready_user_tasks(workflow) if t.bpmn_id == bpmn_id)
    engine.complete_user_task(workflow, task.id, data or {})


def _move(engine, workflow, old, new, mapping=None, **kwargs):
    """Check, migrate a fresh copy of the stored state, and return it re-loaded on ``new``."""
    result = check(workflow, old, new, mapping, **kwargs)
    assert result.ok, result.reasons
    moved = migrate(engine.load(old, engine.dump(workflow)), new, mapping, **kwargs)
    return engine.load(new, engine.dump(moved))


def _codes(result) -> list[tuple[str, str | None]]:
    return [(r.code, r.params.get("task")) for r in result.reasons]


@pytest.fixture
def simple(compile_data):
    return {v: _compile(compile_data, f"simple_{v}.bpmn") for v in ("v1", "v2_added", "v3_removed", "v4_routing")}


@pytest.fixture
def at_review(engine, simple):
    """A v1 case waiting at the health review."""
    workflow = engine.start(simple["v1"], {"applicant": "王小明"})
    _complete(engine, workflow, "accept", {"accepted": True})
    return workflow


# -- eligible changes ---------------------------------------------------------------------------

def test_added_step_after_the_waiting_task_moves_and_runs_to_the_end(engine, simple, at_review):
    """The waiting task keeps its engine id and data; the new step comes next; the case ends."""
    (before,) = engine.ready_user_tasks(at_review)
    result = check(at_review, simple["v1"], simple["v2_added"])
    assert result.ok and result.reasons == ()
    assert [(m.bpmn_id, m.new_bpmn_id, m.state, m.mapped) for m in result.changes] == [
        ("review", "review", "READY", False)]

    moved = _move(engine, at_review, simple["v1"], simple["v2_added"])
    (after,) = engine.ready_user_tasks(moved)
    assert (after.id, after.bpmn_id, after.name) == (before.id, "review", "卫健审查（新）")
    _complete(engine, moved, "review", {"health_ok": True})
    assert _ready(engine, moved) == ["recheck"]
    _complete(engine, moved, "recheck")
    assert engine.is_completed(moved) and engine.outcome(moved) == "办结"
    assert engine.case_data(moved) == {"applicant": "王小明", "accepted": True, "health_ok": True}


def test_a_case_before_a_removed_step_takes_the_new_path(engine, simple):
    """A removed step the case has not reached yet is no obstacle: the new path is predicted."""
    workflow = engine.start(simple["v1"], {})
    moved = _move(engine, workflow, simple["v1"], simple["v3_removed"])
    for step in ("accept", "final", "archive"):
        assert _ready(engine, moved) == [step]
        _complete(engine, moved, step, {"accepted": True} if step == "accept" else {})
    assert engine.is_completed(moved)


def test_check_leaves_the_workflow_untouched(engine, simple, at_review):
    """check() tries the move on a copy."""
    state = engine.dump(at_review)
    check(at_review, simple["v1"], simple["v2_added"])
    assert json.loads(engine.dump(at_review)) == json.loads(state)


# -- removed or changed waiting tasks -------------------------------------------------------------

def test_removed_waiting_task_is_refused_without_a_mapping(engine, simple, at_review):
    """SpiffWorkflow's guess for a removed task (by position) is not taken without the designer."""
    result = check(at_review, simple["v1"], simple["v3_removed"])
    assert not result.ok
    assert _codes(result) == [("task_replaced", "review")]
    assert result.reasons[0].params["candidate"] == "archive"  # the guess, offered as a suggestion
    with pytest.raises(MigrationRefused) as info:
        migrate(at_review, simple["v3_removed"])
    assert info.value.check.reasons == result.reasons


def test_removed_waiting_task_moves_with_a_mapping_and_runs_to_the_end(engine, simple, at_review):
    """{review: final}: the waiting task continues as the new step, with the same engine id."""
    (before,) = engine.ready_user_tasks(at_review)
    result = check(at_review, simple["v1"], simple["v3_removed"], {"review": "final"})
    assert result.ok
    assert [(m.bpmn_id, m.new_bpmn_id, m.mapped) for m in result.changes] == [("review", "final", True)]

    moved = _move(engine, at_review, simple["v1"], simple["v3_removed"], {"review": "final"})
    (after,) = engine.ready_user_tasks(moved)
    assert (after.id, after.bpmn_id, after.lane) == (before.id, "final", "health")
    _complete(engine, moved, "final")
    _complete(engine, moved, "archive")
    assert engine.is_completed(moved) and engine.case_data(moved)["accepted"] is True


def test_changed_lane_of_the_waiting_task_is_refused_unless_mapped(engine, simple, at_review):
    """A different group would get the task: only an explicit {review: review} accepts it."""
    result = check(at_review, simple["v1"], simple["v4_routing"])
    assert _codes(result) == [("routing_changed", "review")]

    moved = _move(engine, at_review, simple["v1"], simple["v4_routing"], {"review": "review"})
    (task,) = engine.ready_user_tasks(moved)
    assert task.lane == "public_security"
    _complete(engine, moved, "review")
    assert engine.is_completed(moved)


def test_changed_form_of_the_waiting_task_is_refused(engine, simple):
    """A waiting task whose form file changed is refused; a case past that task is not affected."""
    workflow = engine.start(simple["v1"], {})
    result = check(workflow, simple["v1"], simple["v1"], changed_forms={"simple_accept.json"})
    assert [(r.code, r.params["form"]) for r in result.reasons] == [("form_changed", "simple_accept.json")]

    _complete(engine, workflow, "accept", {"accepted": True})
    assert check(workflow, simple["v1"], simple["v1"], changed_forms={"simple_accept.json"}).ok


def test_passed_step_that_wrote_data_must_still_exist(engine, simple):
    """The stored state names each passed step; one with data and no counterpart cannot be kept."""
    workflow = engine.start(simple["v3_removed"], {})
    _complete(engine, workflow, "accept", {"accepted": True})
    _complete(engine, workflow, "final", {"final_ok": True})
    result = check(workflow, simple["v3_removed"], simple["v1"], {"archive": "review"})
    assert _codes(result) == [("history_removed", "final")]


@pytest.mark.parametrize(("mapping", "code"), [
    ({"nope": "final"}, "mapping_unknown_source"),
    ({"review": "nope"}, "mapping_unknown_target"),
    ({"review": "done"}, "mapping_type_mismatch"),
])
def test_bad_mappings_are_reported(simple, at_review, mapping, code):
    """Mappings name existing elements of the same type."""
    result = check(at_review, simple["v1"], simple["v3_removed"], mapping)
    assert code in [r.code for r in result.reasons]


def test_another_process_is_refused(engine, simple, at_review, compile_data):
    """A case only moves between versions of its own process."""
    other = _compile(compile_data, "parallel_v1.bpmn")
    assert _codes(check(at_review, simple["v1"], other)) == [("process_mismatch", None)]


# -- timers, joins, multi-instance and call activities ---------------------------------------------

@pytest.fixture
def timers(compile_data):
    return {v: _compile(compile_data, f"timer_{v}.bpmn")
            for v in ("v0_plain", "v1", "v2_added", "v3_no_timer", "v4_changed")}


def test_waiting_boundary_timer_keeps_its_due_time(engine, timers):
    """migrate_workflow would restart the timer from now; a kept timer keeps its due time."""
    workflow = engine.start(timers["v1"], {})
    (before,) = engine.waiting_timers(workflow)
    moved = _move(engine, workflow, timers["v1"], timers["v2_added"])
    assert engine.waiting_timers(moved) == [before]
    _complete(engine, moved, "review")
    assert _ready(engine, moved) == ["recheck"] and engine.waiting_timers(moved) == []
    _complete(engine, moved, "recheck")
    assert engine.is_completed(moved) and engine.outcome(moved) == "办结"


def test_removed_boundary_timer_goes_with_the_new_version(engine, timers):
    """A timer the new version no longer has stops waiting; the task itself stays."""
    workflow = engine.start(timers["v1"], {})
    moved = _move(engine, workflow, timers["v1"], timers["v3_no_timer"])
    assert engine.waiting_timers(moved) == [] and _ready(engine, moved) == ["review"]
    _complete(engine, moved, "review")
    _complete(engine, moved, "recheck")
    assert engine.is_completed(moved)


def test_changed_timer_is_refused_unless_mapped_then_restarts(engine, timers):
    """A new duration for a waiting timer needs the designer's {overdue: overdue}; it then restarts."""
    workflow = engine.start(timers["v1"], {})
    (old_timer,) = engine.waiting_timers(workflow)
    assert _codes(check(workflow, timers["v1"], timers["v4_changed"])) == [("event_changed", "overdue")]

    moved = _move(engine, workflow, timers["v1"], timers["v4_changed"], {"overdue": "overdue"})
    (new_timer,) = engine.waiting_timers(moved)
    assert new_timer["due"] < old_timer["due"]  # 24 h from now comes before 48 h from the start


def test_boundary_timer_added_to_the_waiting_task_is_refused(engine, timers):
    """The task never went through the new boundary split; its join would fail on completion."""
    workflow = engine.start(timers["v0_plain"], {})
    assert _codes(check(workflow, timers["v0_plain"], timers["v1"])) == [("boundary_added", "review")]


def test_new_parallel_branch_is_refused_inside_the_parallel_section(engine, compile_data):
    """The fork already ran with two branches: the join would wait for a third that never comes."""
    v1, v2 = _compile(compile_data, "parallel_v1.bpmn"), _compile(compile_data, "parallel_v2_branch.bpmn")
    workflow = engine.start(v1, {})
    assert _codes(check(workflow, v1, v2)) == [("join_changed", "join")]
    _complete(engine, workflow, "review_a", {"a_ok": True})  # one branch now waits at the join
    assert _codes(check(workflow, v1, v2)) == [("join_changed", "join")]


def test_multi_instance_children_keep_their_items(engine, compile_data):
    """A READY countersign child keeps its approver (migrate_workflow would re-copy its parent's data)."""
    v1, v2 = _compile(compile_data, "countersign.bpmn"), _compile(compile_data, "countersign_v2.bpmn")
    workflow = engine.start(v1, {"approvers": ["甲", "乙"]})
    _complete(engine, workflow, "sign", {"vote": "同意"})
    moved = _move(engine, workflow, v1, v2)
    (child,) = [t for t in moved.get_tasks() if t.task_spec.name == "sign [child]" and t.data.get("vote") is None]
    assert child.data["approver"] == "乙"
    _complete(engine, moved, "sign", {"vote": "同意"})
    _complete(engine, moved, "review")
    _complete(engine, moved, "archive")
    assert engine.is_completed(moved) and engine.case_data(moved)["votes"] == ["同意", "同意"]


def test_running_call_activity_moves_with_its_process(engine, compile_data):
    """A case inside a call activity continues on the called process's new version."""
    v1 = _compile(compile_data, "call_main.bpmn", "call_sub_v1.bpmn")
    v2 = _compile(compile_data, "call_main.bpmn", "call_sub_v2.bpmn")
    workflow = engine.start(v1, {})
    moved = _move(engine, workflow, v1, v2)
    for step in ("sub_review", "sub_check", "close"):
        assert _ready(engine, moved) == [step]
        _complete(engine, moved, step)
    assert engine.is_completed(moved)


# -- stored states of older serializer formats ----------------------------------------------------

def _fixture(name: str) -> str:
    return (DATA / "migration" / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "version"), [("countersign_1_3.json", "1.3"), ("countersign_1_5.json", "1.5")])
def test_stored_countersign_loads_and_runs_to_the_end(engine, compile_data, name, version):
    """1.3 kept a running multi-instance task WAITING; the upgrade makes it STARTED again.

    The 1.5 state is today's format, stored so that the next SpiffWorkflow upgrade is tested too.
    """
    state = _fixture(name)
    assert json.loads(state)["serializer_version"] == version
    process = _compile(compile_data, "countersign.bpmn")  # a fresh spec, as in another worker
    workflow = engine.load(process, state)
    (sign,) = [t for t in workflow.get_tasks() if t.task_spec.name == "sign"]
    assert sign.state == 32  # STARTED
    _complete(engine, workflow, "sign", {"vote": "同意"})
    workflow = engine.load(process, engine.dump(workflow))  # re-stored in today's format
    assert _ready(engine, workflow) == ["review"]
    _complete(engine, workflow, "review")
    assert engine.is_completed(workflow)
    assert engine.case_data(workflow) == {"approvers": ["甲", "乙"], "votes": ["同意", "同意"]}


def test_state_in_format_1_4_with_a_call_activity_loads_and_runs_to_the_end(engine, compile_data):
    """SpiffWorkflow 3.2's own 1.4 upgrade raises NameError when a sub-process exists."""
    process = _compile(compile_data, "call_main.bpmn", "call_sub_v1.bpmn")
    workflow = engine.load(process, _fixture("call_activity_1_4.json"))
    for step in ("sub_review", "close"):
        assert _ready(engine, workflow) == [step]
        _complete(engine, workflow, step)
        workflow = engine.load(process, engine.dump(workflow))
    assert engine.is_completed(workflow) and engine.case_data(workflow)["applicant"] == "王小明"


def test_old_state_keeps_its_data_through_the_next_dump(engine, compile_data):
    """Old states list tasks in any order; today's dump stores data as deltas against the parent."""
    process = _compile(compile_data, "countersign.bpmn")
    first = engine.load(process, _fixture("countersign_1_3.json"))
    again = engine.load(process, engine.dump(first))
    assert {str(t.id): t.data for t in again.get_tasks()} == {str(t.id): t.data for t in first.get_tasks()}


def test_state_from_an_unknown_serializer_version_is_refused(compile_data):
    """A newer (or unknown) format is refused, never misread."""
    process = _compile(compile_data, "countersign.bpmn")
    state = json.loads(_fixture("countersign_1_3.json"))
    state["serializer_version"] = "9.9"
    with pytest.raises(EngineError, match="9.9"):
        load_state(json.dumps(state), process.spec, process.subprocess_specs)
