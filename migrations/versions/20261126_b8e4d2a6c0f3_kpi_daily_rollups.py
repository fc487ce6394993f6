"""daily KPI rollups (kpi_case_days, kpi_group_case_days, kpi_task_days), human_tasks.completed_on_time

Revision ID: b8e4d2a6c0f3
Revises: f7c3a1b9d5e2
Create Date: 2026-11-26 13:10:00.000000

Existing rows are backfilled here with plain SQL (the local day of a UTC timestamp in the
configured ``TIMEZONE``); afterwards the services keep the rollups current, and
``flask kpis rebuild`` recomputes them.
"""
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b8e4d2a6c0f3'
down_revision = 'f7c3a1b9d5e2'
branch_labels = None
depends_on = None


CASE_FIELDS = ("received", "immediate", "helped", "completed", "with_limit", "on_time", "with_statutory",
               "within_statutory", "working_days_sum", "working_days_count")


def _zone() -> str:
    try:
        from flask import current_app
        return current_app.config.get("TIMEZONE") or "Asia/Shanghai"
    except RuntimeError:
        return "Asia/Shanghai"


def _day(column: str) -> str:
    zone = _zone()
    if op.get_bind().dialect.name == "postgresql":
        return f"date(timezone('{zone}', {column}))"
    hours = int(ZoneInfo(zone).utcoffset(datetime(2000, 1, 1)).total_seconds() // 3600)
    return f"date({column}, '{hours:+d} hours')"


def upgrade():
    op.create_table('kpi_case_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('clerk_id', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('immediate', sa.Integer(), nullable=False),
    sa.Column('helped', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('with_limit', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.Column('with_statutory', sa.Integer(), nullable=False),
    sa.Column('within_statutory', sa.Integer(), nullable=False),
    sa.Column('working_days_sum', sa.Integer(), nullable=False),
    sa.Column('working_days_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'process_key', 'clerk_id', name=op.f('pk_kpi_case_days'))
    )
    op.create_table('kpi_group_case_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('clerk_id', sa.Integer(), nullable=False),
    sa.Column('group_code', sa.String(length=64), nullable=False),
    *(sa.Column(name, sa.Integer(), nullable=False) for name in CASE_FIELDS),
    sa.PrimaryKeyConstraint('day', 'process_key', 'clerk_id', 'group_code', name=op.f('pk_kpi_group_case_days'))
    )
    op.create_table('kpi_task_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('clerk_id', sa.Integer(), nullable=False),
    sa.Column('group_code', sa.String(length=64), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('timed', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'process_key', 'clerk_id', 'group_code', name=op.f('pk_kpi_task_days'))
    )
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('completed_on_time', sa.Boolean(), nullable=True))

    op.execute("""
UPDATE human_tasks SET completed_on_time = (
    SELECT CASE WHEN COALESCE(human_tasks.due_at, c.due_at) IS NULL THEN NULL
                ELSE human_tasks.completed_at <= COALESCE(human_tasks.due_at, c.due_at) END
    FROM cases c WHERE c.id = human_tasks.case_id)
WHERE state = 'completed' AND completed_at IS NOT NULL
""")
    started, ended = _day("c.started_at"), _day("c.ended_at")
    sums = ", ".join(f"SUM({name})" for name in CASE_FIELDS)
    names = ", ".join(CASE_FIELDS)

    def facts(group_join: str, group_column: str) -> str:
        return f"""
    SELECT {started} AS day, c.process_key, c.started_by_id AS clerk_id{group_column}, 1 AS received,
           CASE WHEN c.finished_same_day THEN 1 ELSE 0 END AS immediate,
           CASE WHEN c.assisted_by_id IS NOT NULL THEN 1 ELSE 0 END AS helped,
           0 AS completed, 0 AS with_limit, 0 AS on_time, 0 AS with_statutory, 0 AS within_statutory,
           0 AS working_days_sum, 0 AS working_days_count
    FROM cases c{group_join}
    UNION ALL
    SELECT {ended}, c.process_key, c.started_by_id{group_column}, 0, 0, 0, 1,
           CASE WHEN c.due_at IS NOT NULL THEN 1 ELSE 0 END,
           CASE WHEN c.due_at IS NOT NULL AND c.ended_at <= c.due_at THEN 1 ELSE 0 END,
           CASE WHEN c.statutory_due_at IS NOT NULL THEN 1 ELSE 0 END,
           CASE WHEN c.statutory_due_at IS NOT NULL AND c.ended_at <= c.statutory_due_at THEN 1 ELSE 0 END,
           COALESCE(c.working_days_used, 0), CASE WHEN c.working_days_used IS NOT NULL THEN 1 ELSE 0 END
    FROM cases c{group_join} WHERE c.status = 'completed' AND c.ended_at IS NOT NULL"""

    op.execute(f"""
INSERT INTO kpi_case_days (day, process_key, clerk_id, {names})
SELECT day, process_key, clerk_id, {sums} FROM ({facts("", "")}) AS facts
GROUP BY day, process_key, clerk_id
""")
    groups = """
    JOIN (SELECT DISTINCT t.case_id, g.code FROM human_tasks t
          JOIN task_candidates tc ON tc.task_id = t.id JOIN groups g ON g.id = tc.group_id) cg ON cg.case_id = c.id"""
    op.execute(f"""
INSERT INTO kpi_group_case_days (day, process_key, clerk_id, group_code, {names})
SELECT day, process_key, clerk_id, group_code, {sums} FROM ({facts(groups, ", cg.code AS group_code")}) AS facts
GROUP BY day, process_key, clerk_id, group_code
""")
    done = _day("t.completed_at")
    op.execute(f"""
INSERT INTO kpi_task_days (day, process_key, clerk_id, group_code, completed, timed, on_time)
SELECT {done}, c.process_key, c.started_by_id, g.code, COUNT(t.id),
       SUM(CASE WHEN t.completed_on_time IS NOT NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN t.completed_on_time THEN 1 ELSE 0 END)
FROM human_tasks t JOIN cases c ON c.id = t.case_id
JOIN task_candidates tc ON tc.task_id = t.id JOIN groups g ON g.id = tc.group_id
WHERE t.state = 'completed' AND t.completed_at IS NOT NULL
GROUP BY {done}, c.process_key, c.started_by_id, g.code
""")


def downgrade():
    # In place (SQLite 3.35+ drops a column natively): a batch copy would drop human_tasks, whose
    # ON DELETE SET NULL on audit_events the append-only triggers refuse.
    op.execute("ALTER TABLE human_tasks DROP COLUMN completed_on_time")
    op.drop_table('kpi_task_days')
    op.drop_table('kpi_group_case_days')
    op.drop_table('kpi_case_days')
