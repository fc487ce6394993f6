"""login_throttles: failed logins under names that are no active user's

Revision ID: b5e8d2a4f6c1
Revises: 9d2f6b4c8e17
Create Date: 2026-11-27 15:00:00.000000

A user's failures are counted on ``users``; an unknown name's were not counted at all, so after
five wrong passwords a real name answered 429 (locked) and an unknown one still 401: the lock-out
told which names exist. Unknown names are now counted here, keyed by the SHA-256 of the name.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b5e8d2a4f6c1'
down_revision = '9d2f6b4c8e17'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_throttles',
    sa.Column('name_hash', sa.String(length=64), nullable=False),
    sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name_hash', name=op.f('pk_login_throttles'))
    )
    op.create_index(op.f('ix_login_throttles_updated_at'), 'login_throttles', ['updated_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_login_throttles_updated_at'), table_name='login_throttles')
    op.drop_table('login_throttles')
