"""Designer work in progress: process drafts, and deployments that wait for a second person.

Neither changes what runs. Only ``services.processes.deploy`` creates a process version;
a draft is text being edited, and a pending deployment is a frozen copy of files that a
second designer or an admin must approve before that deploy happens (four-eyes).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .org import User
from .process import ProcessVersion
from .types import JSONType, UTCDateTime, utcnow

PENDING_STATUSES = ("pending", "approved", "rejected")


class ProcessDraft(db.Model):
    """Unpublished edits of a process: its files as text, based on one deployed version."""

    __tablename__ = "process_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"))
    # {filename: text}: the BPMN XML and the JSON Schema forms, exactly as the editor holds them.
    files: Mapped[dict] = mapped_column(JSONType, default=dict)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped by every save; a save that names an older revision is refused (two tabs, two people).
    revision: Mapped[int] = mapped_column(default=1)

    base_version: Mapped[ProcessVersion | None] = relationship()
    author: Mapped[User] = relationship(lazy="joined")


class PendingDeployment(db.Model):
    """A deploy requested under four-eyes: who asked, who approved or rejected, and the result."""

    __tablename__ = "pending_deployments"
    __table_args__ = (CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    # The latest version when the request was made; approval is refused if another deploy came first.
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"))
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("process_drafts.id", ondelete="SET NULL"))
    files: Mapped[dict] = mapped_column(JSONType, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it was rejected (or a note of the approver).
    comment: Mapped[str | None] = mapped_column(Text)
    # The version the approval deployed (the latest unchanged one when the content was identical).
    version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"))

    base_version: Mapped[ProcessVersion | None] = relationship(foreign_keys=[base_version_id])
    version: Mapped[ProcessVersion | None] = relationship(foreign_keys=[version_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    rejected_by: Mapped[User | None] = relationship(foreign_keys=[rejected_by_id])
