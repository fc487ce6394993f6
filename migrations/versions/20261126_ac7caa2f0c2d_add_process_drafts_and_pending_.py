"""add process drafts and pending deployments

Revision ID: ac7caa2f0c2d
Revises: 3e623ac7a9df
Create Date: 2026-11-26 06:43:16.719708

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'ac7caa2f0c2d'
down_revision = '3e623ac7a9df'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('process_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('base_version_id', sa.Integer(), nullable=True),
    sa.Column('files', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_process_drafts_author_id_users')),
    sa.ForeignKeyConstraint(['base_version_id'], ['process_versions.id'], name=op.f('fk_process_drafts_base_version_id_process_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_drafts'))
    )
    with op.batch_alter_table('process_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_drafts_key'), ['key'], unique=False)

    op.create_table('pending_deployments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('base_version_id', sa.Integer(), nullable=True),
    sa.Column('draft_id', sa.Integer(), nullable=True),
    sa.Column('files', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejected_by_id', sa.Integer(), nullable=True),
    sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('version_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_pending_deployments_status')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_pending_deployments_approved_by_id_users')),
    sa.ForeignKeyConstraint(['base_version_id'], ['process_versions.id'], name=op.f('fk_pending_deployments_base_version_id_process_versions')),
    sa.ForeignKeyConstraint(['draft_id'], ['process_drafts.id'], name=op.f('fk_pending_deployments_draft_id_process_drafts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rejected_by_id'], ['users.id'], name=op.f('fk_pending_deployments_rejected_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_pending_deployments_requested_by_id_users')),
    sa.ForeignKeyConstraint(['version_id'], ['process_versions.id'], name=op.f('fk_pending_deployments_version_id_process_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_deployments'))
    )
    with op.batch_alter_table('pending_deployments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_deployments_key'), ['key'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_deployments_status'), ['status'], unique=False)



def downgrade():
    with op.batch_alter_table('pending_deployments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_deployments_status'))
        batch_op.drop_index(batch_op.f('ix_pending_deployments_key'))

    op.drop_table('pending_deployments')
    with op.batch_alter_table('process_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_drafts_key'))

    op.drop_table('process_drafts')
