"""Human tasks: one row per READY user task, projected from the engine after each step."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .case import Case
from .org import Group, User
from .types import JSONType, UTCDateTime, utcnow

TASK_STATES = ("open", "claimed", "completed", "cancelled")


class HumanTask(db.Model):
    """A user task waiting for (or done by) a person. Inbox queries read only this table."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        # One live row per engine task; a task sent back (退回/撤回) becomes READY again under the
        # same engine id, so finished rows keep their history beside the new live one.
        Index("uq_human_tasks_live_engine_task", "case_id", "engine_task_id", unique=True,
              sqlite_where=text("state IN ('open', 'claimed')"),
              postgresql_where=text("state IN ('open', 'claimed')")),
        Index("ix_human_tasks_state_created_at", "state", "created_at"),
        Index("ix_human_tasks_assignee_state", "assignee_id", "state", "created_at"),
        Index("ix_human_tasks_completed_by", "completed_by_id", "completed_at"),
        Index("ix_human_tasks_candidate_user_state", "candidate_user_id", "state"),
        Index("ix_human_tasks_state_due_at", "state", "due_at"),
        Index("ix_human_tasks_state_completed_at", "state", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    engine_task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    documentation: Mapped[str | None] = mapped_column(Text)
    lane: Mapped[str | None] = mapped_column(String(200))
    group_codes: Mapped[list] = mapped_column(JSONType, default=list)
    # Tasks of the applicant's lane go to the user who started the case.
    candidate_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    form: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # End of the task's own promised period (its ``promisedDays`` property), counted from created_at.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The period runs in natural time (``promisedHours``, 7×24), not in working days.
    due_natural: Mapped[bool] = mapped_column(default=False)
    # 0 normal, 1 high, 2 urgent (set by the holder or a section chief); and a date to look again.
    priority: Mapped[int] = mapped_column(default=0)
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    # Whether the worker already applied the task's timeout policy (once, when due_at passed).
    timeout_handled: Mapped[bool] = mapped_column(default=False)
    # The last warning level the timer worker announced for this task (none/yellow/red).
    warning_level: Mapped[str] = mapped_column(String(8), default="none")
    # Completed by its deadline in force at completion (its own due date, else its case's promised
    # one); None when it had none. Fixed when the task completes, so later extensions change nothing.
    completed_on_time: Mapped[bool | None]
    submitted_data: Mapped[dict | None] = mapped_column(JSONType)
    # One instance of a multi-instance task: its input item (e.g. {"finding": "…"}), shown with the case data.
    instance_data: Mapped[dict | None] = mapped_column(JSONType)
    # What the holder typed but did not submit yet ("save draft"); cleared on completion.
    draft_data: Mapped[dict | None] = mapped_column(JSONType)
    # Optimistic lock: every change of the row through the ORM checks and bumps it, and so does
    # every statement that changes who holds the task or its state (claim, unclaim, reassign,
    # delegate). A write that read the row before such a change fails (StaleDataError) and its
    # unit of work runs again on the row as it is now, instead of overwriting the change.
    lock_version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": lock_version}

    case: Mapped[Case] = relationship(lazy="joined", innerjoin=True)
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    candidate_user: Mapped[User | None] = relationship(foreign_keys=[candidate_user_id])
    candidates: Mapped[list[TaskCandidate]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    # Not stored: set by projection when the task's emptyGroupPolicy says to skip it.
    skip_pending = False

    @property
    def group(self) -> str | None:
        """The first candidate group's code."""
        return self.group_codes[0] if self.group_codes else None


class TaskNote(db.Model):
    """Something said about a task: a comment, a supervisor's reminder (催办) or a hand-over note."""

    __tablename__ = "task_notes"
    __table_args__ = (Index("ix_task_notes_task_at", "task_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # comment / urge / reassign / delegate
    body: Mapped[str] = mapped_column(Text, default="")
    # None: written by the system (a timeout policy)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # reassign/delegate: who the task went to
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship(foreign_keys=[author_id], lazy="joined")
    to_user: Mapped[User | None] = relationship(foreign_keys=[to_user_id])


class TaskCopy(db.Model):
    """抄送: a read-only copy of a task for a user, listed in their 抄送我的 tab."""

    __tablename__ = "task_copies"
    __table_args__ = (UniqueConstraint("task_id", "user_id"), Index("ix_task_copies_user_at", "user_id", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    by: Mapped[User] = relationship(foreign_keys=[by_id])


class InboxEntry(db.Model):
    """An open task offered to one of its candidate groups: what ``available`` inboxes read, one
    index range per group ordered by creation. Kept by database triggers on ``human_tasks`` and
    ``task_candidates`` (migration 1d5c7e9a2b40), so every path that opens, claims, releases,
    completes or cancels a task keeps it exact; the application never writes it."""

    __tablename__ = "inbox_entries"
    __table_args__ = (Index("ix_inbox_entries_group_created", "group_id", "created_at", "task_id"),)

    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TaskCandidate(db.Model):
    """A candidate group of a human task (a task may have several)."""

    __tablename__ = "task_candidates"
    __table_args__ = (Index("ix_task_candidates_group_task", "group_id", "task_id"),)

    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)

    group: Mapped[Group] = relationship()
