"""Database faults (issue 9) on a PostgreSQL cluster of the test's own (scripts/pg.sh on another
port), so that it can be stopped and restarted under load without touching the suite's database.

- A crash-restart of the server while requests run: every request either succeeds or answers
  503 JSON (never a 500 or a stack trace), nothing half-done is stored, and the same app object
  serves again once the server is back (no restart of the app).
- A pooled connection that rested is tested before a request gets it: one the server ended
  meanwhile is replaced unseen; one handed back moments ago is not tested (that round trip on
  every checkout is what SQLAlchemy's pool_pre_ping costs), so a request meeting such a
  connection answers 503 and the next one is served on a fresh connection.
- A web request's statement is cancelled after ``DB_STATEMENT_TIMEOUT_MS`` and answers 503; CLI
  work in the same process is not limited.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from support import PASSWORD, ROOT, Api


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A port of its own each run: a cluster another run failed to stop can never answer for this one.
PORT = int(os.environ.get("FAULT_PGPORT") or _free_port())
TAXI = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
        ROOT / "forms" / "taxi_driver_decision.json")
APPLICATION = {"driving_licence_no": "140402199001011234", "exam_certificate_no": "KS2025-0001",
               "no_bad_record_pledge": True}
APPLICANT = {"name": "王小明", "id_number": "140402199001011234", "phone": "13800000000"}


def _pg(action: str, root: Path) -> str:
    env = {**os.environ, "PGPORT": str(PORT), "PGROOT": str(root)}
    done = subprocess.run([str(ROOT / "scripts" / "pg.sh"), action], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _pg_ctl(root: Path, *args: str) -> None:
    """pg_ctl on the test's cluster, as its owner (the cluster belongs to postgres when run as root)."""
    bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in p.parent.name.split(".")
                                                                              if x.isdigit()])[-1]
    command = [str(bindir / "pg_ctl"), "-D", str(root / "data"), *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}\n{_log_tail(root)}"


def _log_tail(root: Path, lines: int = 30) -> str:
    """The end of the cluster's server log, for a failure message."""
    try:
        return "server.log:\n" + "\n".join((root / "server.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"server.log unreadable: {error}"


def _running(root: Path) -> bool:
    try:
        _pg_ctl(root, "status")
    except AssertionError:
        return False
    return True


def _start(root: Path) -> None:
    """Start the cluster with commits that survive a crash (fsync and synchronous commit on).
    A start right after a crash can meet the old server's leftovers (its lock file, backends
    still exiting), so it is tried again before the test gives up with the server's log."""
    for attempt in range(5):
        try:
            _pg_ctl(root, "-l", str(root / "server.log"), "-w", "-t", "60", "-o",
                    f"-p {PORT} -k {root} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on",
                    "start")
            return
        except AssertionError:
            if _running(root):  # pg_ctl gave up waiting, but the server came up
                return
            if attempt == 4:
                raise
            time.sleep(2.0)


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory):
    root = Path(f"/tmp/approval-pg-faults-{os.getpid()}")
    url = _pg("start", root)  # creates the cluster; then run it durable (pg.sh trades that for speed)
    _pg_ctl(root, "-m", "fast", "stop")
    _start(root)
    yield url, root
    if _running(root):
        _pg_ctl(root, "-m", "immediate", "stop")  # nothing to keep; and a fast stop could wait
    subprocess.run(["rm", "-rf", str(root)], check=False)


@pytest.fixture(autouse=True)
def _server_up(request):
    """Each test starts with the cluster running, whatever the test before it left behind, so
    that one failure is reported once and not again by every test after it."""
    if "own_postgres" in request.fixturenames:
        _url, root = request.getfixturevalue("own_postgres")
        if not _running(root):
            _start(root)
    yield


@pytest.fixture(scope="module")
def fault_app(own_postgres):
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.services import demo
    from config import TestConfig

    url, _root = own_postgres

    class Settings(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
        DB_STATEMENT_TIMEOUT_MS = 300

    application = create_app(Settings)
    with application.app_context(), contextlib.redirect_stderr(io.StringIO()):
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        demo.seed()
        db.session.commit()
    r = Api(application.test_client()).deploy(*TAXI)
    assert r.status_code == 201, r.get_json()
    yield application
    with application.app_context():
        db.session.remove()
        # Nothing may still hold a connection: one checked out now would outlive the disposed pool
        # unclosed (and fail whichever later test the garbage collector runs in).
        assert db.engine.pool.checkedout() == 0, db.engine.pool.status()
        db.engine.dispose()


def _thread_stacks() -> str:
    """Where every thread is, for the message of a test whose threads did not finish."""
    import sys
    import traceback

    return "\n".join(f"thread {ident}:\n{''.join(traceback.format_stack(frame))}"
                     for ident, frame in sys._current_frames().items())


def _token(client, user: str) -> str:
    r = client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["token"]


def test_a_server_crash_under_load_answers_503_and_the_app_recovers(fault_app, own_postgres):
    from app.extensions import db
    from app.models import Case, HumanTask

    _url, root = own_postgres
    token = _token(fault_app.test_client(), "window1")
    headers = {"Authorization": f"Bearer {token}"}
    outcomes: list[tuple[str, int, dict]] = []
    stop = threading.Event()

    def load():
        client = fault_app.test_client()
        while not stop.is_set():
            r = client.post("/api/v1/cases", json={"process_key": "taxi_driver_licence", "applicant": APPLICANT,
                                                   "data": APPLICATION}, headers=headers)
            outcomes.append(("start", r.status_code, r.get_json(silent=True) or {}))
            r = client.get("/api/v1/tasks?view=available", headers=headers)
            outcomes.append(("inbox", r.status_code, r.get_json(silent=True) or {}))

    workers = [threading.Thread(target=load, daemon=True) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1.0)
        _pg_ctl(root, "-m", "immediate", "stop")  # a crash: no checkpoint, connections cut
        time.sleep(1.5)
        _start(root)
        time.sleep(2.0)
    finally:  # never leave the load running into the tests after this one
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    assert not any(worker.is_alive() for worker in workers), _thread_stacks()

    statuses = {status for _kind, status, _body in outcomes}
    assert statuses <= {200, 201, 503}, sorted({(k, s) for k, s, _b in outcomes if s not in (200, 201, 503)})
    down = [body for _kind, status, body in outcomes if status == 503]
    assert down, "no request met the stopped server"
    assert all(body.get("error") == "unavailable" and body.get("code") == 503 for body in down), down[:3]
    # The same app object serves again, and the requests after the restart succeeded.
    assert [status for _kind, status, _body in outcomes[-4:]] and all(
        status in (200, 201) for _kind, status, _body in outcomes[-4:]), outcomes[-4:]
    client = fault_app.test_client()
    assert client.get("/api/v1/tasks?view=available", headers=headers).status_code == 200

    # Nothing half-done: every stored case has its open task, and every case the API reported
    # as started is stored.
    started = {body["id"] for kind, status, body in outcomes if kind == "start" and status == 201}
    with fault_app.app_context():
        stored = set(db.session.scalars(select(Case.id)))
        assert started <= stored
        without_task = db.session.scalar(select(func.count(Case.id)).where(
            ~select(HumanTask.id).where(HumanTask.case_id == Case.id).exists()))
        assert without_task == 0
        db.session.remove()


def test_a_slow_statement_of_a_web_request_is_cancelled_but_not_a_cli_one(fault_app):
    from sqlalchemy.exc import OperationalError

    from app.extensions import db

    with fault_app.test_request_context("/api/v1/tasks"):
        assert db.session.scalar(text("SHOW statement_timeout")) == "300ms"
        with pytest.raises(OperationalError, match="statement timeout"):
            db.session.execute(text("SELECT pg_sleep(1)"))
        db.session.rollback()
        db.session.remove()
    with fault_app.app_context():  # the worker, migrations, flask commands
        assert db.session.scalar(text("SHOW statement_timeout")) == "0"
        db.session.execute(text("SELECT pg_sleep(0.5)"))
        db.session.remove()
    # The pooled connection changes sides again; a rolled-back transaction does not undo the limit.
    for _ in range(2):
        with fault_app.test_request_context("/api/v1/tasks"):
            assert db.session.scalar(text("SHOW statement_timeout")) == "300ms"
            db.session.rollback()
            assert db.session.scalar(text("SHOW statement_timeout")) == "300ms"
            db.session.remove()
    with fault_app.app_context():
        assert db.session.scalar(text("SHOW statement_timeout")) == "0"
        db.session.remove()


def test_requests_keep_the_server_side_prepared_statements_of_their_connections(fault_app):
    """psycopg prepares a statement a connection has run 5 times, and drops them all on a
    ROLLBACK. A request whose last transaction only read ends it with COMMIT, so the pooled
    connections keep them from one request to the next (else every statement is planned anew)."""
    from sqlalchemy import event

    from app.extensions import db

    client = fault_app.test_client()
    headers = {"Authorization": f"Bearer {_token(client, 'health1')}"}
    with fault_app.app_context():
        engine = db.engine
    used = set()

    def checkout(dbapi_connection, connection_record, connection_proxy):
        used.add(dbapi_connection)

    event.listen(engine, "checkout", checkout)
    try:
        for _ in range(30):  # the pool holds 3 connections: each runs the inbox ~10 times
            r = client.get("/api/v1/tasks?view=available", headers=headers)
            assert r.status_code == 200, r.get_json()
    finally:
        event.remove(engine, "checkout", checkout)
    prepared = 0
    for connection in used:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            prepared += cursor.fetchone()[0]
        connection.commit()
    assert prepared > 0


def test_the_prepare_threshold_is_a_setting_that_can_turn_preparing_off():
    from app import _engine_options
    from config import Config

    base = {key: getattr(Config, key) for key in dir(Config) if key.isupper()}
    psycopg = {**base, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1/db"}
    assert _engine_options(psycopg)["connect_args"]["prepare_threshold"] == 5
    assert _engine_options({**psycopg, "DB_PREPARE_THRESHOLD": 0})["connect_args"]["prepare_threshold"] is None
    other_driver = {**base, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://u@127.0.0.1/db"}
    assert "prepare_threshold" not in _engine_options(other_driver)["connect_args"]


def test_the_pool_settings_apply_to_postgresql(fault_app):
    from app.extensions import db

    with fault_app.app_context():
        pool = db.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 2, 10.0)
        assert db.session.scalar(text("SHOW idle_in_transaction_session_timeout")) == "1min"
        db.session.remove()


def test_pages_answer_503_while_the_database_is_down_and_serve_again_after(fault_app, own_postgres):
    import re

    _url, root = own_postgres
    client = fault_app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"username": "window1", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    assert client.get("/").status_code == 200
    _pg_ctl(root, "-m", "immediate", "stop")
    try:
        down = client.get("/")
        assert down.status_code == 503, down.get_data(as_text=True)[:300]
        assert "Traceback" not in down.get_data(as_text=True)
        api = client.get("/api/v1/tasks?view=available")
        assert api.status_code == 503 and api.get_json()["error"] == "unavailable"
    finally:
        _start(root)
    assert client.get("/").status_code == 200  # the same session and app, a fresh connection


def test_pg_dump_backup_restores_into_a_new_database_that_continues_the_cases(fault_app, own_postgres, tmp_path):
    """``flask backup`` (pg_dump, custom format) while the app runs; ``pg_restore`` into an empty
    database; the restored database is at the head migration and its running cases continue."""
    import shutil

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from app import create_app
    from app.extensions import db
    from app.models import Case
    from config import TestConfig

    url, _root = own_postgres
    api = Api(fault_app.test_client())
    started = [api.start("taxi_driver_licence", APPLICATION).get_json()["id"] for _ in range(2)]
    dump = tmp_path / "approval.dump"
    out = fault_app.test_cli_runner().invoke(args=["backup", str(dump)])
    assert out.exit_code == 0, out.output
    later = api.start("taxi_driver_licence", APPLICATION).get_json()["id"]

    base = make_url(url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS approval_restored"))
        conn.execute(text("CREATE DATABASE approval_restored"))
    admin.dispose()
    target = base.set(database="approval_restored")
    done = subprocess.run([shutil.which("pg_restore"), "--no-owner", "--exit-on-error",
                           f"--dbname={target.set(drivername='postgresql').render_as_string(hide_password=False)}",
                           str(dump)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    class Settings(TestConfig):
        SQLALCHEMY_DATABASE_URI = target.render_as_string(hide_password=False)

    restored = create_app(Settings)
    try:
        with restored.app_context():
            from alembic.migration import MigrationContext
            from alembic.script import ScriptDirectory

            with db.engine.connect() as conn:
                assert MigrationContext.configure(conn).get_current_revision() == ScriptDirectory(
                    str(ROOT / "migrations")).get_current_head()
            ids = set(db.session.scalars(select(Case.id)))
            assert set(started) <= ids and later not in ids
            db.session.remove()
        case = Api(restored.test_client()).do("window1", "window_decision", {
            "decision": "issue", "licence_no": "CZ-TAXI-0010", "decision_opinion": "当场核发"}, started[0])
        assert case["status"] == "completed", case
        # The restored audit trail is append-only too (the trigger came with the dump).
        with restored.app_context():
            from sqlalchemy.exc import DBAPIError

            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text("DELETE FROM audit_events"))
            db.session.rollback()
            db.session.remove()
    finally:
        with restored.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_session_whose_connection_died_gives_its_connection_back(fault_app, own_postgres):
    """The server ends a request's connection while the request holds it in a transaction (a
    restart, an administrator's pg_terminate_backend). Closing the session must not raise, and
    must leave no connection checked out: one left to the garbage collector goes back to the
    pool only when collected, or, after the pool was disposed, is never closed at all."""
    from sqlalchemy import create_engine

    from app.errors import _discard_session
    from app.extensions import db

    url, _root = own_postgres
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        for commit_first in (True, False):
            with fault_app.test_request_context("/api/v1/tasks"):
                engine = db.engine
                before = engine.pool.checkedout()
                pid = db.session.scalar(text("SELECT pg_backend_pid()"))  # a read: a transaction is open
                raw = db.session.connection().connection.dbapi_connection
                with admin.connect() as conn:
                    assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                time.sleep(0.2)
                # The teardown path of a request that ended without error (it commits a read-only
                # transaction first), and the one of a failed request (rollback only).
                _discard_session(None, read_only_commit=commit_first)
                assert engine.pool.checkedout() == before
                assert raw.closed
            with fault_app.test_request_context("/api/v1/tasks"):  # the pool serves a fresh connection
                assert db.session.scalar(text("SELECT 1")) == 1
                db.session.remove()
    finally:
        admin.dispose()


_RESTING_APP = "resting-test"


@contextlib.contextmanager
def _app_resting(url: str, seconds: float):
    """An app on the fault cluster's (migrated, seeded) database whose pool tests connections
    that rested ``seconds``."""
    from app import create_app
    from app.extensions import db
    from config import TestConfig

    class Settings(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
        SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"application_name": _RESTING_APP}}
        DB_PING_AFTER_IDLE_SECONDS = seconds

    application = create_app(Settings)
    try:
        yield application
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


def _end_connections_of_resting_app(admin) -> int:
    """pg_terminate_backend for every connection of the ``_app_resting`` app (a restart, as its
    pool sees it); return how many were ended."""
    with admin.connect() as conn:
        return conn.scalar(text(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = :name"), {"name": _RESTING_APP})


def test_a_rested_connection_the_server_ended_is_replaced_before_a_request_gets_it(fault_app, own_postgres):
    from sqlalchemy import create_engine

    url, _root = own_postgres
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with _app_resting(url, 0.3) as application:
            client = application.test_client()
            headers = {"Authorization": f"Bearer {_token(client, 'health1')}"}
            assert client.get("/api/v1/tasks?view=available", headers=headers).status_code == 200
            assert _end_connections_of_resting_app(admin) >= 1
            time.sleep(0.6)  # the pooled connection rests longer than 0.3 s: tested, found dead, replaced
            r = client.get("/api/v1/tasks?view=available", headers=headers)
            assert r.status_code == 200, r.get_json()

            # Handed back moments ago: not tested. The request that meets it answers 503 JSON,
            # the pool starts afresh, and the next request is served.
            assert _end_connections_of_resting_app(admin) >= 1
            time.sleep(0.1)  # the backend is gone
            r = client.get("/api/v1/tasks?view=available", headers=headers)
            assert r.status_code == 503 and r.get_json()["error"] == "unavailable", r.get_data(as_text=True)[:300]
            r = client.get("/api/v1/tasks?view=available", headers=headers)
            assert r.status_code == 200, r.get_json()
    finally:
        admin.dispose()


def test_every_checkout_is_tested_when_the_rest_setting_is_negative(own_postgres):
    """DB_PING_AFTER_IDLE_SECONDS=-1 is SQLAlchemy's pool_pre_ping: even a connection handed back
    moments ago is tested, so no request meets a connection the server ended."""
    from sqlalchemy import create_engine

    url, _root = own_postgres
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with _app_resting(url, -1) as application:
            client = application.test_client()
            headers = {"Authorization": f"Bearer {_token(client, 'health1')}"}
            for _ in range(2):
                assert client.get("/api/v1/tasks?view=available", headers=headers).status_code == 200
                assert _end_connections_of_resting_app(admin) >= 1
                time.sleep(0.1)
            assert client.get("/api/v1/tasks?view=available", headers=headers).status_code == 200
    finally:
        admin.dispose()


def test_case_states_are_compressed_with_lz4(fault_app):
    """The migration sets lz4 on the case's state and data (PostgreSQL 14+ built with lz4, as
    Debian's server is): a case's state is rewritten at every step, and lz4 costs the server about
    a third of pglz's CPU for it."""
    from app.extensions import db

    with fault_app.app_context():
        assert db.session.scalar(text("SELECT current_setting('server_version_num')::int")) >= 140000
        methods = dict(db.session.execute(text(
            "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = 'cases'::regclass "
            "AND attname IN ('workflow_state', 'data')")).all())
        assert methods == {"workflow_state": "l", "data": "l"}
        db.session.remove()


def test_the_lazy_description_matches_psycopgs_own(fault_app, own_postgres):
    """app/pgcursor.py: the app's connections describe results lazily, with the same entries
    psycopg builds, and an entry read after the cursor ran another statement still describes the
    result it was asked for."""
    import psycopg

    from app.extensions import db
    from app.pgcursor import LazyDescription, LazyDescriptionCursor

    url, _root = own_postgres
    with fault_app.app_context():
        raw = db.engine.raw_connection()
        try:
            assert isinstance(raw.driver_connection.cursor(), LazyDescriptionCursor)
        finally:
            raw.close()

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    queries = [
        "SELECT id, username, roles, active FROM users ORDER BY id LIMIT 2",
        "SELECT 1 AS one, 'x'::varchar(12) AS v, 2.5::numeric(6,2) AS n, now() AS t, NULL AS nothing",
        "SELECT",  # rows without columns
        "UPDATE users SET active = active WHERE false",  # no rows at all
    ]
    with psycopg.connect(dsn) as plain, psycopg.connect(dsn, cursor_factory=LazyDescriptionCursor) as lazy:
        for query in queries:
            expected = plain.execute(query).description
            got = lazy.execute(query).description
            if expected is None:
                assert got is None, query
                continue
            assert isinstance(got, LazyDescription) and len(got) == len(expected), query
            assert [tuple(c) for c in got] == [tuple(c) for c in expected], query
            assert [c.name for c in got] == [c.name for c in expected]
            if expected:
                assert tuple(got[-1]) == tuple(expected[-1]) and [tuple(c) for c in got[:2]] == [
                    tuple(c) for c in expected[:2]]
            with pytest.raises(IndexError):
                got[len(expected)]
        cursor = lazy.cursor()
        first = cursor.execute(queries[1]).description
        cursor.execute(queries[0])
        assert [c.name for c in first] == ["one", "v", "n", "t", "nothing"]
        assert first[2].precision == 6 and first[2].scale == 2 and first[1].internal_size is None


def _heartbeat(application, name: str):
    """The heartbeat row of worker ``name`` (None while it has none, or the server is away)."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.extensions import db
    from app.models import WorkerHeartbeat

    with application.app_context():
        try:
            row = db.session.get(WorkerHeartbeat, name)
            if row is not None:
                db.session.expunge(row)
            return row
        except SQLAlchemyError:
            return None
        finally:
            db.session.remove()


def test_the_timer_worker_outlives_a_database_outage_and_beats_again_after(fault_app, own_postgres, tmp_path):
    """A running ``flask worker`` whose database goes away keeps running, reports the outage, and
    goes on with clean passes once the server is back (no restart of the worker)."""
    import signal
    import sys

    url, root = own_postgres
    log = tmp_path / "worker.log"
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="test-secret", FLASK_APP="wsgi")
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "worker", "--interval", "0.2"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        name = f"{os.uname().nodename}:{proc.pid}"

        def wait_for(condition, what: str):
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                row = _heartbeat(fault_app, name)
                if row is not None and condition(row):
                    return row
                assert proc.poll() is None, f"the worker died ({what}):\n{log.read_text()[-2000:]}"
                time.sleep(0.2)
            raise AssertionError(f"no heartbeat: {what}\n{log.read_text()[-2000:]}")

        before = wait_for(lambda row: row.passes >= 2, "before the outage")
        _pg_ctl(root, "-m", "immediate", "stop")
        try:
            time.sleep(2.0)  # several polls meet no server
            assert proc.poll() is None, log.read_text()[-2000:]
        finally:
            _start(root)
        after = wait_for(lambda row: row.beat_at > before.beat_at and row.passes > before.passes + 2
                         and row.last_error is None, "after the outage")
        assert after.started_at == before.started_at  # the same process, never restarted
        assert "database not available" in log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
