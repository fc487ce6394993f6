"""Timeout policies (remind, auto-approve, escalate) applied once by the worker on an injected
clock, and the empty-group policy (skip, route to an administrator)."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.extensions import db
from app.models import AuditEvent, Case, HumanTask, KpiGroupCaseDay, KpiTaskDay, TaskNote, User
from support import DATA

SH = ZoneInfo("Asia/Shanghai")
DIAGRAM = DATA / "task_policies" / "task_policies.bpmn"


def _deploy_text(api, name, text):
    return api.client.post("/api/v1/processes", headers=api.headers("designer"),
                           data={"file": [(io.BytesIO(text.encode()), name)]}, content_type="multipart/form-data")


def _deactivate(app, username):
    with app.app_context():
        db.session.query(User).filter_by(username=username).update({"active": False})
        db.session.commit()


@pytest.fixture()
def case_id(api, app, clock):
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    _deactivate(app, "fund1")  # the housing-fund group has nobody left
    assert api.deploy(DIAGRAM).status_code == 201
    r = api.start("task_policies")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _worker(app):
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def test_unstaffed_step_is_skipped(api, case_id):
    body = api.get(f"/api/v1/cases/{case_id}", "window1").get_json()
    assert sorted(t["bpmn_id"] for t in body["tasks"]) == ["health", "market", "tax"]
    skipped = [e for e in body["history"] if e["type"] == "task_skipped"]
    assert [(e["task_name"], e["data"]["groups"]) for e in skipped] == [("公积金审查", ["housing_fund"])]


def test_timeout_policies_apply_once_when_the_time_runs_out(api, app, case_id, clock):
    assert "checked" not in _worker(app)  # nothing is late yet
    clock.set_time(datetime(2026, 11, 25, 9, 0, tzinfo=SH))  # due Tuesday 24:00: now late
    assert "checked 3 overdue task(s)" in _worker(app)
    with app.app_context():
        tasks = {t.bpmn_id: t for t in db.session.query(HumanTask).filter_by(case_id=case_id)}
        assert tasks["tax"].state == "completed" and tasks["tax"].completed_by_id is None
        assert tasks["tax"].submitted_data == {"tax_ok": True}
        assert (tasks["health"].state, tasks["health"].priority) == ("open", 0)
        assert (tasks["market"].state, tasks["market"].priority) == ("open", 2)
        notes = {(n.task_id, n.kind, n.author_id) for n in db.session.query(TaskNote)}
        assert notes == {(tasks["health"].id, "urge", None), (tasks["market"].id, "urge", None)}
        timeouts = sorted((e.task_name, e.data["policy"]) for e in db.session.query(AuditEvent)
                          .filter_by(case_id=case_id, event_type="task_timeout"))
        assert timeouts == [("卫健审查", "remind"), ("市场监管审查", "escalate"), ("税务审查", "auto_approve")]
    body = api.get(f"/api/v1/cases/{case_id}", "window1").get_json()
    assert body["data"]["tax_ok"] is True
    assert "checked" not in _worker(app)  # each policy once
    notes = api.get(f"/api/v1/tasks/{tasks['health'].id}/notes", "health1").get_json()
    assert [(n["kind"], n["author"]) for n in notes] == [("urge", None)]


def test_a_paused_case_is_not_timed_out(api, app, case_id, clock):
    api.post(f"/api/v1/tasks/{api.find_task('health1', 'health', case_id)['id']}/claim", "health1")
    r = api.post(f"/api/v1/cases/{case_id}/pause", "health1", json={"kind": "inspection", "reason": "现场核查"})
    assert r.status_code == 200, r.get_json()
    clock.set_time(datetime(2026, 11, 25, 9, 0, tzinfo=SH))
    assert "checked" not in _worker(app)


def test_bad_policies_are_refused_at_deploy(api):
    text = DIAGRAM.read_text(encoding="utf-8")
    r = _deploy_text(api, "bad.bpmn", text.replace('value="remind"', 'value="nap"'))
    assert r.status_code == 422
    codes = [e.get("code") for e in r.get_json()["errors"]]
    assert "invalid_task_policy" in codes
    r = _deploy_text(api, "bad2.bpmn", text.replace("{&quot;tax_ok&quot;: true}", "yes"))
    assert r.status_code == 422 and "invalid_task_policy" in [e.get("code") for e in r.get_json()["errors"]]


def test_unstaffed_step_goes_to_an_administrator(api, app, clock):
    _deactivate(app, "fund1")
    text = DIAGRAM.read_text(encoding="utf-8").replace('value="skip"', 'value="admin"').replace(
        'id="task_policies"', 'id="task_policies_admin"')
    assert _deploy_text(api, "admin.bpmn", text).status_code == 201
    case_id = api.start("task_policies_admin").get_json()["id"]
    task = api.find_task("admin", "unstaffed", case_id)
    assert task["name"] == "公积金审查"
    history = api.get(f"/api/v1/cases/{case_id}", "admin").get_json()["history"]
    assert "task_routed_to_admin" in [e["type"] for e in history]


NATURAL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_n" targetNamespace="http://x">
  <bpmn:process id="natural_time" name="自然时限测试" isExecutable="true">
    <bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
    <bpmn:userTask id="t" name="紧急转办" camunda:candidateGroups="health">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="promisedHours" value="{hours}" />
        <spiffworkflow:property name="timeoutPolicy" value="escalate" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e" /><bpmn:endEvent id="e" />
  </bpmn:process>
</bpmn:definitions>"""


def test_natural_time_task_limits_run_through_weekends(api, app, clock):
    """promisedHours=24 (7×24): Saturday 10:00 is due Sunday 10:00; yellow in the last quarter,
    red and escalated after; a pause moves it by the wall-clock time it lasted."""
    clock.set_time(datetime(2026, 11, 28, 10, 0, tzinfo=SH))  # a Saturday
    bad = _deploy_text(api, "bad.bpmn", NATURAL.replace("{hours}", "9999999"))
    assert bad.status_code == 422 and "invalid_time_limit" in [e.get("code") for e in bad.get_json()["errors"]]
    assert _deploy_text(api, "n.bpmn", NATURAL.replace("{hours}", "24")).status_code == 201
    case = api.start("natural_time").get_json()
    task = case["tasks"][0]
    assert datetime.fromisoformat(task["due_at"]) == datetime(2026, 11, 29, 10, 0, tzinfo=SH)
    assert task["warning"] == "none"
    clock.set_time(datetime(2026, 11, 29, 5, 0, tzinfo=SH))  # 5 of 24 hours left
    assert api.get(f"/api/v1/tasks/{task['id']}", "health1").get_json()["warning"] == "yellow"

    api.post(f"/api/v1/tasks/{task['id']}/claim", "health1")
    api.post(f"/api/v1/cases/{case['id']}/pause", "health1", json={"kind": "inspection", "reason": "核查"})
    clock.set_time(datetime(2026, 11, 29, 8, 0, tzinfo=SH))  # stopped for 3 hours
    api.post(f"/api/v1/cases/{case['id']}/resume", "health1")
    moved = api.get(f"/api/v1/tasks/{task['id']}", "health1").get_json()
    assert datetime.fromisoformat(moved["due_at"]) == datetime(2026, 11, 29, 13, 0, tzinfo=SH)

    clock.set_time(datetime(2026, 11, 29, 13, 30, tzinfo=SH))
    assert api.get(f"/api/v1/tasks/{task['id']}", "health1").get_json()["warning"] == "red"
    assert "checked 1 overdue task" in _worker(app)
    assert api.get(f"/api/v1/tasks/{task['id']}", "health1").get_json()["priority"] == 2


FAILING_AFTER_SKIP = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_fs" targetNamespace="http://x">
  <bpmn:process id="timeout_then_failure" name="超时后失败测试" isExecutable="true">
    <bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="tax" />
    <bpmn:userTask id="tax" name="税务审查" camunda:candidateGroups="tax">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="promisedDays" value="1" />
        <spiffworkflow:property name="timeoutPolicy" value="auto_approve" />
        <spiffworkflow:property name="timeoutData" value="{&quot;tax_ok&quot;: true}" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="tax" targetRef="unstaffed" />
    <bpmn:userTask id="unstaffed" name="公积金审查" camunda:candidateGroups="housing_fund">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="emptyGroupPolicy" value="skip" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="unstaffed" targetRef="boom" />
    <bpmn:scriptTask id="boom" name="计算" scriptFormat="python">
      <bpmn:script>ratio = 1 / 0</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="boom" targetRef="e" /><bpmn:endEvent id="e" />
  </bpmn:process>
</bpmn:definitions>"""


def test_an_auto_approval_that_fails_further_on_changes_nothing_but_a_reminder(api, app, clock):
    """The timed-out task is completed, the next step is skipped (nobody staffs it) and a script
    after it fails: the whole transition is undone, the task stays open with a reminder, and the
    failure is audited."""
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    _deactivate(app, "fund1")
    assert _deploy_text(api, "failing.bpmn", FAILING_AFTER_SKIP).status_code == 201
    r = api.start("timeout_then_failure")
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["id"]
    with app.app_context():
        state_before = db.session.get(Case, case_id).workflow_state
    clock.set_time(datetime(2026, 11, 25, 9, 0, tzinfo=SH))
    assert "checked 1 overdue task(s)" in _worker(app)
    with app.app_context():
        tasks = db.session.query(HumanTask).filter_by(case_id=case_id).all()
        assert [(t.bpmn_id, t.state, t.timeout_handled) for t in tasks] == [("tax", "open", True)]
        assert [(n.kind, n.author_id) for n in db.session.query(TaskNote).filter_by(task_id=tasks[0].id)] == [
            ("urge", None)]
        events = [e.event_type for e in db.session.query(AuditEvent).filter_by(case_id=case_id)
                  .order_by(AuditEvent.id)]
        failure = [e for e in events if e.startswith("task_timeout")]
        assert failure == ["task_timeout", "task_timeout_failed"], events
        assert "task_completed" not in events and "task_skipped" not in events
        assert db.session.get(Case, case_id).workflow_state == state_before
        # the KPI rollups dropped what the undone step had counted
        assert db.session.query(KpiTaskDay).filter(KpiTaskDay.completed > 0).count() == 0
        assert db.session.query(KpiGroupCaseDay).filter_by(group_code="housing_fund").count() == 0
    assert "checked" not in _worker(app)  # handled once
