"""security_events: the append-only security log (logins, lock-outs, tokens, passwords)

Revision ID: e4a8c2f6b1d9
Revises: c7f1e3a9d2b6
Create Date: 2026-11-27 18:00:00.000000

Logins, lock-outs, logouts, tokens issued and revoked and password changes were recorded
nowhere. Append-only like audit_events: the same triggers, behind the same ``audit_maintenance``
gate (PostgreSQL: ``SET LOCAL app.audit_maintenance = 'on'``).
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = 'e4a8c2f6b1d9'
down_revision = 'c7f1e3a9d2b6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('security_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name_hash', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_security_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_events'))
    )
    op.create_index(op.f('ix_security_events_at'), 'security_events', ['at'], unique=False)
    op.create_index('ix_security_events_user_at', 'security_events', ['user_id', 'at'], unique=False)
    op.create_index('ix_security_events_type_at', 'security_events', ['event_type', 'at'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
CREATE FUNCTION security_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('app.audit_maintenance', true) = 'on' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'security_events is append-only (% refused)', TG_OP;
END $$""")
        op.execute("CREATE TRIGGER security_events_append_only BEFORE UPDATE OR DELETE ON security_events "
                   "FOR EACH ROW EXECUTE FUNCTION security_events_append_only()")
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(f"""
CREATE TRIGGER security_events_no_{operation.lower()} BEFORE {operation} ON security_events
WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance)
BEGIN SELECT RAISE(ABORT, 'security_events is append-only ({operation} refused)'); END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS security_events_append_only ON security_events")
        op.execute("DROP FUNCTION IF EXISTS security_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS security_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS security_events_no_delete")
    op.drop_index('ix_security_events_type_at', table_name='security_events')
    op.drop_index('ix_security_events_user_at', table_name='security_events')
    op.drop_index(op.f('ix_security_events_at'), table_name='security_events')
    op.drop_table('security_events')
