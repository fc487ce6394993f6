"""The supervisor's view of time limits: the overdue (red) and nearly due (yellow) cases.

A case is listed while it runs with its clock going and its promised due date is past
(``red``) or within ``WARNING_WORKING_DAYS`` working days (``yellow``); the most urgent come
first (earliest due). The query reads ``cases`` by ``(status, due_at)`` and never loads
workflow state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..extensions import db
from ..models import Case
from ..models.types import utcnow
from . import calendar, deadlines, permissions

LEVELS = ("all", "red", "yellow")
WATCHERS = permissions.READ_ALL_CASES


@dataclass
class OverduePage:
    """One page of the overdue list."""

    items: list[Case]
    total: int
    page: int
    per_page: int
    level: str

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def overdue(user, level: str = "all", page: int = 1, per_page: int = 50, now: datetime | None = None) -> OverduePage:
    """Cases past (red) or near (yellow) their promised due date, earliest due first."""
    permissions.require_role(user, WATCHERS, _("see the overdue list"))
    now = now or utcnow()
    query = select(Case).where(Case.status == "active", Case.paused_at.is_(None), Case.due_at.is_not(None))
    if level == "red":
        query = query.where(Case.due_at < now)
    else:
        horizon = _yellow_horizon(now)
        query = query.where(Case.due_at <= horizon)
        if level == "yellow":
            query = query.where(Case.due_at >= now)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(query.order_by(Case.due_at, Case.id).offset((page - 1) * per_page).limit(per_page))
    return OverduePage(list(items), total, page, per_page, level)


def _yellow_horizon(now: datetime) -> datetime:
    """The latest due time that is yellow today: the end of the threshold-th working day ahead."""
    return calendar.add_working_days(now, deadlines.warning_working_days())[0]


def overdue_working_days(case: Case, now: datetime | None = None) -> int:
    """How many working days a red case is past its due date (0 when not overdue)."""
    now = now or utcnow()
    if case.due_at is None or case.due_at >= now:
        return 0
    return max(calendar.working_days_between(calendar.local_date(case.due_at), calendar.local_date(now)), 0)
