"""post-approval evaluation samples, reviews, oversight links

Revision ID: 9d2b6e4f1a07
Revises: 7c4e2a91b5d3
Create Date: 2026-11-26 10:50:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '9d2b6e4f1a07'
down_revision = '7c4e2a91b5d3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('evaluation_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('population_query', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('population_count', sa.Integer(), nullable=False),
    sa.Column('case_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_evaluation_samples_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_samples')),
    sa.UniqueConstraint('week_start', name=op.f('uq_evaluation_samples_week_start'))
    )
    op.create_table('reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('comment', sa.String(length=1000), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rectification_case_id', sa.Integer(), nullable=True),
    sa.Column('requires_rectification', sa.Boolean(), nullable=True),
    sa.Column('rectify_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rectified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_reviews_case_id_cases')),
    sa.ForeignKeyConstraint(['rectification_case_id'], ['cases.id'], name=op.f('fk_reviews_rectification_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('case_id', name=op.f('uq_reviews_case_id'))
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reviews_created_at'), ['created_at'], unique=False)
    op.create_table('oversight_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subject_case_id', sa.Integer(), nullable=False),
    sa.Column('oversight_case_id', sa.Integer(), nullable=False),
    sa.Column('batch', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.String(length=32), nullable=True),
    sa.Column('problem', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['oversight_case_id'], ['cases.id'], name=op.f('fk_oversight_links_oversight_case_id_cases')),
    sa.ForeignKeyConstraint(['subject_case_id'], ['cases.id'], name=op.f('fk_oversight_links_subject_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oversight_links')),
    sa.UniqueConstraint('kind', 'subject_case_id', name='uq_oversight_links_kind_subject'),
    sa.UniqueConstraint('oversight_case_id', name=op.f('uq_oversight_links_oversight_case_id'))
    )
    with op.batch_alter_table('oversight_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oversight_links_ended_at'), ['ended_at'], unique=False)


def downgrade():
    op.drop_table('oversight_links')
    op.drop_table('reviews')
    op.drop_table('evaluation_samples')
