"""human tasks: an optimistic lock version

Revision ID: 3e7a9c1d5b20
Revises: 8b1d3f5a7c90
Create Date: 2026-11-27 04:00:00.000000

A completion read its task, ran the engine and then wrote the task back. A reassignment (or an
unclaim) committed in between was overwritten: the task ended completed by the person it had
just been taken from. The row now carries a version that every ORM write checks and that the
claim, unclaim and hand-over statements bump; a write that read an older row fails and its unit
of work runs again. Existing rows start at 1.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '3e7a9c1d5b20'
down_revision = '8b1d3f5a7c90'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both databases (constant default: no table rewrite on PostgreSQL 11+).
    op.add_column('human_tasks', sa.Column('lock_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite's own DROP COLUMN (3.35+), not Alembic's batch copy: copying the table would drop
        # its inbox triggers, and dropping the old table runs into the append-only audit trigger.
        op.execute('ALTER TABLE human_tasks DROP COLUMN lock_version')
    else:
        op.drop_column('human_tasks', 'lock_version')
