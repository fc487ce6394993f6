"""Append audit events."""

from __future__ import annotations

from sqlalchemy import insert

from ..extensions import db
from ..models import AuditEvent, Case, HumanTask, User
from ..models.types import utcnow


def record(case: Case, event_type: str, actor: User | None, task: HumanTask | None = None,
           data: dict | None = None) -> AuditEvent:
    """Add one audit event for ``case`` to the current transaction."""
    event = AuditEvent(
        case_id=case.id,
        event_type=event_type,
        actor_id=actor.id if actor else None,
        at=utcnow(),
        task_id=task.id if task else None,
        task_name=task.name if task else None,
        data=data,
    )
    db.session.add(event)
    return event


def insert_now(case_id: int, event_type: str, actor: User | None, task: HumanTask | None = None,
               data: dict | None = None) -> None:
    """Write one audit event at once, as a plain ``INSERT`` (no object, no flush): for a hot path
    whose transaction writes nothing else through the session (a claim on SQLite, which holds
    the database's one write lock from its first write to its commit)."""
    db.session.execute(_INSERT, {
        "case_id": case_id, "event_type": event_type, "actor_id": actor.id if actor else None, "at": utcnow(),
        "task_id": task.id if task else None, "task_name": task.name if task else None, "data": data})


_INSERT = insert(AuditEvent.__table__)
