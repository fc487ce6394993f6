"""肩并肩 assisted filing: an application a helper (帮办员) prepares with the applicant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .org import User
from .types import JSONType, UTCDateTime, utcnow

ASSISTED_STATES = ("draft", "submitted", "returned", "accepted")


class AssistedApplication(db.Model):
    """A prepared application: applicant, start form, scenario answers and the helper's material
    pre-review (材料预审), handed to the window queue and accepted by a clerk in one step."""

    __tablename__ = "assisted_applications"
    __table_args__ = (Index("ix_assisted_status_submitted", "status", "submitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    applicant: Mapped[dict] = mapped_column(JSONType, default=dict)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    answers: Mapped[dict] = mapped_column(JSONType, default=dict)
    # {material code: {"status": "ok" | "missing" | "problem", "remark": str}}
    materials: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    helper_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_remark: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))

    helper: Mapped[User] = relationship(foreign_keys=[helper_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
