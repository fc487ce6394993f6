"""退回 (send back), 撤回 (recall), 抄送 (copies), priority and 即办件 over the API."""

from __future__ import annotations

import pytest

from support import DATA

MOVES = DATA / "moves" / "moves.bpmn"


@pytest.fixture()
def case(api):
    assert api.deploy(MOVES).status_code == 201
    body = api.start("moves").get_json()
    return {"id": body["id"], "formal": body["tasks"][0]["id"]}


def _case(api, case_id, user="window1"):
    return api.get(f"/api/v1/cases/{case_id}", user).get_json()


def _uid(app, username):
    from app.extensions import db
    from app.models import User

    with app.app_context():
        return db.session.query(User).filter_by(username=username).one().id


def _claim(api, user, bpmn_id, case_id):
    task = api.find_task(user, bpmn_id, case_id)
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", user).status_code == 200
    return task["id"]


def test_reviewer_sends_the_case_back_to_the_window(api, case):
    api.do("window1", "formal_check", {}, case["id"])
    tax = _claim(api, "tax1", "tax_review", case["id"])
    health = _claim(api, "health1", "health_review", case["id"])
    assert api.post(f"/api/v1/tasks/{health}/complete", "health1", json={"data": {}}).status_code == 200

    targets = api.get(f"/api/v1/tasks/{tax}/return-targets", "tax1").get_json()
    assert [(t["id"], t["bpmn_id"], t["completed_by"]) for t in targets] == [
        (case["formal"], "formal_check", "window1")]
    assert api.get(f"/api/v1/tasks/{tax}/return-targets", "health1").status_code == 403

    r = api.post(f"/api/v1/tasks/{tax}/return", "tax1", json={"target_task_id": case["formal"], "opinion": ""})
    assert r.status_code == 422 and "opinion" in r.get_json()["errors"]
    r = api.post(f"/api/v1/tasks/{tax}/return", "tax1", json={"target_task_id": health, "opinion": "x"})
    assert r.status_code == 422 and "target_task_id" in r.get_json()["errors"]  # not on tax's path
    r = api.post(f"/api/v1/tasks/{tax}/return", "tax1",
                 json={"target_task_id": case["formal"], "opinion": "纳税人识别号有误，请窗口核对"})
    assert r.status_code == 200, r.get_json()
    reopened = r.get_json()
    assert (reopened["bpmn_id"], reopened["state"], reopened["assignee"]) == ("formal_check", "claimed", "window1")
    assert reopened["id"] != case["formal"]

    body = _case(api, case["id"])
    assert [(t["bpmn_id"], t["state"]) for t in body["tasks"]] == [("formal_check", "claimed")]
    events = [e["type"] for e in body["history"]]
    assert "task_returned" in events and events.count("task_cancelled") == 1  # tax's live task
    notes = api.get(f"/api/v1/tasks/{reopened['id']}/notes", "window1").get_json()
    assert [(n["kind"], n["author"], n["body"]) for n in notes] == [("return", "tax1", "纳税人识别号有误，请窗口核对")]
    # The old rows keep their history.
    assert api.get(f"/api/v1/tasks/{case['formal']}", "window1").get_json()["state"] == "completed"
    assert api.get(f"/api/v1/tasks/{health}", "health1").get_json()["state"] == "completed"

    # The case runs again from the window: both departments get fresh tasks.
    assert api.post(f"/api/v1/tasks/{reopened['id']}/complete", "window1", json={"data": {}}).status_code == 200
    assert {t["bpmn_id"] for t in _case(api, case["id"])["tasks"]} == {"health_review", "tax_review"}
    api.do("health1", "health_review", {}, case["id"])
    final = api.do("tax1", "tax_review", {}, case["id"])
    assert final["status"] == "completed"


def test_recall_while_the_next_step_is_untouched(api, case):
    api.do("window1", "formal_check", {}, case["id"])
    assert api.post(f"/api/v1/tasks/{case['formal']}/recall", "window2").status_code == 403
    r = api.post(f"/api/v1/tasks/{case['formal']}/recall", "window1")
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["bpmn_id"], r.get_json()["assignee"]) == ("formal_check", "window1")
    body = _case(api, case["id"])
    assert [t["bpmn_id"] for t in body["tasks"]] == ["formal_check"]
    assert "task_recalled" in [e["type"] for e in body["history"]]
    assert api.get("/api/v1/tasks?view=available", "health1").get_json()["total"] == 0


def test_no_recall_once_the_next_step_is_taken_up(api, case):
    api.do("window1", "formal_check", {}, case["id"])
    _claim(api, "health1", "health_review", case["id"])
    r = api.post(f"/api/v1/tasks/{case['formal']}/recall", "window1")
    assert r.status_code == 409 and r.get_json()["error"] == "next_step_started"


def test_copies_appear_in_the_recipients_list_and_open_the_case(api, app, case):
    fund1 = _uid(app, "fund1")
    assert api.get(f"/api/v1/cases/{case['id']}", "fund1").status_code == 404
    r = api.post(f"/api/v1/tasks/{case['formal']}/copies", "window1", json={"user_ids": [fund1], "note": "请知悉"})
    assert r.status_code == 201 and [c["user"] for c in r.get_json()] == ["fund1"]
    again = api.post(f"/api/v1/tasks/{case['formal']}/copies", "window1", json={"user_ids": [fund1]})
    assert again.status_code == 201 and again.get_json() == []  # already copied
    bad = api.post(f"/api/v1/tasks/{case['formal']}/copies", "window1", json={"user_ids": [99999]})
    assert bad.status_code == 422 and "user_ids" in bad.get_json()["errors"]
    copied = api.get("/api/v1/tasks?view=copied", "fund1").get_json()
    assert [t["id"] for t in copied["items"]] == [case["formal"]]
    assert api.get(f"/api/v1/tasks/{case['formal']}", "fund1").status_code == 200
    assert api.get(f"/api/v1/cases/{case['id']}", "fund1").status_code == 200
    # Read-only: a copy gives no right to work on the task, nor to copy it on to someone else.
    assert api.post(f"/api/v1/tasks/{case['formal']}/claim", "fund1").status_code == 403
    tax1 = _uid(app, "tax1")
    assert api.post(f"/api/v1/tasks/{case['formal']}/copies", "fund1", json={"user_ids": [tax1]}).status_code == 403
    assert api.get(f"/api/v1/cases/{case['id']}", "tax1").status_code == 404


def test_priority_and_follow_up_date(api, case):
    r = api.post(f"/api/v1/tasks/{case['formal']}/priority", "window1",
                 json={"priority": 2, "follow_up_on": "2026-12-01"})
    assert r.status_code == 200 and (r.get_json()["priority"], r.get_json()["follow_up_on"]) == (2, "2026-12-01")
    assert api.post(f"/api/v1/tasks/{case['formal']}/priority", "window1",
                    json={"priority": 5}).status_code == 422
    assert api.post(f"/api/v1/tasks/{case['formal']}/priority", "tax1", json={"priority": 1}).status_code == 403
    # Each change is in the case's history, with what it was before; saving the same again is none.
    api.post(f"/api/v1/tasks/{case['formal']}/priority", "window1", json={"priority": 2, "follow_up_on": "2026-12-01"})
    history = api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()["history"]
    changes = [e for e in history if e["type"] == "task_priority_changed"]
    assert len(changes) == 1 and changes[0]["actor"] == "window1"
    assert changes[0]["data"] == {"priority": 2, "follow_up_on": "2026-12-01",
                                  "was": {"priority": 0, "follow_up_on": None}}


IMMEDIATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_i" targetNamespace="http://x">
  <bpmn:process id="{key}" name="即办测试" isExecutable="true">
    <bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="immediate" value="true" />
      <spiffworkflow:property name="promisedDays" value="0" />
    </spiffworkflow:properties></bpmn:extensionElements>
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="{lane}"><bpmn:flowNodeRef>s</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>t</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
    <bpmn:userTask id="t" name="窗口即办" /><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e" />
    <bpmn:endEvent id="e" name="办结" />
  </bpmn:process>
</bpmn:definitions>"""


def _deploy_text(api, name, text):
    import io

    return api.client.post("/api/v1/processes", headers=api.headers("designer"),
                           data={"file": [(io.BytesIO(text.encode()), name)]}, content_type="multipart/form-data")


def test_immediate_bundle_is_finished_on_the_acceptance_day(api):
    r = _deploy_text(api, "bad.bpmn", IMMEDIATE.format(key="immediate_bad", lane="health"))
    assert r.status_code == 422
    assert "immediate_not_window" in [e.get("code") for e in r.get_json()["errors"]]
    r = _deploy_text(api, "ok.bpmn", IMMEDIATE.format(key="immediate_ok", lane="综合窗口"))
    assert r.status_code == 201, r.get_json()
    started = api.start("immediate_ok").get_json()
    assert (started["immediate"], started["finished_same_day"]) == (True, None)
    done = api.do("window1", "t", {}, started["id"])
    assert (done["status"], done["finished_same_day"]) == ("completed", True)


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_files_added_on_a_task(api, case):
    import io

    def upload(user, *files):
        return api.client.post(f"/api/v1/tasks/{case['formal']}/attachments", headers=api.headers(user),
                               data={"file": [(io.BytesIO(c), n) for n, c in files]},
                               content_type="multipart/form-data")

    assert upload("tax1", ("a.pdf", PDF)).status_code == 403
    assert upload("window1").status_code == 422
    bad = upload("window1", ("a.exe", b"MZ\x90\x00"))
    assert bad.status_code == 422 and "file" in bad.get_json()["errors"]
    r = upload("window1", ("现场核查记录.pdf", PDF))
    assert r.status_code == 201, r.get_json()
    assert [(a["filename"], a["task_id"], a["uploaded_by"]) for a in r.get_json()] == [
        ("现场核查记录.pdf", case["formal"], "window1")]
    history = _case(api, case["id"])["history"]
    added = [e for e in history if e["type"] == "attachment_added"]
    assert added[-1]["task_id"] == case["formal"]
