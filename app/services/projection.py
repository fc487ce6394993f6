"""Project the engine's READY user tasks onto ``human_tasks`` rows, and its message waits onto
``message_waits``."""

from __future__ import annotations

import functools

from flask import has_request_context, request
from sqlalchemy import bindparam, delete, event, select
from sqlalchemy.orm import Session, lazyload

from ..extensions import db
from ..models import Case, HumanTask, MessageWait, TaskCandidate, User
from ..models.types import utcnow
from . import audit, deadlines, kpi_rollups, org


def sync_tasks(case: Case, ready, actor: User | None) -> list[HumanTask]:
    """Insert rows for newly READY tasks and cancel live rows the engine no longer has.

    Changes of this transaction may not be flushed yet (``cases.save_workflow``): a row the
    database still has open but this transaction has completed is not live."""
    rows = db.session.scalars(_case_tasks_query(), {"case_id": case.id}).all()
    # The case's rollups need the groups of all its tasks as stored: they are all here.
    kpi_rollups.remember_stored_groups(db.session(), case, rows)
    live = {t.engine_task_id: t for t in rows if t.state in LIVE}
    ready_ids = {t.id for t in ready}
    for engine_id, row in live.items():
        if engine_id not in ready_ids:
            # e.g. an interrupting boundary event or a terminate end took the task away
            row.state = "cancelled"
            audit.record(case, "task_cancelled", actor, row)

    routing = case.process_version.meta.get("user_tasks", {})
    new = [t for t in ready if t.id not in live]
    codes = {g for t in new for g in _group_codes(t, routing.get(t.bpmn_id, {}))}
    group_ids = org.group_ids_by_code(codes)
    # A task for a named person (camunda:assignee, e.g. one signer of a 会签) goes to them alone.
    assignees = org.active_users_by_username({t.assignee for t in new if t.assignee})
    created = []
    now = utcnow()
    for task in new:
        route = routing.get(task.bpmn_id, {})
        row = HumanTask(
            case_id=case.id,
            engine_task_id=task.id,
            bpmn_id=task.bpmn_id,
            name=task.name,
            documentation=task.documentation,
            lane=task.lane,
            group_codes=_group_codes(task, route),
            candidate_user_id=case.started_by_id if route.get("initiator") else assignees.get(task.assignee),
            form=task.form,
            state="open",
            created_at=now,
            due_at=deadlines.task_due(now, route),
            due_natural=route.get("promised_hours") is not None and route.get("promised_days") is None,
            instance_data=task.instance,
        )
        row.candidates = [TaskCandidate(group_id=group_ids[c]) for c in row.group_codes if c in group_ids]
        db.session.add(row)
        created.append(row)
    _staff_empty_groups(case, created, routing, actor)
    _remember_live(case, [*live.values(), *created])
    return created


@functools.cache
def _case_tasks_query():
    # All of the case's rows, not only the live ones: the KPI rollups of the flush that follows
    # need the groups of every task of the case, which would otherwise be a statement of their own
    # (the rows of one case: 8 on the newborn path). The holder is joined (as the answer's list of open
    # tasks needs it, see live_after_sync).
    return (select(HumanTask).where(HumanTask.case_id == bindparam("case_id"))
            .options(lazyload(HumanTask.case), lazyload(HumanTask.candidates)))


# -- the case's live tasks, as the projection left them ---------------------------------------
# A request that moved a case answers with the case and its open tasks. The projection has just
# loaded the live rows and made the new ones, so the answer takes them from here instead of
# reading them again (a statement per completion). Kept with the request itself, and forgotten
# when the session rolls back (a retried unit of work projects again).
LIVE = ("open", "claimed")
_LIVE_AFTER_SYNC = "changzhi.live_tasks_after_sync"


def _remember_live(case: Case, rows: list[HumanTask]) -> None:
    if has_request_context():
        request.environ.setdefault(_LIVE_AFTER_SYNC, {})[case.id] = rows


def live_after_sync(case: Case) -> list[HumanTask] | None:
    """The case's open and claimed tasks, oldest first, if this request projected the case; else
    None. The rows are the session's own, so a claim or release made since shows."""
    if not has_request_context():
        return None
    rows = request.environ.get(_LIVE_AFTER_SYNC, {}).get(case.id)
    if rows is None:
        return None
    return sorted((row for row in rows if row.state in LIVE), key=lambda row: (row.created_at, row.id))


@event.listens_for(Session, "after_soft_rollback")
def _forget_live(session: Session, previous_transaction) -> None:
    if has_request_context():
        request.environ.pop(_LIVE_AFTER_SYNC, None)


def _group_codes(task, route: dict) -> list[str]:
    """The deployed groups of the task, or, for a ``${var}`` candidate group, the codes the engine
    read from the case data when the task became ready."""
    if route.get("group_variables"):
        return list(task.candidate_groups)
    return list(route.get("groups", []))


def _staff_empty_groups(case: Case, created: list[HumanTask], routing: dict, actor: User | None) -> None:
    """``emptyGroupPolicy``: a new task whose groups have no active member goes to an administrator
    (``admin``) or is marked to be skipped (``skip``, done by ``cases.save_workflow``)."""
    for row in created:
        policy = routing.get(row.bpmn_id, {}).get("empty_group")
        if routing.get(row.bpmn_id, {}).get("group_variables") and not row.candidates:
            policy = policy or "admin"  # a run-time group that names no group: never strand the task
        if policy is None or row.candidate_user_id is not None or org.has_active_members(row.group_codes):
            continue
        db.session.flush()
        if policy == "skip":
            row.skip_pending = True
            continue
        admin = org.first_admin()
        if admin is not None:
            row.candidate_user_id = admin.id
            audit.record(case, "task_routed_to_admin", actor, row, data={"groups": row.group_codes})


def sync_waits(case: Case, waits) -> None:
    """Replace the case's projected message waits with the engine's current ones."""
    current = {(w.name, g) for w in waits for g in w.sender_groups}
    stored = {(m.name, m.group_code): m for m in db.session.scalars(
        select(MessageWait).where(MessageWait.case_id == case.id).options(lazyload(MessageWait.case)))}
    for key, row in stored.items():
        if key not in current:
            db.session.delete(row)
    now = utcnow()
    for wait in waits:
        for group in wait.sender_groups:
            if (wait.name, group) not in stored:
                db.session.add(MessageWait(case_id=case.id, name=wait.name, bpmn_id=wait.bpmn_id,
                                           element_name=wait.element_name, group_code=group, created_at=now))


def clear_waits(case: Case) -> None:
    """A closed case waits for nothing."""
    db.session.execute(delete(MessageWait).where(MessageWait.case_id == case.id))
