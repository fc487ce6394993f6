"""Backup and restore (issue 9): ``flask backup PATH`` while cases are being started, then the
copy restored and opened by the application: the snapshot is consistent, at the head migration,
and its cases load and continue. PostgreSQL's pg_dump/pg_restore round trip is in
test_database_faults.py (it needs a cluster of the test's own)."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import threading

from sqlalchemy import func, select

from support import ROOT, Api

TAXI = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
        ROOT / "forms" / "taxi_driver_decision.json")
APPLICATION = {"driving_licence_no": "140402199001011234", "exam_certificate_no": "KS2025-0001",
               "no_bad_record_pledge": True}
DECISION = {"decision": "issue", "licence_no": "CZ-TAXI-0009", "decision_opinion": "当场核发"}


def sqlite_app(path):
    from app import create_app
    from config import TestConfig

    class Settings(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{path}"

    return create_app(Settings)


def close(application) -> None:
    from app.extensions import db

    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_an_online_sqlite_backup_restores_to_a_working_database(tmp_path):
    from flask_migrate import upgrade

    from app.extensions import db
    from app.models import Case
    from app.services import demo

    live = sqlite_app(tmp_path / "live.db")
    with live.app_context(), contextlib.redirect_stderr(io.StringIO()):
        upgrade(directory=str(ROOT / "migrations"))
        demo.seed()
        db.session.commit()
    api = Api(live.test_client())
    assert api.deploy(*TAXI).status_code == 201
    first = [api.start("taxi_driver_licence", APPLICATION).get_json()["id"] for _ in range(3)]

    # Cases keep being started while the backup runs.
    stop = threading.Event()
    during: list[int] = []

    def writer():
        client = Api(live.test_client())
        while not stop.is_set():
            r = client.start("taxi_driver_licence", APPLICATION)
            assert r.status_code == 201, r.get_json()
            during.append(r.get_json()["id"])

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    out = live.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup.db")])
    stop.set()
    thread.join(timeout=60)
    assert out.exit_code == 0, out.output
    assert "backup written" in out.output and during
    again = live.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup.db")])
    assert again.exit_code != 0 and "exists already" in again.output  # never overwrites a backup
    after = api.start("taxi_driver_licence", APPLICATION).get_json()["id"]
    close(live)

    check = sqlite3.connect(tmp_path / "backup.db")
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()

    restored = sqlite_app(tmp_path / "backup.db")
    with restored.app_context():
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory

        with db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == ScriptDirectory(
                str(ROOT / "migrations")).get_current_head()
        ids = set(db.session.scalars(select(Case.id)))
        assert set(first) <= ids and after not in ids
        assert ids - set(first) <= set(during)  # whatever was committed before the snapshot, nothing torn
        assert db.session.scalar(select(func.count(Case.id)).where(Case.status == "active")) == len(ids)
        db.session.remove()
    done = Api(restored.test_client()).do("window1", "window_decision", DECISION, first[0])
    assert done["status"] == "completed", done
    close(restored)
