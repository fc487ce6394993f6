"""The case clock (brief §6.3): pauses for special procedures and 补正, extensions (延期),
recomputation of due dates, and the warnings the timer worker announces.

Due dates are always recomputed from their base, never nudged, so every path (resume,
extension, a newly published calendar) gives the same answer::

    due_at           = add_working_days(started_at, promised_days  + paused + extended)
    statutory_due_at = add_working_days(started_at, statutory_days + paused + extended)
    task.due_at      = add_working_days(created_at, task promised_days + paused/extended since created_at)

- A pause counts the working days in (pause date, resume date] in local dates: stopped and
  restarted on the same day adds nothing; stopped on Friday and restarted on Monday adds one.
  Working time, not wall-clock time, is added (the brief's recommendation over Epoint's).
- While the clock is stopped the case shows ``paused`` and no warning; its due dates move
  when it runs again. One pause at a time.
- An extension of N working days is requested by someone handling the case and approved or
  rejected by a section chief of one of the case's groups (never the requester), and extends
  both the promised and the statutory limit (行政许可法 art. 42: the statutory +10 wd needs
  the agency head's approval, which the section chief's decision records here).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import or_, select

from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..extensions import db
from ..models import Case, CaseExtension, CasePause, HumanTask, TaskCandidate, User
from ..models.types import utcnow
from . import audit, calendar, deadlines
from .cases import lock_case, lock_visible_case

PAUSE_KINDS = ("special_procedure", "hearing", "inspection", "expert_review", "correction")
MAX_EXTENSION_DAYS = 60
LIVE_TASK_STATES = ("open", "claimed")


# -- who may act -------------------------------------------------------------------------------


def case_group_ids(case: Case) -> set[int]:
    """Groups that have or had a task in the case."""
    return set(db.session.scalars(
        select(TaskCandidate.group_id).join(HumanTask).where(HumanTask.case_id == case.id).distinct()))


def may_handle(user: User, case: Case) -> bool:
    """Whether the user works on the case: holds one of its tasks, is in a group with a live
    task of it, or is the clerk who accepted it."""
    if case.started_by_id == user.id:
        return True
    live = db.session.scalars(select(HumanTask).where(
        HumanTask.case_id == case.id, HumanTask.state.in_(LIVE_TASK_STATES))).all()
    mine = set(user.group_ids)
    return any(t.assignee_id == user.id or t.candidate_user_id == user.id
               or any(c.group_id in mine for c in t.candidates) for t in live)


def require_handler(user: User, case: Case, action: str) -> None:
    """Forbidden unless the user works on the case (supervisors watch, they do not act)."""
    if not may_handle(user, case):
        raise Forbidden(_("Only the people handling this case may %(action)s.", action=action))


def require_active(case: Case) -> None:
    """Conflict unless the case is still running."""
    if case.status != "active":
        raise Conflict(_("The case is already closed."), error="case_closed")


# -- due dates ---------------------------------------------------------------------------------


def _limits(case: Case) -> dict:
    return case.process_version.meta.get("time_limits") or {}


def recompute_case(case: Case) -> None:
    """Recompute the case's due dates from its limits, pauses and extensions (module docstring)."""
    limits = _limits(case)
    extra = (case.paused_working_days or 0) + (case.extension_working_days or 0)
    provisional = False
    for field, key in (("due_at", "promised_days"), ("statutory_due_at", "statutory_days")):
        days = limits.get(key)
        if days is None:
            setattr(case, field, None)
            continue
        due, tentative = calendar.add_working_days(case.started_at, int(days) + extra)
        setattr(case, field, due)
        provisional = provisional or tentative
    case.due_provisional = provisional
    case.warning_level = _lowered(case.warning_level, deadlines.case_warning(case))


def _lowered(announced: str | None, current: str) -> str:
    """A due date that moved out may lower the announced warning (so the worker announces it
    again when it comes back); raising it is left to the worker, which audits each rise."""
    order = deadlines.WARNINGS
    announced = announced or "none"
    return current if order.index(current) < order.index(announced) else announced


def _added_since(case: Case, since: datetime) -> int:
    """Working days that pauses ended and extensions approved after ``since`` added."""
    paused = db.session.scalars(select(CasePause.working_days).where(
        CasePause.case_id == case.id, CasePause.ended_at.is_not(None), CasePause.ended_at > since)).all()
    extended = db.session.scalars(select(CaseExtension.working_days).where(
        CaseExtension.case_id == case.id, CaseExtension.status == "approved",
        CaseExtension.decided_at > since)).all()
    return sum(d or 0 for d in paused) + sum(extended)


def _paused_since(case: Case, since: datetime):
    """Wall-clock time the clock stood still after ``since`` (natural-time tasks move by it)."""
    total = timedelta(0)
    for start, end in db.session.execute(select(CasePause.started_at, CasePause.ended_at).where(
            CasePause.case_id == case.id, CasePause.ended_at.is_not(None), CasePause.ended_at > since)):
        total += end - max(start, since)
    return total


def recompute_tasks(case: Case) -> None:
    """Recompute the due dates of the case's live tasks that have their own time limit."""
    routing = case.process_version.meta.get("user_tasks", {})
    for task in db.session.scalars(select(HumanTask).where(
            HumanTask.case_id == case.id, HumanTask.state.in_(LIVE_TASK_STATES))):
        route = routing.get(task.bpmn_id, {})
        if route.get("promised_days") is None and route.get("promised_hours") is None:
            continue
        task.due_at = deadlines.task_due(task.created_at, route, _paused_since(case, task.created_at),
                                         _added_since(case, task.created_at))
        task.warning_level = _lowered(task.warning_level, deadlines.task_warning(task))


def recompute_open_cases(since: datetime | None = None, actor: User | None = None,
                         reason: dict | None = None) -> int:
    """Recompute every running case whose due dates reach ``since`` or later (all when None),
    e.g. after the calendar changed; returns how many cases were looked at.

    A case whose due dates moved gets a ``due_dates_changed`` event naming ``actor`` (None: the
    system), ``reason`` (what changed, e.g. the calendar day) and each moved date, old and new, so
    its history says why its time limit is not the one it had."""
    query = select(Case).where(Case.status == "active", or_(Case.due_at.is_not(None),
                                                            Case.statutory_due_at.is_not(None)))
    if since is not None:
        query = query.where(or_(Case.due_at >= since, Case.statutory_due_at >= since, Case.due_provisional))
    count = 0
    for case in db.session.scalars(query):
        before = {field: getattr(case, field) for field in _AUDITED_DUE_DATES}
        recompute_case(case)
        recompute_tasks(case)
        moved = {field: {"from": _iso(old), "to": _iso(getattr(case, field))}
                 for field, old in before.items() if getattr(case, field) != old}
        if moved:
            audit.record(case, "due_dates_changed", actor, data={**(reason or {}), **moved})
        count += 1
    db.session.flush()
    return count


_AUDITED_DUE_DATES = ("due_at", "statutory_due_at")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def change_calendar(user: User, day, is_working_day: bool | None, note: str = ""):
    """Set (or, with ``is_working_day`` None, delete) a calendar override and recompute the due
    dates of running cases that reach that day or were provisional, in the same transaction
    (each moved case audited, naming the admin and the day)."""
    if is_working_day is None:
        result = calendar.delete_override(user, day)
    else:
        result = calendar.set_override(user, day, is_working_day, note)
    db.session.flush()
    start = datetime.combine(day, datetime.min.time(), tzinfo=calendar.local_timezone())
    recompute_open_cases(since=start, actor=user, reason={
        "reason": "calendar", "day": day.isoformat(),
        "is_working_day": is_working_day})
    return result


# -- pauses ------------------------------------------------------------------------------------


def open_pause(case: Case) -> CasePause | None:
    """The pause that stopped the clock now, if any."""
    return db.session.scalar(select(CasePause).where(CasePause.case_id == case.id, CasePause.ended_at.is_(None)))


def pause(user: User, case: Case, kind: str, reason: str) -> CasePause:
    """Stop the clock of a locked, active case (one pause at a time)."""
    require_active(case)
    require_handler(user, case, _("stop the clock"))
    reason = (reason or "").strip()
    if kind not in PAUSE_KINDS:
        raise InvalidInput(_("Unknown kind of pause."), {"kind": [_("Choose one of: %(kinds)s.",
                                                                     kinds=", ".join(PAUSE_KINDS))]})
    if not reason:
        raise InvalidInput(_("Give the reason for stopping the clock."), {"reason": [_("Required.")]})
    if case.paused_at is not None:
        raise Conflict(_("The clock of this case is already stopped."), error="clock_paused")
    now = utcnow()
    record = CasePause(case_id=case.id, kind=kind, reason=reason, started_at=now, started_by_id=user.id)
    db.session.add(record)
    case.paused_at = now
    case.warning_level = "none"
    db.session.flush()
    audit.record(case, "clock_paused", user, data={"kind": kind, "reason": reason, "pause_id": record.id})
    return record


def resume(user: User | None, case: Case, *, check_handler: bool = True) -> CasePause:
    """Restart the clock; the paused working days move the due dates (module docstring)."""
    require_active(case)
    if check_handler and user is not None:
        require_handler(user, case, _("restart the clock"))
    record = open_pause(case)
    if case.paused_at is None or record is None:
        raise Conflict(_("The clock of this case is running."), error="clock_running")
    now = utcnow()
    days = calendar.working_days_between(calendar.local_date(case.paused_at), calendar.local_date(now))
    record.ended_at = now
    record.ended_by_id = user.id if user else None
    record.working_days = days
    case.paused_at = None
    case.paused_working_days = (case.paused_working_days or 0) + days
    db.session.flush()
    recompute_case(case)
    recompute_tasks(case)
    audit.record(case, "clock_resumed", user, data={
        "kind": record.kind, "pause_id": record.id, "working_days": days,
        "due_at": case.due_at.isoformat() if case.due_at else None})
    db.session.flush()
    return record


def pauses(case: Case) -> list[CasePause]:
    """The case's pauses, oldest first."""
    return list(db.session.scalars(select(CasePause).where(CasePause.case_id == case.id)
                                   .order_by(CasePause.started_at, CasePause.id)))


# -- extensions --------------------------------------------------------------------------------


def request_extension(user: User, case: Case, working_days, reason: str) -> CaseExtension:
    """Ask a section chief to extend the case's time limits by ``working_days``."""
    require_active(case)
    require_handler(user, case, _("request an extension"))
    errors = {}
    if isinstance(working_days, bool) or not isinstance(working_days, int) \
            or not 1 <= working_days <= MAX_EXTENSION_DAYS:
        errors["working_days"] = [_("Enter a whole number of working days from 1 to %(max)s.",
                                    max=MAX_EXTENSION_DAYS)]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Required.")]
    if errors:
        raise InvalidInput(_("The extension request is incomplete."), errors)
    pending = db.session.scalar(select(CaseExtension).where(
        CaseExtension.case_id == case.id, CaseExtension.status == "pending"))
    if pending is not None:
        raise Conflict(_("An extension request for this case is already waiting for a decision."),
                       error="extension_pending")
    record = CaseExtension(case_id=case.id, working_days=working_days, reason=reason,
                           requested_by_id=user.id, requested_at=utcnow(), status="pending")
    db.session.add(record)
    db.session.flush()
    audit.record(case, "extension_requested", user, data={
        "extension_id": record.id, "working_days": working_days, "reason": reason})
    return record


def may_decide(user: User, case: Case) -> bool:
    """Section chiefs of a group with a task in the case (and admins) decide extensions."""
    if user.has_role("admin"):
        return True
    return user.has_role("section_chief") and bool(case_group_ids(case) & set(user.group_ids))


def get_extension(extension_id: int) -> CaseExtension:
    """The extension request, or NotFound."""
    record = db.session.get(CaseExtension, extension_id)
    if record is None:
        raise NotFound(_("No such extension request."))
    return record


def decide_extension(user: User, record: CaseExtension, case: Case, approve: bool, note: str = "") -> CaseExtension:
    """Approve (the due dates move) or reject a pending request; never one's own."""
    if not may_decide(user, case):
        raise Forbidden(_("Only a section chief of this case's departments may decide extensions."))
    if record.requested_by_id == user.id:
        raise Forbidden(_("You may not decide your own extension request."))
    if record.status != "pending":
        raise Conflict(_("This extension request has already been decided."), error="extension_decided")
    require_active(case)
    record.status = "approved" if approve else "rejected"
    record.decided_by_id = user.id
    record.decided_at = utcnow()
    record.decision_note = (note or "").strip() or None
    if approve:
        case.extension_working_days = (case.extension_working_days or 0) + record.working_days
        db.session.flush()
        recompute_case(case)
        recompute_tasks(case)
    audit.record(case, "extension_approved" if approve else "extension_rejected", user, data={
        "extension_id": record.id, "working_days": record.working_days, "note": record.decision_note,
        "due_at": case.due_at.isoformat() if case.due_at else None})
    db.session.flush()
    return record


def extensions(case: Case) -> list[CaseExtension]:
    """The case's extension requests, oldest first."""
    return list(db.session.scalars(select(CaseExtension).where(CaseExtension.case_id == case.id)
                                   .order_by(CaseExtension.requested_at, CaseExtension.id)))


def pending_extensions(user: User) -> list[CaseExtension]:
    """Requests waiting for this user's decision (section chiefs: their groups' cases; admins: all)."""
    query = select(CaseExtension).where(CaseExtension.status == "pending").order_by(CaseExtension.requested_at)
    if not user.has_role("admin"):
        if not user.has_role("section_chief"):
            return []
        in_my_groups = (select(HumanTask.case_id).join(TaskCandidate)
                        .where(TaskCandidate.group_id.in_(user.group_ids or [-1])))
        query = query.where(CaseExtension.case_id.in_(in_my_groups),
                            CaseExtension.requested_by_id != user.id)
    return list(db.session.scalars(query))


# -- entry points for routes (one transaction each: lock the case, act, audit) ----------------


def pause_case(user: User, case_id: int, kind: str, reason: str) -> Case:
    """Stop the clock of a case the user handles."""
    case = lock_visible_case(user, case_id)
    pause(user, case, kind, reason)
    return case


def resume_case(user: User, case_id: int) -> Case:
    """Restart the clock of a case the user handles."""
    case = lock_visible_case(user, case_id)
    resume(user, case)
    return case


def request_case_extension(user: User, case_id: int, working_days, reason: str) -> CaseExtension:
    """Request an extension for a case the user handles."""
    # Serialised on SQLite too: the request is a check (no other one pending) and an insert.
    return request_extension(user, lock_visible_case(user, case_id, serialize=True), working_days, reason)


def decide(user: User, extension_id: int, approve: bool, note: str = "") -> CaseExtension:
    """Approve or reject an extension request (section chiefs)."""
    record = get_extension(extension_id)
    # Serialised on SQLite too: a rejection changes the request only, which has no version check.
    case = lock_case(record.case_id, serialize=True)
    db.session.refresh(record)
    return decide_extension(user, record, case, approve, note)
