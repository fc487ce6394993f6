"""Cases (办件): one started bundle, its applicant, data and serialised workflow state."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .org import User
from .process import ProcessVersion
from .types import JSONType, UTCDateTime, utcnow

CASE_STATUSES = ("active", "completed", "terminated", "rejected", "withdrawn")


class Case(db.Model):
    """A running or finished bundle. ``lock_version`` guards against lost updates."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_started_by_started_at", "started_by_id", "started_at"),
        Index("ix_cases_status_started_at", "status", "started_at"),
        Index("ix_cases_next_timer_at", "next_timer_at"),
        Index("ix_cases_status_due_at", "status", "due_at"),
        Index("ix_cases_status_ended_at", "status", "ended_at",
              postgresql_include=["process_key", "due_at", "statutory_due_at", "working_days_used"]),
        Index("ix_cases_started_at", "started_at",
              postgresql_include=["process_key", "finished_same_day", "assisted_by_id"]),
        # Case search (queries.search_cases; EXPLAIN in docs/performance.md): a full ID number
        # whatever the case of its check character; on PostgreSQL a receipt number prefix
        # (LIKE 'CZ2025…%' needs pattern operators outside the C collation) and a part of a name
        # (trigrams, when the pg_trgm extension could be created: see the migration).
        Index("ix_cases_applicant_id_number_upper", text("upper(applicant_id_number)")),
        # (``info["dialect"]`` tells migrations/env.py to leave them out of autogenerate elsewhere.)
        Index("ix_cases_receipt_no_pattern", "receipt_no", postgresql_ops={"receipt_no": "varchar_pattern_ops"},
              info={"dialect": "postgresql"}).ddl_if(dialect="postgresql"),
        Index("ix_cases_applicant_name_trgm", "applicant_name", postgresql_using="gin",
              postgresql_ops={"applicant_name": "gin_trgm_ops"},
              info={"dialect": "postgresql"}).ddl_if(dialect="postgresql"),
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
    # Whether counting touched a year whose holiday schedule was not published yet (brief §6.3).
    due_provisional: Mapped[bool] = mapped_column(default=False)
    # The case clock (app/services/clock.py): when it was stopped (None = running), the working
    # days of finished pauses and of approved extensions; the due dates include both.
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_working_days: Mapped[int] = mapped_column(default=0)
    extension_working_days: Mapped[int] = mapped_column(default=0)
    # 即办件: the version declares the bundle immediate (window alone, one sitting); set when the
    # case ends whether it ended on its acceptance day (local date), for the 即办率 KPI.
    immediate: Mapped[bool] = mapped_column(default=False)
    finished_same_day: Mapped[bool | None]
    # Working days from acceptance to the end, pauses excluded; set when the case ends (a KPI fact).
    working_days_used: Mapped[int | None]
    # The last warning level the timer worker announced (none/yellow/red), so each is audited once.
    warning_level: Mapped[str] = mapped_column(String(8), default="none")
    # What the window checked at intake against the catalogue: {"catalogue_revision", "answers",
    # "received": [codes], "missing": [{code, name}]} — missing required materials drive 补正.
    intake: Mapped[dict | None] = mapped_column(JSONType)
    # 肩并肩: the helper who prepared the application with the applicant (the help-count KPI).
    assisted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    process_version: Mapped[ProcessVersion] = relationship(lazy="joined", innerjoin=True)
    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    assisted_by: Mapped[User | None] = relationship(foreign_keys=[assisted_by_id])

    __mapper_args__ = {"version_id_col": lock_version}


class CasePause(db.Model):
    """One stop of the case clock: a special procedure (特别程序) or a wait for materials (补正)."""

    __tablename__ = "case_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Working days the pause added to the due dates (set when the clock runs again).
    working_days: Mapped[int | None]

    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    ended_by: Mapped[User | None] = relationship(foreign_keys=[ended_by_id])


class CaseExtension(db.Model):
    """A request to extend a case's time limits by N working days (延期), decided by a section chief."""

    __tablename__ = "case_extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    working_days: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/approved/rejected
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class CaseNotice(db.Model):
    """A written notice to the applicant: 补正 (all missing materials at once) or 不予受理."""

    __tablename__ = "case_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # correction / rejection
    number: Mapped[str] = mapped_column(String(40), unique=True)
    # correction: [{"material": ..., "problem": ...}]; rejection: [] (the reason says why)
    items: Mapped[list] = mapped_column(JSONType, default=list)
    reason: Mapped[str] = mapped_column(Text, default="")
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pause_id: Mapped[int | None] = mapped_column(ForeignKey("case_pauses.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    issued_by: Mapped[User] = relationship(foreign_keys=[issued_by_id])


class MessageWait(db.Model):
    """A message the case waits for from outside (a utility's transfer result …), one row per
    sender group: the 待回传 list of that group reads these rows, never workflow state."""

    __tablename__ = "message_waits"
    __table_args__ = (Index("ix_message_waits_group", "group_code", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    element_name: Mapped[str] = mapped_column(String(300))
    group_code: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(lazy="joined", innerjoin=True)


class ReceiptCounter(db.Model):
    """The last receipt sequence number issued on a calendar day (Asia/Shanghai)."""

    __tablename__ = "receipt_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class CaseSubmission(db.Model):
    """The key a client sent with an application that started a case (the window's form carries
    one, an API client may send ``Idempotency-Key``): the same user sending the same key again
    (a double click, a form sent twice over a slow line, a retried request) gets that case back,
    and no second case with a second receipt number is started."""

    __tablename__ = "case_submissions"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_case_submissions_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(64))
    # What the submission was for (bundle and applicant), hashed: a key sent again for another
    # application (a form reused after the browser's back button) is refused, not answered with
    # the first case.
    fingerprint: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
