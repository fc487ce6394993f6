"""case search indexes: ID number, and on PostgreSQL receipt number prefix and name part

Revision ID: 4c2e8a6f1b37
Revises: 1d5c7e9a2b40
Create Date: 2026-11-26 16:00:00.000000

EXPLAIN over a million cases (docs/performance.md): every search was a sequential scan.

- ``upper(applicant_id_number)``: the search compares the ID number whatever the case of its
  check character (x/X); an index on the expression serves it on both databases.
- ``receipt_no varchar_pattern_ops`` (PostgreSQL): ``LIKE 'CZ20250312%'`` can use a B-tree only
  with pattern operators unless the database collation is "C".
- ``applicant_name gin_trgm_ops`` (PostgreSQL): a part of a name (``ILIKE '%…%'``). pg_trgm is a
  trusted extension (PostgreSQL 13+), so the database owner may create it; where it cannot be
  created (no contrib files, no privilege) the migration goes on without this index and says so.
"""
import warnings

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '4c2e8a6f1b37'
down_revision = '1d5c7e9a2b40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_cases_applicant_id_number_upper', 'cases', [sa.text('upper(applicant_id_number)')])
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    op.create_index('ix_cases_receipt_no_pattern', 'cases', ['receipt_no'],
                    postgresql_ops={'receipt_no': 'varchar_pattern_ops'})
    try:
        with bind.begin_nested():
            bind.exec_driver_sql('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    except sa.exc.DBAPIError as exc:
        warnings.warn(f'pg_trgm is not available ({exc.orig}): searching a part of a name scans the cases',
                      stacklevel=1)
        return
    op.create_index('ix_cases_applicant_name_trgm', 'cases', ['applicant_name'], postgresql_using='gin',
                    postgresql_ops={'applicant_name': 'gin_trgm_ops'})


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_cases_applicant_name_trgm')
        op.drop_index('ix_cases_receipt_no_pattern', table_name='cases')
    op.drop_index('ix_cases_applicant_id_number_upper', table_name='cases')
