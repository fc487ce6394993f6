"""Start cases, read them, and advance their workflow inside one transaction."""

from __future__ import annotations

import functools
import importlib
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session, contains_eager, joinedload, lazyload, undefer
from sqlalchemy.orm.attributes import set_committed_value

from ..engine import TaskNotReady, WorkflowRunError
from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..models import AuditEvent, Case, HumanTask, MessageWait, ReceiptCounter, TaskCandidate, TaskCopy, User
from ..models.types import utcnow
from . import audit, calendar, deadlines, forms, kpi_rollups, kpis, permissions, processes
from .locks import write_lock
from .projection import clear_waits, live_after_sync, sync_tasks, sync_waits
from .runtime import compiled, engine
from .upserts import adding_upsert

# Processes whose records (in the service named) copy facts from the case after every step.
CASE_HOOKS = {"hotline_work_order": "work_orders", "bad_review": "reviews", "case_callback": "callbacks"}


def next_receipt_no(now: datetime) -> str:
    """Issue ``CZ`` + local date + 6-digit daily sequence, atomically on any backend."""
    day = now.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()
    stmt = adding_upsert(db.session.get_bind().dialect, ReceiptCounter.__table__, ("day",), ("last",), ("last",))
    seq = db.session.execute(stmt, {"day": day, "last": 1}).scalar_one()
    return f"CZ{day:%Y%m%d}{seq:06d}"


def workflow_error(exc: WorkflowRunError) -> InvalidInput:
    """Describe a failing diagram step (script, condition) without storing anything."""
    return InvalidInput(
        f"The process could not continue: {exc}",
        [{"file": None, "line": exc.line, "element": exc.element, "message": str(exc)}],
        error="workflow_error",
    )


def start_case(user: User, process_key: str, applicant: dict, data: dict, *, started_by: str | None = None) -> Case:
    """Start a case of the latest version of ``process_key`` for ``applicant``.

    A process whose diagram says ``startedBy`` (e.g. ``work_orders``) is started only by that
    service, which passes its name as ``started_by``."""
    if started_by is None:  # a service that starts its own process has checked its caller
        permissions.require_role(user, permissions.START_CASE, "start cases")
    try:
        version = processes.latest_version(process_key)
    except NotFound:
        raise InvalidInput("Unknown process.", {"process_key": [f"No deployed process {process_key!r}."]}) from None
    owner = (version.meta.get("time_limits") or {}).get("started_by")
    if owner and owner != started_by:
        raise InvalidInput(_("This process is not started here."), {"process_key": [
            _("Cases of this process are started by %(owner)s.", owner=owner)]})
    forms.validate(processes.form_schema(version, version.meta.get("start_form")), data)

    process = compiled(version)
    try:
        workflow = engine().start(process, data)
    except WorkflowRunError as exc:
        raise workflow_error(exc) from None

    now = utcnow()
    case = Case(
        process_version_id=version.id,
        process_key=version.key,
        version=version.version,
        applicant_name=applicant["name"],
        applicant_id_number=applicant["id_number"],
        applicant_phone=applicant.get("phone"),
        status="active",
        started_by_id=user.id,
        started_at=now,
        data={},
        workflow_state="",
        serializer_version=engine().serializer_version,
    )
    deadlines.set_case_due_dates(case, version.meta.get("time_limits"))
    case.immediate = bool((version.meta.get("time_limits") or {}).get("immediate"))
    # The receipt number is the transaction's first write: on SQLite the database's one write
    # lock is held from it to the commit, so it comes after everything that needs no write.
    case.receipt_no = next_receipt_no(now)
    db.session.add(case)
    db.session.flush()
    audit.record(case, "case_started", user, data={"process_key": version.key, "version": version.version})
    save_workflow(case, workflow, user, waited=False)  # a new case has no stored waits
    return case


def save_workflow(case: Case, workflow, actor: User | None, *, waited: bool = True) -> None:
    """Store the workflow state, project its user tasks and close the case if it ended.

    ``waited=False``: the stored state this workflow was loaded from waited for no message, so
    (every save projects its waits) the case has no stored waits to compare with."""
    eng = engine()
    case.workflow_state = eng.dump(workflow)
    case.serializer_version = eng.serializer_version
    case.data = eng.case_data(workflow)
    case.next_timer_at = eng.next_timer_due(workflow)
    # Nothing is written before the flush at the end (except when an emptyGroupPolicy needs the
    # new rows' ids): on SQLite the first write takes the database's one write lock until the
    # commit, so writing early makes every other writer (another worker's claim or completion)
    # wait through the projection below as well.
    with db.session.no_autoflush:
        _project(case, workflow, actor, waited)


def _project(case: Case, workflow, actor: User | None, waited: bool) -> None:
    eng = engine()
    waits = eng.waiting_messages(workflow)
    if waits or waited:
        sync_waits(case, waits)
    created = sync_tasks(case, eng.ready_user_tasks(workflow), actor)
    skipped = [row for row in created if row.skip_pending]
    if skipped:  # emptyGroupPolicy=skip: nobody could do them; pass them without data
        for row in skipped:
            try:
                eng.complete_user_task(workflow, row.engine_task_id, {})
            except TaskNotReady:
                continue
            except WorkflowRunError as exc:  # the whole transition fails; nothing is stored
                raise workflow_error(exc) from None
            row.state = "completed"
            row.completed_at = utcnow()
            row.completed_on_time = kpi_rollups.on_time(row, case, row.completed_at)
            audit.record(case, "task_skipped", actor, row, data={"groups": row.group_codes})
        db.session.flush()  # the next projection reads the rows and waits made here
        save_workflow(case, workflow, actor, waited=waited)
        return
    ended = eng.is_completed(workflow) and case.status == "active"
    if ended:
        terminated = eng.terminated(workflow)
        case.status = "terminated" if terminated else "completed"
        case.outcome = eng.outcome(workflow)
        case.ended_at = utcnow()
        case.next_timer_at = None
        # 即办率: did the case end on its acceptance day (local date)?
        case.finished_same_day = (not terminated
                                  and calendar.local_date(case.ended_at) == calendar.local_date(case.started_at))
        case.working_days_used = kpis.working_days_used(case)
        audit.record(case, "case_terminated" if terminated else "case_completed", actor,
                     data={"outcome": case.outcome})
    db.session.flush()
    if ended:
        clear_waits(case)
    hook = CASE_HOOKS.get(case.process_key)
    if hook is not None:  # a record that mirrors its case (work order, review …); it imports this module
        importlib.import_module(f"{__package__}.{hook}").refresh(case)


# What never changes once a case exists: kept across its locked re-read instead of read again.
_FIXED_RELATIONS = ("process_version", "started_by")


def lock_case(case_id: int, *, serialize: bool = False) -> Case:
    """Load a case for update: a row lock on PostgreSQL, fresh attributes everywhere.

    ``lock_version`` catches the remaining races (SQLite), which the unit of work retries.
    ``serialize``: on SQLite, take the database's write lock first (``write_lock``), for a
    service that decides on what it reads and may then write nothing a version check would catch
    (e.g. rejecting an extension changes the request, not the case).
    """
    if serialize:
        write_lock(Case.__table__, case_id)
    loaded = db.session.identity_map.get(db.session.identity_key(Case, case_id))
    kept = {name: loaded.__dict__[name] for name in _FIXED_RELATIONS
            if loaded is not None and loaded.__dict__.get(name) is not None}
    case = db.session.execute(_lock_query(), {"case_id": case_id},
                              execution_options={"populate_existing": True}).scalar_one_or_none()
    if case is None:
        raise NotFound("No such case.")
    for name, value in kept.items():
        if name not in case.__dict__ and getattr(value, "id", None) == getattr(case, f"{name}_id"):
            set_committed_value(case, name, value)
    return case


# FOR NO KEY UPDATE (``key_share``), not FOR UPDATE: a case's transitions still wait for each
# other, but a transaction that only inserts rows referring to the case (a claim's audit event,
# whose foreign key check takes FOR KEY SHARE on the case row) does not wait for them, nor
# deadlock with them over a task row.
@functools.cache
def _lock_query():
    return (select(Case).where(Case.id == bindparam("case_id")).with_for_update(of=Case, key_share=True)
            .options(undefer(Case.workflow_state), lazyload(Case.process_version)))


def lock_task_case(task_id: int) -> tuple[HumanTask, Case]:
    """Load a task and lock it and its case, in one statement: the task with its candidate groups
    and holder, the case (as ``lock_case``) with its process version and starter.

    Both rows are locked, the case first (the order every transition of a case takes). On
    PostgreSQL a row that had to be waited for is read again as the other transaction committed
    it, but only if it is one of the locked rows: with the case alone locked, a task changed by
    the transition waited for would come back as it was before. Locking the task also makes a
    completion wait for a reassignment in progress (which locks the task only)."""
    # Fresh rows for any case or task this session holds already (a retried unit of work). Not
    # populate_existing: that would also reset the users read with them, the current user's
    # groups among them, and reading those again costs a statement.
    for held in list(db.session.identity_map.values()):
        if isinstance(held, (Case, HumanTask)):
            db.session.expire(held)
    row = db.session.execute(_task_case_lock_query(), {"task_id": task_id}).unique().one_or_none()
    if row is None:
        raise NotFound("No such task.")
    return row[0], row[1]


@functools.cache
def _task_case_lock_query():
    return (select(HumanTask, Case).select_from(Case).join(HumanTask, HumanTask.case_id == Case.id)
            .where(HumanTask.id == bindparam("task_id")).with_for_update(of=(Case, HumanTask), key_share=True)
            # The case's process version comes once, with the case (not again along task.case).
            .options(contains_eager(HumanTask.case).lazyload(Case.process_version),
                     joinedload(HumanTask.candidates), undefer(Case.workflow_state),
                     joinedload(Case.started_by, innerjoin=True)))


def load_workflow(case: Case):
    """Restore the case's workflow on its own process version's cached spec."""
    return engine().load(compiled(case.process_version), case.workflow_state)


def _group_ids_with_tasks(case_id: int) -> set[int]:
    rows = db.session.scalars(
        select(TaskCandidate.group_id).join(HumanTask).where(HumanTask.case_id == case_id).distinct())
    return set(rows)


def get_case(user: User, case_id: int) -> Case:
    """Return a case the user may see; otherwise NotFound (its existence is not revealed)."""
    case = db.session.get(Case, case_id)
    if case is None or not (permissions.may_see_case(user, case, _group_ids_with_tasks(case.id))
                            or _copied_to(user, case) or _waits_for(user, case)):
        raise NotFound("No such case.")
    return case


def withheld_keys(user: User | None, case: Case) -> frozenset[str]:
    """Case data keys ``user`` does not read on the case (page, API, history) — data minimisation
    by the forms' ``x-hiddenData``: someone who reads the case because of its tasks sees only what
    at least one of those tasks shows. A key is withheld when every task of the case the user works
    on, holds or held hides it; a reader without such a task (a copy, a message sender) misses
    every key any task hides. The starter and the case readers (supervisors …) see everything; so
    does the system (no user)."""
    hidden = processes.hidden_data_by_task(case.process_version)
    if not hidden or user is None or case.started_by_id == user.id or user.has_role(*permissions.READ_ALL_CASES):
        return frozenset()
    theirs = [t for t in db.session.scalars(select(HumanTask).where(HumanTask.case_id == case.id))
              if permissions.may_see_task(user, t)]
    if theirs:
        return frozenset.intersection(*(hidden.get(t.bpmn_id, frozenset()) for t in theirs))
    return frozenset().union(*hidden.values())


def without_keys(data, keys: frozenset[str]):
    """``data`` (case data, or an event's data) without the top-level ``keys``."""
    if not keys or not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if k not in keys}


def _waits_for(user: User, case: Case) -> bool:
    """Whether the case waits for a message from one of the user's groups (they need to read it)."""
    codes = [g.code for g in user.groups]
    return bool(codes) and db.session.scalar(select(MessageWait.id).where(
        MessageWait.case_id == case.id, MessageWait.group_code.in_(codes)).limit(1)) is not None


def _copied_to(user: User, case: Case) -> bool:
    """Whether a task of the case was copied (抄送) to the user: they may read the case."""
    return db.session.scalar(select(TaskCopy.id).where(TaskCopy.case_id == case.id,
                                                       TaskCopy.user_id == user.id).limit(1)) is not None


def lock_visible_case(user: User, case_id: int, *, serialize: bool = False) -> Case:
    """Lock a case the user may see for a transition (NotFound otherwise, as ``get_case``)."""
    case = lock_case(case_id, serialize=serialize)
    if not permissions.may_see_case(user, case, _group_ids_with_tasks(case.id)):
        raise NotFound("No such case.")
    return case


def open_tasks(case: Case) -> list[HumanTask]:
    """Return the case's open and claimed tasks, oldest first (as this request's projection of
    the case left them, when it made one)."""
    projected = live_after_sync(case)
    if projected is not None:
        return projected
    return list(db.session.scalars(_open_tasks_query(), {"case_id": case.id}))


@functools.cache
def _open_tasks_query():
    return (select(HumanTask).where(HumanTask.case_id == bindparam("case_id"), HumanTask.state.in_(("open", "claimed")))
            .order_by(HumanTask.created_at, HumanTask.id)
            .options(lazyload(HumanTask.case), lazyload(HumanTask.candidates)))  # the case is known


class Actor(NamedTuple):
    """Who did something in a case's history, as it is shown."""
    username: str
    display_name: str


class CaseEvent(NamedTuple):
    """One entry of a case's history, as it is shown (attributes as ``AuditEvent``'s). The trail
    is append-only, so its entries are read as plain rows, not as entities to change."""
    id: int
    event_type: str
    at: datetime
    actor: Actor | None
    task_id: int | None
    task_name: str | None
    data: dict | None


def history(case: Case) -> list[CaseEvent]:
    """Return the case's audit events in order (as ``read_answer`` read them, when it did)."""
    read = request.environ.get(_ANSWER_HISTORY, {}).get(case.id) if has_request_context() else None
    if read is not None:
        return read
    return _read_history(case.id)


def _read_history(case_id: int) -> list[CaseEvent]:
    return [CaseEvent(event_id, event_type, at, Actor(username, display_name) if username is not None else None,
                      task_id, task_name, data)
            for event_id, event_type, at, username, display_name, task_id, task_name, data
            in db.session.execute(_history_query(), {"case_id": case_id})]


# -- what the answer of a transition reads, read before its commit ---------------------------------
# A request that moved a case answers with the case: its history, and the warning of its time
# limit (which reads the calendar overrides). Read after the commit, they open a second
# transaction: on PostgreSQL two more round trips (BEGIN, COMMIT) and their server work. Read
# just before the commit they come with the transaction that wrote them. SQLite has no such
# round trips, and there the transaction holds the database's one write lock until its commit,
# so it reads after the commit as before.
_ANSWER_HISTORY = "changzhi.answer_history"


def read_answer(case) -> None:
    """``transaction.run(..., before_commit=read_answer)`` for a service that returns a case:
    on PostgreSQL, read the case's history and today's calendar overrides in the transaction."""
    if not isinstance(case, Case) or not has_request_context() or db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.flush()  # the history includes this transaction's events
    request.environ.setdefault(_ANSWER_HISTORY, {})[case.id] = _read_history(case.id)
    calendar.overrides_from(calendar.local_date(utcnow()))


@event.listens_for(Session, "after_soft_rollback")
def _forget_answer(session: Session, previous_transaction) -> None:
    if has_request_context():
        request.environ.pop(_ANSWER_HISTORY, None)


@functools.cache
def _history_query():
    events, users = AuditEvent.__table__, User.__table__
    return (select(events.c.id, events.c.event_type, events.c.at, users.c.username, users.c.display_name,
                   events.c.task_id, events.c.task_name, events.c.data)
            .select_from(events.outerjoin(users, users.c.id == events.c.actor_id))
            .where(events.c.case_id == bindparam("case_id")).order_by(events.c.at, events.c.id))
