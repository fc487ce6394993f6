"""Timer workers' heartbeats: which ``flask worker`` processes are alive.

Timers, time-limit warnings and the weekly evaluation sample happen only while some worker runs.
A worker that died or hangs used to go unnoticed; now each one writes a heartbeat row after every
pass (and during a long pass), the health check ``/healthz/worker`` tells a monitor whether any
is alive, and the supervisors' dashboard says when none is.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from ..extensions import db
from ..models import WorkerHeartbeat
from ..models.types import utcnow

ERROR_LENGTH = WorkerHeartbeat.__table__.c.last_error.type.length


def worker_name() -> str:
    """This process's name in the heartbeat table: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"[:WorkerHeartbeat.__table__.c.name.type.length]


def beat(name: str, started_at: datetime, *, finished_pass: bool, fired: int = 0,
         error: str | None = None) -> None:
    """Record that worker ``name`` (running since ``started_at``) is alive. ``finished_pass``:
    a whole pass ended (``fired`` timers, ``error`` its failure or None); else a sign of life
    in the middle of a long pass. A pass also deletes the rows of long-silent workers."""
    now = utcnow()
    row = db.session.get(WorkerHeartbeat, name)
    if row is None or row.started_at != started_at:  # new, or a restarted process with the same host:pid
        if row is None:
            row = WorkerHeartbeat(name=name)
            db.session.add(row)
        row.started_at, row.passes, row.timers_fired, row.last_error = started_at, 0, 0, None
    row.beat_at = now
    row.stopped_at = None
    row.timers_fired += fired
    if finished_pass:
        row.passes += 1
        row.last_error = error[:ERROR_LENGTH] if error else None
        days = current_app.config["WORKER_HEARTBEAT_RETENTION_DAYS"]
        db.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - timedelta(days=days)))


def stop(name: str) -> None:
    """Worker ``name`` stops on purpose (SIGTERM, Ctrl-C): it no longer counts as alive."""
    row = db.session.get(WorkerHeartbeat, name)
    if row is not None:
        row.stopped_at = utcnow()


@dataclass(frozen=True)
class WorkerState:
    name: str
    started_at: datetime
    beat_at: datetime
    stopped_at: datetime | None
    passes: int
    timers_fired: int
    last_error: str | None
    alive: bool


def states() -> list[WorkerState]:
    """Every known worker, the most recently heard first."""
    limit = utcnow() - timedelta(seconds=current_app.config["WORKER_STALE_SECONDS"])
    rows = db.session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.beat_at.desc(),
                                                               WorkerHeartbeat.name)).all()
    return [WorkerState(r.name, r.started_at, r.beat_at, r.stopped_at, r.passes, r.timers_fired, r.last_error,
                        alive=r.stopped_at is None and r.beat_at >= limit) for r in rows]


@dataclass(frozen=True)
class Summary:
    alive: int  # workers heard within WORKER_STALE_SECONDS and not stopped
    last_beat_at: datetime | None  # the latest heartbeat of any worker; None: none has ever run
    stale_after_seconds: int


def summary() -> Summary:
    known = states()
    return Summary(alive=sum(1 for s in known if s.alive),
                   last_beat_at=known[0].beat_at if known else None,
                   stale_after_seconds=current_app.config["WORKER_STALE_SECONDS"])
