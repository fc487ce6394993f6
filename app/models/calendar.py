"""Per-date corrections of the working-day calendar, entered by an admin.

The national calendar (holidays and make-up working days, 调休) comes from the
``chinese_calendar`` library; a row here overrides it for one date, e.g. a local
holiday, or a make-up working day published after the installed library version.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .org import User
from .types import UTCDateTime, utcnow


class CalendarOverride(db.Model):
    """One date declared a working day or a day off, whatever the national calendar says."""

    __tablename__ = "calendar_overrides"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_working_day: Mapped[bool] = mapped_column()
    note: Mapped[str] = mapped_column(String(500), default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    updated_by: Mapped[User | None] = relationship(lazy="joined")
