"""Process faults (issue 9): processes die with ``kill -9`` in the middle of their work.

- A gunicorn worker is killed, several times, while client threads drive newborn cases (parallel
  branches) through their tasks over HTTP. Requests that die with the worker fail on the client
  (connection reset), the clients carry on, and the database stays consistent: the human tasks
  match the READY user tasks of the workflow the engine restores, every completion is audited
  exactly once, no case is half-written, and every case can be finished afterwards.
- The timer worker (``flask worker``) is killed in the middle of its pass; the next pass fires
  what is left, and every timer has fired exactly once.
- A timer worker dies after it fired a timer and flushed everything, but before COMMIT: nothing
  of that firing is stored, and the next pass fires the timer exactly once.

The checks read the database directly; the engine restores each case's workflow to compare.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

import httpjson
from bench._util import NewbornPlan
from support import DATA, ROOT

NEWBORN = ROOT / "bpmn" / "newborn.bpmn"
TIMER = DATA / "timer_escalation" / "timer_escalation.bpmn"
# Who works on a task of each candidate group (demo seed users).
GROUP_USERS = {"window": "window1", "health": "health1", "public_security": "police1",
               "medical_insurance": "medins1", "hr_social_security": "hrss1", "tax": "tax1"}
NEWBORN_STEPS = 8  # user tasks on the newborn happy path (with the maternity allowance)


# -- helpers ---------------------------------------------------------------------------------------
def _newborn_plan() -> tuple[list[Path], dict, dict[str, dict]]:
    """The newborn bundle's files, its start data and the data each user task is completed with."""
    plan = NewbornPlan()  # the benchmark's plan: valid data for every form, the happy path
    files = [NEWBORN] + [ROOT / "forms" / name for name in sorted(plan.process.forms())]
    return files, plan.start_data, plan.task_data


def _children(pid: int) -> list[int]:
    """Live (not zombie) child processes of ``pid``, from /proc."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue  # the process ended while we looked
        if int(ppid) == pid and state not in ("Z", "X"):
            kids.append(int(stat.parent.name))
    return kids


def _serving(workers: list[int], server_port: int, client_port: int) -> int | None:
    """The worker holding the server end of the connection from ``client_port`` (a sync worker
    holds an accepted connection only while it serves the request), or None."""
    wanted = f":{server_port:04X}", f":{client_port:04X}"
    inode = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(wanted[0]) and fields[2].endswith(wanted[1]) and fields[9] != "0":
                inode = f"socket:[{fields[9]}]"
    if inode is None:
        return None  # not accepted yet, or answered already
    for pid in workers:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == inode:
                        return pid
    return None


def _env(database_url: str, **extra: str) -> dict:
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="test-secret", FLASK_APP="wsgi", **extra)
    env.pop("GUNICORN_CMD_ARGS", None)
    return env


@contextlib.contextmanager
def _gunicorn(database_url: str, attachments: Path):
    """A private gunicorn (2 sync workers: the ones we kill); yields (port, master process, log file)."""
    with tempfile.TemporaryFile() as log:
        port = _free_port()
        env = _env(database_url, PORT=str(port), WEB_CONCURRENCY="2", GUNICORN_ACCESS_LOG="/dev/null",
                   ATTACHMENT_DIR=str(attachments), PASSWORD_HASH_METHOD="pbkdf2:sha256:1000")
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
                                 "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpjson.get(base + "/healthz").status == 200 and len(_children(proc.pid)) == 2:
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError("gunicorn did not start: " + log.read().decode(errors="replace")[-2000:])
                time.sleep(0.1)
            yield port, proc, log
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _count_events(event_type: str) -> int:
    """Count audit events on a connection of its own (seeing what other processes committed)."""
    from app.extensions import db
    from app.models import AuditEvent

    with db.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event_type == event_type))


def assert_consistent(app) -> dict[int, str]:
    """Check every stored case against the workflow the engine restores; return {case id: status}.

    - the live (open/claimed) human tasks are exactly the workflow's READY user tasks, and each
      engine task has one row (no task both completed and open, none done twice);
    - a completed human task is a COMPLETED user task of the workflow, completed once (one
      ``task_completed`` event), a cancelled one is no longer READY (one ``task_cancelled``);
      a task was claimed once (one ``task_claimed``) iff it has a claim time;
    - the case is whole: one ``case_started``, a workflow state, case data and next timer as the
      engine derives them, one ``timer_fired`` per timer that fired in the workflow, an active case
      still waits for something, an ended one has ended in the workflow with its outcome (and
      one ``case_completed``).
    """
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
    from SpiffWorkflow.util.task import TaskState

    from app.extensions import db
    from app.models import AuditEvent, Case, HumanTask
    from app.services.cases import load_workflow
    from app.services.runtime import engine

    statuses = {}
    with app.app_context():
        eng = engine()
        cases = db.session.scalars(select(Case).options(undefer(Case.workflow_state)).order_by(Case.id)).all()
        rows: dict[int, list] = {}
        for row in db.session.scalars(select(HumanTask).order_by(HumanTask.id)):
            rows.setdefault(row.case_id, []).append(row)
        events: dict[int, Counter] = {}
        task_case = {}
        for case_id, event_type, task_id in db.session.execute(
                select(AuditEvent.case_id, AuditEvent.event_type, AuditEvent.task_id)):
            events.setdefault(case_id, Counter())[(event_type, task_id)] += 1
            if task_id is not None:
                task_case[task_id] = case_id
        for case in cases:
            where = f"case {case.id} ({case.receipt_no})"
            seen = events.get(case.id, Counter())
            assert seen[("case_started", None)] == 1, where
            assert case.workflow_state and case.serializer_version == eng.serializer_version, where
            workflow = load_workflow(case)
            ready = {t.id: t for t in eng.ready_user_tasks(workflow)}
            mine = rows.get(case.id, [])
            live = [r for r in mine if r.state in ("open", "claimed")]
            assert sorted(r.engine_task_id for r in live) == sorted(ready), (
                where, "human tasks differ from the workflow's READY user tasks",
                sorted((r.bpmn_id, r.state) for r in live), sorted(t.bpmn_id for t in ready.values()))
            # One row per engine task: a task is never both completed and open, nor done twice
            # (these tests never move a token back, the one way a finished task runs again).
            twice = [i for i, n in Counter(r.engine_task_id for r in mine).items() if n > 1]
            assert not twice, (where, "engine tasks projected twice",
                               sorted((r.bpmn_id, r.state) for r in mine if r.engine_task_id in twice))
            for row in live:
                assert row.bpmn_id == ready[row.engine_task_id].bpmn_id, (where, row.id)
                assert (row.state == "claimed") == (row.assignee_id is not None), (where, row.id, row.state)
            for row in mine:
                task = f"{where} task {row.id} {row.bpmn_id} ({row.state})"
                assert seen[("task_completed", row.id)] == (1 if row.state == "completed" else 0), task
                assert seen[("task_cancelled", row.id)] == (1 if row.state == "cancelled" else 0), task
                assert seen[("task_claimed", row.id)] == (1 if row.claimed_at is not None else 0), task
                if row.state == "completed":
                    spiff = workflow.get_task_from_id(uuid.UUID(row.engine_task_id))
                    assert spiff.state == TaskState.COMPLETED, (task, TaskState.get_name(spiff.state))
                    assert row.completed_at is not None, task
                elif row.state == "cancelled":
                    assert row.engine_task_id not in ready, task
            timers = [t for t in workflow.get_tasks(state=TaskState.COMPLETED)
                      if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)]
            assert seen[("timer_fired", None)] == len(timers), (where, "fired timers and their events differ")
            assert case.data == eng.case_data(workflow), where
            assert case.next_timer_at == eng.next_timer_due(workflow), (where, case.next_timer_at)
            if case.status == "active":
                assert not eng.is_completed(workflow), where
                assert ready or case.next_timer_at is not None, (where, "an active case waits for nothing")
                assert seen[("case_completed", None)] == 0, where
            else:
                assert case.status == "completed", (where, case.status)
                assert eng.is_completed(workflow) and case.outcome == eng.outcome(workflow), where
                assert case.ended_at is not None and not live, where
                assert seen[("case_completed", None)] == 1, where
            statuses[case.id] = case.status
        # Every event about a task is about a task of the same case.
        owners = dict(db.session.execute(select(HumanTask.id, HumanTask.case_id)).all())
        assert all(owners.get(task_id) == case_id for task_id, case_id in task_case.items())
        db.session.remove()
    return statuses


def assert_rollups_exact(app) -> None:
    """The KPI rollups kept by each transaction equal a recomputation from the cases and tasks."""
    from app.extensions import db
    from app.models import KpiCaseDay, KpiGroupCaseDay, KpiTaskDay
    from app.services import kpi_rollups

    def snapshot():
        result = {}
        for model in (KpiCaseDay, KpiGroupCaseDay, KpiTaskDay):
            columns = list(model.__table__.columns)
            keys = [c for c in columns if c.primary_key]
            result[model.__tablename__] = sorted(
                row for row in (tuple(getattr(r, c.key) for c in columns) for r in db.session.scalars(select(model)))
                if any(row[i] for i, c in enumerate(columns) if c not in keys))
        return result

    with app.app_context():
        kept = snapshot()
        kpi_rollups.rebuild(db.session)
        db.session.flush()
        db.session.expire_all()
        rebuilt = snapshot()
        db.session.rollback()
        db.session.remove()
    assert kept == rebuilt


# -- 1. kill -9 of a gunicorn worker under load -------------------------------------------------------
class Load:
    """Client threads driving newborn cases over HTTP, each over and over until told to stop."""

    def __init__(self, port: int, tokens: dict[str, str], start_data: dict, steps: dict[str, dict]):
        self.port, self.tokens, self.start_data, self.steps = port, tokens, start_data, steps
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.completing: set[int] = set()  # client ports of the completions in flight
        self.dropped: Counter = Counter()  # requests that died with their worker, by kind
        self.ok: Counter = Counter()
        self.unexpected: list = []  # any answer but the expected success
        self.finished: list[dict] = []  # cases a client drove to their end

    def _call(self, kind: str, method: str, path: str, body=None, token=None):
        """One request on a connection of its own; None when the connection died under it."""
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        port = None
        try:
            conn.connect()
            port = conn.sock.getsockname()[1]
            if kind == "complete":
                with self.lock:
                    self.completing.add(port)
            conn.request(method, "/api/v1" + path, json.dumps(body) if body is not None else None, headers)
            resp = conn.getresponse()
            status, raw = resp.status, resp.read()
        except (OSError, http.client.HTTPException):  # reset / closed: the worker died under the request
            with self.lock:
                self.dropped[kind] += 1
            return None
        finally:
            conn.close()
            with self.lock:
                self.completing.discard(port)
        with self.lock:
            self.ok[kind] += 1
        return status, json.loads(raw) if raw else None

    def _expect(self, r, status: int, what: str) -> bool:
        if r[0] == status:
            return True
        with self.lock:
            self.unexpected.append((what, *r))
        return False

    def _case(self, case_id: int) -> dict | None:
        for _ in range(50):  # the GET itself may meet a dying worker
            r = self._call("get", "GET", f"/cases/{case_id}", token=self.tokens["window1"])
            if r is not None:
                return r[1] if self._expect(r, 200, f"get case {case_id}") else None
            time.sleep(0.05)
        return None

    def one_case(self) -> None:
        r = self._call("start", "POST", "/cases", {"process_key": "newborn", "data": self.start_data,
                                                    "applicant": {"name": "王小明", "id_number": "140402199001011234"}},
                       self.tokens["window1"])
        if r is None or not self._expect(r, 201, "start"):
            return  # whether it was stored or not, the checks below look at every stored case
        case = r[1]
        while case is not None and not self.stop.is_set():
            todo = [t for t in case["tasks"] if t["state"] in ("open", "claimed")]
            if not todo:
                with self.lock:
                    self.finished.append(case)
                return
            task = todo[0]
            token = self.tokens[GROUP_USERS[task["groups"][0]]]
            r = self._call("claim", "POST", f"/tasks/{task['id']}/claim", token=token)
            if r is None:
                case = self._case(case["id"])
                continue
            if not self._expect(r, 200, f"claim {task['bpmn_id']}"):
                return
            r = self._call("complete", "POST", f"/tasks/{task['id']}/complete",
                           {"data": self.steps[task["bpmn_id"]]}, token)
            if r is None:
                case = self._case(case["id"])  # completed or not: the stored case says
                continue
            if not self._expect(r, 200, f"complete {task['bpmn_id']}"):
                return
            case = r[1]

    def client(self) -> None:
        while not self.stop.is_set():
            self.one_case()


def _finish(api, case_id: int, steps: dict[str, dict]) -> dict:
    """Drive a stored case to its end through the in-process API, as the departments would."""
    for _ in range(3 * NEWBORN_STEPS):
        r = api.get(f"/api/v1/cases/{case_id}", "window1")
        assert r.status_code == 200, r.get_json()
        case = r.get_json()
        if not case["tasks"]:
            return case
        task = case["tasks"][0]
        user = GROUP_USERS[task["groups"][0]]
        r = api.post(f"/api/v1/tasks/{task['id']}/claim", user)
        assert r.status_code == 200, (case_id, task["bpmn_id"], r.get_json())
        r = api.post(f"/api/v1/tasks/{task['id']}/complete", user, json={"data": steps[task["bpmn_id"]]})
        assert r.status_code == 200, (case_id, task["bpmn_id"], r.get_json())
    raise AssertionError(f"case {case_id} did not end")


@pytest.mark.server
def test_killing_gunicorn_workers_during_completions_leaves_every_case_consistent(api, app, database_url,
                                                                                   tmp_path):
    files, start_data, steps = _newborn_plan()
    r = api.deploy(*files)
    assert r.status_code == 201, r.get_json()
    tokens = {user: api.token(user) for user in GROUP_USERS.values()}
    rng = random.Random(9)
    kills = []

    with _gunicorn(database_url, tmp_path / "attachments") as (port, master, log):
        load = Load(port, tokens, start_data, steps)
        clients = [threading.Thread(target=load.client, daemon=True) for _ in range(4)]
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 45
        while load.ok["complete"] < 6:  # warmed up: the workers have compiled the diagram
            assert time.monotonic() < deadline and not load.unexpected, (load.ok, load.unexpected[:3])
            time.sleep(0.01)
        # Kill the worker that serves a completion, a little after it took the request; at least
        # 4 times and until 2 completions died with their worker (at most 12 kills). The master
        # respawns the workers; the next kill waits until both are back.
        while len(kills) < 12 and (len(kills) < 4 or load.dropped["complete"] < 2):
            assert time.monotonic() < deadline, f"the kills did not meet completions: {kills}, {load.dropped}"
            with load.lock:
                completing = list(load.completing)
            workers = _children(master.pid)
            victim = next((pid for pid in (_serving(workers, port, c) for c in completing) if pid), None)
            if victim is None:
                time.sleep(0.002)
                continue
            time.sleep(rng.uniform(0.0, 0.04))  # somewhere inside the completion
            os.kill(victim, signal.SIGKILL)
            kills.append(victim)
            while (victim in _children(master.pid) or len(_children(master.pid)) < 2) \
                    and time.monotonic() < deadline:
                time.sleep(0.05)  # reaped and respawned
            time.sleep(0.3)
        while load.ok["complete"] < 30:  # and some more load on the respawned workers
            assert time.monotonic() < deadline, load.ok
            time.sleep(0.01)
        load.stop.set()
        for thread in clients:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in clients)
        assert master.poll() is None, "the gunicorn master died"
        log.seek(0)
        server_log = log.read().decode(errors="replace")

    print(f"kills {len(kills)}, dropped {dict(load.dropped)}, answered {dict(load.ok)}, "
          f"finished by clients {len(load.finished)}")
    assert len(kills) >= 4 and load.dropped["complete"] >= 2, (kills, load.dropped)
    assert not load.unexpected, load.unexpected[:5]
    assert "Traceback" not in server_log, server_log[-3000:]
    for case in load.finished:
        assert (case["status"], case["outcome"]) == ("completed", "办结"), case["id"]

    statuses = assert_consistent(app)
    assert "active" in statuses.values(), "the clients were stopped mid-case: some cases must be left"

    for case_id, status in statuses.items():
        if status == "active":
            _finish(api, case_id, steps)
    assert set(assert_consistent(app).values()) == {"completed"}

    from app.extensions import db
    from app.models import Case, HumanTask

    with app.app_context():
        done: dict[int, list[str]] = {}
        for case_id, bpmn_id in db.session.execute(
                select(HumanTask.case_id, HumanTask.bpmn_id).where(HumanTask.state == "completed")):
            done.setdefault(case_id, []).append(bpmn_id)
        cases = db.session.scalars(select(Case)).all()
        for case in cases:
            assert (case.status, case.outcome) == ("completed", "办结"), case.id
            # Each step of the happy path once, and every branch's decision is in the case data.
            assert len(done[case.id]) == len(set(done[case.id])) == NEWBORN_STEPS, (case.id, done[case.id])
            for bpmn_id in done[case.id]:
                for key, value in steps[bpmn_id].items():
                    assert case.data.get(key) == value, (case.id, bpmn_id, key)
        db.session.remove()
    assert_rollups_exact(app)


# -- 2. kill -9 of the timer worker during its pass ----------------------------------------------------
def _timer_cases(api, clock, count: int) -> list[int]:
    """``count`` timer_escalation cases whose 1-second review timer is due now."""
    assert api.deploy(TIMER).status_code == 201
    clock.shift(timedelta(seconds=-30))
    ids = []
    for _ in range(count):
        r = api.start("timer_escalation")
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    clock.reset()
    return ids


def _worker_once(database_url: str) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "worker", "--once"], cwd=ROOT, env=_env(database_url),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def assert_fired_once(app, case_ids: list[int]) -> None:
    """Each case's timer fired exactly once: review cancelled, 督办 open, nothing due any more."""
    from app.extensions import db
    from app.models import AuditEvent, Case, HumanTask

    with app.app_context():
        fired = Counter(db.session.scalars(select(AuditEvent.case_id).where(AuditEvent.event_type == "timer_fired")))
        assert {case_id: fired[case_id] for case_id in case_ids} == dict.fromkeys(case_ids, 1)
        assert sum(fired.values()) == len(case_ids)
        states: dict[int, dict] = {}
        for row in db.session.scalars(select(HumanTask).where(HumanTask.case_id.in_(case_ids))):
            states.setdefault(row.case_id, {})[row.bpmn_id] = row.state
        assert all(states[case_id] == {"review": "cancelled", "urge": "open"} for case_id in case_ids), states
        for case in db.session.scalars(select(Case).where(Case.id.in_(case_ids))):
            assert (case.status, case.next_timer_at) == ("active", None), case.id
        db.session.remove()


def test_killing_the_timer_worker_mid_pass_fires_every_timer_once(api, app, clock, database_url, tmp_path):
    cases = 60
    case_ids = _timer_cases(api, clock, cases)
    fired = 0
    # Three looping workers in turn, each killed mid-pass once it fired a few timers, a little
    # later each time (so the kills meet different moments of a firing: between transactions,
    # inside one).
    for delay in (0.0, 0.008, 0.025):
        with open(tmp_path / "worker.out", "a+") as out:
            proc = subprocess.Popen([sys.executable, "-m", "flask", "worker", "--interval", "60"], cwd=ROOT,
                                    env=_env(database_url), stdout=out, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 60
                with app.app_context():
                    while _count_events("timer_fired") < fired + 2:
                        assert proc.poll() is None, "the worker ended on its own"
                        assert time.monotonic() < deadline, "the worker fired nothing"
                        time.sleep(0.002)
                    time.sleep(delay)
                    proc.send_signal(signal.SIGKILL)
                    assert proc.wait(timeout=30) == -signal.SIGKILL
                    fired = _count_events("timer_fired")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    print(f"killed three times, after {fired} of {cases} timers")
    assert 0 < fired < cases  # the pass was cut short

    statuses = assert_consistent(app)  # what the killed worker left is whole
    assert set(statuses.values()) == {"active"}
    out = _worker_once(database_url)
    assert f"fired {cases - fired} timer(s)" in out, out
    assert_fired_once(app, case_ids)
    assert_consistent(app)
    assert "fired" not in _worker_once(database_url)  # nothing left to fire


# -- 3. the timer worker dies between firing and COMMIT -------------------------------------------------
# `flask worker --once` exactly as the CLI runs it (FLASK_APP=wsgi builds the app from the
# environment), with one session hook: the first time a transaction holding a timer_fired event
# is about to COMMIT, after everything was flushed, the process dies (os._exit, no cleanup).
CRASH_BEFORE_COMMIT = """
import os, sys
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from app.models import AuditEvent

@event.listens_for(Session, "after_flush")
def note_timer_fired(session, flush_context):
    for obj in session.new:
        if isinstance(obj, AuditEvent) and obj.event_type == "timer_fired":
            session.info["timer_fired_case"] = obj.case_id

@event.listens_for(Session, "after_rollback")
def forget(session):
    session.info.pop("timer_fired_case", None)

@event.listens_for(Session, "before_commit")
def die_before_commit(session):
    session.flush()
    case_id = session.info.get("timer_fired_case")
    if case_id is not None:
        written = session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.event_type == "timer_fired"))
        print(f"dying before COMMIT: case {case_id}, {written} timer_fired row(s) written", flush=True)
        os._exit(9)

from flask.cli import main
sys.argv = ["flask", "worker", "--once"]
main()
"""


def test_a_timer_worker_dying_before_commit_stores_nothing_and_the_timer_fires_once_later(
        api, app, clock, database_url):
    from app.extensions import db
    from app.models import AuditEvent, Case, HumanTask

    case_ids = _timer_cases(api, clock, 3)

    def stored():
        with app.app_context():
            cases = db.session.scalars(select(Case).options(undefer(Case.workflow_state))
                                       .where(Case.id.in_(case_ids)).order_by(Case.id)).all()
            result = {
                "cases": [(c.id, c.status, c.lock_version, c.next_timer_at, c.workflow_state, c.data) for c in cases],
                "tasks": sorted(db.session.execute(select(HumanTask.case_id, HumanTask.bpmn_id, HumanTask.state))),
                "events": sorted(db.session.execute(select(AuditEvent.case_id, AuditEvent.event_type))),
            }
            db.session.remove()
            return result

    before = stored()
    assert all(next_timer <= datetime.now(UTC) for *_, next_timer, _state, _data in before["cases"])
    done = subprocess.run([sys.executable, "-c", CRASH_BEFORE_COMMIT], cwd=ROOT, env=_env(database_url),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 9, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert "dying before COMMIT: case" in done.stdout and "1 timer_fired row(s) written" in done.stdout, done.stdout

    # Nothing of that firing is stored: same workflow, same tasks, no event, the timer still due.
    assert stored() == before
    with app.app_context():
        assert _count_events("timer_fired") == 0
    assert set(assert_consistent(app).values()) == {"active"}

    out = _worker_once(database_url)
    assert "fired 3 timer(s)" in out, out
    assert_fired_once(app, case_ids)
    assert_consistent(app)
    # The cases move on: the window's 督办 ends them.
    for case_id in case_ids:
        assert api.do("window1", "urge", {}, case_id)["status"] == "completed"
