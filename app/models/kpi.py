"""Daily KPI rollups: the case and task figures of each local day, kept current on every commit.

The dashboard sums a period's rows instead of scanning millions of cases (issue 8: a year over a
million cases in under a second). ``services.kpi_rollups`` adds each change of a case or a task
as a delta in the same transaction as the change, and can rebuild both tables from the facts.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class KpiCaseDay(db.Model):
    """Per local day, bundle and accepting clerk: the cases received that day (counted by their
    acceptance day) and the cases completed that day (counted by their end day)."""

    __tablename__ = "kpi_case_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    clerk_id: Mapped[int] = mapped_column(primary_key=True)
    received: Mapped[int] = mapped_column(default=0)
    immediate: Mapped[int] = mapped_column(default=0)
    helped: Mapped[int] = mapped_column(default=0)
    completed: Mapped[int] = mapped_column(default=0)
    with_limit: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    with_statutory: Mapped[int] = mapped_column(default=0)
    within_statutory: Mapped[int] = mapped_column(default=0)
    working_days_sum: Mapped[int] = mapped_column(default=0)
    working_days_count: Mapped[int] = mapped_column(default=0)


class KpiTaskDay(db.Model):
    """Per local day, bundle, accepting clerk and candidate group: the tasks completed that day,
    those with a due date and those completed by it."""

    __tablename__ = "kpi_task_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    clerk_id: Mapped[int] = mapped_column(primary_key=True)
    group_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    completed: Mapped[int] = mapped_column(default=0)
    timed: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)


class KpiGroupCaseDay(db.Model):
    """``kpi_case_days`` once more per group that had a task in the case (any candidate group of
    any of its tasks): the dashboard's department filter."""

    __tablename__ = "kpi_group_case_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    clerk_id: Mapped[int] = mapped_column(primary_key=True)
    group_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    received: Mapped[int] = mapped_column(default=0)
    immediate: Mapped[int] = mapped_column(default=0)
    helped: Mapped[int] = mapped_column(default=0)
    completed: Mapped[int] = mapped_column(default=0)
    with_limit: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    with_statutory: Mapped[int] = mapped_column(default=0)
    within_statutory: Mapped[int] = mapped_column(default=0)
    working_days_sum: Mapped[int] = mapped_column(default=0)
    working_days_count: Mapped[int] = mapped_column(default=0)
