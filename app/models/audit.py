"""The append-only audit trail of every case transition."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .org import User
from .types import JSONType, UTCDateTime, utcnow

EVENT_TYPES = (
    "case_started", "task_claimed", "task_unclaimed", "task_completed", "task_cancelled",
    "timer_fired", "timer_failed", "case_completed", "case_terminated", "attachment_added", "draft_saved",
    "case_migrated",
)


class AuditEvent(db.Model):
    """One thing that happened to a case: who, when, which task, with what data."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_tasks.id", ondelete="SET NULL"))
    task_name: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[dict | None] = mapped_column(JSONType)

    actor: Mapped[User | None] = relationship(lazy="joined")


class AuditMaintenance(db.Model):
    """While this table holds a row, SQLite's append-only triggers on ``audit_events`` let an
    operator's purge through (PostgreSQL: ``SET LOCAL app.audit_maintenance = 'on'``). The
    application never writes it."""

    __tablename__ = "audit_maintenance"

    id: Mapped[int] = mapped_column(primary_key=True)


SECURITY_EVENT_TYPES = (
    "login_succeeded", "login_failed", "login_locked", "login_refused", "logout", "session_expired",
    "token_issued", "token_revoked", "password_changed",
)


class SecurityEvent(db.Model):
    """One security-relevant event outside the cases (安全审计): a login and how it ended, a
    lock-out, a logout, a token issued or revoked, a password changed. Append-only like
    ``audit_events`` (database triggers, the same ``audit_maintenance`` gate).

    A failure under a name that is no user's keeps only the name's SHA-256 (``name_hash``): such
    a "name" is often a password typed into the wrong field."""

    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_user_at", "user_id", "at"),
                      Index("ix_security_events_type_at", "event_type", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    name_hash: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # web, api, api-session, cli
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict | None] = mapped_column(JSONType)

    user: Mapped[User | None] = relationship(lazy="joined")
