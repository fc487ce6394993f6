"""worker_heartbeats: one row per timer worker process, its last sign of life

Revision ID: c7f1e3a9d2b6
Revises: b5e8d2a4f6c1
Create Date: 2026-11-27 17:30:00.000000

A timer worker that died (or hangs) stopped firing timers, time-limit warnings and the weekly
evaluation sample without anyone noticing. Each worker now writes its heartbeat here; the
health check ``/healthz/worker`` and the supervisors' dashboard read it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7f1e3a9d2b6'
down_revision = 'b5e8d2a4f6c1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('worker_heartbeats',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('passes', sa.Integer(), server_default='0', nullable=False),
    sa.Column('timers_fired', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_heartbeats'))
    )
    op.create_index(op.f('ix_worker_heartbeats_beat_at'), 'worker_heartbeats', ['beat_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_worker_heartbeats_beat_at'), table_name='worker_heartbeats')
    op.drop_table('worker_heartbeats')
