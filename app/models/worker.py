"""Timer workers (``flask worker``): each running process keeps a heartbeat row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class WorkerHeartbeat(db.Model):
    """One timer worker process, by host and process id. It writes ``beat_at`` after every pass
    (and during a long one), so a worker that died or hangs shows as silent; one stopped on
    purpose sets ``stopped_at``. Rows of workers silent for long are deleted by the others
    (``WORKER_HEARTBEAT_RETENTION_DAYS``)."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    passes: Mapped[int] = mapped_column(default=0, server_default="0")
    timers_fired: Mapped[int] = mapped_column(default=0, server_default="0")
    # The last pass's failure (a timer that failed, a lost database), cleared by a clean pass.
    last_error: Mapped[str | None] = mapped_column(String(500))
