"""The unit of work: run one service call, commit once, retry on concurrent updates.

Routes and CLI commands call ``run(service_fn, ...)``; services themselves only flush.
A retry replays the whole call on fresh data, so nothing half-done is ever committed.
"""

from __future__ import annotations

import random
import time

from flask import current_app
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from .extensions import db

_RETRY_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
_UNIQUE_VIOLATION = "23505"


def retryable(exc: Exception) -> bool:
    """Whether ``exc`` means a lost race that a replay on fresh data settles.

    A unique violation counts: a check-then-insert (one review per case, one copy per person)
    that lost to a concurrent insert sees the other row when replayed, and answers as it would
    have if it had come second (usually 409). A violation that a replay does not settle is raised
    again once the retries are used up."""
    if isinstance(exc, StaleDataError):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in _RETRY_SQLSTATES:
            return True
        if isinstance(exc, IntegrityError):
            return sqlstate == _UNIQUE_VIOLATION or "unique constraint failed" in str(exc.orig).lower()
        if isinstance(exc, OperationalError):
            text = str(exc.orig).lower()
            return "database is locked" in text or "database table is locked" in text
    return False


def run(fn, *args, before_commit=None, **kwargs):
    """Call ``fn`` and commit; on a lost race roll back and call it again.

    ``before_commit(result)``, when given, runs in the same transaction just before the commit
    (e.g. to read what the answer needs without opening another transaction after it)."""
    retries = current_app.config["TRANSACTION_RETRIES"]
    attempt = 0
    while True:
        try:
            result = fn(*args, **kwargs)
            if before_commit is not None:
                before_commit(result)
            db.session.commit()
            return result
        except Exception as exc:
            db.session.rollback()
            if attempt >= retries or not retryable(exc):
                raise
            attempt += 1
            time.sleep(random.uniform(0.002, 0.01 * attempt))


# -- the end of a request's session ------------------------------------------------------------
# After its unit of work a request still reads (the answer, a page), which opens a transaction
# that the session ends when the request is over. Ending it with ROLLBACK would make psycopg
# drop every server-side prepared statement of the connection (it must, as a rollback may undo
# what they depend on), so PostgreSQL would plan every statement again on every request. A
# transaction that wrote nothing is therefore committed, which is the same for the database.
_WROTE = "changzhi.transaction_wrote"


def track_writes(engine) -> None:
    """Remember on each pooled connection whether its current transaction sent anything but a
    SELECT (DML, DDL, SET …: all count as writes)."""

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.info.pop(_WROTE, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip()[:6].upper() != "SELECT":
            conn.info[_WROTE] = True


def end_read_only() -> None:
    """Commit the current session's transaction if it only read; leave any other one to the
    rollback of ``session.remove()``."""
    if not db.session.registry.has():
        return
    session = db.session()
    transaction = session.get_transaction()
    # An inactive transaction (a failed flush someone caught) can only be rolled back.
    if transaction is None or not transaction.is_active or session.new or session.dirty or session.deleted:
        return
    if session.connection().info.get(_WROTE):
        return
    session.commit()
