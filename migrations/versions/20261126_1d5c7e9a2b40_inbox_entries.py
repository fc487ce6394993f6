"""inbox entries: open tasks per candidate group, kept by triggers

Revision ID: 1d5c7e9a2b40
Revises: b8e4d2a6c0f3
Create Date: 2026-11-26 14:20:00.000000

``available`` inboxes read one index range of this table per group instead of filtering every
open task. Triggers on ``task_candidates`` (insert, update, delete) and on ``human_tasks`` (a
change of state, candidate user or creation time) keep it equal to

    SELECT t.id, tc.group_id, t.created_at FROM human_tasks t JOIN task_candidates tc ON tc.task_id = t.id
    WHERE t.state = 'open' AND t.candidate_user_id IS NULL
"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '1d5c7e9a2b40'
down_revision = 'b8e4d2a6c0f3'
branch_labels = None
depends_on = None

OFFERED = ("SELECT t.id, tc.group_id, t.created_at FROM human_tasks t JOIN task_candidates tc ON tc.task_id = t.id "
           "WHERE t.state = 'open' AND t.candidate_user_id IS NULL")


def upgrade():
    op.create_table('inbox_entries',
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_inbox_entries_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['human_tasks.id'], name=op.f('fk_inbox_entries_task_id_human_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'group_id', name=op.f('pk_inbox_entries'))
    )
    op.create_index('ix_inbox_entries_group_created', 'inbox_entries', ['group_id', 'created_at', 'task_id'], unique=False)
    op.execute(f"INSERT INTO inbox_entries (task_id, group_id, created_at) {OFFERED}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
CREATE FUNCTION inbox_from_candidate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        DELETE FROM inbox_entries WHERE task_id = OLD.task_id AND group_id = OLD.group_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO inbox_entries (task_id, group_id, created_at)
        SELECT t.id, NEW.group_id, t.created_at FROM human_tasks t
        WHERE t.id = NEW.task_id AND t.state = 'open' AND t.candidate_user_id IS NULL
        ON CONFLICT DO NOTHING;
        RETURN NEW;
    END IF;
    RETURN OLD;
END $$""")
        op.execute("CREATE TRIGGER task_candidates_inbox AFTER INSERT OR UPDATE OR DELETE ON task_candidates "
                   "FOR EACH ROW EXECUTE FUNCTION inbox_from_candidate()")
        op.execute("""
CREATE FUNCTION inbox_from_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM inbox_entries WHERE task_id = NEW.id;
    IF NEW.state = 'open' AND NEW.candidate_user_id IS NULL THEN
        INSERT INTO inbox_entries (task_id, group_id, created_at)
        SELECT NEW.id, tc.group_id, NEW.created_at FROM task_candidates tc WHERE tc.task_id = NEW.id;
    END IF;
    RETURN NEW;
END $$""")
        op.execute("CREATE TRIGGER human_tasks_inbox AFTER UPDATE OF state, candidate_user_id, created_at "
                   "ON human_tasks FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state "
                   "OR OLD.candidate_user_id IS DISTINCT FROM NEW.candidate_user_id "
                   "OR OLD.created_at IS DISTINCT FROM NEW.created_at) EXECUTE FUNCTION inbox_from_task()")
    else:
        op.execute("""
CREATE TRIGGER task_candidates_inbox_insert AFTER INSERT ON task_candidates BEGIN
    INSERT OR IGNORE INTO inbox_entries (task_id, group_id, created_at)
    SELECT t.id, NEW.group_id, t.created_at FROM human_tasks t
    WHERE t.id = NEW.task_id AND t.state = 'open' AND t.candidate_user_id IS NULL;
END""")
        op.execute("""
CREATE TRIGGER task_candidates_inbox_delete AFTER DELETE ON task_candidates BEGIN
    DELETE FROM inbox_entries WHERE task_id = OLD.task_id AND group_id = OLD.group_id;
END""")
        op.execute("""
CREATE TRIGGER task_candidates_inbox_update AFTER UPDATE ON task_candidates BEGIN
    DELETE FROM inbox_entries WHERE task_id = OLD.task_id AND group_id = OLD.group_id;
    INSERT OR IGNORE INTO inbox_entries (task_id, group_id, created_at)
    SELECT t.id, NEW.group_id, t.created_at FROM human_tasks t
    WHERE t.id = NEW.task_id AND t.state = 'open' AND t.candidate_user_id IS NULL;
END""")
        op.execute("""
CREATE TRIGGER human_tasks_inbox AFTER UPDATE OF state, candidate_user_id, created_at ON human_tasks
WHEN OLD.state IS NOT NEW.state OR OLD.candidate_user_id IS NOT NEW.candidate_user_id
     OR OLD.created_at IS NOT NEW.created_at
BEGIN
    DELETE FROM inbox_entries WHERE task_id = NEW.id;
    INSERT OR IGNORE INTO inbox_entries (task_id, group_id, created_at)
    SELECT NEW.id, tc.group_id, NEW.created_at FROM task_candidates tc
    WHERE tc.task_id = NEW.id AND NEW.state = 'open' AND NEW.candidate_user_id IS NULL;
END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS task_candidates_inbox ON task_candidates")
        op.execute("DROP TRIGGER IF EXISTS human_tasks_inbox ON human_tasks")
        op.execute("DROP FUNCTION IF EXISTS inbox_from_candidate()")
        op.execute("DROP FUNCTION IF EXISTS inbox_from_task()")
    else:
        for name in ("task_candidates_inbox_insert", "task_candidates_inbox_delete", "task_candidates_inbox_update",
                     "human_tasks_inbox"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index('ix_inbox_entries_group_created', table_name='inbox_entries')
    op.drop_table('inbox_entries')
