"""case state: lz4 compression on PostgreSQL

Revision ID: 8b1d3f5a7c90
Revises: 4c2e8a6f1b37
Create Date: 2026-11-27 01:00:00.000000

Every step of a case rewrites its workflow state (about 19 KB for a newborn case) and its data.
PostgreSQL compresses such values with pglz by default; lz4 (PostgreSQL 14+, when the server is
built with it, as Debian's packages are) compresses them as small and costs the server about a
third of the CPU: 270 → 100 µs per rewrite of a newborn state, measured on this machine
(docs/performance.md). Only values written afterwards change; nothing is rewritten now. A server
without lz4 keeps pglz, and the migration says so.
"""
import warnings

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '8b1d3f5a7c90'
down_revision = '4c2e8a6f1b37'
branch_labels = None
depends_on = None

_COLUMNS = ('workflow_state', 'data')


def _set_compression(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    if bind.exec_driver_sql("SELECT current_setting('server_version_num')::int").scalar() < 140000:
        warnings.warn('PostgreSQL before 14 has no per-column compression: case states keep pglz', stacklevel=1)
        return
    alter = ', '.join(f'ALTER COLUMN {column} SET COMPRESSION {method}' for column in _COLUMNS)
    try:
        with bind.begin_nested():
            bind.exec_driver_sql(f'ALTER TABLE cases {alter}')
    except sa.exc.DBAPIError as exc:  # e.g. a server built without lz4
        warnings.warn(f'case states keep the default compression ({exc.orig})', stacklevel=1)


def upgrade():
    _set_compression('lz4')


def downgrade():
    _set_compression('default')
