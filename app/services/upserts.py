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


@functools.cache
def merged_adding_upserts(dialect, tables: tuple[tuple[Table, tuple[str, ...], tuple[str, ...]], ...]):
    """PostgreSQL: the adding upserts of several tables in one statement (one round trip).

    Each ``(table, key_names, fields)`` takes its rows as one array per column, bound as
    ``{table}__{column}`` and turned back into rows by ``unnest``, so the text is the same for
    any number of rows. The tables are written in the order given (the first ones in data-modifying
    ``WITH`` clauses, the last as the statement itself): the order every transaction takes their
    row locks in. A table's rows must have distinct keys (one statement may not update a row
    twice)."""
    if dialect.name != "postgresql":
        raise ValueError("merged_adding_upserts needs PostgreSQL (data-modifying WITH, unnest)")
    quote = dialect.identifier_preparer.quote
    parts = []
    params = []
    for table, key_names, fields in tables:
        name = quote(table.name)
        names = (*key_names, *fields)
        arrays = ", ".join(f"CAST(:{table.name}__{n} AS {table.c[n].type.compile(dialect=dialect)}[])" for n in names)
        parts.append(f"INSERT INTO {name} ({', '.join(quote(n) for n in names)}) SELECT * FROM unnest({arrays}) "
                     f"ON CONFLICT ({', '.join(quote(n) for n in key_names)}) DO UPDATE SET "
                     + ", ".join(f"{quote(f)} = {name}.{quote(f)} + excluded.{quote(f)}" for f in fields))
        params += [f"{table.name}__{n}" for n in names]
    *first, last = parts
    sql = (("WITH " + ", ".join(f"w{i} AS ({part})" for i, part in enumerate(first)) + " ") if first else "") + last
    return text(sql).bindparams(*(bindparam(p) for p in params))
