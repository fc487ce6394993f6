"""Timer workers' heartbeats (``worker_heartbeats``) and ``/healthz/worker``.

A worker that died or hangs stops timers, time-limit warnings and the weekly evaluation sample;
the heartbeat makes that visible to a monitor (``/healthz/worker``) and to supervisors (the
dashboard, tests/integration/web/test_dashboard_pages.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import WorkerHeartbeat
from app.models.types import utcnow
from support import DATA, ROOT

TIMER_DIAGRAM = DATA / "timer_escalation" / "timer_escalation.bpmn"


def _once(app) -> str:
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def _rows(app) -> list[WorkerHeartbeat]:
    with app.app_context():
        rows = db.session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.name)).all()
        db.session.expunge_all()
        return rows


def test_without_any_worker_the_health_check_answers_503(client):
    r = client.get("/healthz/worker")
    assert r.status_code == 503
    assert r.get_json() == {"status": "down", "alive": 0, "last_beat_at": None, "stale_after_seconds": 120}


def test_a_pass_writes_the_heartbeat_and_the_health_check_answers_200(app, client, clock):
    _once(app)
    (row,) = _rows(app)
    assert row.name == f"{os.uname().nodename}:{os.getpid()}"
    assert row.passes == 1 and row.timers_fired == 0 and row.last_error is None and row.stopped_at is None
    r = client.get("/healthz/worker")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "ok" and body["alive"] == 1
    assert body["last_beat_at"] == row.beat_at.isoformat()


def test_a_worker_silent_longer_than_the_limit_counts_as_down(app, client, clock):
    _once(app)
    clock.shift(timedelta(seconds=119))
    assert client.get("/healthz/worker").status_code == 200
    clock.shift(timedelta(seconds=2))
    r = client.get("/healthz/worker")
    assert r.status_code == 503
    assert r.get_json()["alive"] == 0 and r.get_json()["last_beat_at"] is not None


def test_the_heartbeat_counts_the_fired_timers(app, api, clock):
    assert api.deploy(TIMER_DIAGRAM).status_code == 201
    for _ in range(2):
        assert api.start("timer_escalation").status_code == 201
    clock.shift(timedelta(seconds=2))  # both boundary timers are due
    assert "fired 2 timer" in _once(app)
    (row,) = _rows(app)
    assert (row.passes, row.timers_fired) == (1, 2)


def test_a_pass_deletes_the_rows_of_workers_silent_for_a_week(app, clock):
    now = utcnow()
    with app.app_context():
        db.session.add_all([
            WorkerHeartbeat(name="old-host:1", started_at=now - timedelta(days=30), beat_at=now - timedelta(days=8)),
            WorkerHeartbeat(name="recent-host:2", started_at=now - timedelta(days=3), beat_at=now - timedelta(days=6)),
        ])
        db.session.commit()
    _once(app)
    names = [row.name for row in _rows(app)]
    assert "old-host:1" not in names
    assert "recent-host:2" in names and len(names) == 2


def test_a_restarted_process_with_the_same_name_starts_its_counts_afresh(app):
    from app import transaction
    from app.services import workers

    first, second = utcnow() - timedelta(hours=1), utcnow()
    with app.app_context():
        transaction.run(workers.beat, "host:7", first, finished_pass=True, fired=3, error="database not available")
        transaction.run(workers.beat, "host:7", first, finished_pass=False, fired=1)
        row = db.session.get(WorkerHeartbeat, "host:7")
        assert (row.passes, row.timers_fired, row.last_error) == (1, 4, "database not available")
        transaction.run(workers.beat, "host:7", second, finished_pass=True)
        row = db.session.get(WorkerHeartbeat, "host:7")
        assert (row.started_at, row.passes, row.timers_fired, row.last_error) == (second, 1, 0, None)
        db.session.remove()


def _env(database_url: str) -> dict:
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="test-secret", FLASK_APP="wsgi")
    return env


def test_sigterm_stops_a_running_worker_cleanly_and_marks_it_stopped(app, db_clean, database_url, tmp_path):
    """A real ``flask worker`` process: it beats while it runs; SIGTERM ends it after the
    transaction at hand with exit code 0, and its row says it stopped (so it no longer counts)."""
    log = tmp_path / "worker.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "worker", "--interval", "0.2"], cwd=ROOT,
                                env=_env(database_url), stdout=subprocess.DEVNULL, stderr=err)
    try:
        name = f"{os.uname().nodename}:{proc.pid}"
        deadline = time.monotonic() + 60
        passes = 0
        while time.monotonic() < deadline and passes < 3:  # a few passes: it keeps beating
            time.sleep(0.2)
            with app.app_context():
                row = db.session.get(WorkerHeartbeat, name)
                passes = row.passes if row is not None else 0
                db.session.remove()
        assert passes >= 3, log.read_text()[-2000:]
        client = app.test_client()
        assert client.get("/healthz/worker").get_json()["alive"] == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()[-2000:]
        (row,) = [r for r in _rows(app) if r.name == name]
        assert row.stopped_at is not None
        assert client.get("/healthz/worker").status_code == 503
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
