"""audit trail append-only: triggers refuse UPDATE and DELETE on audit_events

Revision ID: f7c3a1b9d5e2
Revises: e6b2c4d8f0a1
Create Date: 2026-11-26 12:10:00.000000

On PostgreSQL a row trigger raises unless the transaction set ``app.audit_maintenance = 'on'``
(an operator's deliberate purge); on SQLite the triggers let a change through only while the
``audit_maintenance`` table holds a row.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f7c3a1b9d5e2'
down_revision = 'e6b2c4d8f0a1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_maintenance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_maintenance'))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('app.audit_maintenance', true) = 'on' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END $$""")
        op.execute("CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
                   "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()")
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(f"""
CREATE TRIGGER audit_events_no_{operation.lower()} BEFORE {operation} ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_maintenance)
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only ({operation} refused)'); END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    op.drop_table('audit_maintenance')
