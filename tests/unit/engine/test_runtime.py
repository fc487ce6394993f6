"""Engine lifecycle: completing tasks, run errors, outcome, case data, timers (app/engine/runtime.py)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.engine import TaskNotReady, WorkflowRunError


@pytest.fixture
def scripted(compile_data):
    return compile_data("scripts/script_after_task.bpmn")


@pytest.fixture
def divide(compile_data):
    return compile_data("scripts/divide.bpmn")


def _ready(engine, workflow):
    return [t.bpmn_id for t in engine.ready_user_tasks(workflow)]


def _task_id(engine, workflow, bpmn_id):
    return next(t.id for t in engine.ready_user_tasks(workflow) if t.bpmn_id == bpmn_id)


# -- complete_user_task refuses what is not a READY user task ---------------------------

def test_completing_a_completed_task_again_is_refused(engine, scripted):
    """A second completion of the same task raises TaskNotReady and changes nothing."""
    workflow = engine.start(scripted, {"a": 1})
    first = _task_id(engine, workflow, "first")
    engine.complete_user_task(workflow, first, {"b": 2})
    before = engine.dump(workflow)
    with pytest.raises(TaskNotReady):
        engine.complete_user_task(workflow, first, {"b": 99})
    assert json.loads(engine.dump(workflow)) == json.loads(before)
    assert _ready(engine, workflow) == ["second"]


def test_completing_a_random_uuid_is_refused(engine, scripted):
    """A well-formed UUID that names no task raises TaskNotReady."""
    workflow = engine.start(scripted, {"a": 1})
    with pytest.raises(TaskNotReady):
        engine.complete_user_task(workflow, str(uuid.uuid4()), {})


@pytest.mark.parametrize("task_id", ["not-a-uuid", "", "1234", "../../etc/passwd"])
def test_completing_a_non_uuid_string_is_refused(engine, scripted, task_id):
    """A task id that is not a UUID raises TaskNotReady."""
    workflow = engine.start(scripted, {"a": 1})
    with pytest.raises(TaskNotReady):
        engine.complete_user_task(workflow, task_id, {})
    assert _ready(engine, workflow) == ["first"]


def test_completing_a_task_not_yet_reached_is_refused(engine, scripted):
    """A FUTURE user task cannot be completed ahead of its turn."""
    workflow = engine.start(scripted, {"a": 1})
    state = json.loads(engine.dump(workflow))
    future_ids = [tid for tid, t in state["tasks"].items() if t["task_spec"] == "second"]
    assert future_ids
    with pytest.raises(TaskNotReady):
        engine.complete_user_task(workflow, future_ids[0], {})
    assert _ready(engine, workflow) == ["first"]


def test_submitted_data_is_copied_into_the_case(engine, scripted):
    """Changing the submitted dict afterwards does not change the case data."""
    workflow = engine.start(scripted, {"a": 1})
    submitted = {"b": 2, "items": [1]}
    engine.complete_user_task(workflow, _task_id(engine, workflow, "first"), submitted)
    submitted["items"].append(2)
    assert engine.case_data(workflow)["items"] == [1]


# -- run errors ---------------------------------------------------------------------------

def test_script_error_while_starting_names_the_element(engine, divide):
    """A ZeroDivisionError in a script task is a WorkflowRunError naming that task."""
    with pytest.raises(WorkflowRunError) as info:
        engine.start(divide, {"a": 1, "b": 0})
    assert info.value.element == "divide_script"
    assert "Divide a by b" in str(info.value)
    assert "division by zero" in str(info.value)


def test_script_error_after_a_task_names_the_element(engine, scripted):
    """A script failing after a user task completes raises WorkflowRunError naming it."""
    workflow = engine.start(scripted, {"a": 1, "b": 2})
    for bpmn_id in ("first", "second"):
        engine.complete_user_task(workflow, _task_id(engine, workflow, bpmn_id), {})
    with pytest.raises(WorkflowRunError) as info:
        engine.complete_user_task(workflow, _task_id(engine, workflow, "last"), {})
    assert info.value.element == "read_file"


def test_after_a_run_error_the_stored_state_still_offers_the_task(engine, scripted):
    """The last stored state is untouched by a failed step: reloading offers the same task."""
    workflow = engine.start(scripted, {"a": 1, "b": 2})
    for bpmn_id in ("first", "second"):
        engine.complete_user_task(workflow, _task_id(engine, workflow, bpmn_id), {})
    stored = engine.dump(workflow)
    last_id = _task_id(engine, workflow, "last")
    with pytest.raises(WorkflowRunError):
        engine.complete_user_task(workflow, last_id, {})
    reloaded = engine.load(scripted, stored)
    assert [(t.id, t.bpmn_id) for t in engine.ready_user_tasks(reloaded)] == [(last_id, "last")]


# -- outcome and case data ------------------------------------------------------------------

def test_outcome_is_the_end_event_name(engine, divide):
    """A finished case reports the name of the end event it reached."""
    workflow = engine.start(divide, {"a": 1, "b": 4})
    engine.complete_user_task(workflow, _task_id(engine, workflow, "check"), {})
    assert engine.is_completed(workflow)
    assert engine.outcome(workflow) == "Checked"


def test_outcome_is_none_while_running(engine, divide):
    """A case still waiting for people has no outcome."""
    workflow = engine.start(divide, {"a": 1, "b": 4})
    assert not engine.is_completed(workflow)
    assert engine.outcome(workflow) is None


def test_start_data_is_visible_in_case_data(engine, divide):
    """Start data and script results are in case_data at the first user task."""
    workflow = engine.start(divide, {"a": 1, "b": 4, "applicant": "王五"})
    assert engine.case_data(workflow) == {"a": 1, "b": 4, "applicant": "王五", "ratio": 0.25}


def test_start_data_is_copied(engine, divide):
    """Mutating the start dict after start does not change the case."""
    start = {"a": 1, "b": 4, "tags": ["x"]}
    workflow = engine.start(divide, start)
    start["tags"].append("y")
    assert engine.case_data(workflow)["tags"] == ["x"]


def test_case_data_shows_a_branch_waiting_at_the_join(engine, compile_data):
    """After one department decided, its decision is part of the case data."""
    process = compile_data("parallel_loop/parallel_loop.bpmn")
    workflow = engine.start(process, {})
    engine.complete_user_task(workflow, _task_id(engine, workflow, "review_b"), {"b_ok": False})
    assert engine.case_data(workflow).get("b_ok") is False


# -- timers ------------------------------------------------------------------------------------

def test_zero_duration_timer_is_passed_when_the_task_completes(engine, compile_data):
    """A "PT0S" intermediate timer after a user task does not hold the case."""
    process = compile_data("timer_catch/timer_zero.bpmn")
    workflow = engine.start(process, {})
    engine.complete_user_task(workflow, _task_id(engine, workflow, "before"), {})
    workflow = engine.load(process, engine.dump(workflow))
    engine.fire_due_timers(workflow)
    assert _ready(engine, workflow) == ["after"]


def test_future_timer_holds_the_case_until_due(engine, compile_data):
    """A "PT1H" timer is not fired by fire_due_timers before it is due."""
    process = compile_data("timer_catch/timer_hour.bpmn")
    workflow = engine.start(process, {})
    engine.complete_user_task(workflow, _task_id(engine, workflow, "before"), {})
    assert _ready(engine, workflow) == []
    assert engine.fire_due_timers(workflow) == []
    assert _ready(engine, workflow) == []
    assert not engine.is_completed(workflow)


def _make_timers_due(state: str) -> str:
    """Move every waiting duration timer's due time into the past (no sleeping, no clock patch)."""
    dct = json.loads(state)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    changed = 0
    for task in dct["tasks"].values():
        if "event_value" in task.get("internal_data", {}):
            task["internal_data"]["event_value"] = past
            changed += 1
    assert changed == 1
    return json.dumps(dct)


def test_fire_due_timers_advances_past_a_due_timer(engine, compile_data):
    """Once due, fire_due_timers fires the timer (returns its name) and the next task is ready."""
    process = compile_data("timer_catch/timer_hour.bpmn")
    workflow = engine.start(process, {})
    engine.complete_user_task(workflow, _task_id(engine, workflow, "before"), {})
    workflow = engine.load(process, _make_timers_due(engine.dump(workflow)))
    assert engine.fire_due_timers(workflow) == ["Wait"]
    assert _ready(engine, workflow) == ["after"]
    assert engine.fire_due_timers(workflow) == []


def test_waiting_timers_lists_the_pending_timer(engine, compile_data):
    """A case held by a duration timer lists it with its due time."""
    process = compile_data("timer_catch/timer_hour.bpmn")
    workflow = engine.start(process, {})
    engine.complete_user_task(workflow, _task_id(engine, workflow, "before"), {})
    (timer,) = engine.waiting_timers(workflow)
    due = datetime.fromisoformat(timer["due"])
    assert timedelta(minutes=59) < due - datetime.now(UTC) <= timedelta(hours=1)


def test_waiting_timers_names_the_element_id_and_task(engine, compile_data):
    """A waiting timer is reported with its BPMN id ("wait", not its label "Wait") and task id."""
    process = compile_data("timer_catch/timer_hour.bpmn")
    workflow = engine.start(process, {})
    engine.complete_user_task(workflow, _task_id(engine, workflow, "before"), {})
    (timer,) = engine.waiting_timers(workflow)
    assert timer.get("bpmn_id") == "wait"
    waiting = [tid for tid, t in json.loads(engine.dump(workflow))["tasks"].items() if t["task_spec"] == "wait"]
    assert timer.get("task_id") in waiting


# -- call activities ----------------------------------------------------------------------------

@pytest.fixture
def call_bundle(compile_data):
    return compile_data("call_activity/main.bpmn", "call_activity/sub.bpmn")


def test_call_activity_runs_to_the_end_in_memory(engine, call_bundle):
    """The called process's user task is offered, and the caller ends after it."""
    workflow = engine.start(call_bundle, {"x": 1})
    engine.complete_user_task(workflow, _task_id(engine, workflow, "intake"), {"y": 2})
    assert _ready(engine, workflow) == ["sub_task"]
    engine.complete_user_task(workflow, _task_id(engine, workflow, "sub_task"), {"z": 3})
    assert engine.outcome(workflow) == "Finished"
    assert engine.case_data(workflow) == {"x": 1, "y": 2, "z": 3}


def test_call_activity_state_can_be_loaded_while_the_callee_runs(engine, call_bundle):
    """A case inside a called process can be saved, loaded and finished."""
    workflow = engine.start(call_bundle, {"x": 1})
    engine.complete_user_task(workflow, _task_id(engine, workflow, "intake"), {"y": 2})
    restored = engine.load(call_bundle, engine.dump(workflow))
    assert restored.script_engine is engine.script_engine
    assert _ready(engine, restored) == ["sub_task"]
    engine.complete_user_task(restored, _task_id(engine, restored, "sub_task"), {"z": 3})
    restored = engine.load(call_bundle, engine.dump(restored))
    assert engine.outcome(restored) == "Finished"
    assert engine.case_data(restored) == {"x": 1, "y": 2, "z": 3}


# -- date host functions: today() and days_since(d) --------------------------------------
@pytest.fixture
def dates(compile_data):
    return compile_data("scripts/dates.bpmn")


def test_date_functions_use_the_injected_local_date(dates):
    """The engine's ``today`` callable (the service centre's date) backs both functions."""
    from datetime import date

    from app.engine import Engine

    engine = Engine(today=lambda: date(2026, 11, 26))
    data = engine.case_data(engine.start(dates, {"born": "2026-11-01"}))
    assert data["checked_on"] == "2026-11-26"
    assert data["age_days"] == 25
    assert engine.case_data(engine.start(dates, {"born": "2026-12-01T08:00:00+08:00"}))["age_days"] == -5


def test_date_functions_default_to_the_engine_clock(dates):
    """Without a ``today`` callable the UTC date of the engine clock is used."""
    from app.engine import Engine
    from app.engine import clock as engine_clock

    previous = engine_clock._source  # the clock the application installed, put back afterwards
    frozen = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    engine = Engine(clock=lambda: frozen)
    try:
        data = engine.case_data(engine.start(dates, {"born": "2026-02-01"}))
    finally:
        engine_clock.use(previous)
    assert data["checked_on"] == "2026-03-01" and data["age_days"] == 28


@pytest.mark.parametrize("born", ["yesterday", "2026-13-01", 20261101, None])
def test_days_since_refuses_what_is_not_an_iso_date(engine, dates, born):
    """A bad date stops the script with a readable error naming the function, not a crash."""
    with pytest.raises(WorkflowRunError, match="days_since needs an ISO date"):
        engine.start(dates, {"born": born})


# -- run-time candidate groups: camunda:candidateGroups="${unit}" ------------------------------
@pytest.mark.parametrize(("unit", "groups"), [
    ("health", ("health",)),
    (["market_regulation", "tax", "tax"], ("market_regulation", "tax")),
    ("", ()),
    (7, ()),
])
def test_a_variable_candidate_group_is_read_from_the_task_data(engine, compile_data, unit, groups):
    process = compile_data("routing/dynamic_group.bpmn")
    workflow = engine.start(process, {})
    (choose,) = engine.ready_user_tasks(workflow)
    assert choose.candidate_groups == ("window",)
    engine.complete_user_task(workflow, choose.id, {"unit": unit})
    (handle,) = engine.ready_user_tasks(workflow)
    assert (handle.bpmn_id, handle.candidate_groups) == ("handle", groups)
