"""add deployment audit events

Revision ID: 96a2187acf90
Revises: ac7caa2f0c2d
Create Date: 2026-11-26 07:10:28.569329

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '96a2187acf90'
down_revision = 'ac7caa2f0c2d'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('deployment_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=True),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_deployment_events_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployment_events'))
    )
    with op.batch_alter_table('deployment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deployment_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deployment_events_process_key'), ['process_key'], unique=False)




def downgrade():

    with op.batch_alter_table('deployment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deployment_events_process_key'))
        batch_op.drop_index(batch_op.f('ix_deployment_events_at'))

    op.drop_table('deployment_events')

