"""BPMN timers fire from the worker, exactly once, with an audit event."""

from datetime import timedelta

from app import transaction
from app.extensions import db
from app.models import AuditEvent, Case, HumanTask
from app.services import timers
from support import DATA

DIAGRAM = DATA / "timer_escalation" / "timer_escalation.bpmn"


def _start(api) -> int:
    assert api.deploy(DIAGRAM).status_code == 201
    r = api.start("timer_escalation")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_a_case_records_when_its_next_timer_is_due(api, app):
    """Starting a case with a boundary timer stores next_timer_at, about one second ahead."""
    case_id = _start(api)
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.next_timer_at is not None
        assert 0 < (case.next_timer_at - case.started_at).total_seconds() < 5
        assert timers.due_case_ids() == []


def test_due_boundary_timer_cancels_the_task_and_escalates(api, app, clock):
    """After the timer is due the worker fires it: review is cancelled, 督办 opens for the window."""
    case_id = _start(api)
    clock.shift(timedelta(seconds=2))  # the injected clock: no sleeping
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "fired 1 timer" in result.output
    with app.app_context():
        states = {t.bpmn_id: t.state for t in db.session.query(HumanTask).filter_by(case_id=case_id)}
        assert states == {"review": "cancelled", "urge": "open"}
        events = [e.event_type for e in db.session.query(AuditEvent).filter_by(case_id=case_id)]
        assert events.count("timer_fired") == 1
        assert "task_cancelled" in events
    assert api.find_task("window1", "urge", case_id)["group"] == "window"


def test_a_timer_fires_only_once(api, app, clock):
    """A second worker pass (or a racing worker) finds nothing left to fire."""
    case_id = _start(api)
    clock.shift(timedelta(seconds=2))  # the injected clock: no sleeping
    with app.app_context():
        assert transaction.run(timers.fire_case_timers, case_id) == ["审查超时"]
        assert transaction.run(timers.fire_case_timers, case_id) == []
        assert timers.due_case_ids() == []
        fired = db.session.query(AuditEvent).filter_by(case_id=case_id, event_type="timer_fired").count()
        assert fired == 1


def test_completing_before_the_timer_leaves_nothing_due(api, app):
    """Finishing the review in time ends the case; no timer remains."""
    case_id = _start(api)
    result = api.do("health1", "review", {}, case_id)
    assert result["status"] == "completed" and result["outcome"] == "办结"
    with app.app_context():
        assert db.session.get(Case, case_id).next_timer_at is None
