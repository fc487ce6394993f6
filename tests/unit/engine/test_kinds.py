"""The engine skips asking the task tree about kinds of element a diagram does not have at all
(message catches, timers, multi-instance tasks, terminate ends). These tests pin that a kind is
still found wherever the diagram has it: in the process itself, behind an event-based gateway,
or only in a called process."""

from __future__ import annotations

from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from app.engine import compile_process, runtime
from app.engine.runtime import _kinds

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data"


def read_data(relpath: str) -> bytes:
    return (DATA / relpath).read_bytes()


TIMER_IN_SUB = read_data("call_activity/sub.bpmn").replace(
    b'<bpmn:userTask id="sub_task" name="Sub task" />',
    b'<bpmn:intermediateCatchEvent id="sub_task" name="Sub wait"><bpmn:timerEventDefinition id="d">'
    b'<bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
)

TERMINATE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="http://example.invalid/t">
  <bpmn:process id="stop_all" name="Stop all" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />
    <bpmn:parallelGateway id="fork" />
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="slow" />
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="quick" />
    <bpmn:userTask id="slow" name="Slow" />
    <bpmn:sequenceFlow id="f4" sourceRef="slow" targetRef="end" />
    <bpmn:endEvent id="end" name="Done" />
    <bpmn:userTask id="quick" name="Quick" />
    <bpmn:sequenceFlow id="f5" sourceRef="quick" targetRef="stop" />
    <bpmn:endEvent id="stop" name="Stopped"><bpmn:terminateEventDefinition id="t" /></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def _workflow(engine, files: dict[str, bytes]):
    """A workflow of the compiled files, not started (the kinds are the diagram's)."""
    process = compile_process(files)
    return BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=engine.script_engine)


def test_the_newborn_bundle_has_none_of_the_kinds(engine):
    workflow = _workflow(engine, {"newborn.bpmn": (ROOT / "bpmn" / "newborn.bpmn").read_bytes()})
    assert _kinds(workflow) == runtime._Kinds(messages=False, timers=False, multi_instance=False, terminate=False)


@pytest.mark.parametrize(("path", "kind"), [
    ("timer_catch/timer_hour.bpmn", "timers"),
    ("messages/two_catches.bpmn", "messages"),
    ("countersign/countersign.bpmn", "multi_instance"),
])
def test_each_kind_is_found_in_the_process(engine, path, kind):
    workflow = _workflow(engine, {Path(path).name: (DATA / path).read_bytes()})
    assert getattr(_kinds(workflow), kind)


def test_a_timer_only_in_a_called_process_is_found_and_its_due_time_reported(engine):
    """The caller has no timer; the called process waits on one."""
    process = compile_process({"main.bpmn": read_data("call_activity/main.bpmn"), "sub.bpmn": TIMER_IN_SUB})
    workflow = engine.start(process, {})
    assert not _kinds(workflow).messages
    intake = next(t.id for t in engine.ready_user_tasks(workflow) if t.bpmn_id == "intake")
    engine.complete_user_task(workflow, intake, {})
    assert _kinds(workflow).timers
    assert engine.next_timer_due(workflow) is not None
    restored = engine.load(process, engine.dump(workflow))
    assert engine.next_timer_due(restored) is not None


def test_a_terminate_end_is_still_reported(engine):
    process = compile_process({"stop_all.bpmn": TERMINATE})
    workflow = engine.start(process, {})
    assert _kinds(workflow).terminate and not _kinds(workflow).timers
    quick = next(t.id for t in engine.ready_user_tasks(workflow) if t.bpmn_id == "quick")
    engine.complete_user_task(workflow, quick, {})
    assert engine.is_completed(workflow)
    assert engine.terminated(workflow)
    assert engine.outcome(workflow) == "Stopped"
