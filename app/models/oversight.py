"""Oversight of approval work: the weekly post-approval evaluation samples (行政审批行为后评价)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import JSONType, UTCDateTime, utcnow


class EvaluationSample(db.Model):
    """One week's random sample: the seed and the population query are stored, so anyone can draw
    it again from the same data and get the same cases."""

    __tablename__ = "evaluation_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, unique=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    # {"ended_from", "ended_to", "frequent_min_cases", "frequency_days", "process_keys", "size"}
    population_query: Mapped[dict] = mapped_column(JSONType)
    population_count: Mapped[int]
    case_ids: Mapped[list] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(200), default="")


class Review(db.Model):
    """好差评: an applicant's rating of a completed case on the five GB/T 39734 levels (5 非常满意 …
    1 非常不满意). A bad review (1–2) starts a ``bad_review`` rectification case."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    level: Mapped[int]
    comment: Mapped[str] = mapped_column(String(1000), default="")
    channel: Mapped[str] = mapped_column(String(16), default="web")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The rectification of a bad review, and its facts (refreshed from that case on every step).
    rectification_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    requires_rectification: Mapped[bool | None]
    rectify_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OversightLink(db.Model):
    """A case under oversight and the oversight case about it (办件回访 …), with its result."""

    __tablename__ = "oversight_links"
    __table_args__ = (UniqueConstraint("kind", "subject_case_id", name="uq_oversight_links_kind_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    oversight_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    batch: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    result: Mapped[str | None] = mapped_column(String(32))
    problem: Mapped[bool | None]
