"""Messages from outside: which catches wait, delivery stores the payload as a write, and only
catches with senderGroups are exempt from the 'nothing sends this' warning."""

from __future__ import annotations

import pytest

from app.engine import Engine, TaskNotReady, compile_process
from app.engine.validation import validate_process
from support import DATA

DIR = DATA / "messages"


def _compile(name):
    return compile_process({name: (DIR / name).read_bytes()})


def test_two_catches_wait_and_each_delivery_is_kept_in_the_case_data():
    engine = Engine()
    process = _compile("two_catches.bpmn")
    workflow = engine.start(process, {})
    waits = {w.name: w for w in engine.waiting_messages(workflow)}
    assert set(waits) == {"water_transferred", "power_transferred"}
    assert waits["water_transferred"].sender_groups == ("utilities",)
    assert waits["power_transferred"].sender_groups == ()
    engine.deliver_message(workflow, "water_transferred", {"ok": True})
    workflow = engine.load(process, engine.dump(workflow))
    assert [w.name for w in engine.waiting_messages(workflow)] == ["power_transferred"]
    assert engine.case_data(workflow) == {"water_transferred": {"ok": True}}
    with pytest.raises(TaskNotReady):
        engine.deliver_message(workflow, "water_transferred", {})
    engine.deliver_message(workflow, "power_transferred", {"ok": False})
    assert engine.is_completed(workflow)


def test_a_receive_task_with_an_sla_timer():
    engine = Engine()
    workflow = engine.start(_compile("receive_with_sla.bpmn"), {})
    assert [w.bpmn_id for w in engine.waiting_messages(workflow)] == ["water"]
    assert engine.next_timer_due(workflow) is not None
    engine.deliver_message(workflow, "water_transferred", {"account": "S-1"})
    assert engine.is_completed(workflow)


def test_only_catches_with_sender_groups_are_deliverable_from_outside():
    findings = validate_process({"two_catches.bpmn": (DIR / "two_catches.bpmn").read_bytes()}).findings
    assert [(f.code, f.params["name"]) for f in findings] == [("waits_for_message", "供电过户结果")]
    assert validate_process({"r.bpmn": (DIR / "receive_with_sla.bpmn").read_bytes()}).findings == []
