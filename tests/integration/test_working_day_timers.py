"""Timers counted in working days (``working_days(n)``), fired by the worker on an injected clock."""

from datetime import datetime
from zoneinfo import ZoneInfo

from app.extensions import db
from app.models import AuditEvent, Case, HumanTask
from app.services import timers
from support import DATA

DIAGRAM = DATA / "working_day_timer" / "working_day_timer.bpmn"
SH = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def _start(api, limit_days=5):
    assert api.deploy(DIAGRAM).status_code == 201
    r = api.start("working_day_timer", {"limit_days": limit_days})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _states(app, case_id):
    with app.app_context():
        return {t.bpmn_id: t.state for t in db.session.query(HumanTask).filter_by(case_id=case_id)}


def _worker(app) -> str:
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def _next_timer(app, case_id):
    with app.app_context():
        return db.session.get(Case, case_id).next_timer_at


def test_working_day_timers_follow_the_calendar_and_fire_once(api, app, clock):
    """Friday 10:00: 2 working days end Tuesday 24:00, 5 end Friday 24:00 (weekend skipped)."""
    clock.set_time(at(2026, 11, 27, 10, 0))
    case_id = _start(api)
    assert _next_timer(app, case_id) == at(2026, 12, 1, 23, 59, 59, 999999)

    clock.set_time(at(2026, 12, 1, 23, 0))  # the last hour of the second working day: nothing due
    assert "fired" not in _worker(app)
    assert _states(app, case_id) == {"review": "open"}

    clock.set_time(at(2026, 12, 2, 0, 0, 1))
    assert "fired 1 timer" in _worker(app)
    assert _states(app, case_id) == {"review": "open", "urge": "open"}  # non-interrupting
    assert _next_timer(app, case_id) == at(2026, 12, 4, 23, 59, 59, 999999)
    assert "fired" not in _worker(app)  # the same timer never fires twice

    clock.set_time(at(2026, 12, 5, 9, 0))
    assert "fired 1 timer" in _worker(app)
    assert _states(app, case_id) == {"review": "cancelled", "urge": "open", "escalate": "open"}
    with app.app_context():
        fired = [e.data["timer"] for e in db.session.query(AuditEvent)
                 .filter_by(case_id=case_id, event_type="timer_fired").order_by(AuditEvent.id)]
        assert fired == ["两个工作日未办", "审查超期"]
        assert timers.due_case_ids() == []


def test_working_day_timers_use_the_admin_overrides(api, app, clock):
    """A local holiday on Monday moves the two-working-day reminder to Wednesday 24:00."""
    clock.set_time(at(2026, 11, 27, 10, 0))
    r = api.client.put("/api/v1/calendar/overrides/2026-11-30", headers=api.headers("admin"),
                       json={"is_working_day": False, "note": "本地假日"})
    assert r.status_code == 200, r.get_json()
    case_id = _start(api)
    assert _next_timer(app, case_id) == at(2026, 12, 2, 23, 59, 59, 999999)


def test_a_bad_working_day_count_is_refused_with_nothing_stored(api, app, clock):
    """working_days('abc') cannot start: a clear 422 naming the timer, and no case is left behind."""
    clock.set_time(at(2026, 11, 27, 10, 0))
    assert api.deploy(DIAGRAM).status_code == 201
    r = api.start("working_day_timer", {"limit_days": "abc"})
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert body["error"] == "workflow_error"
    assert "working_days" in body["message"]
    with app.app_context():
        assert db.session.query(Case).count() == 0
