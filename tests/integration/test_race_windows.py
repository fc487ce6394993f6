"""Races inside one service call: another transaction commits between what a service reads and
what it writes. Each test stops the service at that point (a patched helper it calls), lets the
other transaction run in a second thread with its own session, then lets the first go on; the
database must end consistent, and the loser answer as if it had come second.

Where the fix serialises the two (the second waits for the first's lock), the second thread
cannot finish while the first is stopped: it is given a moment, then the first goes on and
commits, and the second finishes after it.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app import transaction
from app.errors import Conflict
from app.extensions import db
from app.models import AuditEvent, Case, CaseExtension, HumanTask, User, WorkOrder
from app.models.types import utcnow
from support import DATA, ROOT


class Other:
    """A service call in a second thread, in its own app context, session and unit of work."""

    def __init__(self, app, fn):
        self.result = self.error = None
        self._thread = threading.Thread(target=self._run, args=(app, fn), daemon=True)
        self._thread.start()

    def _run(self, app, fn):
        with app.app_context():
            try:
                self.result = transaction.run(fn)
            except Exception as exc:  # reported to the test
                self.error = exc
            finally:
                db.session.remove()

    def wait(self, seconds: float = 30) -> bool:
        """Whether it finished within ``seconds``."""
        self._thread.join(seconds)
        return not self._thread.is_alive()


def user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def once(monkeypatch, module, name, before):
    """Patch ``module.name`` so that its first call runs ``before()`` first."""
    original = getattr(module, name)
    fired = []

    def patched(*args, **kwargs):
        if not fired:
            fired.append(True)
            before()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, patched)
    return fired


def events(app, case_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.event_type).where(AuditEvent.case_id == case_id)
                                       .order_by(AuditEvent.id)))


# -- 撤回 against a claim of the next step ------------------------------------------------------


def test_a_recall_loses_to_a_claim_of_the_next_step_made_meanwhile(api, app, monkeypatch):
    """The recall has checked that nothing after its step was taken up; then health1 claims the
    next step. The recall must not cancel that claimed task: it answers 409 like a later recall."""
    from app.services import task_moves, tasks

    assert api.deploy(DATA / "moves" / "moves.bpmn").status_code == 201
    body = api.start("moves").get_json()
    case_id, formal = body["id"], body["tasks"][0]["id"]
    api.do("window1", "formal_check", {}, case_id)
    health = api.find_task("health1", "health_review", case_id)["id"]
    others = []

    def claim_meanwhile():
        others.append(Other(app, lambda: tasks.claim(user("health1"), health).state))
        assert others[0].wait(), "the claim waited for the recall"

    fired = once(monkeypatch, task_moves, "load_workflow", claim_meanwhile)
    r = api.post(f"/api/v1/tasks/{formal}/recall", "window1")
    assert fired
    assert others[0].error is None and others[0].result == "claimed"
    assert r.status_code == 409, r.get_json()
    assert r.get_json()["error"] == "next_step_started"
    with app.app_context():
        row = db.session.get(HumanTask, health)
        assert (row.state, row.assignee_id) == ("claimed", user("health1").id)
        assert db.session.get(HumanTask, formal).state == "completed"
    assert "task_recalled" not in events(app, case_id)


# -- a timeout policy against a pause of the case ----------------------------------------------


def test_a_timeout_policy_is_not_applied_to_a_case_paused_meanwhile(api, app, monkeypatch):
    """The worker has picked an overdue task of a running case; before it locks the case, the
    case is paused (特别程序). The policy must not run on the paused case."""
    from app.services import case_clock, timers

    assert api.deploy(DATA / "task_policies" / "task_policies.bpmn").status_code == 201
    case_id = api.start("task_policies").get_json()["id"]
    others = []

    def pause_meanwhile():
        others.append(Other(app, lambda: case_clock.pause_case(user("window1"), case_id, "hearing", "听证")))
        assert others[0].wait(), "the pause waited for the worker"

    fired = once(monkeypatch, timers, "lock_case", pause_meanwhile)
    with app.app_context():
        task_id = transaction.run(timers.apply_next_timeout, now=utcnow() + timedelta(days=30))
    assert fired and task_id is not None
    assert others[0].error is None
    with app.app_context():
        assert db.session.get(Case, case_id).paused_at is not None
        task = db.session.get(HumanTask, task_id)
        assert task.state in ("open", "claimed") and not task.timeout_handled
    assert "task_timeout" not in events(app, case_id)


# -- two decisions on one extension request -----------------------------------------------------


def test_an_extension_is_decided_once_when_approve_and_reject_meet(api, app, monkeypatch):
    """chief1 rejects a request while chief2's approval of it is on its way: exactly one decision
    stands, and the case's time limits agree with it."""
    from app.services import case_clock

    assert api.deploy(DATA / "moves" / "moves.bpmn").status_code == 201
    case_id = api.start("moves").get_json()["id"]
    r = api.post(f"/api/v1/cases/{case_id}/extensions", "window1", json={"working_days": 3, "reason": "需补充核查"})
    assert r.status_code == 201, r.get_json()
    ext_id = r.get_json()["id"]
    others = []

    def approve_meanwhile():
        others.append(Other(app, lambda: case_clock.decide(user("chief1"), ext_id, True, "同意").status))
        others[0].wait(2)  # finishes at once unless the rejection holds the case

    fired = once(monkeypatch, case_clock, "require_active", approve_meanwhile)
    rejected = api.post(f"/api/v1/extensions/{ext_id}/reject", "chief1", json={"note": "不同意"})
    assert fired and others[0].wait()
    with app.app_context():
        record = db.session.get(CaseExtension, ext_id)
        case = db.session.get(Case, case_id)
        if rejected.status_code == 200:  # the rejection came first: the approval was refused
            assert isinstance(others[0].error, Conflict) and others[0].error.error == "extension_decided"
            assert record.status == "rejected" and not case.extension_working_days
        else:  # the approval came first: the rejection was refused
            assert rejected.status_code == 409 and others[0].error is None
            assert record.status == "approved" and case.extension_working_days == 3
    decisions = [e for e in events(app, case_id) if e in ("extension_approved", "extension_rejected")]
    assert len(decisions) == 1


# -- two duplicates merged into one work order ---------------------------------------------------

ORDER = {"request_type": "投诉", "category": "道路破损", "urgency": "normal",
         "caller": {"name": "李女士", "phone": "13912345678", "confidential": False},
         "address": "长治市潞州区英雄中路88号", "content": "小区门口道路塌陷，存在安全隐患，请尽快修复。"}


def test_two_merges_into_one_order_both_count(api, app, monkeypatch):
    from app.services import case_moves, work_orders

    path = ROOT / "bpmn" / "hotline_work_order.bpmn"
    forms = [f for f in sorted((ROOT / "forms").glob("hotline_*.json")) if f.name.encode() in path.read_bytes()]
    assert api.deploy(path, *forms).status_code == 201
    parent, first, second = (api.post("/api/v1/work-orders", "hotline1",
                                      json={**ORDER, "content": f"{ORDER['content']}{n}"}).get_json() for n in range(3))
    others = []

    def merge_meanwhile():
        others.append(Other(app, lambda: work_orders.merge(user("hotline1"), second["id"], parent["id"]).merged_count))
        others[0].wait(2)  # finishes at once unless the first merge holds the parent

    fired = once(monkeypatch, case_moves, "close_case", merge_meanwhile)
    r = api.post(f"/api/v1/work-orders/{first['id']}/merge", "hotline1", json={"into": parent["id"]})
    assert fired and others[0].wait()
    assert r.status_code == 200, r.get_json()
    assert others[0].error is None
    with app.app_context():
        assert db.session.get(WorkOrder, parent["id"]).merged_count == 2
        assert {db.session.get(WorkOrder, o["id"]).status for o in (first, second)} == {"merged"}


# -- one review per case, submitted twice at once ----------------------------------------------


def test_a_review_submitted_twice_at_once_is_stored_once_and_the_second_gets_409(api, app, client, monkeypatch):
    from app.services import reviews

    taxi = [ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
            ROOT / "forms" / "taxi_driver_decision.json"]
    assert api.deploy(*taxi).status_code == 201
    case = api.start("taxi_driver_licence", {"driving_licence_no": "140402199001011234",
                                             "exam_certificate_no": "KS2025-0001",
                                             "no_bad_record_pledge": True}).get_json()
    case = api.do("window1", "window_decision",
                  {"decision": "issue", "licence_no": "CZ-TAXI-0001", "decision_opinion": "当场核发"}, case["id"])
    assert case["status"] == "completed"
    others = []

    def submit_meanwhile():
        others.append(Other(app, lambda: reviews.submit(case["receipt_no"], "13812341234", 5, "很好").id))
        assert others[0].wait()

    # utcnow is read for the new review, after the check that the case has none
    fired = once(monkeypatch, reviews, "utcnow", submit_meanwhile)
    r = client.post("/api/v1/reviews", json={"receipt_no": case["receipt_no"], "phone": "13812341234",
                                             "level": 4, "comment": "不错"})
    assert fired and others[0].error is None
    assert r.status_code == 409, r.get_json()
    assert r.get_json()["error"] == "already_reviewed"
    with app.app_context():
        from app.models import Review

        assert db.session.scalar(select(Review.level).where(Review.case_id == case["id"])) == 5


# -- the timer worker replays a lost race --------------------------------------------------------


def test_a_timer_pass_that_loses_a_race_is_replayed_not_skipped(api, app, clock, monkeypatch):
    from app.services import timers

    assert api.deploy(DATA / "timer_escalation" / "timer_escalation.bpmn").status_code == 201
    case_id = api.start("timer_escalation").get_json()["id"]
    clock.shift(timedelta(seconds=2))
    original = timers.fire_case_timers
    calls = []

    def loses_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise StaleDataError("a concurrent transition changed the case")
        return original(*args, **kwargs)

    monkeypatch.setattr(timers, "fire_case_timers", loses_once)
    with app.app_context():
        assert transaction.run(timers.fire_next_due) == (case_id, ["审查超时"])
    assert len(calls) == 2
    assert events(app, case_id).count("timer_fired") == 1


def test_a_timer_failure_that_is_no_race_is_reported_for_the_case(api, app, clock, monkeypatch):
    from app.services import timers

    assert api.deploy(DATA / "timer_escalation" / "timer_escalation.bpmn").status_code == 201
    case_id = api.start("timer_escalation").get_json()["id"]
    clock.shift(timedelta(seconds=2))

    def fails(*args, **kwargs):
        raise ValueError("a broken diagram")

    monkeypatch.setattr(timers, "fire_case_timers", fails)
    with app.app_context(), pytest.raises(timers.TimerFailed) as failed:
        transaction.run(timers.fire_next_due)
    assert failed.value.case_id == case_id
