"""The daily KPI rollups (kpi_case_days, kpi_task_days) always equal the facts they summarise.

The dashboard sums them instead of scanning the cases (issue 8, a year over a million cases in
under a second). Here: the rollup path gives the same figures as the live aggregation over a
generated history, a rebuild from the facts reproduces the incrementally kept rows exactly, and a
rolled-back transaction or savepoint leaves no trace in them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from support import ROOT, local_today

TAXI = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
        ROOT / "forms" / "taxi_driver_decision.json")
TAXI_APPLICATION = {"driving_licence_no": "140402199001011234", "exam_certificate_no": "KS2025-0001",
                    "no_bad_record_pledge": True}


def snapshot(db) -> tuple[list, list, list]:
    """The rollup tables, zero rows left out, group rows only for groups that exist (as the
    dashboard joins and filters them)."""
    from app.models import Group, KpiCaseDay, KpiGroupCaseDay, KpiTaskDay
    from app.services.kpi_rollups import CASE_FIELDS, TASK_FIELDS

    cases = [(str(r.day), r.process_key, r.clerk_id, *(getattr(r, f) for f in CASE_FIELDS))
             for r in db.session.scalars(select(KpiCaseDay))]
    groups = [(str(r.day), r.process_key, r.clerk_id, r.group_code, *(getattr(r, f) for f in CASE_FIELDS))
              for r in db.session.scalars(select(KpiGroupCaseDay)
                                          .join(Group, Group.code == KpiGroupCaseDay.group_code))]
    tasks = [(str(r.day), r.process_key, r.clerk_id, r.group_code, *(getattr(r, f) for f in TASK_FIELDS))
             for r in db.session.scalars(select(KpiTaskDay).join(Group, Group.code == KpiTaskDay.group_code))]
    return (sorted(r for r in cases if any(r[3:])), sorted(r for r in groups if any(r[4:])),
            sorted(r for r in tasks if any(r[4:])))


@pytest.fixture()
def history(app, api):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["bpmn", "deploy", str(ROOT / "bpmn"), "--forms", str(ROOT / "forms")]).exit_code == 0
    out = runner.invoke(args=["demo", "generate", "--cases", "40", "--days", "12", "--seed", "11"])
    assert out.exit_code == 0, out.output
    return local_today()


def test_rollups_give_the_live_figures_and_a_rebuild_reproduces_them(app, history):
    from app.extensions import db
    from app.models import User
    from app.services import kpi_rollups, kpis

    today = history
    with app.app_context():
        window1 = db.session.scalar(select(User.id).where(User.username == "window1"))
        periods = [(today - timedelta(days=20), today), (today - timedelta(days=6), today - timedelta(days=2))]
        periods += [(today - timedelta(days=n), today - timedelta(days=n)) for n in range(0, 13, 3)]
        checked = 0
        for start, end in periods:
            for filters in ({}, {"process_key": "newborn"}, {"process_key": "taxi_driver_licence"},
                            {"clerk_id": window1}, {"group": "window"}, {"group": "health"},
                            {"group": "police", "process_key": "newborn"}, {"group": "urban_management"}):
                p = kpis.Period(start, end, **filters)
                rolled, live = kpis.case_figures(p, source="rollup"), kpis.case_figures(p, source="live")
                assert rolled == live, (start, end, filters)
                assert kpis.department_table(p, "rollup") == kpis.department_table(p, "live"), (start, end, filters)
                assert kpis.daily_series(p, "rollup") == kpis.daily_series(p, "live"), (start, end, filters)
                checked += rolled["cases_received"] + rolled["cases_completed"]
        assert checked > 40  # the comparisons were not all between empty periods
        whole = kpis.case_figures(kpis.Period(today - timedelta(days=20), today))
        assert whole["cases_received"] == 40 and whole["cases_completed"] > 0
        assert kpis.department_table(kpis.Period(today - timedelta(days=20), today))

        kept = snapshot(db)
        assert kept[0] and kept[1] and kept[2]
        kpi_rollups.rebuild(db.session)
        db.session.commit()
        assert snapshot(db) == kept


def test_the_cli_rebuild_restores_emptied_rollups(app, history):
    from app.extensions import db
    from app.models import KpiCaseDay, KpiGroupCaseDay, KpiTaskDay

    with app.app_context():
        kept = snapshot(db)
        for model in (KpiCaseDay, KpiGroupCaseDay, KpiTaskDay):
            db.session.execute(model.__table__.delete())
        db.session.commit()
        assert snapshot(db) == ([], [], [])
    out = app.test_cli_runner().invoke(args=["kpis", "rebuild"])
    assert out.exit_code == 0, out.output
    assert f"kpi_case_days: {len(kept[0])} row(s)" in out.output, out.output
    with app.app_context():
        assert snapshot(db) == kept


def test_rolled_back_changes_and_savepoints_leave_no_trace(app, api):
    from app.extensions import db
    from app.models import Case, User
    from app.services import kpi_rollups, kpis

    assert api.deploy(*TAXI).status_code == 201
    case_id = api.start("taxi_driver_licence", TAXI_APPLICATION).get_json()["id"]
    today = local_today()
    p = kpis.Period(today, today)
    with app.app_context():
        helper = db.session.scalar(select(User.id).where(User.username == "helper1"))
        assert kpis.case_figures(p)["cases_received"] == 1

        case_row = db.session.get(Case, case_id)
        case_row.assisted_by_id = helper
        db.session.flush()
        db.session.rollback()
        assert kpis.case_figures(p)["help_count"] == 0

        case_row = db.session.get(Case, case_id)
        savepoint = db.session.begin_nested()
        case_row.assisted_by_id = helper
        db.session.flush()
        savepoint.rollback()
        db.session.commit()
        assert kpis.case_figures(p)["help_count"] == 0

        case_row = db.session.get(Case, case_id)
        with db.session.begin_nested():
            case_row.assisted_by_id = helper
        db.session.commit()
        assert kpis.case_figures(p)["help_count"] == 1

        kept = snapshot(db)
        kpi_rollups.rebuild(db.session)
        db.session.commit()
        assert snapshot(db) == kept


def test_a_task_deadline_is_judged_when_it_completes(app, api, clock):
    """A later extension of the case does not turn a late task into an on-time one."""
    from app.extensions import db
    from app.models import HumanTask

    assert api.deploy(*TAXI).status_code == 201
    case_id = api.start("taxi_driver_licence", TAXI_APPLICATION).get_json()["id"]
    clock.shift(timedelta(days=3))
    api.do("window1", "window_decision", {"decision": "issue", "licence_no": "CZ-TAXI-0002",
                                          "decision_opinion": "核发"}, case_id)
    with app.app_context():
        task = db.session.scalar(select(HumanTask).where(HumanTask.case_id == case_id))
        assert task.state == "completed" and task.completed_on_time is False


@pytest.fixture()
def scratch_url(database_url, tmp_path):
    """A second, empty database of the same kind as the test database."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migration.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(database_url)
    name = f"{base.database}_rollup_migration"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


SNAPSHOT = """
import json
from app import create_app
from app.extensions import db
from test_kpi_rollups import snapshot
with create_app().app_context():
    print(json.dumps(snapshot(db)))
"""


def test_the_migration_backfills_the_rollups_of_existing_history(scratch_url):
    """An operator's round trip in a separate process: history made through the services, then
    ``flask db downgrade`` below the rollups and ``flask db upgrade`` again. The migration's own
    backfill (plain SQL) gives exactly the rows the services had kept."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": scratch_url, "FLASK_APP": "wsgi:app",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "integration")])}

    def run(*args: str) -> str:
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    flask = (sys.executable, "-m", "flask")
    run(*flask, "db", "upgrade")
    run(*flask, "demo", "seed")
    run(*flask, "bpmn", "deploy", str(ROOT / "bpmn"), "--forms", str(ROOT / "forms"))
    run(*flask, "demo", "generate", "--cases", "24", "--days", "8", "--seed", "5")
    kept = json.loads(run(sys.executable, "-c", SNAPSHOT))
    assert kept[0] and kept[1] and kept[2]
    run(*flask, "db", "downgrade", "f7c3a1b9d5e2")
    run(*flask, "db", "upgrade")
    assert json.loads(run(sys.executable, "-c", SNAPSHOT)) == kept
