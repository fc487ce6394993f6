"""Backups of the database while the application runs (``flask backup PATH``).

SQLite: the online backup API copies a consistent snapshot page by page (writers keep working;
the copy restarts over pages they change). Restore: stop the application and put the copy in
place of the database file.

PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot in one transaction). Restore into
an empty database with ``pg_restore --no-owner --dbname=URL FILE``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from ..errors import InvalidInput
from ..extensions import db


def create(path: Path) -> str:
    """Write a backup of the application's database to ``path``; returns the kind written."""
    path = Path(path)
    if path.exists():
        raise InvalidInput("The backup file exists already.", {"path": [f"{path} exists"]})
    url = db.engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        source = db.engine.raw_connection()
        try:
            target = sqlite3.connect(path)
            try:
                source.driver_connection.backup(target)
            finally:
                target.close()
        finally:
            source.close()
        return "sqlite"
    if backend == "postgresql":
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise InvalidInput("pg_dump is not installed.", {"path": ["install the PostgreSQL client"]})
        env = dict(os.environ)
        if url.password:
            env["PGPASSWORD"] = url.password
        dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
        done = subprocess.run([pg_dump, "--format=custom", "--no-owner", f"--file={path}", dsn],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            path.unlink(missing_ok=True)
            raise InvalidInput("pg_dump failed.", {"path": [done.stderr.strip()[-500:]]})
        return "pg_dump custom format"
    raise InvalidInput(f"No backup for the {backend} database.", {"path": [backend]})
