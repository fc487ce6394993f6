"""users: when the password was last set, and whether its user must choose a new one

Revision ID: a3c9e5f1b7d2
Revises: e4a8c2f6b1d9
Create Date: 2026-11-27 20:30:00.000000

Users change their own password now (the account page), must do so after an administrator set
it (``flask users set-password``: a first or a reset password), and when it is older than
``PASSWORD_MAX_AGE_DAYS`` (等保 2.0: 身份鉴别信息…定期更换). Rows from before have no date: their
age counts from the account's creation.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3c9e5f1b7d2'
down_revision = 'e4a8c2f6b1d9'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE on both databases (SQLite 3.35+ drops columns itself): a batch operation
    # would rebuild ``users`` on SQLite, and dropping the old table fails while other tables' rows
    # refer to it (foreign keys are on).
    op.add_column('users', sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))


def downgrade():
    op.drop_column('users', 'must_change_password')
    op.drop_column('users', 'password_changed_at')
