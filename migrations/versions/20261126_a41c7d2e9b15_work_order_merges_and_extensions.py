"""work order merges, extensions and warnings; multi-instance task items

Revision ID: a41c7d2e9b15
Revises: 9d2b6e4f1a07
Create Date: 2026-11-26 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = 'a41c7d2e9b15'
down_revision = '9d2b6e4f1a07'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('merged_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('extension_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('warning_level', sa.String(length=8), nullable=False, server_default='none'))
        batch_op.create_foreign_key(batch_op.f('fk_work_orders_merged_into_id_work_orders'), 'work_orders',
                                    ['merged_into_id'], ['id'])
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instance_data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
    op.create_table('work_order_extensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_work_order_extensions_decided_by_id_users')),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], name=op.f('fk_work_order_extensions_order_id_work_orders')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_work_order_extensions_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_order_extensions'))
    )
    with op.batch_alter_table('work_order_extensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_order_extensions_order_id'), ['order_id'], unique=False)


def downgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_column('instance_data')
    with op.batch_alter_table('work_order_extensions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_extensions_order_id'))
    op.drop_table('work_order_extensions')
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_work_orders_merged_into_id_work_orders'), type_='foreignkey')
        batch_op.drop_column('warning_level')
        batch_op.drop_column('extension_count')
        batch_op.drop_column('merged_count')
        batch_op.drop_column('merged_into_id')
