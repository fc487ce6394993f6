"""add next_timer_at to cases

Revision ID: 0ca951ad7a56
Revises: effa7bebdf81
Create Date: 2026-11-26 05:32:56.099799

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0ca951ad7a56'
down_revision = 'effa7bebdf81'
branch_labels = None
depends_on = None


def upgrade():

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_timer_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_cases_next_timer_at', ['next_timer_at'], unique=False)




def downgrade():

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_next_timer_at')
        batch_op.drop_column('next_timer_at')


