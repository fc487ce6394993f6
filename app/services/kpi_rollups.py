"""Daily KPI rollups (``kpi_case_days``, ``kpi_task_days``), kept exact inside every transaction.

Each flush compares what the changed cases and tasks contributed to the rollups before and after
the change (attribute history), and adds the difference to a per-transaction delta. Before the
commit the deltas are applied as upserts (``INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n``)
in a fixed key order, so concurrent transactions never deadlock on them and none loses another's
count. A rolled-back transaction (or savepoint) drops its deltas.

Nothing here is called by other services except :func:`on_time` (fixed on a task when it
completes) and :func:`rebuild` (``flask kpis rebuild``, after a restore or a bulk import that
bypassed the services).
"""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE

from ..models import Case, Group, HumanTask, KpiCaseDay, KpiGroupCaseDay, KpiTaskDay, TaskCandidate
from . import calendar
from .upserts import adding_upsert, merged_adding_upserts

CASE_FIELDS = ("received", "immediate", "helped", "completed", "with_limit", "on_time", "with_statutory",
               "within_statutory", "working_days_sum", "working_days_count")
TASK_FIELDS = ("completed", "timed", "on_time")
CASE_KEY = ("day", "process_key", "clerk_id")
TASK_KEY = ("day", "process_key", "clerk_id", "group_code")

TABLES = {"case": (KpiCaseDay, CASE_KEY, CASE_FIELDS), "group": (KpiGroupCaseDay, TASK_KEY, CASE_FIELDS),
          "task": (KpiTaskDay, TASK_KEY, TASK_FIELDS)}
_CASE_ATTRS = ("started_at", "process_key", "started_by_id", "finished_same_day", "assisted_by_id", "status",
               "ended_at", "due_at", "statutory_due_at", "working_days_used")
_TASK_ATTRS = ("state", "completed_at", "completed_on_time", "group_codes", "case_id")
_INFO = "kpi_rollup_deltas"
_STORED_GROUPS = "kpi_stored_task_groups"


def on_time(task: HumanTask, case_row: Case, completed_at: datetime) -> bool | None:
    """Whether a task completed at ``completed_at`` met the deadline in force: its own due date,
    else its case's promised one; ``None`` when it had neither."""
    due = task.due_at or case_row.due_at
    return None if due is None else completed_at <= due


# -- contributions ---------------------------------------------------------------------------------

def _case_parts(v: dict) -> dict[tuple, list[int]]:
    """What one case (attribute values ``v``) adds to ``kpi_case_days``, by row key."""
    parts: dict[tuple, list[int]] = {}
    if v["started_at"] is None or v["process_key"] is None or v["started_by_id"] is None:
        return parts
    received = parts.setdefault((calendar.local_date(v["started_at"]), v["process_key"], v["started_by_id"]),
                                [0] * len(CASE_FIELDS))
    received[0] += 1
    received[1] += 1 if v["finished_same_day"] else 0
    received[2] += 1 if v["assisted_by_id"] is not None else 0
    ended = v["ended_at"]
    if v["status"] == "completed" and ended is not None:
        done = parts.setdefault((calendar.local_date(ended), v["process_key"], v["started_by_id"]),
                                [0] * len(CASE_FIELDS))
        due, statutory, used = v["due_at"], v["statutory_due_at"], v["working_days_used"]
        done[3] += 1
        done[4] += 1 if due is not None else 0
        done[5] += 1 if due is not None and ended <= due else 0
        done[6] += 1 if statutory is not None else 0
        done[7] += 1 if statutory is not None and ended <= statutory else 0
        done[8] += used or 0
        done[9] += 1 if used is not None else 0
    return parts


def _task_parts(v: dict, owner: tuple[str, int] | None) -> dict[tuple, list[int]]:
    """What one task adds to ``kpi_task_days``: one row per candidate group once it is completed."""
    if owner is None or v["state"] != "completed" or v["completed_at"] is None:
        return {}
    day = calendar.local_date(v["completed_at"])
    timed = 1 if v["completed_on_time"] is not None else 0
    met = 1 if v["completed_on_time"] else 0
    return {(day, owner[0], owner[1], code): [1, timed, met] for code in sorted(set(v["group_codes"] or []))}


def _values(obj, attrs, *, before: bool) -> dict | None:
    """Attribute values of ``obj`` before (persisted) or after (pending) the flush."""
    state = inspect(obj)
    if before and state.pending:
        return None
    values = {}
    for name in attrs:
        hist = _history(state, name)
        if before:
            if hist.deleted:
                values[name] = hist.deleted[0]
            elif hist.unchanged:
                values[name] = hist.unchanged[0]
            elif hist.added:  # set from "never loaded": the loaded value was replaced unseen
                values[name] = _loaded(obj, name)
            else:
                values[name] = getattr(obj, name)
        else:
            values[name] = getattr(obj, name)
    return values


def _loaded(obj, name):
    """The stored value of an attribute that was assigned before it was ever loaded."""
    column = getattr(type(obj), name)
    session = Session.object_session(obj)
    pk = inspect(obj).identity
    return session.execute(select(column).where(type(obj).id == pk[0])).scalar_one_or_none()


def _history(state, name):
    """What ``state.attrs[name].history`` gives, without building an ``AttributeState`` for every
    attribute of the object first (``attrs`` does, on its first use per object)."""
    return state.get_history(name, PASSIVE_NO_INITIALIZE)


def _changed(obj, attrs) -> bool:
    state = inspect(obj)
    return state.pending or state.deleted or any(_history(state, name).has_changes() for name in attrs)


def _add(target: dict, kind: str, parts: dict, sign: int) -> None:
    for key, vector in parts.items():
        current = target.setdefault((kind, key), [0] * len(vector))
        for i, n in enumerate(vector):
            current[i] += sign * n


def _owner(session: Session, task: HumanTask) -> tuple[str, int] | None:
    """(process key, accepting clerk) of the task's case; they never change."""
    case_row = task.case if "case" not in inspect(task).unloaded else session.get(Case, task.case_id)
    return None if case_row is None else (case_row.process_key, case_row.started_by_id)


# -- session events ------------------------------------------------------------------------------

def _deltas(session: Session) -> dict:
    transaction = session.get_nested_transaction() or session.get_transaction()
    return session.info.setdefault(_INFO, {}).setdefault(transaction, {})


def _belongs(task: HumanTask, case_row: Case) -> bool:
    if "case" not in inspect(task).unloaded and task.case is not None:
        return task.case is case_row
    return case_row.id is not None and task.case_id == case_row.id


def _groups(session: Session, case_row: Case) -> tuple[set, set]:
    """The case's groups (candidate group codes of all its tasks) as stored, and as they will be
    after this flush."""
    stored: dict = {}
    if case_row.id is not None and not inspect(case_row).pending:
        known = session.info.get(_STORED_GROUPS, {}).get(case_row.id)
        stored = dict(known) if known is not None else dict(
            session.execute(_case_groups_query(), {"case_id": case_row.id}).all())
    before = {code for codes in stored.values() for code in (codes or [])}
    after = dict(stored)
    for task in session.new:
        if isinstance(task, HumanTask) and _belongs(task, case_row):
            after[("new", id(task))] = task.group_codes
    for task in session.dirty:
        if isinstance(task, HumanTask) and task.id in after and _belongs(task, case_row):
            after[task.id] = task.group_codes
    for task in session.deleted:
        if isinstance(task, HumanTask) and _belongs(task, case_row):
            after.pop(task.id, None)
    return before, {code for codes in after.values() for code in (codes or [])}


def remember_stored_groups(session: Session, case_row: Case, tasks) -> None:
    """``tasks`` are all of the case's rows, just read by a statement of this transaction (the
    projection reads them anyway): the next flush takes the case's stored groups from them instead
    of reading them again. Any flush, or a rollback, forgets them, for the rows stored change then.
    A row changed in this session since it was loaded gives its loaded value."""
    stored = {}
    for task in tasks:
        values = _values(task, ("group_codes",), before=True)
        if values is not None:
            stored[task.id] = values["group_codes"]
    session.info.setdefault(_STORED_GROUPS, {})[case_row.id] = stored


@event.listens_for(Session, "after_flush")
def _forget_stored_groups(session: Session, flush_context) -> None:
    session.info.pop(_STORED_GROUPS, None)


@functools.cache
def _case_groups_query():
    return select(HumanTask.id, HumanTask.group_codes).where(HumanTask.case_id == bindparam("case_id"))


def _case_of(session: Session, task: HumanTask) -> Case | None:
    if "case" not in inspect(task).unloaded and task.case is not None:
        return task.case
    return session.get(Case, task.case_id) if task.case_id is not None else None


@event.listens_for(Session, "before_flush")
def _collect(session: Session, flush_context, instances) -> None:
    target = None
    cases: dict[int, list] = {}  # id(case) -> [case, old parts, new parts] for the group rows
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Case):
            if not _changed(obj, _CASE_ATTRS):
                continue
            if target is None:
                target = _deltas(session)
            old = _values(obj, _CASE_ATTRS, before=True)
            new = None if obj in session.deleted else _values(obj, _CASE_ATTRS, before=False)
            old_parts = _case_parts(old) if old is not None else {}
            new_parts = _case_parts(new) if new is not None else {}
            _add(target, "case", old_parts, -1)
            _add(target, "case", new_parts, +1)
            cases[id(obj)] = [obj, old_parts, new_parts]
        elif isinstance(obj, HumanTask):
            state = inspect(obj)
            regroup = state.pending or state.deleted or _history(state, "group_codes").has_changes()
            if not (regroup or _changed(obj, _TASK_ATTRS)):
                continue
            if target is None:
                target = _deltas(session)
            owner = _owner(session, obj)
            old = _values(obj, _TASK_ATTRS, before=True)
            new = None if obj in session.deleted else _values(obj, _TASK_ATTRS, before=False)
            if old is not None:
                _add(target, "task", _task_parts(old, owner), -1)
            if new is not None:
                _add(target, "task", _task_parts(new, owner), +1)
            case_row = _case_of(session, obj) if regroup else None
            if case_row is not None and id(case_row) not in cases:
                cases[id(case_row)] = [case_row, None, None]
    for case_row, old_parts, new_parts in cases.values():
        if old_parts is None:  # only its tasks changed: the case counts as it did
            values = _values(case_row, _CASE_ATTRS, before=False)
            old_parts = new_parts = _case_parts(values)
        before, after = _groups(session, case_row)
        if before == after and old_parts == new_parts:
            continue
        for code in before:
            _add(target, "group", {(*key, code): v for key, v in old_parts.items()}, -1)
        for code in after:
            _add(target, "group", {(*key, code): v for key, v in new_parts.items()}, +1)


@event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous_transaction) -> None:
    """Forget what a rolled-back transaction collected: the whole transaction, or a savepoint with
    the savepoints released inside it (their deltas are kept under their own transaction until
    the commit)."""
    session.info.pop(_STORED_GROUPS, None)
    pending = session.info.get(_INFO)
    if not pending:
        return
    if not previous_transaction.nested:
        pending.clear()
        return
    for transaction in list(pending):
        ancestor = transaction
        while ancestor is not None:
            if ancestor is previous_transaction:
                del pending[transaction]
                break
            ancestor = ancestor.parent


@event.listens_for(Session, "before_commit")
def _apply(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint is released: its deltas wait for the real commit
    session.flush()
    session.info.pop(_STORED_GROUPS, None)
    pending = session.info.get(_INFO)
    if not pending:
        return
    merged: dict = {}
    for deltas in pending.values():
        for key, vector in deltas.items():
            current = merged.setdefault(key, [0] * len(vector))
            for i, n in enumerate(vector):
                current[i] += n
    pending.clear()
    dialect = session.get_bind().dialect
    # A fixed order: two transactions upserting the same rows take their locks in the same order.
    # SQLite: one statement per table, run for all of its rows (executemany); PostgreSQL: one
    # statement for all the tables.
    batches: dict[str, list[dict]] = {}
    for (kind, key), vector in sorted(merged.items(), key=lambda item: (item[0][0], item[0][1])):
        if any(vector):
            model, key_names, fields = TABLES[kind]
            batches.setdefault(kind, []).append(
                {**dict(zip(key_names, key, strict=True)), **dict(zip(fields, vector, strict=True))})
    if not batches:
        return
    if dialect.name == "postgresql":
        # All tables in one statement (one round trip), in the same fixed order.
        tables = tuple((TABLES[kind][0].__table__, TABLES[kind][1], TABLES[kind][2]) for kind in batches)
        params = {f"{table.name}__{name}": [row[name] for row in batches[kind]]
                  for (table, key_names, fields), kind in zip(tables, batches, strict=True)
                  for name in (*key_names, *fields)}
        session.execute(merged_adding_upserts(dialect, tables), params)
        return
    for kind, rows in batches.items():
        model, key_names, fields = TABLES[kind]
        session.execute(adding_upsert(dialect, model.__table__, key_names, fields), rows)


# -- rebuild -----------------------------------------------------------------------------------------

def local_day(column, dialect: str):
    """The local calendar date of a UTC timestamp column, computed by the database."""
    if dialect == "postgresql":
        return func.date(func.timezone(str(calendar.local_timezone()), column))
    # SQLite stores naive UTC text; the service centre's zone has a fixed offset (no DST in China).
    offset = calendar.local_timezone().utcoffset(datetime(2000, 1, 1))
    return func.date(column, f"{int(offset.total_seconds() // 3600):+d} hours")


def _flag(condition):
    return case((condition, 1), else_=0)


def _case_facts(dialect: str, groups=None):
    """One row per received and per completed case with its contribution to ``CASE_FIELDS``;
    with ``groups`` (case_id, code), once per group of the case."""
    zero = literal(0, Integer)
    key = [Case.process_key, Case.started_by_id.label("clerk_id")]
    if groups is not None:
        key.append(groups.c.code.label("group_code"))
    received = select(
        local_day(Case.started_at, dialect).label("day"), *key,
        literal(1, Integer).label("received"), _flag(Case.finished_same_day.is_(True)).label("immediate"),
        _flag(Case.assisted_by_id.is_not(None)).label("helped"),
        *(zero.label(name) for name in CASE_FIELDS[3:]))
    completed = select(
        local_day(Case.ended_at, dialect).label("day"), *key,
        *(zero.label(name) for name in CASE_FIELDS[:3]),
        literal(1, Integer).label("completed"),
        _flag(Case.due_at.is_not(None)).label("with_limit"),
        _flag(and_(Case.due_at.is_not(None), Case.ended_at <= Case.due_at)).label("on_time"),
        _flag(Case.statutory_due_at.is_not(None)).label("with_statutory"),
        _flag(and_(Case.statutory_due_at.is_not(None), Case.ended_at <= Case.statutory_due_at))
        .label("within_statutory"),
        func.coalesce(Case.working_days_used, 0).label("working_days_sum"),
        _flag(Case.working_days_used.is_not(None)).label("working_days_count"),
    ).where(Case.status == "completed", Case.ended_at.is_not(None))
    if groups is not None:
        received = received.join(groups, groups.c.case_id == Case.id)
        completed = completed.join(groups, groups.c.case_id == Case.id)
    return union_all(received, completed).subquery()


def _insert_sums(session: Session, model, key_names, facts) -> None:
    keys = [facts.c[name] for name in key_names]
    session.execute(insert(model).from_select(
        list(key_names) + list(CASE_FIELDS),
        select(*keys, *(func.sum(facts.c[f]) for f in CASE_FIELDS)).group_by(*keys)))


def rebuild(session: Session) -> tuple[int, int, int]:
    """Recompute the rollup tables from the cases and tasks; returns their row counts.

    On PostgreSQL the tables are locked first: transactions that change cases meanwhile wait and
    then add their deltas on top of the rebuilt rows.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("LOCK TABLE kpi_case_days, kpi_group_case_days, kpi_task_days IN EXCLUSIVE MODE"))
    for model in (KpiCaseDay, KpiGroupCaseDay, KpiTaskDay):
        session.execute(delete(model))
    _insert_sums(session, KpiCaseDay, CASE_KEY, _case_facts(dialect))
    groups = (select(HumanTask.case_id, Group.code)
              .join(TaskCandidate, TaskCandidate.task_id == HumanTask.id)
              .join(Group, Group.id == TaskCandidate.group_id).distinct().subquery())
    _insert_sums(session, KpiGroupCaseDay, TASK_KEY, _case_facts(dialect, groups))

    day = local_day(HumanTask.completed_at, dialect)
    session.execute(insert(KpiTaskDay).from_select(
        list(TASK_KEY) + list(TASK_FIELDS),
        select(day, Case.process_key, Case.started_by_id, Group.code, func.count(HumanTask.id),
               func.sum(_flag(HumanTask.completed_on_time.is_not(None))),
               func.sum(_flag(HumanTask.completed_on_time.is_(True))))
        .join(Case, Case.id == HumanTask.case_id)
        .join(TaskCandidate, TaskCandidate.task_id == HumanTask.id)
        .join(Group, Group.id == TaskCandidate.group_id)
        .where(HumanTask.state == "completed", HumanTask.completed_at.is_not(None))
        .group_by(day, Case.process_key, Case.started_by_id, Group.code)))
    return tuple(session.scalar(select(func.count()).select_from(model))
                 for model in (KpiCaseDay, KpiGroupCaseDay, KpiTaskDay))
