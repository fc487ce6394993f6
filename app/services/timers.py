"""Fire due BPMN timers, one case per transaction, safe with several workers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..engine import WorkflowRunError
from ..extensions import db
from ..models import Case
from ..models.types import utcnow
from . import audit
from .cases import load_workflow, lock_case, save_workflow
from .runtime import engine


def due_case_ids(now: datetime | None = None, limit: int = 100) -> list[int]:
    """Return ids of active cases with a timer due at ``now``, earliest first."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(Case.id).where(Case.status == "active", Case.next_timer_at <= now)
        .order_by(Case.next_timer_at).limit(limit)))


def fire_case_timers(case_id: int, now: datetime | None = None) -> list[str]:
    """Fire the due timers of one case and advance it; return the timer names that fired.

    The case row is locked like any other transition, so a worker racing a clerk's
    completion (or another worker) simply waits or retries; a timer fires once.
    """
    now = now or utcnow()
    case = lock_case(case_id)
    if case.status != "active" or case.next_timer_at is None or case.next_timer_at > now:
        return []  # someone else got here first
    workflow = load_workflow(case)
    try:
        fired = engine().fire_due_timers(workflow)
    except WorkflowRunError as exc:
        # Leave the state alone and push the retry out, so one broken case cannot stall the worker.
        audit.record(case, "timer_failed", None, data={"message": str(exc), "element": exc.element})
        case.next_timer_at = None
        db.session.flush()
        return []
    for name in fired:
        audit.record(case, "timer_fired", None, data={"timer": name})
    save_workflow(case, workflow, None)
    return fired
