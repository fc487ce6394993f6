"""The case clock over the API: pauses (特别程序), extensions (延期), the overdue list and the
worker's warnings, on an injected clock (brief §6.3)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.extensions import db
from app.models import AuditEvent
from support import DATA

SH = ZoneInfo("Asia/Shanghai")
DIAGRAM = DATA / "moves" / "moves.bpmn"


def at(*args) -> str:
    return datetime(*args, tzinfo=SH).isoformat()


def end_of(y, m, d) -> datetime:
    return datetime(y, m, d, 23, 59, 59, 999999, tzinfo=SH)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture()
def case(api, clock):
    """A case of the test bundle accepted on Monday 2026-11-23 10:00, formal check claimed by window1."""
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    assert api.deploy(DIAGRAM).status_code == 201
    r = api.start("moves")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    task = body["tasks"][0]
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "window1").status_code == 200
    return {"id": body["id"], "task": task["id"]}


def _case(api, case_id, user="window1"):
    r = api.get(f"/api/v1/cases/{case_id}", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_new_case_counts_five_and_twenty_working_days(api, case):
    body = _case(api, case["id"])
    assert parse(body["due_at"]) == end_of(2026, 11, 30)
    assert parse(body["statutory_due_at"]) == end_of(2026, 12, 21)
    assert body["paused"] is False and body["due_provisional"] is False
    assert parse(body["tasks"][0]["due_at"]) == end_of(2026, 11, 24)


def test_pause_and_resume_move_the_due_dates_by_working_days(api, case, clock):
    """Stopped Monday, restarted Wednesday: two working days are added to case and task."""
    r = api.post(f"/api/v1/cases/{case['id']}/pause", "window1",
                 json={"kind": "inspection", "reason": "现场核查"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["paused"] is True and r.get_json()["warning"] == "none"
    again = api.post(f"/api/v1/cases/{case['id']}/pause", "window1", json={"kind": "inspection", "reason": "x"})
    assert again.status_code == 409 and again.get_json()["error"] == "clock_paused"

    clock.set_time(datetime(2026, 11, 25, 15, 0, tzinfo=SH))
    r = api.post(f"/api/v1/cases/{case['id']}/resume", "window1")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["paused"] is False
    assert parse(body["due_at"]) == end_of(2026, 12, 2)
    assert parse(body["statutory_due_at"]) == end_of(2026, 12, 23)
    assert parse(body["tasks"][0]["due_at"]) == end_of(2026, 11, 26)
    resumed = [e for e in body["history"] if e["type"] == "clock_resumed"]
    assert resumed[0]["data"]["working_days"] == 2 and resumed[0]["actor"] == "window1"
    again = api.post(f"/api/v1/cases/{case['id']}/resume", "window1")
    assert again.status_code == 409 and again.get_json()["error"] == "clock_running"

    clock_view = api.get(f"/api/v1/cases/{case['id']}/clock", "window1").get_json()
    assert [(p["kind"], p["working_days"]) for p in clock_view["pauses"]] == [("inspection", 2)]


def test_a_pause_on_the_same_day_adds_nothing(api, case, clock):
    assert api.post(f"/api/v1/cases/{case['id']}/pause", "window1",
                    json={"kind": "expert_review", "reason": "专家评审"}).status_code == 200
    clock.set_time(datetime(2026, 11, 23, 17, 0, tzinfo=SH))
    body = api.post(f"/api/v1/cases/{case['id']}/resume", "window1").get_json()
    assert parse(body["due_at"]) == end_of(2026, 11, 30)


def test_only_people_handling_the_case_stop_the_clock(api, case):
    body = {"kind": "hearing", "reason": "听证"}
    r = api.post(f"/api/v1/cases/{case['id']}/pause", "supervisor", json=body)
    assert r.status_code == 403  # supervisors watch, they do not act
    assert api.post(f"/api/v1/cases/{case['id']}/pause", "health1", json=body).status_code == 404  # not visible
    r = api.post(f"/api/v1/cases/{case['id']}/pause", "window1", json={"kind": "nap", "reason": ""})
    assert r.status_code == 422
    assert set(r.get_json()["errors"]) == {"kind", "reason"}


def test_extension_needs_a_section_chief_of_the_case(api, case):
    r = api.post(f"/api/v1/cases/{case['id']}/extensions", "window1", json={"working_days": 0, "reason": ""})
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"working_days", "reason"}
    r = api.post(f"/api/v1/cases/{case['id']}/extensions", "window1",
                 json={"working_days": 3, "reason": "需补充现场核查"})
    assert r.status_code == 201, r.get_json()
    ext = r.get_json()
    assert ext["status"] == "pending" and ext["requested_by"] == "window1"
    dup = api.post(f"/api/v1/cases/{case['id']}/extensions", "window1", json={"working_days": 1, "reason": "x"})
    assert dup.status_code == 409 and dup.get_json()["error"] == "extension_pending"

    assert api.post(f"/api/v1/extensions/{ext['id']}/approve", "window2", json={}).status_code == 403
    assert api.post(f"/api/v1/extensions/{ext['id']}/approve", "healthchief", json={}).status_code == 403
    assert [e["id"] for e in api.get("/api/v1/extensions", "chief1").get_json()] == [ext["id"]]
    assert api.get("/api/v1/extensions", "healthchief").get_json() == []

    r = api.post(f"/api/v1/extensions/{ext['id']}/approve", "chief1", json={"note": "同意"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "approved" and r.get_json()["decided_by"] == "chief1"
    body = _case(api, case["id"])
    assert parse(body["due_at"]) == end_of(2026, 12, 3)
    assert parse(body["statutory_due_at"]) == end_of(2026, 12, 24)
    assert [e["type"] for e in body["history"]][-2:] == ["extension_requested", "extension_approved"]
    again = api.post(f"/api/v1/extensions/{ext['id']}/reject", "chief1", json={})
    assert again.status_code == 409 and again.get_json()["error"] == "extension_decided"


def test_a_chief_may_not_approve_their_own_request(api, case):
    ext = api.post(f"/api/v1/cases/{case['id']}/extensions", "chief1",
                   json={"working_days": 2, "reason": "材料复杂"}).get_json()
    r = api.post(f"/api/v1/extensions/{ext['id']}/approve", "chief1", json={})
    assert r.status_code == 403
    r = api.post(f"/api/v1/extensions/{ext['id']}/reject", "admin", json={"note": "理由不足"})
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    assert parse(_case(api, case["id"])["due_at"]) == end_of(2026, 11, 30)


def test_overdue_list_for_supervisors(api, case, clock):
    """Due Monday 11-30: yellow on Friday 11-27 and Monday, red from Tuesday; paused cases drop out."""
    assert api.get("/api/v1/supervision/overdue", "window1").status_code == 403
    clock.set_time(datetime(2026, 11, 26, 9, 0, tzinfo=SH))  # Thursday: 2 working days left
    assert api.get("/api/v1/supervision/overdue", "supervisor").get_json()["total"] == 0
    clock.set_time(datetime(2026, 11, 27, 9, 0, tzinfo=SH))  # Friday: 1 working day left
    page = api.get("/api/v1/supervision/overdue?level=yellow", "supervisor").get_json()
    assert [(i["id"], i["warning"]) for i in page["items"]] == [(case["id"], "yellow")]
    assert api.get("/api/v1/supervision/overdue?level=red", "supervisor").get_json()["total"] == 0
    clock.set_time(datetime(2026, 12, 2, 9, 0, tzinfo=SH))  # Wednesday: two working days late
    page = api.get("/api/v1/supervision/overdue?level=red", "supervisor").get_json()
    item = page["items"][0]
    assert (item["id"], item["warning"], item["overdue_working_days"]) == (case["id"], "red", 2)
    assert item["tasks"][0]["bpmn_id"] == "formal_check" and item["tasks"][0]["assignee"] == "window1"
    r = api.get("/api/v1/supervision/overdue?level=purple", "supervisor")
    assert r.status_code == 422 and "level" in r.get_json()["errors"]
    api.post(f"/api/v1/cases/{case['id']}/pause", "window1", json={"kind": "hearing", "reason": "听证"})
    assert api.get("/api/v1/supervision/overdue", "supervisor").get_json()["total"] == 0


def test_worker_announces_each_warning_once(api, app, case, clock):
    def run_worker():
        result = app.test_cli_runner().invoke(args=["worker", "--once"])
        assert result.exit_code == 0, result.output
        return result.output

    def warnings():
        with app.app_context():
            return [(e.event_type, e.task_name, e.data["level"]) for e in db.session.query(AuditEvent)
                    .filter(AuditEvent.event_type.in_(("deadline_warning", "task_deadline_warning")))
                    .order_by(AuditEvent.id)]

    # The formal check has 1 working day: yellow from the start (WARNING_WORKING_DAYS = 1).
    assert "announced 1 warning" in run_worker()
    assert warnings() == [("task_deadline_warning", "形式审查", "yellow")]
    clock.set_time(datetime(2026, 11, 24, 9, 0, tzinfo=SH))  # due today: still yellow, nothing new
    assert "announced" not in run_worker()
    clock.set_time(datetime(2026, 11, 27, 9, 0, tzinfo=SH))  # task overdue, case due Monday
    assert "announced 2 warning" in run_worker()
    assert warnings()[1:] == [("deadline_warning", None, "yellow"), ("task_deadline_warning", "形式审查", "red")]
    clock.set_time(datetime(2026, 12, 1, 9, 0, tzinfo=SH))
    run_worker()
    assert warnings()[-1] == ("deadline_warning", None, "red")
    assert "announced" not in run_worker()
    # An approved extension moves the case out of red; the next rise is announced again.
    ext = api.post(f"/api/v1/cases/{case['id']}/extensions", "window1",
                   json={"working_days": 5, "reason": "延期"}).get_json()
    assert api.post(f"/api/v1/extensions/{ext['id']}/approve", "chief1", json={}).status_code == 200
    assert _case(api, case["id"])["warning"] == "none"
    clock.shift(timedelta(days=8))
    assert "announced 2 warning" in run_worker()  # the task's due date moved as well
    assert set(warnings()[-2:]) == {("deadline_warning", None, "red"), ("task_deadline_warning", "形式审查", "red")}


def test_a_calendar_change_moves_running_due_dates(api, app, case):
    """An admin declares Friday 11-27 a local holiday: the promised due date moves to Tuesday."""
    r = api.client.put("/api/v1/calendar/overrides/2026-11-27", headers=api.headers("admin"),
                       json={"is_working_day": False, "note": "本地假日"})
    assert r.status_code == 200, r.get_json()
    body = _case(api, case["id"])
    assert parse(body["due_at"]) == end_of(2026, 12, 1)
    assert parse(body["statutory_due_at"]) == end_of(2026, 12, 22)
    r = api.client.delete("/api/v1/calendar/overrides/2026-11-27", headers=api.headers("admin"))
    assert r.status_code == 204
    assert parse(_case(api, case["id"])["due_at"]) == end_of(2026, 11, 30)
    result = app.test_cli_runner().invoke(args=["calendar", "recompute"])
    assert result.exit_code == 0 and "recomputed 1 running case" in result.output
    assert parse(_case(api, case["id"])["due_at"]) == end_of(2026, 11, 30)

    # Each move is in the case's history: who changed which day, and the dates before and after.
    # The recompute that changed nothing wrote nothing.
    moved = [e for e in _case(api, case["id"])["history"] if e["type"] == "due_dates_changed"]
    assert [(e["actor"], e["data"]["day"], e["data"]["is_working_day"]) for e in moved] == [
        ("admin", "2026-11-27", False), ("admin", "2026-11-27", None)]
    assert all(e["data"]["reason"] == "calendar" for e in moved)
    first, second = (e["data"] for e in moved)
    assert parse(first["due_at"]["from"]) == end_of(2026, 11, 30)
    assert parse(first["due_at"]["to"]) == end_of(2026, 12, 1)
    assert parse(first["statutory_due_at"]["to"]) == end_of(2026, 12, 22)
    assert parse(second["due_at"]["to"]) == end_of(2026, 11, 30)


def test_the_recompute_command_audits_the_cases_it_moves(api, app, case):
    """An override written behind the application's back (e.g. by SQL) moves nothing until
    `flask calendar recompute`; the moved case then names the system and the recompute."""
    from app.models import CalendarOverride

    with app.app_context():
        db.session.add(CalendarOverride(day=datetime(2026, 11, 27).date(), is_working_day=False, note="导入"))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["calendar", "recompute"])
    assert result.exit_code == 0, result.output
    body = _case(api, case["id"])
    assert parse(body["due_at"]) == end_of(2026, 12, 1)
    moved = [e for e in body["history"] if e["type"] == "due_dates_changed"]
    assert len(moved) == 1 and moved[0]["actor"] is None and moved[0]["data"]["reason"] == "recompute"


def test_a_configured_closing_time_ends_due_dates_at_closing(api, app, clock):
    """CLOSING_TIME=17:30 (Civil Code art. 203 para 2): the fifth working day ends at 17:30."""
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    assert api.deploy(DIAGRAM).status_code == 201
    app.config["CLOSING_TIME"] = "17:30"
    try:
        body = api.start("moves").get_json()
        r = api.get("/api/v1/calendar/due?start=2026-11-23T10:00:00%2B08:00&working_days=1", "window1")
        assert parse(r.get_json()["due"]) == datetime(2026, 11, 24, 17, 30, tzinfo=SH)
    finally:
        app.config["CLOSING_TIME"] = ""
    assert parse(body["due_at"]) == datetime(2026, 11, 30, 17, 30, tzinfo=SH)
    assert parse(body["tasks"][0]["due_at"]) == datetime(2026, 11, 24, 17, 30, tzinfo=SH)
