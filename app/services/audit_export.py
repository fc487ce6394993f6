"""The audit trail, read-only: filtered lists and exports for supervisors, leaders and admins.
Nothing in the application updates or deletes an audit event (a test checks the code)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, Case
from . import calendar, permissions, privacy

READERS = ("supervisor", "leader", "admin")
MAX_ROWS = 100_000


def events(user, start: date, end: date, case_id: int | None = None) -> list[dict]:
    """Events of the period (local dates, both included), oldest first, as plain rows."""
    permissions.require_role(user, READERS, _("read the audit trail"))
    zone = calendar.local_timezone()
    first = datetime.combine(start, time(0), tzinfo=zone)
    after = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone)
    query = (select(AuditEvent, Case.receipt_no).join(Case, Case.id == AuditEvent.case_id)
             .where(AuditEvent.at >= first, AuditEvent.at < after))
    if case_id is not None:
        query = query.where(AuditEvent.case_id == case_id)
    rows = db.session.execute(query.order_by(AuditEvent.at, AuditEvent.id).limit(MAX_ROWS))
    return [{"id": e.id, "at": e.at.isoformat(), "receipt_no": receipt, "case_id": e.case_id,
             "event": e.event_type, "actor": e.actor.username if e.actor else "system",
             "task": e.task_name or "", "data": privacy.mask_data(e.data)} for e, receipt in rows]


COLUMNS = [(k, k) for k in ("id", "at", "receipt_no", "case_id", "event", "actor", "task", "data")]
