"""The security log (安全审计): logins, lock-outs, logouts, API tokens and password changes.

Case transitions have their audit trail (``audit_events``); what happens to accounts and
credentials is recorded here, append-only, with where it came from, so that a security officer
can answer "who logged in as whom, from where, and when was this token made". Nothing here
updates or deletes an event (database triggers refuse it too).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import SecurityEvent, User
from . import calendar, permissions

READERS = ("admin",)
MAX_ROWS = 100_000
_AGENT_LENGTH = SecurityEvent.__table__.c.user_agent.type.length
_ADDR_LENGTH = SecurityEvent.__table__.c.remote_addr.type.length


@dataclass(frozen=True)
class Origin:
    """Where an event came from: the channel (``web``, ``api``, ``api-session``, ``cli``) and, for
    a request, the client's address, its user agent and the request id (app/request_ids.py)."""

    channel: str
    remote_addr: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


CLI = Origin("cli")


def name_hash(name: str) -> str:
    """How a name that is no user's is kept: its SHA-256, never the text (often a mistyped
    password)."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


def record(event_type: str, origin: Origin, *, user: User | None = None, name: str | None = None,
           data: dict | None = None) -> SecurityEvent:
    """Add one event to the session (it is stored with the transaction that caused it)."""
    event = SecurityEvent(
        event_type=event_type,
        user_id=user.id if user is not None else None,
        name_hash=name_hash(name) if user is None and name is not None else None,
        channel=origin.channel,
        remote_addr=(origin.remote_addr or None) and origin.remote_addr[:_ADDR_LENGTH],
        user_agent=(origin.user_agent or None) and origin.user_agent[:_AGENT_LENGTH],
        request_id=origin.request_id,
        data=data,
    )
    db.session.add(event)
    return event


def events(reader: User, start: date, end: date, event_type: str | None = None,
           username: str | None = None) -> list[dict]:
    """Events of the period (local dates, both included), oldest first, as plain rows; for admins."""
    permissions.require_role(reader, READERS, _("read the security log"))
    zone = calendar.local_timezone()
    first = datetime.combine(start, time(0), tzinfo=zone)
    after = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone)
    query = select(SecurityEvent).where(SecurityEvent.at >= first, SecurityEvent.at < after)
    if event_type is not None:
        query = query.where(SecurityEvent.event_type == event_type)
    if username is not None:
        query = query.join(User, User.id == SecurityEvent.user_id).where(User.username == username)
    rows = db.session.scalars(query.order_by(SecurityEvent.at, SecurityEvent.id).limit(MAX_ROWS))
    return [_row(e) for e in rows]


def latest(reader: User, event_type: str | None = None, limit: int = 100) -> list[SecurityEvent]:
    """The newest ``limit`` events (of one type), newest first, with their users; for admins."""
    permissions.require_role(reader, READERS, _("read the security log"))
    query = select(SecurityEvent).order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc()).limit(limit)
    if event_type is not None:
        query = query.where(SecurityEvent.event_type == event_type)
    return list(db.session.scalars(query))


def _row(e: SecurityEvent) -> dict:
    return {"id": e.id, "at": e.at.isoformat(), "event": e.event_type,
            "user": e.user.username if e.user is not None else None, "name_hash": e.name_hash,
            "channel": e.channel, "remote_addr": e.remote_addr, "user_agent": e.user_agent,
            "request_id": e.request_id, "data": e.data}


COLUMNS = [(k, k) for k in ("id", "at", "event", "user", "name_hash", "channel", "remote_addr", "user_agent",
                            "request_id", "data")]
