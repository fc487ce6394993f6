"""Window moves (补正, 不予受理, 撤销申请) and task moves (转办, 委派, comments, 催办) over the API."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from support import DATA

SH = ZoneInfo("Asia/Shanghai")
DIAGRAM = DATA / "moves" / "moves.bpmn"
ITEMS = [{"material": "出生医学证明", "problem": "缺少复印件"},
         {"material": "户口簿", "problem": "照片页不清晰"}]


@pytest.fixture()
def case(api, clock):
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    assert api.deploy(DIAGRAM).status_code == 201
    body = api.start("moves").get_json()
    return {"id": body["id"], "task": body["tasks"][0]["id"]}


def _case(api, case_id, user="window1"):
    return api.get(f"/api/v1/cases/{case_id}", user).get_json()


def _user_id(app, username):
    from app.extensions import db
    from app.models import User

    with app.app_context():
        return db.session.query(User).filter_by(username=username).one().id


# -- 补正 ----------------------------------------------------------------------------------------


def test_correction_notice_stops_the_clock_until_materials_arrive(api, case, clock):
    r = api.post(f"/api/v1/cases/{case['id']}/correction-notices", "window1", json={"items": []})
    assert r.status_code == 422 and "items" in r.get_json()["errors"]
    r = api.post(f"/api/v1/cases/{case['id']}/correction-notices", "window1",
                 json={"items": [{"material": "户口簿"}]})
    assert r.status_code == 422 and "items.0.problem" in r.get_json()["errors"]

    r = api.post(f"/api/v1/cases/{case['id']}/correction-notices", "window1",
                 json={"items": ITEMS, "note": "请于五个工作日内补齐"})
    assert r.status_code == 201, r.get_json()
    notice = r.get_json()
    receipt = _case(api, case["id"])["receipt_no"]
    assert notice["number"] == f"BZ{receipt[2:]}-1" and notice["items"] == ITEMS
    assert _case(api, case["id"])["paused"] is True
    dup = api.post(f"/api/v1/cases/{case['id']}/correction-notices", "window1", json={"items": ITEMS})
    assert dup.status_code == 409 and dup.get_json()["error"] == "correction_open"

    clock.set_time(datetime(2026, 11, 26, 11, 0, tzinfo=SH))  # Thursday: 3 working days later
    r = api.post(f"/api/v1/notices/{notice['id']}/received", "window2")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["resolved_at"] is not None
    body = _case(api, case["id"])
    assert body["paused"] is False
    assert datetime.fromisoformat(body["due_at"]) == datetime(2026, 12, 3, 23, 59, 59, 999999, tzinfo=SH)
    types = [e["type"] for e in body["history"]]
    assert types[-4:] == ["clock_paused", "correction_notice_issued", "correction_received", "clock_resumed"]
    again = api.post(f"/api/v1/notices/{notice['id']}/received", "window1")
    assert again.status_code == 409 and again.get_json()["error"] == "correction_closed"
    second = api.post(f"/api/v1/cases/{case['id']}/correction-notices", "window1", json={"items": ITEMS[:1]})
    assert second.status_code == 201 and second.get_json()["number"].endswith("-2")


def test_only_people_handling_the_case_issue_notices(api, case):
    assert api.post(f"/api/v1/cases/{case['id']}/correction-notices", "supervisor",
                    json={"items": ITEMS}).status_code == 403
    assert api.post(f"/api/v1/cases/{case['id']}/correction-notices", "tax1",
                    json={"items": ITEMS}).status_code == 404


# -- 不予受理 and 撤销申请 --------------------------------------------------------------------------


def test_refusal_ends_the_case_with_a_numbered_notice(api, case):
    assert api.post(f"/api/v1/cases/{case['id']}/reject", "health1", json={"reason": "x"}).status_code == 403
    r = api.post(f"/api/v1/cases/{case['id']}/reject", "window1", json={"reason": ""})
    assert r.status_code == 422 and "reason" in r.get_json()["errors"]
    r = api.post(f"/api/v1/cases/{case['id']}/reject", "window1",
                 json={"reason": "申请事项不属于本机关职权范围", "legal_basis": "《行政许可法》第三十二条"})
    assert r.status_code == 200, r.get_json()
    notice = r.get_json()
    assert notice["kind"] == "rejection" and notice["number"].startswith("BY")
    body = _case(api, case["id"])
    assert (body["status"], body["outcome"], body["tasks"]) == ("rejected", "不予受理", [])
    assert body["warning"] == "none"
    assert "case_rejected" in [e["type"] for e in body["history"]]
    claim = api.post(f"/api/v1/tasks/{case['task']}/claim", "window1")
    assert claim.status_code == 409
    again = api.post(f"/api/v1/cases/{case['id']}/withdraw", "window1", json={"reason": "x"})
    assert again.status_code == 409 and again.get_json()["error"] == "case_closed"


def test_withdrawal_after_departments_started_cancels_their_tasks(api, case):
    api.do("window1", "formal_check", {})
    assert {t["bpmn_id"] for t in _case(api, case["id"])["tasks"]} == {"health_review", "tax_review"}
    notice = api.post(f"/api/v1/cases/{case['id']}/correction-notices", "window1", json={"items": ITEMS})
    assert notice.status_code == 201
    r = api.post(f"/api/v1/cases/{case['id']}/withdraw", "window1", json={"reason": "申请人主动撤回"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["status"], body["outcome"], body["paused"], body["tasks"]) == ("withdrawn", "撤销申请", False, [])
    cancelled = [e["task_name"] for e in body["history"] if e["type"] == "task_cancelled"]
    assert sorted(cancelled) == ["卫健审查", "税务审查"]
    assert api.get("/api/v1/tasks?view=available", "health1").get_json()["total"] == 0
    clock = api.get(f"/api/v1/cases/{case['id']}/clock", "window1").get_json()
    assert clock["notices"][0]["resolved_at"] is not None and clock["pauses"][0]["ended_at"] is not None


# -- 转办 and 委派 ---------------------------------------------------------------------------------


def test_section_chief_reassigns_within_the_group(api, app, case):
    window2 = _user_id(app, "window2")
    assert api.post(f"/api/v1/tasks/{case['task']}/claim", "window1").status_code == 200
    r = api.post(f"/api/v1/tasks/{case['task']}/reassign", "window1", json={"user_id": window2})
    assert r.status_code == 403  # a clerk is not a section chief
    r = api.post(f"/api/v1/tasks/{case['task']}/reassign", "healthchief", json={"user_id": window2})
    assert r.status_code == 403  # chief of another section
    r = api.post(f"/api/v1/tasks/{case['task']}/reassign", "chief1",
                 json={"user_id": _user_id(app, "health1")})
    assert r.status_code == 422 and "user_id" in r.get_json()["errors"]
    r = api.post(f"/api/v1/tasks/{case['task']}/reassign", "chief1", json={"user_id": window2, "note": "窗口1请假"})
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["state"], r.get_json()["assignee"]) == ("claimed", "window2")
    done = api.post(f"/api/v1/tasks/{case['task']}/complete", "window1", json={"data": {}})
    assert done.status_code == 409
    assert api.post(f"/api/v1/tasks/{case['task']}/complete", "window2", json={"data": {}}).status_code == 200
    notes = api.get(f"/api/v1/tasks/{case['task']}/notes", "window2").get_json()
    assert [(n["kind"], n["author"], n["to_user"], n["body"]) for n in notes] == [
        ("reassign", "chief1", "window2", "窗口1请假")]


def test_holder_hands_a_task_to_a_colleague(api, app, case):
    window1, window2 = _user_id(app, "window1"), _user_id(app, "window2")
    r = api.post(f"/api/v1/tasks/{case['task']}/delegate", "window1", json={"user_id": window2})
    assert r.status_code == 409 and r.get_json()["error"] == "not_claimed_by_you"
    api.post(f"/api/v1/tasks/{case['task']}/claim", "window1")
    r = api.post(f"/api/v1/tasks/{case['task']}/delegate", "window1", json={"user_id": window1})
    assert r.status_code == 409 and r.get_json()["error"] == "same_assignee"
    r = api.post(f"/api/v1/tasks/{case['task']}/delegate", "window1", json={"user_id": window2, "note": "请协办"})
    assert r.status_code == 200 and r.get_json()["assignee"] == "window2"
    assert api.post(f"/api/v1/tasks/{case['task']}/delegate", "window1",
                    json={"user_id": window1}).status_code == 409
    history = _case(api, case["id"])["history"]
    delegated = [e for e in history if e["type"] == "task_delegated"]
    assert delegated[0]["actor"] == "window1" and delegated[0]["data"]["to"] == "window2"
    assert api.post(f"/api/v1/tasks/{case['task']}/delegate", "window2",
                    json={"user_id": "window1"}).status_code == 422


# -- comments and 催办 ------------------------------------------------------------------------------


def test_supervisor_urges_and_people_comment(api, case):
    assert api.post(f"/api/v1/tasks/{case['task']}/urge", "window1", json={}).status_code == 403
    r = api.post(f"/api/v1/tasks/{case['task']}/urge", "supervisor", json={"message": "请今日办结"})
    assert r.status_code == 201 and r.get_json()["kind"] == "urge"
    r = api.post(f"/api/v1/tasks/{case['task']}/comments", "window1", json={"body": "  "})
    assert r.status_code == 422
    r = api.post(f"/api/v1/tasks/{case['task']}/comments", "window1", json={"body": "已电话联系申请人"})
    assert r.status_code == 201
    notes = api.get(f"/api/v1/tasks/{case['task']}/notes", "window2").get_json()
    assert [(n["kind"], n["author"], n["body"]) for n in notes] == [
        ("urge", "supervisor", "请今日办结"), ("comment", "window1", "已电话联系申请人")]
    assert api.get(f"/api/v1/tasks/{case['task']}/notes", "tax1").status_code == 403
    assert "task_urged" in [e["type"] for e in _case(api, case["id"])["history"]]
    api.do("window1", "formal_check", {})
    late = api.post(f"/api/v1/tasks/{case['task']}/urge", "supervisor", json={})
    assert late.status_code == 409


def test_moves_are_in_the_openapi_document(api):
    paths = api.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/cases/{case_id}/pause", "/api/v1/cases/{case_id}/resume",
                 "/api/v1/cases/{case_id}/extensions", "/api/v1/extensions/{extension_id}/approve",
                 "/api/v1/cases/{case_id}/correction-notices", "/api/v1/notices/{notice_id}/received",
                 "/api/v1/cases/{case_id}/reject", "/api/v1/cases/{case_id}/withdraw",
                 "/api/v1/tasks/{task_id}/reassign", "/api/v1/tasks/{task_id}/delegate",
                 "/api/v1/tasks/{task_id}/urge", "/api/v1/tasks/{task_id}/comments",
                 "/api/v1/supervision/overdue"):
        assert path in paths, path
