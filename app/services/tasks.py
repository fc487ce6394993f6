"""Inboxes, claims and completions of human tasks."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, insert, literal, or_, select, union, update
from sqlalchemy.orm import defer, joinedload, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from ..engine import TaskNotReady, WorkflowRunError
from ..errors import Conflict, Forbidden, NotFound
from ..extensions import db
from ..models import AuditEvent, Case, HumanTask, InboxEntry, ProcessVersion, TaskCopy, User
from ..models.types import utcnow
from . import audit, forms, kpi_rollups, permissions, processes
from .cases import load_workflow, lock_task_case, save_workflow, workflow_error
from .runtime import engine

VIEWS = ("available", "mine", "completed", "copied")


@dataclass
class Page:
    """One page of an inbox."""

    items: list[HumanTask]
    total: int
    page: int
    per_page: int


def _inbox_query(user: User, view: str):
    if view == "mine":
        return (select(HumanTask).where(HumanTask.state == "claimed", HumanTask.assignee_id == user.id),
                (HumanTask.created_at, HumanTask.id))
    if view == "copied":
        copied = select(TaskCopy.task_id).where(TaskCopy.user_id == user.id)
        return select(HumanTask).where(HumanTask.id.in_(copied)), (HumanTask.created_at.desc(), HumanTask.id.desc())
    return (select(HumanTask).where(HumanTask.state == "completed", HumanTask.completed_by_id == user.id),
            (HumanTask.completed_at.desc(), HumanTask.id.desc()))


def _available(user: User, page: int, per_page: int) -> Page:
    """Open tasks offered to the user's groups (``inbox_entries``, one index range per group) or
    to the user by name, oldest first. Each stream is cut at the page's end before they are merged,
    so a page costs the same with ten thousand open tasks or a million."""
    upto = page * per_page
    offered = InboxEntry.__table__.c
    streams = [select(offered.task_id.label("id"), offered.created_at.label("created_at"))
               .where(offered.group_id == group_id).order_by(offered.created_at, offered.task_id).limit(upto)
               for group_id in user.group_ids]
    streams.append(select(HumanTask.id.label("id"), HumanTask.created_at.label("created_at"))
                   .where(HumanTask.candidate_user_id == user.id, HumanTask.state == "open")
                   .order_by(HumanTask.created_at, HumanTask.id).limit(upto))
    # SQLite wants a compound's ordered, limited members wrapped; UNION drops a task offered twice.
    members = [select(s.c.id, s.c.created_at) for s in (stream.subquery() for stream in streams)]
    merged = union(*members).subquery()
    ids = list(db.session.scalars(select(merged.c.id).order_by(merged.c.created_at, merged.c.id)
                                  .offset((page - 1) * per_page).limit(per_page)))
    # Entries never hold a task offered by name, so the two counts add up; a task in two of the
    # user's groups counts once.
    groups = user.group_ids
    in_groups = (0 if not groups else db.session.scalar(
        select(func.count()).select_from(InboxEntry).where(offered.group_id == groups[0])) if len(groups) == 1
        else db.session.scalar(select(func.count(func.distinct(offered.task_id))).where(offered.group_id.in_(groups))))
    by_name = db.session.scalar(select(func.count(HumanTask.id)).where(HumanTask.candidate_user_id == user.id,
                                                                       HumanTask.state == "open"))
    total = (in_groups or 0) + (by_name or 0)
    rows = {t.id: t for t in db.session.scalars(_listed(select(HumanTask).where(HumanTask.id.in_(ids))))} if ids else {}
    return Page([rows[i] for i in ids if i in rows], total, page, per_page)


def _listed(query):
    """Load listed tasks with what a list shows: their case's columns without case data, intake or
    routing, and no candidate rows (the list shows ``group_codes``)."""
    return query.options(
        lazyload(HumanTask.candidates), defer(HumanTask.submitted_data), defer(HumanTask.draft_data),
        joinedload(HumanTask.case).options(
            defer(Case.data), defer(Case.intake),
            joinedload(Case.process_version).options(defer(ProcessVersion.meta), defer(ProcessVersion.description))))


def inbox(user: User, view: str, page: int = 1, per_page: int = 20) -> Page:
    """Return one page of ``available``, ``mine`` or ``completed`` tasks; never loads workflow state."""
    if view == "available":
        return _available(user, page, per_page)
    query, order = _inbox_query(user, view)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(_listed(query).order_by(*order).offset((page - 1) * per_page).limit(per_page)).all()
    return Page(list(items), total, page, per_page)


def _get(task_id: int) -> HumanTask:
    """The task with its candidate groups (by default they take a second statement)."""
    task = db.session.execute(_task_query(), {"task_id": task_id}).unique().scalar_one_or_none()
    if task is None:
        raise NotFound("No such task.")
    return task


@functools.cache
def _task_query():
    return select(HumanTask).where(HumanTask.id == bindparam("task_id")).options(joinedload(HumanTask.candidates))


# What another transaction may have changed on a task we loaded: its state and holder (claims,
# releases, completions, cancellations), its deadline and its routing (moves, reassignments).
_LIVE_TASK_COLUMNS = ["state", "assignee_id", "claimed_at", "completed_at", "completed_by_id", "due_at",
                      "group_codes", "candidate_user_id", "lock_version"]


def _refresh_claim(task: HumanTask) -> None:
    """Re-read the columns of ``task`` a concurrent transaction may change (one narrow SELECT,
    no eager joins); its holder is loaded again when next read."""
    db.session.refresh(task, _LIVE_TASK_COLUMNS)
    db.session.expire(task, ["assignee"])


def get_task(user: User, task_id: int) -> HumanTask:
    """Return a task the user may see (its groups, its holder, case readers), else 403."""
    task = _get(task_id)
    if not permissions.may_see_task(user, task) and not _has_copy(user, task):
        raise Forbidden("This task is not for your groups.")
    return task


def _has_copy(user: User, task: HumanTask) -> bool:
    """Whether the task was copied (抄送) to the user."""
    return db.session.scalar(select(TaskCopy.id).where(TaskCopy.task_id == task.id,
                                                       TaskCopy.user_id == user.id).limit(1)) is not None


def task_values(task: HumanTask) -> dict:
    """What the task reads: the case data, and for one instance of a multi-instance task its item."""
    return {**(task.case.data or {}), **(task.instance_data or {})}


def task_form(task: HumanTask) -> dict | None:
    """Return the JSON Schema of the task's form, if it has one."""
    return processes.form_schema(task.case.process_version, task.form)


def editable_by(user: User, task: HumanTask) -> set[str]:
    """The fields of the task's form ``user`` may change now: its holder, or one who may claim it
    while it is open. Nobody edits a completed or cancelled task, nor a task held by someone else."""
    if task.state == "claimed" and task.assignee_id == user.id:
        return forms.editable_keys(task_form(task))
    if task.state == "open" and permissions.may_work_on(user, task):
        return forms.editable_keys(task_form(task))
    return set()


def handled_reviewed_case(user: User, task: HumanTask) -> bool:
    """Whether the task reviews a case (``excludeHandlersOf``) that ``user`` started or worked on."""
    route = task.case.process_version.meta.get("user_tasks", {}).get(task.bpmn_id, {})
    key = route.get("exclude_handlers_of")
    subject = (task.case.data or {}).get(key) if key else None
    if not isinstance(subject, int) or isinstance(subject, bool):
        return False
    worked = select(HumanTask.id).where(HumanTask.case_id == subject, or_(
        HumanTask.completed_by_id == user.id, HumanTask.assignee_id == user.id)).limit(1)
    started = select(Case.id).where(Case.id == subject, Case.started_by_id == user.id)
    return (db.session.scalar(worked) is not None) or (db.session.scalar(started) is not None)


def _check_independent(user: User, task: HumanTask) -> None:
    if handled_reviewed_case(user, task):
        raise Forbidden(_("You handled the case under review, so you may not review it."))


def claim(user: User, task_id: int) -> HumanTask:
    """Claim an open task of the user's groups. Exactly one of many concurrent claimers wins."""
    task = _get(task_id)
    if not permissions.may_work_on(user, task):
        raise Forbidden("This task is not for your groups.")
    _check_independent(user, task)
    now = utcnow()
    # The winner reads the task's live columns back from its own UPDATE (no second statement);
    # on PostgreSQL the same statement writes the audit row.
    recorded = db.session.get_bind().dialect.name == "postgresql"
    won = db.session.execute(_claim_statement(recorded), {"task_id": task_id, "user_id": user.id, "now": now}).first()
    if won is not None:
        for name, value in zip(_LIVE_TASK_COLUMNS, won, strict=True):
            set_committed_value(task, name, value)
        set_committed_value(task, "assignee", user)
        if not recorded:
            audit.insert_now(task.case_id, "task_claimed", user, task)
        return task
    _refresh_claim(task)
    if task.state == "claimed" and task.assignee_id == user.id:
        return task
    if task.state == "claimed":
        raise Conflict("Someone else has claimed this task.", error="claimed_by_other")
    raise Conflict(f"The task is {task.state} and can no longer be claimed.", error="task_not_open")


@functools.cache
def _claim_statement(with_audit_row: bool):
    """``UPDATE … WHERE state = 'open' RETURNING`` the live columns. ``with_audit_row``
    (PostgreSQL): a data-modifying ``WITH`` also inserts the claim's audit event, as
    ``audit.record`` would, for the row the update claimed (none when it claimed none)."""
    user_id = bindparam("user_id", type_=HumanTask.__table__.c.assignee_id.type)
    now = bindparam("now", type_=HumanTask.__table__.c.claimed_at.type)
    claim = (update(HumanTask)
             .where(HumanTask.id == bindparam("task_id"), HumanTask.state == "open")
             .values(state="claimed", assignee_id=user_id, claimed_at=now, lock_version=HumanTask.lock_version + 1))
    live = [getattr(HumanTask, name) for name in _LIVE_TASK_COLUMNS]
    if not with_audit_row:
        return claim.returning(*live).execution_options(synchronize_session=False)
    claimed = claim.returning(HumanTask.id, HumanTask.case_id, HumanTask.name, *live).cte("claimed")
    events = AuditEvent.__table__
    record = insert(events).from_select(
        ["case_id", "event_type", "actor_id", "at", "task_id", "task_name", "data"],
        select(claimed.c.case_id, literal("task_claimed"), user_id, now, claimed.c.id, claimed.c.name,
               literal(None, events.c.data.type)),
    ).cte("recorded")
    return select(*(claimed.c[name] for name in _LIVE_TASK_COLUMNS)).add_cte(record)


def unclaim(user: User, task_id: int) -> HumanTask:
    """Give a claimed task back to its groups (its holder or an admin); releasing an open task is a no-op."""
    task = _get(task_id)
    is_admin = user.has_role(*permissions.UNCLAIM_ANY)
    if not is_admin and not permissions.may_see_task(user, task):
        raise Forbidden("This task is not for your groups.")
    if task.state == "open":
        return task  # already released (a double click, or another tab)
    if task.state != "claimed":
        raise Conflict(f"The task is {task.state}.", error="task_not_claimed")
    if task.assignee_id != user.id and not is_admin:
        raise Forbidden("Only the holder or an admin may unclaim this task.")
    result = db.session.execute(
        update(HumanTask)
        .where(HumanTask.id == task_id, HumanTask.state == "claimed",
               HumanTask.assignee_id == task.assignee_id)
        .values(state="open", assignee_id=None, claimed_at=None, lock_version=HumanTask.lock_version + 1)
        .execution_options(synchronize_session=False))
    _refresh_claim(task)
    if result.rowcount != 1:
        if task.state == "open":
            return task
        raise Conflict(f"The task is {task.state}.", error="task_not_claimed")
    audit.record(task.case, "task_unclaimed", user, task)
    db.session.flush()
    return task


def complete(user: User, task_id: int, data) -> Case:
    """Complete a task the user holds with form-valid ``data``; advance the case atomically."""
    # Serialise transitions of one case: row lock (PostgreSQL) + optimistic lock_version. The
    # task is read by the statement that takes the lock, so it is as the last transition of the
    # case left it (and the answer's starter comes with it).
    task, case = lock_task_case(task_id)
    if not permissions.may_work_on(user, task) and task.assignee_id != user.id:
        raise Forbidden("This task is not for your groups.")
    _check_independent(user, task)
    if task.state in ("completed", "cancelled"):
        raise Conflict(f"The task is already {task.state}.", error="task_not_open")
    if task.state != "claimed" or task.assignee_id != user.id:
        raise Conflict("Claim the task before completing it.", error="not_claimed_by_you")
    return advance(case, task, data, user)


def advance(case: Case, task: HumanTask, data, actor: User | None) -> Case:
    """Complete a live task of a locked case with form-valid ``data`` (by ``actor``, or by the
    system for timeout policies) and run the process to its next wait."""
    schema = task_form(task)
    data, checked = forms.split_read_only(schema, data, task_values(task))
    forms.validate(schema, checked)

    workflow = load_workflow(case)
    waited = bool(engine().waiting_messages(workflow))
    try:
        engine().complete_user_task(workflow, task.engine_task_id, data)
    except TaskNotReady:
        raise Conflict("The task is no longer waiting in the process.", error="task_not_open") from None
    except WorkflowRunError as exc:
        raise workflow_error(exc) from None

    now = utcnow()
    task.state = "completed"
    task.completed_at = now
    task.completed_by_id = actor.id if actor else None
    task.completed_on_time = kpi_rollups.on_time(task, case, now)
    task.submitted_data = data
    audit.record(case, "task_completed", actor, task, data=data)
    save_workflow(case, workflow, actor, waited=waited)
    return case
