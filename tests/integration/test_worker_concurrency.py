"""Real `flask worker` processes on the test database: every due timer fires once and every
warning is announced once. On PostgreSQL two workers run at the same time (SKIP LOCKED); on
SQLite, where one worker is the supported set-up, one worker does the same work."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from app.extensions import db
from app.models import AuditEvent, Case
from support import DATA, ROOT

TIMER = DATA / "timer_escalation" / "timer_escalation.bpmn"
MOVES = DATA / "moves" / "moves.bpmn"
TIMER_CASES = 40
LATE_CASES = 10


def _workers(database_url: str, count: int) -> list[str]:
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="test-secret", FLASK_APP="wsgi")
    procs = [subprocess.Popen([sys.executable, "-m", "flask", "worker", "--once"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(count)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(out)
    return outputs


def test_workers_fire_each_timer_and_announce_each_warning_once(api, app, clock, database_url):
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    assert api.deploy(TIMER).status_code == 201
    assert api.deploy(MOVES).status_code == 201
    clock.shift(timedelta(seconds=-30))  # started 30 s ago: their 1-second timers are due now
    timer_cases = [api.start("timer_escalation").get_json()["id"] for _ in range(TIMER_CASES)]
    clock.shift(timedelta(days=-40))  # accepted 40 days ago: past every time limit
    late_cases = [api.start("moves").get_json()["id"] for _ in range(LATE_CASES)]
    clock.reset()

    outputs = _workers(database_url, 2 if postgres else 1)
    print("worker outputs:", outputs)  # how the work was shared (shown with -s)

    fired = sum(int(line.split()[1]) for out in outputs for line in out.splitlines() if line.startswith("fired "))
    assert fired == TIMER_CASES
    with app.app_context():
        rows = db.session.query(AuditEvent.case_id, AuditEvent.event_type).filter(
            AuditEvent.event_type.in_(("timer_fired", "deadline_warning", "task_deadline_warning"))).all()
        timer_counts = {case_id: 0 for case_id in timer_cases}
        warning_counts = {case_id: 0 for case_id in late_cases}
        task_warnings = {case_id: 0 for case_id in late_cases}
        for case_id, event_type in rows:
            if event_type == "timer_fired":
                timer_counts[case_id] += 1
            elif event_type == "deadline_warning":
                warning_counts[case_id] += 1
            else:
                task_warnings[case_id] += 1
        assert set(timer_counts.values()) == {1}
        assert set(warning_counts.values()) == {1}  # red, once
        assert set(task_warnings.values()) == {1}  # the formal check, red, once
        assert all(c.next_timer_at is None for c in db.session.query(Case).filter(Case.id.in_(timer_cases)))
        assert {c.warning_level for c in db.session.query(Case).filter(Case.id.in_(late_cases))} == {"red"}

    # A second round finds nothing left to do.
    again = _workers(database_url, 2 if postgres else 1)
    assert not any("fired" in out or "announced" in out for out in again)
