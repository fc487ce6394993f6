"""case_submissions: the key an application was sent with, so that sending it again starts no second case

Revision ID: d1b7f4a2c9e3
Revises: a3c9e5f1b7d2
Create Date: 2026-11-28 02:40:00.000000

The window's new-case form carries a key made when the form is shown; an API client may send an
``Idempotency-Key`` header. A second submission with the same key by the same user (a double
click on 确认受理, a form re-sent over a slow line, a retried request) returns the case the first
one started.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd1b7f4a2c9e3'
down_revision = 'a3c9e5f1b7d2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_submissions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_submissions_case_id_cases'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_submissions_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_submissions')),
        sa.UniqueConstraint('user_id', 'key', name='uq_case_submissions_user_key'),
    )
    op.create_index(op.f('ix_case_submissions_case_id'), 'case_submissions', ['case_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_case_submissions_case_id'), table_name='case_submissions')
    op.drop_table('case_submissions')
