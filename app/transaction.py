"""The unit of work: run one service call, commit once, retry on concurrent updates.

Routes and CLI commands call ``run(service_fn, ...)``; services themselves only flush.
A retry replays the whole call on fresh data, so nothing half-done is ever committed.
"""

from __future__ import annotations

import random
import time

from flask import current_app
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from .extensions import db

_RETRY_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, StaleDataError):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in _RETRY_SQLSTATES:
            return True
        if isinstance(exc, OperationalError):
            text = str(exc.orig).lower()
            return "database is locked" in text or "database table is locked" in text
    return False


def run(fn, *args, **kwargs):
    """Call ``fn`` and commit; on a lost race roll back and call it again."""
    retries = current_app.config["TRANSACTION_RETRIES"]
    attempt = 0
    while True:
        try:
            result = fn(*args, **kwargs)
            db.session.commit()
            return result
        except Exception as exc:
            db.session.rollback()
            if attempt >= retries or not _retryable(exc):
                raise
            attempt += 1
            time.sleep(random.uniform(0.002, 0.01 * attempt))
