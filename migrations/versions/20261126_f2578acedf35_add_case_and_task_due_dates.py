"""add case and task due dates

Revision ID: f2578acedf35
Revises: 9ba6933b6412
Create Date: 2026-11-26 07:31:40.625173

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f2578acedf35'
down_revision = '9ba6933b6412'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('statutory_due_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_column('due_at')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('statutory_due_at')
        batch_op.drop_column('due_at')
