"""The timer worker's work: fire due BPMN timers and announce time-limit warnings.

Several workers may run at once. Each picks the next due case with ``SELECT … FOR UPDATE
SKIP LOCKED`` on PostgreSQL (a case another worker is firing is skipped, not waited for);
on SQLite the lock clause is a no-op and one worker is the supported set-up. Either way a
timer fires once: the case row is locked (PostgreSQL) and versioned (``lock_version``), and
``fire_case_timers`` re-checks ``next_timer_at`` after locking.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import and_, or_, select

from .. import transaction
from ..engine import WorkflowRunError
from ..errors import AppError
from ..extensions import db
from ..models import Case, HumanTask, TaskNote, WorkOrder
from ..models.types import utcnow
from . import audit, calendar, deadlines
from .cases import load_workflow, lock_case, save_workflow
from .runtime import engine
from .tasks import advance
from .work_orders import FINISHED as ORDER_FINISHED


class TimerFailed(Exception):
    """Firing the timers of ``case_id`` failed unexpectedly (the worker skips the case this pass)."""

    def __init__(self, case_id: int, cause: Exception):
        super().__init__(f"case {case_id}: {type(cause).__name__}: {cause}")
        self.case_id = case_id


def due_case_ids(now: datetime | None = None, limit: int = 100) -> list[int]:
    """Return ids of active cases with a timer due at ``now``, earliest first."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(Case.id).where(Case.status == "active", Case.next_timer_at <= now)
        .order_by(Case.next_timer_at).limit(limit)))


def fire_case_timers(case_id: int, now: datetime | None = None) -> list[str]:
    """Fire the due timers of one case and advance it; return the timer names that fired.

    The case row is locked like any other transition, so a worker racing a clerk's
    completion (or another worker) simply waits or retries; a timer fires once.
    """
    now = now or utcnow()
    case = lock_case(case_id)
    if case.status != "active" or case.next_timer_at is None or case.next_timer_at > now:
        return []  # someone else got here first
    workflow = load_workflow(case)
    try:
        fired = engine().fire_due_timers(workflow)
    except WorkflowRunError as exc:
        # Leave the state alone and push the retry out, so one broken case cannot stall the worker.
        audit.record(case, "timer_failed", None, data={"message": str(exc), "element": exc.element})
        case.next_timer_at = None
        db.session.flush()
        return []
    for name in fired:
        audit.record(case, "timer_fired", None, data={"timer": name})
    save_workflow(case, workflow, None)
    return fired


def fire_next_due(now: datetime | None = None, exclude: Collection[int] = ()) -> tuple[int | None, list[str]]:
    """Take the earliest due case no other worker holds and fire its timers (one transaction).

    Returns ``(case id, timer names)``, or ``(None, [])`` when nothing is due.
    """
    now = now or utcnow()
    query = (select(Case.id).where(Case.status == "active", Case.next_timer_at <= now)
             .order_by(Case.next_timer_at, Case.id).limit(1).with_for_update(skip_locked=True))
    if exclude:
        query = query.where(Case.id.not_in(list(exclude)))
    case_id = db.session.scalar(query)
    if case_id is None:
        return None, []
    try:
        return case_id, fire_case_timers(case_id, now)
    except Exception as exc:
        if transaction.retryable(exc):  # a lost race: the unit of work replays it on fresh data
            raise
        raise TimerFailed(case_id, exc) from exc


def announce_warnings(now: datetime | None = None, limit: int = 500) -> list[tuple[str, int, str]]:
    """Record each rise of a case's or task's warning (yellow, red) once, as an audit event.

    Returns ``(kind, id, level)`` for each announcement. Rows another worker holds are
    skipped; what is left is picked up by the next pass.
    """
    now = now or utcnow()
    threshold = deadlines.warning_working_days()
    # Prefilter in SQL (one working day beyond the yellow horizon), decide exactly in Python.
    horizon = calendar.add_working_days(now, threshold + 1)[0]
    announced = []
    rank = deadlines.WARNINGS.index

    cases = db.session.scalars(
        select(Case).where(Case.status == "active", Case.paused_at.is_(None), Case.due_at.is_not(None),
                           or_(and_(Case.due_at < now, Case.warning_level != "red"),
                               and_(Case.due_at <= horizon, Case.warning_level == "none")))
        .order_by(Case.due_at).limit(limit).with_for_update(skip_locked=True, of=Case)).all()
    for case in cases:
        level = deadlines.case_warning(case, now)
        if rank(level) > rank(case.warning_level or "none"):
            case.warning_level = level
            audit.record(case, "deadline_warning", None,
                         data={"level": level, "due_at": case.due_at.isoformat()})
            announced.append(("case", case.id, level))

    tasks = db.session.scalars(
        select(HumanTask).join(Case, HumanTask.case_id == Case.id)
        .where(HumanTask.state.in_(("open", "claimed")), HumanTask.due_at.is_not(None), Case.paused_at.is_(None),
               or_(and_(HumanTask.due_at < now, HumanTask.warning_level != "red"),
                   and_(HumanTask.due_at <= horizon, HumanTask.warning_level == "none")))
        .order_by(HumanTask.due_at).limit(limit).with_for_update(skip_locked=True, of=HumanTask)).all()
    for task in tasks:
        level = deadlines.task_warning(task, now)
        if rank(level) > rank(task.warning_level or "none"):
            task.warning_level = level
            audit.record(task.case, "task_deadline_warning", None, task,
                         data={"level": level, "due_at": task.due_at.isoformat(), "groups": task.group_codes})
            announced.append(("task", task.id, level))

    # 12345 orders: red once past due; yellow within the warning threshold (working-day orders) or
    # in the last quarter of their period (natural-time orders, e.g. 24 hours).
    orders = db.session.scalars(
        select(WorkOrder).where(WorkOrder.status.not_in(ORDER_FINISHED), WorkOrder.warning_level != "red",
                                or_(WorkOrder.due_at <= horizon, WorkOrder.clock == "natural"))
        .order_by(WorkOrder.due_at).limit(limit).with_for_update(skip_locked=True, of=WorkOrder)).all()
    yellow_by = calendar.add_working_days(now, threshold)[0]
    for order in orders:
        if now > order.due_at:
            level = "red"
        elif order.clock == "natural":
            level = "yellow" if order.due_at - now <= (order.due_at - order.created_at) / 4 else "none"
        else:
            level = "yellow" if order.due_at <= yellow_by else "none"
        if rank(level) > rank(order.warning_level or "none"):
            order.warning_level = level
            audit.record(order.case, "order_deadline_warning", None,
                         data={"level": level, "order_no": order.order_no, "due_at": order.due_at.isoformat(),
                               "unit": order.handling_unit})
            announced.append(("order", order.id, level))
    db.session.flush()
    return announced


# -- timeout policies (a task's ``timeoutPolicy``) ---------------------------------------------


def apply_next_timeout(now: datetime | None = None, exclude: Collection[int] = ()) -> int | None:
    """Apply the timeout policy of the next overdue live task no other worker holds (once per
    task, in its own transaction); returns the task id, or None when nothing is left.

    - ``remind``: a system reminder on the task; ``escalate``: the same, and the task becomes
      urgent; ``auto_approve``/``auto_reject``: the system completes the task with the
      diagram's ``timeoutData``. If that data is refused (the form changed, the task moved on)
      the task gets a reminder instead and the failure is audited.
    """
    now = now or utcnow()
    query = (select(HumanTask.id).join(Case, HumanTask.case_id == Case.id)
             .where(HumanTask.state.in_(("open", "claimed")), HumanTask.due_at < now,
                    HumanTask.timeout_handled.is_(False), Case.status == "active", Case.paused_at.is_(None))
             .order_by(HumanTask.due_at, HumanTask.id).limit(1).with_for_update(skip_locked=True, of=HumanTask))
    if exclude:
        query = query.where(HumanTask.id.not_in(list(exclude)))
    task_id = db.session.scalar(query)
    if task_id is None:
        return None
    case = lock_case(db.session.get(HumanTask, task_id).case_id)
    task = db.session.get(HumanTask, task_id)
    db.session.refresh(task)
    # The query above locked the task only: the case may have been paused, closed or extended
    # since (a pause or an extension changes the case, not the task), so ask again under the lock.
    # A task passed over here is left as it is; a later pass finds it if it becomes overdue again.
    if task.timeout_handled or task.state not in ("open", "claimed") or case.status != "active" \
            or case.paused_at is not None or task.due_at is None or task.due_at >= now:
        return task_id
    task.timeout_handled = True
    route = case.process_version.meta.get("user_tasks", {}).get(task.bpmn_id, {})
    timeout = route.get("timeout") or {}
    policy = timeout.get("policy")
    if policy is None:
        db.session.flush()
        return task_id
    audit.record(case, "task_timeout", None, task, data={"policy": policy, "due_at": task.due_at.isoformat()})
    if policy in ("auto_approve", "auto_reject"):
        try:
            # A savepoint: a step that fails further on (a skipped task's script, say) has by
            # then changed the task, the case and new rows; all of that is undone together.
            with db.session.begin_nested():
                advance(case, task, dict(timeout.get("data") or {}), None)
            return task_id
        except AppError as exc:
            audit.record(case, "task_timeout_failed", None, task, data={"policy": policy, "message": exc.message,
                                                                        "errors": exc.errors})
            policy = "remind"
    if policy == "escalate":
        task.priority = 2
    db.session.add(TaskNote(task_id=task.id, kind="urge", author_id=None, to_user_id=task.assignee_id, at=now,
                            body=SYSTEM_REMINDERS[policy]))
    db.session.flush()
    return task_id


# Stored as written; pages translate them (app/web/labels.py).
SYSTEM_REMINDERS = {
    "remind": "The time limit of this task has passed.",
    "escalate": "The time limit of this task has passed; it was escalated to urgent.",
}
