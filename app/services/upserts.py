"""Counters kept with ``INSERT … ON CONFLICT (key) DO UPDATE SET n = n + excluded.n``.

SQLAlchemy 2.0 does not cache the compiled form of its dialect ``insert().on_conflict_do_update()``
constructs, so each run compiled the statement again (about 0.3 ms, several times a request).
The same statement as SQL text is cached like any other; SQLite (3.24+) and PostgreSQL share
the syntax. Column types still convert the bound values.
"""

from __future__ import annotations

import functools

from sqlalchemy import Table, bindparam, column, text


@functools.cache
def adding_upsert(dialect, table: Table, key_names: tuple[str, ...], fields: tuple[str, ...],
                  returning: tuple[str, ...] = ()):
    """Insert a row of ``key_names`` + ``fields``; if its key exists, add the new ``fields`` values
    to the stored ones. ``returning``: columns to read back (the counters after the change)."""
    quote = dialect.identifier_preparer.quote
    name = quote(table.name)
    names = (*key_names, *fields)
    sql = (f"INSERT INTO {name} ({', '.join(quote(n) for n in names)}) "
           f"VALUES ({', '.join(f':{n}' for n in names)}) "
           f"ON CONFLICT ({', '.join(quote(n) for n in key_names)}) DO UPDATE SET "
           + ", ".join(f"{quote(f)} = {name}.{quote(f)} + excluded.{quote(f)}" for f in fields))
    if returning:
        sql += f" RETURNING {', '.join(quote(n) for n in returning)}"
    statement = text(sql).bindparams(*(bindparam(n, type_=table.c[n].type) for n in names))
    if returning:
        statement = statement.columns(*(column(n, table.c[n].type) for n in returning))
    return statement
