"""A psycopg cursor whose ``description`` builds a column's entry only when it is read.

psycopg builds a ``Column`` for every column of the result each time ``cursor.description`` is
read (the name decoded, the type looked up in the adapters). SQLAlchemy reads the description
after every statement, but for a statement it has run before it uses its cached result metadata
and looks at no column: a newborn case runs about 120 statements with about 2,800 columns in all,
and SQLAlchemy read 3 of them (docs/performance.md). This cursor hands out a sequence that knows
its length and builds an entry on first access, with the same values as psycopg's own.

Used for every pooled PostgreSQL connection through psycopg's ``cursor_factory`` (app/__init__.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import pq
from psycopg._column import Column

_ROWS = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK)


class _ResultAt:
    """What psycopg's ``Column`` reads from its cursor, fixed at the moment the description was
    asked for: a later statement on the same cursor cannot change an entry built afterwards."""

    __slots__ = ("pgresult", "_encoding", "adapters")

    def __init__(self, cursor: psycopg.Cursor, pgresult) -> None:
        self.pgresult = pgresult
        self._encoding = cursor._encoding
        self.adapters = cursor.adapters


class LazyDescription(Sequence):
    """``cursor.description`` of one result: a sequence of psycopg ``Column`` entries."""

    __slots__ = ("_source", "_columns")

    def __init__(self, source: _ResultAt, count: int) -> None:
        self._source = source
        self._columns: list[Column | None] = [None] * count

    def __len__(self) -> int:
        return len(self._columns)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._columns)))]
        column = self._columns[index]  # IndexError past the end, as a list
        if column is None:
            position = index if index >= 0 else index + len(self._columns)
            column = self._columns[position] = Column(self._source, position)
        return column

    def __repr__(self) -> str:
        return repr(list(self))


class LazyDescriptionCursor(psycopg.Cursor):
    @property
    def description(self):
        result = self.pgresult
        # As psycopg: columns when there are fields, or when the statement said it returned rows.
        if result is not None and (result.nfields or result.status in _ROWS):
            return LazyDescription(_ResultAt(self, result), result.nfields)
        return None
