"""Cases (办件): one started bundle, its applicant, data and serialised workflow state."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .org import User
from .process import ProcessVersion
from .types import JSONType, UTCDateTime, utcnow

CASE_STATUSES = ("active", "completed", "terminated")


class Case(db.Model):
    """A running or finished bundle. ``lock_version`` guards against lost updates."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_started_by_started_at", "started_by_id", "started_at"),
        Index("ix_cases_status_started_at", "status", "started_at"),
        Index("ix_cases_next_timer_at", "next_timer_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_no: Mapped[str] = mapped_column(String(32), unique=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int]
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_id_number: Mapped[str] = mapped_column(String(64))
    applicant_phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")
    outcome: Mapped[str | None] = mapped_column(String(200))
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    # Deferred: inbox and list queries never load the (large) workflow state.
    workflow_state: Mapped[str] = mapped_column(Text, deferred=True)
    serializer_version: Mapped[str] = mapped_column(String(16))
    lock_version: Mapped[int] = mapped_column(default=1)
    # When the earliest waiting timer of the workflow is due; the timer worker polls this.
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Time limits (brief §6): the end of the promised (承诺) and statutory (法定) period, counted
    # in working days from started_at when the version declares them; None otherwise.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    statutory_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    process_version: Mapped[ProcessVersion] = relationship(lazy="joined", innerjoin=True)
    started_by: Mapped[User] = relationship()

    __mapper_args__ = {"version_id_col": lock_version}


class ReceiptCounter(db.Model):
    """The last receipt sequence number issued on a calendar day (Asia/Shanghai)."""

    __tablename__ = "receipt_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
