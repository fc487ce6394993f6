"""kpi facts: working days used, ended-at index

Revision ID: 3b1f0c9a7d21
Revises: 8f09e322328a
Create Date: 2026-11-26 11:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3b1f0c9a7d21'
down_revision = '8f09e322328a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('working_days_used', sa.Integer(), nullable=True))
        batch_op.create_index('ix_cases_status_ended_at', ['status', 'ended_at'], unique=False)


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_status_ended_at')
        batch_op.drop_column('working_days_used')
