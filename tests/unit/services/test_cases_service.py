"""Case and task services called directly, inside one app context, with the unit of work."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import transaction
from app.errors import Conflict, Forbidden, InvalidInput
from app.models import AuditEvent, Case, HumanTask, User
from app.services import cases, processes, tasks

DATA = Path(__file__).resolve().parents[2] / "data"
APPLICANT = {"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}


def user(db, username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def deploy(db, path: Path, name: str | None = None):
    result = transaction.run(processes.deploy, user(db, "designer"), [(name or path.name, path.read_bytes())])
    assert result.created
    return result.version


def start(db, key: str, username: str = "window1", data: dict | None = None) -> Case:
    return transaction.run(cases.start_case, user(db, username), key, APPLICANT, data or {})


def open_task(db, case_id: int) -> HumanTask:
    return db.session.scalar(select(HumanTask).where(HumanTask.case_id == case_id,
                                                     HumanTask.state.in_(("open", "claimed"))))


def events(db, case_id: int) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.event_type).where(AuditEvent.case_id == case_id)
                                   .order_by(AuditEvent.id)))


@pytest.fixture()
def versioned(app_ctx):
    """The one-task 'versioned' process (v1) deployed."""
    deploy(app_ctx, DATA / "api_checks" / "versioned_v1.bpmn", "versioned.bpmn")
    return app_ctx


def test_start_case_requires_the_clerk_role(versioned):
    """A reviewer may not start a case: Forbidden, and nothing is stored."""
    db = versioned
    with pytest.raises(Forbidden):
        transaction.run(cases.start_case, user(db, "health1"), "versioned", APPLICANT, {})
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0


def test_start_case_unknown_process_is_invalid_input(app_ctx):
    """An unknown process key is InvalidInput on process_key (422), not NotFound."""
    with pytest.raises(InvalidInput) as info:
        cases.start_case(user(app_ctx, "window1"), "nope", APPLICANT, {})
    assert info.value.status == 422
    assert list(info.value.errors) == ["process_key"]


def test_start_case_stores_case_task_and_audit(versioned):
    """start_case stores an active case on version 1, one open window task and a case_started event."""
    db = versioned
    case = start(db, "versioned")
    db.session.expire_all()
    stored = db.session.get(Case, case.id)
    assert stored.status == "active"
    assert stored.version == 1
    assert stored.started_by.username == "window1"
    task = open_task(db, case.id)
    assert task.bpmn_id == "review" and task.state == "open" and task.group_codes == ["window"]
    assert events(db, case.id) == ["case_started"]


def test_receipt_numbers_increase_within_a_day(app_ctx):
    """Two receipts on one day get consecutive sequence numbers."""
    now = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    first = cases.next_receipt_no(now)
    second = cases.next_receipt_no(now)
    assert first == "CZ20260305000001"
    assert second == "CZ20260305000002"


def test_receipt_numbers_restart_each_day(app_ctx):
    """A new local day starts again at 000001; the earlier day's counter goes on where it stopped."""
    day1 = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    day2 = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)
    assert cases.next_receipt_no(day1) == "CZ20260305000001"
    assert cases.next_receipt_no(day2) == "CZ20260306000001"
    assert cases.next_receipt_no(day2) == "CZ20260306000002"
    assert cases.next_receipt_no(day1) == "CZ20260305000002"


def test_receipt_day_is_the_shanghai_date(app_ctx):
    """16:30 UTC is already the next day in Asia/Shanghai (UTC+8)."""
    assert cases.next_receipt_no(datetime(2026, 3, 5, 16, 30, tzinfo=UTC)) == "CZ20260306000001"
    assert cases.next_receipt_no(datetime(2026, 3, 5, 15, 59, tzinfo=UTC)) == "CZ20260305000001"


def test_complete_without_claim_raises_conflict(versioned):
    """Completing an open task nobody claimed raises Conflict not_claimed_by_you."""
    db = versioned
    case = start(db, "versioned")
    task_id = open_task(db, case.id).id
    with pytest.raises(Conflict) as info:
        transaction.run(tasks.complete, user(db, "window1"), task_id, {})
    assert info.value.error == "not_claimed_by_you"
    assert db.session.get(HumanTask, task_id).state == "open"


def test_complete_of_task_claimed_by_colleague_raises_conflict(versioned):
    """window2 completing a task window1 holds raises Conflict."""
    db = versioned
    case = start(db, "versioned")
    task_id = open_task(db, case.id).id
    transaction.run(tasks.claim, user(db, "window1"), task_id)
    with pytest.raises(Conflict):
        transaction.run(tasks.complete, user(db, "window2"), task_id, {})


def test_claim_by_other_group_raises_forbidden(versioned):
    """A reviewer of another group may not claim the window's task."""
    db = versioned
    case = start(db, "versioned")
    with pytest.raises(Forbidden):
        transaction.run(tasks.claim, user(db, "health1"), open_task(db, case.id).id)


def test_claim_and_complete_finish_the_case(versioned):
    """Claim then complete: the case ends with the end event's name and a case_completed event."""
    db = versioned
    case = start(db, "versioned")
    task_id = open_task(db, case.id).id
    transaction.run(tasks.claim, user(db, "window1"), task_id)
    transaction.run(tasks.complete, user(db, "window1"), task_id, {"note": "ok"})
    db.session.expire_all()
    stored = db.session.get(Case, case.id)
    assert stored.status == "completed"
    assert stored.outcome == "办结 v1"
    assert stored.data["note"] == "ok"
    assert events(db, case.id) == ["case_started", "task_claimed", "task_completed", "case_completed"]
    done = db.session.get(HumanTask, task_id)
    assert done.state == "completed" and done.completed_by.username == "window1"
    assert done.submitted_data == {"note": "ok"}


@pytest.fixture()
def failing(app_ctx):
    """A case of 'undefined_variable' whose window task window1 has claimed (committed)."""
    db = app_ctx
    deploy(db, DATA / "api_checks" / "undefined_variable.bpmn")
    case = start(db, "undefined_variable")
    task_id = open_task(db, case.id).id
    transaction.run(tasks.claim, user(db, "window1"), task_id)
    db.session.expire_all()
    stored = db.session.get(Case, case.id)
    return db, case.id, task_id, stored.workflow_state, stored.lock_version


def test_failed_engine_step_is_workflow_error(failing):
    """A gateway condition reading an undefined variable makes complete raise a 422 workflow_error."""
    db, case_id, task_id, _state, _lock = failing
    with pytest.raises(InvalidInput) as info:
        transaction.run(tasks.complete, user(db, "window1"), task_id, {})
    assert info.value.status == 422
    assert info.value.error == "workflow_error"
    assert isinstance(info.value.errors, list)
    assert set(info.value.errors[0]) == {"file", "line", "element", "message"}
    assert "never_written" in info.value.message


def test_failed_engine_step_leaves_the_case_unchanged(failing):
    """After the failed step the workflow state, lock_version, data and audit trail are as before."""
    db, case_id, task_id, state, lock = failing
    before = events(db, case_id)
    with pytest.raises(InvalidInput):
        transaction.run(tasks.complete, user(db, "window1"), task_id, {"extra": 1})
    db.session.expire_all()
    stored = db.session.get(Case, case_id)
    assert stored.workflow_state == state
    assert stored.lock_version == lock
    assert stored.status == "active"
    assert "extra" not in stored.data
    assert events(db, case_id) == before


def test_failed_engine_step_keeps_the_claim(failing):
    """After the failed step the task is still claimed by window1 and not completed."""
    db, case_id, task_id, _state, _lock = failing
    with pytest.raises(InvalidInput):
        transaction.run(tasks.complete, user(db, "window1"), task_id, {})
    db.session.expire_all()
    task = db.session.get(HumanTask, task_id)
    assert task.state == "claimed"
    assert task.assignee.username == "window1"
    assert task.completed_at is None and task.submitted_data is None


def test_failed_engine_step_can_be_retried_with_the_missing_value(failing):
    """The same task completes once the data supplies the variable the condition reads."""
    db, case_id, task_id, _state, _lock = failing
    with pytest.raises(InvalidInput):
        transaction.run(tasks.complete, user(db, "window1"), task_id, {})
    transaction.run(tasks.complete, user(db, "window1"), task_id, {"never_written": "yes"})
    db.session.expire_all()
    assert db.session.get(Case, case_id).outcome == "办结"


def test_complete_with_invalid_form_data_stores_nothing(app_ctx):
    """Form-invalid data raises InvalidInput with data.* errors and leaves the claim and history alone."""
    db = app_ctx
    checks = DATA / "api_checks"
    files = [checks / "joint_review.bpmn", checks / "joint_review_form.json"]
    transaction.run(processes.deploy, user(db, "designer"), [(p.name, p.read_bytes()) for p in files])
    case = start(db, "joint_review")
    task_id = open_task(db, case.id).id
    transaction.run(tasks.claim, user(db, "police1"), task_id)
    before = events(db, case.id)
    with pytest.raises(InvalidInput) as info:
        transaction.run(tasks.complete, user(db, "police1"), task_id, {"joint_ok": "yes"})
    assert list(info.value.errors) == ["data.joint_ok"]
    db.session.expire_all()
    assert db.session.get(HumanTask, task_id).state == "claimed"
    assert events(db, case.id) == before
