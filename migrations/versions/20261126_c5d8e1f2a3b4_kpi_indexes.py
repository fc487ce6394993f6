"""kpi indexes: cases by start time, tasks by completion time

Revision ID: c5d8e1f2a3b4
Revises: a41c7d2e9b15
Create Date: 2026-11-26 11:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c5d8e1f2a3b4'
down_revision = 'a41c7d2e9b15'
branch_labels = None
depends_on = None


def upgrade():
    # PostgreSQL answers the period aggregations from these indexes alone (INCLUDE columns).
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_started_at', ['started_at'], unique=False,
                              postgresql_include=['process_key', 'finished_same_day', 'assisted_by_id'])
        batch_op.drop_index('ix_cases_status_ended_at')
        batch_op.create_index('ix_cases_status_ended_at', ['status', 'ended_at'], unique=False,
                              postgresql_include=['process_key', 'due_at', 'statutory_due_at', 'working_days_used'])
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_human_tasks_state_completed_at', ['state', 'completed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_state_completed_at')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_status_ended_at')
        batch_op.create_index('ix_cases_status_ended_at', ['status', 'ended_at'], unique=False)
        batch_op.drop_index('ix_cases_started_at')
