"""Shared fixtures: one database per test run (SQLite file or TEST_DATABASE_URL), migrated
with Alembic, emptied and re-seeded before each test that asks for it."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest

import httpjson as http
from support import DATA, PASSWORD, ROOT, Api, truncate  # noqa: F401 - DATA/PASSWORD re-exported


@pytest.fixture(scope="module", autouse=True)
def _collect_garbage_per_module():
    """Collect garbage after each module, after its own fixtures are gone: a resource it left
    open (a database connection, a file) then fails that module's last test, not whichever
    later test the collector happens to run in."""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """TEST_DATABASE_URL (PostgreSQL in CI) or a fresh SQLite file shared with server processes."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(database_url):
    """The app, on a database whose schema comes from the Alembic migrations."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db
    from config import TestConfig

    class Settings(TestConfig):
        # Must be set before create_app: Flask-SQLAlchemy builds the engine in init_app.
        SQLALCHEMY_DATABASE_URI = database_url

    application = create_app(Settings)
    with application.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
    yield application
    with application.app_context():  # close the pooled connections, not leave them to the collector
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def db_clean(app):
    """An empty database with the demo organisation.

    No app context stays pushed: a pushed context would make every test-client request
    share one ``g`` (and flask-login's cached user). Use ``app_ctx`` for service tests.
    """
    from app.extensions import db
    from app.services import demo, runtime

    with app.app_context():
        truncate(db)
        demo.seed()
        db.session.commit()
        runtime.spec_cache().clear()
    return db


@pytest.fixture()
def app_ctx(app, db_clean):
    """An app context for calling services directly."""
    with app.app_context():
        yield db_clean
        db_clean.session.rollback()


@pytest.fixture()
def client(app, db_clean):
    """A Flask test client on a clean, seeded database."""
    return app.test_client()


@pytest.fixture()
def api(client) -> Api:
    """The JSON API as the demo users see it."""
    return Api(client)


@pytest.fixture()
def clock():
    """The application clock (app/clock.py), set back to the system clock after the test."""
    from app import clock as app_clock

    app_clock.reset()
    yield app_clock
    app_clock.reset()


@pytest.fixture()
def make_user(app, db_clean):
    """Create a user with roles and groups: make_user('x', ['reviewer'], ['health']) -> id."""
    from sqlalchemy import select

    from app.models import Group, User

    def _make(username: str, roles=("reviewer",), groups=()) -> int:
        with app.app_context():
            user = User(username=username, display_name=username, roles=list(roles), active=True)
            user.set_password(PASSWORD)
            user.groups = list(db_clean.session.scalars(select(Group).where(Group.code.in_(list(groups)))))
            db_clean.session.add(user)
            db_clean.session.commit()
            return user.id

    return _make


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(app, database_url, tmp_path_factory):
    """A real gunicorn (4 sync workers) serving the app on the test database."""
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="test-secret", PORT=str(port),
               WEB_CONCURRENCY="4", GUNICORN_ACCESS_LOG="/dev/null",
               ATTACHMENT_DIR=str(tmp_path_factory.mktemp("attachments")),
               PASSWORD_HASH_METHOD="pbkdf2:sha256:1000")
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server; never a pipe that could fill
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
                             "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if http.get(base + "/healthz").status == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        proc.wait()
        log.seek(0)
        raise RuntimeError("gunicorn did not start: " + log.read().decode(errors="replace")[-2000:])
    yield base
    proc.terminate()
    proc.wait(timeout=15)
    log.close()
