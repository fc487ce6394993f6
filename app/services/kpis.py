"""The bureau's KPIs (brief §3.4 and §4), computed live with SQL aggregates.

Every figure is a count or an average the database computes; no case is loaded into Python. The
case and task figures sum the daily rollups that ``kpi_rollups`` keeps exact in every transaction
(``source="live"`` aggregates the cases and tasks themselves instead: the reference the tests hold
the rollups to). Rates are numbers between 0 and 1, ``None`` when their denominator is zero.

Definitions (where the brief lists variants, the one chosen is named):

- Approval figures count bundle cases only: diagrams a service starts (12345 orders, oversight
  items, ``startedBy``) are left out of them and have their own figures.
- **received**: cases started (accepted at the window) in the period; **completed**: cases whose
  process reached an end event in the period (status ``completed``, whatever the decision —
  approval and refusal are both 办结), withdrawn and rejected-at-intake cases excluded.
- **immediate_rate** (即办率, case-based): received cases that ended on their acceptance day /
  received cases.
- **on_time_rate** (按时办结率): completed cases with a promised limit that ended by their promised
  due date (which already includes pauses and approved extensions) / such completed cases;
  **statutory_on_time_rate** likewise against the statutory limit.
- **overdue_open** / **yellow_open**: running cases (clock not stopped) past their promised due
  date / due within the warning threshold — a snapshot at ``now``, not per period; with a group
  filter, the cases with a task waiting in that group now.
- **avg_processing_working_days**: mean working days from acceptance to the end of completed cases,
  pauses (补正, 特别程序) excluded; stored on each case when it ends.
- **speedup_rate** (平均提速率, weighted variant): 1 − Σ promised / Σ statutory over the items of the
  latest catalogue revisions with a statutory limit; **on_the_spot_item_share** (即办事项占比):
  on-the-spot items / all items.
- **help_count** (帮办量): received cases prepared with a helper (肩并肩).
- 12345 (brief §3.4): **direct_handling_rate** (直办率) direct answers / accepted orders (received
  minus invalid); **order_on_time_rate** orders closed by their SLA due time / orders closed in the
  period; **closure_24h_rate** (24小时办结率, all-orders scope) accepted orders closed within 24
  natural hours / accepted orders; **order_satisfaction_rate** (satisfied + very + basically
  satisfied) / effective callbacks (unreachable excluded) of orders closed in the period;
  **return_rate** (退单率) orders returned by a unit / dispatched orders; **repeat_request_rate**
  (重复诉求率) orders whose phone raised the same category within ``HOTLINE_REPEAT_DAYS`` / orders.
- 后评价: **post_eval_problem_rate** evaluations finished in the period that found a problem /
  evaluations finished; **post_eval_rectification_rate** of those, the ones whose rectification
  was verified.
- 好差评 (configurable variant chosen: the top three of five levels count as satisfied):
  **satisfaction_rate** reviews of level 3–5 / reviews in the period; **bad_review_rectification_rate**
  bad reviews judged to need rectification whose unit reported the rectification by its limit
  (5 working days) and had it accepted / bad reviews judged to need rectification.
- 办件回访: **callback_satisfaction_rate** satisfied (top three levels) / callbacks that reached
  the applicant, of callbacks finished in the period; ``callback_problems`` counts answers that
  reported a problem (廉政监督反馈卡).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, case, exists, func, or_, select

from ..errors import InvalidInput
from ..extensions import db
from ..models import Case, Group, HumanTask, KpiCaseDay, KpiGroupCaseDay, KpiTaskDay, OversightLink, Review, WorkOrder
from ..models.task import TaskCandidate
from ..models.types import utcnow
from . import calendar, catalogue, deadlines, kpi_rollups, permissions

VIEWERS = ("supervisor", "leader", "admin")
MAX_DAYS = 3660  # ten years


@dataclass(frozen=True)
class Period:
    """Local dates ``start`` to ``end`` (both included) and the optional filters."""

    start: date
    end: date
    process_key: str | None = None
    group: str | None = None
    # The user id of the window clerk who accepted the cases (filter ``clerk`` by username).
    clerk_id: int | None = None

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as a half-open UTC range [first midnight, midnight after the last day)."""
        zone = calendar.local_timezone()
        first = datetime.combine(self.start, time(0), tzinfo=zone)
        after = datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=zone)
        return first, after


def period(start: date, end: date, process_key: str | None = None, group: str | None = None,
           clerk: str | None = None) -> Period:
    """Check the period and the filters; raise InvalidInput with field errors."""
    from ..models import User

    errors: dict[str, list[str]] = {}
    clerk_id = None
    if clerk:
        clerk_id = db.session.scalar(select(User.id).where(User.username == clerk))
        if clerk_id is None:
            errors["clerk"] = [_("Unknown user.")]
    if end < start:
        errors["to"] = [_("The end date is before the start date.")]
    elif (end - start).days > MAX_DAYS:
        errors["to"] = [_("Choose a period of at most ten years.")]
    if group and db.session.scalar(select(Group.id).where(Group.code == group)) is None:
        errors["group"] = [_("Unknown group.")]
    if errors:
        raise InvalidInput(_("The period or a filter is not valid."), errors)
    return Period(start, end, process_key or None, group or None, clerk_id)


def _rate(numerator: int, denominator: int) -> float | None:
    return None if not denominator else round(numerator / denominator, 4)


def _service_process_keys() -> list[str]:
    """Diagrams a service starts (12345 orders, oversight items): not approval cases. Looked up once
    per request (every figure of a dashboard call filters by it)."""
    from flask import g, has_request_context

    from .evaluation import _service_processes

    if has_request_context() and "kpi_service_keys" in g:
        return g.kpi_service_keys
    keys = sorted(_service_processes())
    if has_request_context():
        g.kpi_service_keys = keys
    return keys


def _case_filters(p: Period) -> list:
    filters = []
    excluded = _service_process_keys()
    if excluded:
        filters.append(Case.process_key.not_in(excluded))
    if p.clerk_id:
        filters.append(Case.started_by_id == p.clerk_id)
    if p.process_key:
        filters.append(Case.process_key == p.process_key)
    if p.group:
        filters.append(exists(
            select(HumanTask.id).join(TaskCandidate, TaskCandidate.task_id == HumanTask.id)
            .join(Group, Group.id == TaskCandidate.group_id)
            .where(HumanTask.case_id == Case.id, Group.code == p.group)))
    return filters


def _running(p: Period) -> list:
    """Running cases whose clock runs and that have a promised due date; with a group filter, those
    with a task waiting in that group now (the snapshot asks where cases are stuck, not who ever
    touched them)."""
    filters = [Case.status == "active", Case.paused_at.is_(None), Case.due_at.is_not(None)]
    filters += [f for f in _case_filters(replace(p, group=None))]
    if p.group:
        group_id = select(Group.id).where(Group.code == p.group).scalar_subquery()
        filters.append(exists(
            select(HumanTask.id).join(TaskCandidate, TaskCandidate.task_id == HumanTask.id)
            .where(HumanTask.case_id == Case.id, HumanTask.state.in_(("open", "claimed")),
                   TaskCandidate.group_id == group_id)))
    return filters


def _count(*conditions) -> int:
    return int(db.session.scalar(select(func.count(Case.id)).where(*conditions)) or 0)


def _sum_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _live_case_figures(p: Period, first: datetime, after: datetime, scope: list) -> tuple:
    """The received/completed figures from the cases themselves (used with a group filter, which
    the daily rollups do not carry)."""
    received = and_(Case.started_at >= first, Case.started_at < after, *scope)
    row = db.session.execute(select(
        func.count(Case.id),
        _sum_if(Case.finished_same_day.is_(True)),
        _sum_if(Case.assisted_by_id.is_not(None)),
    ).where(received)).one()
    cases_received, immediate, helped = (int(v or 0) for v in row)

    ended = and_(Case.status == "completed", Case.ended_at >= first, Case.ended_at < after, *scope)
    row = db.session.execute(select(
        func.count(Case.id),
        _sum_if(Case.due_at.is_not(None)),
        _sum_if(and_(Case.due_at.is_not(None), Case.ended_at <= Case.due_at)),
        _sum_if(Case.statutory_due_at.is_not(None)),
        _sum_if(and_(Case.statutory_due_at.is_not(None), Case.ended_at <= Case.statutory_due_at)),
        func.avg(Case.working_days_used),
    ).where(ended)).one()
    completed, with_limit, on_time, with_statutory, within_statutory, avg_days = row
    completed, with_limit, on_time = int(completed or 0), int(with_limit or 0), int(on_time or 0)
    with_statutory, within_statutory = int(with_statutory or 0), int(within_statutory or 0)
    return (cases_received, immediate, helped, completed, with_limit, on_time, with_statutory, within_statutory,
            None if avg_days is None else float(avg_days))


def _rollup_filters(p: Period, model) -> list:
    filters = [model.day >= p.start, model.day <= p.end]
    excluded = _service_process_keys()
    if excluded:
        filters.append(model.process_key.not_in(excluded))
    if p.process_key:
        filters.append(model.process_key == p.process_key)
    if p.clerk_id:
        filters.append(model.clerk_id == p.clerk_id)
    if p.group:
        filters.append(model.group_code == p.group)
    return filters


def _case_days(p: Period):
    """The case rollup to sum: per group when the period filters by one."""
    return KpiGroupCaseDay if p.group else KpiCaseDay


def _rolled_case_figures(p: Period) -> tuple:
    """The received/completed figures summed from the daily rollups (``kpi_rollups``)."""
    model = _case_days(p)
    sums = db.session.execute(select(*(func.coalesce(func.sum(getattr(model, name)), 0)
                                       for name in kpi_rollups.CASE_FIELDS))
                              .where(*_rollup_filters(p, model))).one()
    sums = [int(v or 0) for v in sums]
    wd_sum, wd_count = sums[8], sums[9]
    return (*sums[:8], wd_sum / wd_count if wd_count else None)


def _rolled(p: Period, source: str) -> bool:
    """Whether to sum the daily rollups ("rollup", the default) or to aggregate the cases and tasks
    themselves ("live": the reference the tests hold the rollups to). Both give the same figures."""
    if source not in ("rollup", "live"):
        raise ValueError(source)
    return source == "rollup"


def case_figures(p: Period, now: datetime | None = None, source: str = "rollup") -> dict:
    """The approval-side figures of the period (see the module docstring)."""
    now = now or utcnow()
    first, after = p.bounds()
    scope = _case_filters(p)
    if _rolled(p, source):
        cases_received, immediate, helped, completed, with_limit, on_time, with_statutory, within_statutory, \
            avg_days = _rolled_case_figures(p)
    else:
        cases_received, immediate, helped, completed, with_limit, on_time, with_statutory, within_statutory, \
            avg_days = _live_case_figures(p, first, after, scope)

    horizon = calendar.add_working_days(now, deadlines.warning_working_days())[0]
    overdue_open, yellow_open = (int(v or 0) for v in db.session.execute(select(
        _sum_if(Case.due_at < now), _sum_if(and_(Case.due_at >= now, Case.due_at <= horizon)))
        .where(*_running(p))).one())

    return {
        "cases_received": cases_received,
        "cases_completed": completed,
        "immediate_cases": immediate,
        "immediate_rate": _rate(immediate, cases_received),
        "on_time_completed": on_time,
        "on_time_rate": _rate(on_time, with_limit),
        "statutory_on_time_rate": _rate(within_statutory, with_statutory),
        "overdue_open": overdue_open,
        "yellow_open": yellow_open,
        "avg_processing_working_days": None if avg_days is None else round(float(avg_days), 2),
        "help_count": helped,
    }


def catalogue_figures(process_key: str | None = None) -> dict:
    """提速率 (weighted) and the on-the-spot item share over the latest catalogue revisions."""
    entries = [e for e in catalogue.all_latest() if not process_key or e.key == process_key]
    items = [item for entry in entries for item in entry.data.get("items", [])]
    timed = [i for i in items if int(i.get("statutory_days") or 0) > 0]
    statutory = sum(int(i["statutory_days"]) for i in timed)
    promised = sum(int(i.get("promised_days") or 0) for i in timed)
    return {
        "catalogue_items": len(items),
        "speedup_rate": None if not statutory else round(1 - promised / statutory, 4),
        "on_the_spot_item_share": _rate(sum(1 for i in items if i.get("on_the_spot")), len(items)),
    }


def department_table(p: Period, source: str = "rollup") -> list[dict]:
    """Per candidate group: tasks completed in the period, and the share of those with a deadline
    completed by it (``completed_on_time``: the task's own limit, else its case's promised due date,
    as in force at completion), busiest first."""
    if _rolled(p, source):
        done = func.sum(KpiTaskDay.completed)
        query = (select(Group.code, Group.name, done, func.sum(KpiTaskDay.timed), func.sum(KpiTaskDay.on_time))
                 .join(KpiTaskDay, KpiTaskDay.group_code == Group.code)
                 .where(*_rollup_filters(p, KpiTaskDay)))
    else:
        first, after = p.bounds()
        conditions = [HumanTask.state == "completed", HumanTask.completed_at >= first,
                      HumanTask.completed_at < after]
        if p.process_key:
            conditions.append(Case.process_key == p.process_key)
        if p.clerk_id:
            conditions.append(Case.started_by_id == p.clerk_id)
        excluded = _service_process_keys()
        if excluded:
            conditions.append(Case.process_key.not_in(excluded))
        if p.group:
            conditions.append(Group.code == p.group)
        done = func.count(HumanTask.id)
        query = (select(Group.code, Group.name, done, _sum_if(HumanTask.completed_on_time.is_not(None)),
                        _sum_if(HumanTask.completed_on_time.is_(True)))
                 .join(TaskCandidate, TaskCandidate.group_id == Group.id)
                 .join(HumanTask, HumanTask.id == TaskCandidate.task_id)
                 .join(Case, Case.id == HumanTask.case_id)
                 .where(*conditions))
    rows = db.session.execute(query.group_by(Group.code, Group.name).order_by(done.desc(), Group.code))
    return [{"group": code, "name": name, "tasks_completed": int(n),
             "on_time_rate": _rate(int(on_time or 0), int(timed or 0))}
            for code, name, n, timed, on_time in rows if n]


SATISFIED = ("very_satisfied", "satisfied", "basically_satisfied")
ORDER_CLOSED = ("closed", "direct_answered", "final_answer")


def order_figures(p: Period) -> dict:
    """12345 figures (brief §3.4) from the work-order facts; ``group`` keeps a handling unit's orders."""
    first, after = p.bounds()
    scope = [WorkOrder.handling_unit == p.group] if p.group else []
    received = and_(WorkOrder.created_at >= first, WorkOrder.created_at < after, *scope)
    row = db.session.execute(select(
        func.count(WorkOrder.id),
        _sum_if(WorkOrder.status == "invalid"),
        _sum_if(WorkOrder.direct.is_(True)),
        _sum_if(WorkOrder.dispatched_at.is_not(None)),
        _sum_if(WorkOrder.returned.is_(True)),
        _sum_if(and_(WorkOrder.closed_within_24h.is_(True), WorkOrder.status != "invalid")),
        _sum_if(WorkOrder.repeat_request.is_(True)),
    ).where(received)).one()
    orders, invalid, direct, dispatched, returned, within_24h, repeats = (int(v or 0) for v in row)
    accepted = orders - invalid

    closed = and_(WorkOrder.status.in_(ORDER_CLOSED), WorkOrder.closed_at >= first, WorkOrder.closed_at < after,
                  *scope)
    row = db.session.execute(select(
        func.count(WorkOrder.id),
        _sum_if(WorkOrder.closed_at <= WorkOrder.due_at),
        _sum_if(and_(WorkOrder.satisfaction.is_not(None), WorkOrder.satisfaction != "unreachable")),
        _sum_if(WorkOrder.satisfaction.in_(SATISFIED)),
    ).where(closed)).one()
    closed_count, on_time, rated, satisfied = (int(v or 0) for v in row)
    return {
        "orders_received": orders,
        "orders_closed": closed_count,
        "direct_handling_rate": _rate(direct, accepted),
        "order_on_time_rate": _rate(on_time, closed_count),
        "closure_24h_rate": _rate(within_24h, accepted),
        "order_satisfaction_rate": _rate(satisfied, rated),
        "return_rate": _rate(returned, dispatched),
        "repeat_request_rate": _rate(repeats, orders),
    }


def evaluation_figures(p: Period) -> dict:
    """后评价: evaluations finished in the period (the reviewer completed 合法性评价); those that found a
    problem (the case went on to rectification) and those whose rectification was verified."""
    first, after = p.bounds()
    evaluated = and_(HumanTask.bpmn_id == "evaluate", HumanTask.state == "completed",
                     HumanTask.completed_at >= first, HumanTask.completed_at < after,
                     Case.process_key == "post_evaluation")
    row = db.session.execute(
        select(func.count(HumanTask.id),
               _sum_if(or_(Case.outcome.is_(None), Case.outcome != "评价无问题")),
               _sum_if(Case.outcome == "整改完成"))
        .join(Case, Case.id == HumanTask.case_id).where(evaluated)).one()
    done, problems, rectified = (int(v or 0) for v in row)
    return {"post_eval_evaluated": done, "post_eval_problem_rate": _rate(problems, done),
            "post_eval_rectification_rate": _rate(rectified, problems)}


def review_figures(p: Period) -> dict:
    """好差评 of the period's reviews, and 办件回访 of the callbacks that ended in the period."""
    first, after = p.bounds()
    scope = _case_filters(p)
    reviewed = and_(Review.created_at >= first, Review.created_at < after, *scope)
    row = db.session.execute(select(
        func.count(Review.id), _sum_if(Review.level >= 3), _sum_if(Review.level <= 2),
        _sum_if(Review.requires_rectification.is_(True)),
        _sum_if(and_(Review.requires_rectification.is_(True), Review.rectified_at.is_not(None),
                     Review.rectified_at <= Review.rectify_due_at)),
    ).join(Case, Case.id == Review.case_id).where(reviewed)).one()
    reviews, good, bad, to_rectify, rectified = (int(v or 0) for v in row)
    called = and_(OversightLink.kind == "callback", OversightLink.ended_at >= first, OversightLink.ended_at < after,
                  *scope)
    row = db.session.execute(select(
        func.count(OversightLink.id),
        _sum_if(and_(OversightLink.result.is_not(None), OversightLink.result != "unreachable")),
        _sum_if(OversightLink.result.in_(SATISFIED)),
        _sum_if(OversightLink.problem.is_(True)),
    ).join(Case, Case.id == OversightLink.subject_case_id).where(called)).one()
    callbacks, reached, satisfied, problems = (int(v or 0) for v in row)
    return {
        "reviews": reviews, "bad_reviews": bad,
        "satisfaction_rate": _rate(good, reviews),
        "bad_review_rectification_rate": _rate(rectified, to_rectify),
        "callbacks": callbacks, "callback_problems": problems,
        "callback_satisfaction_rate": _rate(satisfied, reached),
    }


def compute(user, p: Period, now: datetime | None = None) -> dict:
    """Everything the dashboard shows for the period, for supervisors, leaders and admins."""
    permissions.require_role(user, VIEWERS, _("see the KPIs"))
    return {
        "from": p.start.isoformat(),
        "to": p.end.isoformat(),
        "process_key": p.process_key,
        "group": p.group,
        **case_figures(p, now),
        **catalogue_figures(p.process_key),
        **review_figures(p),
        **order_figures(p),
        **evaluation_figures(p),
        "departments": department_table(p),
    }


def working_days_used(case_row: Case) -> int:
    """Working days from acceptance to the end of a case, its pauses excluded (set when it ends)."""
    used = calendar.working_days_between(calendar.local_date(case_row.started_at),
                                         calendar.local_date(case_row.ended_at))
    return max(used - (case_row.paused_working_days or 0), 0)


# -- series, tables and drill-down behind the dashboard ------------------------------------------

def _local_day(column):
    """The local calendar date of a UTC timestamp column, computed by the database."""
    return kpi_rollups.local_day(column, db.session.get_bind().dialect.name)


def daily_series(p: Period, source: str = "rollup") -> list[dict]:
    """Cases received and completed per local day of the period (every day listed)."""
    if _rolled(p, source):
        model = _case_days(p)
        rows = db.session.execute(select(model.day, func.sum(model.received), func.sum(model.completed))
                                  .where(*_rollup_filters(p, model)).group_by(model.day)).all()
        received = {str(d): n for d, n, _c in rows}
        completed = {str(d): c for d, _n, c in rows}
    else:
        first, after = p.bounds()
        scope = _case_filters(p)
        day = _local_day(Case.started_at)
        # PostgreSQL returns dates, SQLite text: key both by the ISO date.
        received = {str(d): n for d, n in db.session.execute(select(day, func.count(Case.id)).where(
            Case.started_at >= first, Case.started_at < after, *scope).group_by(day)).all()}
        day = _local_day(Case.ended_at)
        completed = {str(d): n for d, n in db.session.execute(select(day, func.count(Case.id)).where(
            Case.status == "completed", Case.ended_at >= first, Case.ended_at < after, *scope)
            .group_by(day)).all()}
    days = []
    current = p.start
    while current <= p.end and len(days) < 3700:
        key = current.isoformat()
        days.append({"day": key, "received": int(received.get(key) or 0), "completed": int(completed.get(key) or 0)})
        current += timedelta(days=1)
    return days


def review_distribution(p: Period) -> list[dict]:
    """好差评 reviews of the period per level (5 非常满意 … 1 非常不满意)."""
    first, after = p.bounds()
    counts = dict(db.session.execute(select(Review.level, func.count(Review.id)).join(Case, Case.id == Review.case_id)
                                     .where(Review.created_at >= first, Review.created_at < after,
                                            *_case_filters(p)).group_by(Review.level)).all())
    return [{"level": level, "count": int(counts.get(level, 0))} for level in (5, 4, 3, 2, 1)]


def unit_league(p: Period) -> list[dict]:
    """12345 league table: per handling unit, orders that ended with it in the period, on time,
    satisfied and returned, best on-time rate first."""
    first, after = p.bounds()
    rows = db.session.execute(
        select(WorkOrder.handling_unit, func.count(WorkOrder.id),
               _sum_if(WorkOrder.closed_at <= WorkOrder.due_at),
               _sum_if(and_(WorkOrder.satisfaction.is_not(None), WorkOrder.satisfaction != "unreachable")),
               _sum_if(WorkOrder.satisfaction.in_(SATISFIED)),
               _sum_if(WorkOrder.returned.is_(True)))
        .where(WorkOrder.handling_unit.is_not(None), WorkOrder.status.in_(ORDER_CLOSED),
               WorkOrder.closed_at >= first, WorkOrder.closed_at < after)
        .group_by(WorkOrder.handling_unit))
    names = dict(db.session.execute(select(Group.code, Group.name)).all())
    table = [{"unit": unit, "name": names.get(unit, unit), "orders_closed": int(n),
              "on_time_rate": _rate(int(on_time or 0), int(n)),
              "satisfaction_rate": _rate(int(happy or 0), int(rated or 0)),
              "returned": int(returned or 0)}
             for unit, n, on_time, rated, happy, returned in rows]
    return sorted(table, key=lambda r: (-(r["on_time_rate"] or 0), -r["orders_closed"], r["unit"]))


def top_categories(p: Period, limit: int = 10) -> list[dict]:
    """The most frequent 12345 request categories of the period."""
    first, after = p.bounds()
    rows = db.session.execute(select(WorkOrder.category, func.count(WorkOrder.id)).where(
        WorkOrder.created_at >= first, WorkOrder.created_at < after).group_by(WorkOrder.category)
        .order_by(func.count(WorkOrder.id).desc(), WorkOrder.category).limit(limit))
    return [{"category": c, "orders": int(n)} for c, n in rows]


WARNING_EVENTS = ("deadline_warning", "task_deadline_warning", "order_deadline_warning")


def warnings_issued(p: Period) -> list[dict]:
    """Time-limit warnings the worker announced in the period, by kind."""
    from ..models import AuditEvent

    first, after = p.bounds()
    rows = db.session.execute(select(AuditEvent.event_type, func.count(AuditEvent.id)).where(
        AuditEvent.event_type.in_(WARNING_EVENTS), AuditEvent.at >= first, AuditEvent.at < after)
        .group_by(AuditEvent.event_type))
    counts = dict(rows.all())
    return [{"kind": kind, "count": int(counts.get(kind, 0))} for kind in WARNING_EVENTS]


# The numbers the dashboard links to, and the rows behind each.
CASE_METRICS = ("received", "completed", "immediate", "on_time", "late", "overdue_open", "yellow_open")
ORDER_METRICS = ("orders_received", "orders_direct", "orders_closed", "orders_late", "orders_returned")


def drilldown(user, p: Period, metric: str, page: int = 1, per_page: int = 50, now: datetime | None = None):
    """(rows, total, kind) behind a figure: cases or work orders, newest first."""
    permissions.require_role(user, VIEWERS, _("see the KPIs"))
    now = now or utcnow()
    first, after = p.bounds()
    if metric in CASE_METRICS:
        scope = _case_filters(p)
        received = [Case.started_at >= first, Case.started_at < after]
        ended = [Case.status == "completed", Case.ended_at >= first, Case.ended_at < after]
        running = _running(p)
        conditions = {
            "received": received,
            "completed": ended,
            "immediate": [*received, Case.finished_same_day.is_(True)],
            "on_time": [*ended, Case.due_at.is_not(None), Case.ended_at <= Case.due_at],
            "late": [*ended, Case.due_at.is_not(None), Case.ended_at > Case.due_at],
            "overdue_open": [*running, Case.due_at < now],
            "yellow_open": [*running, Case.due_at >= now,
                            Case.due_at <= calendar.add_working_days(now, deadlines.warning_working_days())[0]],
        }[metric]
        if metric not in ("overdue_open", "yellow_open"):  # the snapshot carries its own scope
            conditions = [*conditions, *scope]
        query = select(Case).where(*conditions)
        order = (Case.started_at.desc(), Case.id.desc())
        kind = "cases"
    elif metric in ORDER_METRICS:
        scope = [WorkOrder.handling_unit == p.group] if p.group else []
        received = [WorkOrder.created_at >= first, WorkOrder.created_at < after]
        closed = [WorkOrder.status.in_(ORDER_CLOSED), WorkOrder.closed_at >= first, WorkOrder.closed_at < after]
        conditions = {
            "orders_received": received,
            "orders_direct": [*received, WorkOrder.direct.is_(True)],
            "orders_closed": closed,
            "orders_late": [*closed, WorkOrder.closed_at > WorkOrder.due_at],
            "orders_returned": [*received, WorkOrder.returned.is_(True)],
        }[metric]
        query = select(WorkOrder).where(*conditions, *scope)
        order = (WorkOrder.created_at.desc(), WorkOrder.id.desc())
        kind = "orders"
    else:
        raise InvalidInput(_("The period or a filter is not valid."),
                           {"metric": [_("Choose one of the allowed values.")]})
    total = int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = list(db.session.scalars(query.order_by(*order).offset((page - 1) * per_page).limit(per_page)))
    return rows, total, kind


def reductions_report(keys: list[str] | None = None) -> dict:
    """六减 between each bundle's first and latest catalogue revision (steps = items, materials,
    promised and statutory days), and in total."""
    from ..models import CatalogueEntry

    rows = []
    totals = {"items_removed": 0, "items_added": 0, "materials_removed": 0, "materials_added": 0,
              "promised_days_reduced": 0, "statutory_days_reduced": 0}
    for latest in catalogue.all_latest():
        if keys and latest.key not in keys:
            continue
        first = db.session.scalar(select(CatalogueEntry).where(CatalogueEntry.key == latest.key)
                                  .order_by(CatalogueEntry.revision).limit(1))
        figures = catalogue.reductions(first.data, latest.data)
        row = {"key": latest.key, "name": latest.name, "from_revision": first.revision,
               "to_revision": latest.revision, **figures}
        rows.append(row)
        for name in totals:
            totals[name] += figures.get(name) or 0
    return {"bundles": rows, "total": totals}


# -- export tables -------------------------------------------------------------------------------

SUMMARY_FIELDS = ("cases_received", "cases_completed", "immediate_rate", "on_time_rate", "statutory_on_time_rate",
                  "overdue_open", "yellow_open", "avg_processing_working_days", "help_count", "speedup_rate",
                  "on_the_spot_item_share", "reviews", "satisfaction_rate", "bad_review_rectification_rate",
                  "callbacks", "callback_satisfaction_rate", "post_eval_evaluated", "post_eval_problem_rate",
                  "post_eval_rectification_rate", "orders_received", "orders_closed", "direct_handling_rate",
                  "order_on_time_rate", "closure_24h_rate", "order_satisfaction_rate", "return_rate",
                  "repeat_request_rate")
TABLES = ("summary", "departments", "daily", "units", "categories", "reductions", "drilldown")


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_table(user, p: Period, table: str,
                 metric: str | None = None) -> tuple[str, list[tuple[str, str]], list[dict]]:
    """(title, columns, rows) of a dashboard table; ``drilldown`` is the rows behind ``metric``."""
    permissions.require_role(user, VIEWERS, _("see the KPIs"))
    if table == "drilldown":
        rows, _total, kind = drilldown(user, p, metric or "", 1, 100000)
        if kind == "cases":
            data = [{"number": c.receipt_no, "title": c.process_version.name, "status": c.status,
                     "started_at": _iso(c.started_at), "ended_at": _iso(c.ended_at), "due_at": _iso(c.due_at)}
                    for c in rows]
        else:
            data = [{"number": o.order_no, "title": f"{o.request_type} {o.category}", "status": o.status,
                     "started_at": _iso(o.created_at), "ended_at": _iso(o.closed_at), "due_at": _iso(o.due_at)}
                    for o in rows]
        columns = [(k, k) for k in ("number", "title", "status", "started_at", "ended_at", "due_at")]
        return metric or "drilldown", columns, data
    if table == "summary":
        figures = compute(user, p)
        rows = [{"kpi": k, "value": figures[k]} for k in SUMMARY_FIELDS]
        return "summary", [("kpi", "kpi"), ("value", "value")], rows
    if table == "departments":
        return "departments", [("group", "group"), ("name", "name"), ("tasks_completed", "tasks_completed"),
                               ("on_time_rate", "on_time_rate")], department_table(p)
    if table == "daily":
        return "daily", [("day", "day"), ("received", "received"), ("completed", "completed")], daily_series(p)
    if table == "units":
        return "units", [("unit", "unit"), ("name", "name"), ("orders_closed", "orders_closed"),
                         ("on_time_rate", "on_time_rate"), ("satisfaction_rate", "satisfaction_rate"),
                         ("returned", "returned")], unit_league(p)
    if table == "categories":
        return "categories", [("category", "category"), ("orders", "orders")], top_categories(p, 100)
    if table == "reductions":
        report = reductions_report([p.process_key] if p.process_key else None)
        columns = [("key", "key"), ("name", "name"), ("from_revision", "from_revision"),
                   ("to_revision", "to_revision"), ("items_removed", "items_removed"),
                   ("materials_removed", "materials_removed"), ("promised_days_reduced", "promised_days_reduced"),
                   ("statutory_days_reduced", "statutory_days_reduced")]
        return "reductions", columns, [*report["bundles"], {"key": "total", "name": "合计", **report["total"]}]
    raise InvalidInput(_("The period or a filter is not valid."), {"table": [_("Choose one of the allowed values.")]})
