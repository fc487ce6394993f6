"""Case and task time limits (brief §6): due dates at start/projection, warnings on read.

- A version's ``meta["time_limits"]`` (the diagram's process properties ``promisedDays`` and
  ``statutoryDays``) gives each case ``due_at`` (promised, 承诺时限) and ``statutory_due_at``
  (法定时限), counted in working days from ``started_at`` with the calendar service.
- A user task with its own ``promisedDays`` property gets ``due_at`` counted from its
  ``created_at`` when it is projected.
- ``warning`` is never stored: ``red`` when the due time has passed and the case/task is not
  finished, ``yellow`` when at most ``WARNING_WORKING_DAYS`` working days remain (the due day
  itself counts as remaining), otherwise ``none`` (also without a due date).
- ``paused``: the case clock is stopped (特别程序, 补正; see ``case_clock``); a paused case
  shows no warning, and its due dates move by the paused working days when it runs again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, has_app_context

from ..models import Case, HumanTask
from ..models.types import utcnow
from . import calendar

WARNINGS = ("none", "yellow", "red")
DEFAULT_WARNING_WORKING_DAYS = 1
FINISHED_TASK_STATES = frozenset({"completed", "cancelled"})


def warning_working_days() -> int:
    """Working days before the due time from which a warning is yellow (``WARNING_WORKING_DAYS``)."""
    value = current_app.config.get("WARNING_WORKING_DAYS") if has_app_context() else None
    return DEFAULT_WARNING_WORKING_DAYS if value is None else int(value)


def due_after(start: datetime, days: int | None) -> datetime | None:
    """The end of the ``days``-th working day after ``start``, or None without a limit."""
    if days is None:
        return None
    return calendar.add_working_days(start, int(days))[0]


def task_due(created_at: datetime, route: dict, paused: timedelta = timedelta(0), extra_days: int = 0
             ) -> datetime | None:
    """A task's due time from its routing entry: ``promised_days`` working days, or else
    ``promised_hours`` in natural time (7×24); pauses move it by the working days or the
    wall-clock time they lasted."""
    if route.get("promised_days") is not None:
        return calendar.add_working_days(created_at, int(route["promised_days"]) + extra_days)[0]
    if route.get("promised_hours") is not None:
        return created_at + timedelta(hours=int(route["promised_hours"])) + paused
    return None


def set_case_due_dates(case: Case, time_limits: dict | None) -> None:
    """Set ``due_at``/``statutory_due_at`` (and ``due_provisional``) of a new case."""
    limits = time_limits or {}
    provisional = False
    for field, key in (("due_at", "promised_days"), ("statutory_due_at", "statutory_days")):
        days = limits.get(key)
        due = None
        if days is not None:
            due, tentative = calendar.add_working_days(case.started_at, int(days))
            provisional = provisional or tentative
        setattr(case, field, due)
    case.due_provisional = provisional


def warning(due_at: datetime | None, finished: bool = False, now: datetime | None = None,
            threshold: int | None = None) -> str:
    """``none``, ``yellow`` or ``red`` for a due time (see the module docstring)."""
    if due_at is None or finished:
        return "none"
    now = now or utcnow()
    if now > due_at:
        return "red"
    threshold = warning_working_days() if threshold is None else threshold
    today = calendar.local_date(now)
    remaining = calendar.working_days_between(today, calendar.local_date(due_at), calendar.overrides_from(today),
                                              at_most=threshold)
    # Working days after today up to and including the due day: 0 on the due day itself, 1 the
    # working day before it (the due day is still ahead) ...
    return "yellow" if remaining <= threshold else "none"


def case_warning(case: Case, now: datetime | None = None) -> str:
    """The warning of a case's promised time limit (none when finished or paused)."""
    return warning(case.due_at, case.status != "active" or case.paused_at is not None, now)


NATURAL_WARNING_FRACTION = 0.25


def task_warning(task: HumanTask, now: datetime | None = None) -> str:
    """The warning of a task's own due time (none when finished or its case clock is stopped).

    A natural-time task (``promisedHours``) is yellow in the last quarter of its period.
    """
    finished = task.state in FINISHED_TASK_STATES or task.case.paused_at is not None
    if getattr(task, "due_natural", False) and task.due_at is not None and not finished:
        now = now or utcnow()
        if now > task.due_at:
            return "red"
        period = task.due_at - task.created_at
        return "yellow" if task.due_at - now <= period * NATURAL_WARNING_FRACTION else "none"
    return warning(task.due_at, finished, now)


def case_paused(case: Case) -> bool:
    """Whether the case clock is stopped (特别程序, 补正)."""
    return case.paused_at is not None
