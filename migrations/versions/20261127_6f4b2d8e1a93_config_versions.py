"""config_versions: a token per reference table, replaced by triggers on every change

Revision ID: 6f4b2d8e1a93
Revises: 3e7a9c1d5b20
Create Date: 2026-11-27 07:00:00.000000

``calendar_overrides`` and ``groups`` are read on nearly every request and kept in process memory
(app/services/config_cache.py). Each has a row here whose ``token`` a trigger sets to a new random
value whenever the table changes, in the same transaction, whoever changes it; every API request
reads the tokens with its bearer token and uses what it keeps only while they are unchanged.
The tokens are random (not counters), so a restored or recreated database never repeats one.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6f4b2d8e1a93'
down_revision = '3e7a9c1d5b20'
branch_labels = None
depends_on = None

TABLES = ("calendar_overrides", "groups")
PG_TOKEN = "md5(random()::text || clock_timestamp()::text)"
SQLITE_TOKEN = "lower(hex(randomblob(16)))"


def upgrade():
    op.create_table('config_versions',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_config_versions'))
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    token = PG_TOKEN if postgresql else SQLITE_TOKEN
    for table in TABLES:
        op.execute(f"INSERT INTO config_versions (name, token) VALUES ('{table}', {token})")
    if postgresql:
        op.execute(f"""
CREATE FUNCTION config_versions_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE config_versions SET token = {PG_TOKEN} WHERE name = TG_TABLE_NAME;
    RETURN NULL;
END $$""")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION config_versions_bump()")
    else:
        for table in TABLES:
            for operation in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"""
CREATE TRIGGER {table}_config_version_{operation.lower()} AFTER {operation} ON {table}
BEGIN UPDATE config_versions SET token = {SQLITE_TOKEN} WHERE name = '{table}'; END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS config_versions_bump()")
    else:
        for table in TABLES:
            for operation in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version_{operation}")
    op.drop_table('config_versions')
