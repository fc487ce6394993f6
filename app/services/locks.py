"""Row locks that hold on both databases."""

from __future__ import annotations

from sqlalchemy import update

from ..extensions import db


def write_lock(table, row_id: int) -> None:
    """SQLite: take the database's one write lock now, as PostgreSQL's row lock would be taken.

    SQLite ignores ``FOR UPDATE``; a transaction there reads what is committed at each statement
    until its first write, which takes the write lock until the commit. A write that changes
    nothing (``SET id = id``) taken before the reads makes every later read of the transaction
    current and keeps other writers out until it commits (they wait, or replay). A no-op on
    PostgreSQL, where the row lock of the caller's ``SELECT … FOR UPDATE`` does this."""
    if db.session.get_bind().dialect.name != "sqlite":
        return
    db.session.execute(update(table).where(table.c.id == row_id).values(id=table.c.id))
