"""Fuzz the JSON API from its own OpenAPI document with schemathesis: no request may get a 5xx.

Not part of the normal run (``norecursedirs`` in pyproject.toml keeps pytest out of tests/fuzz);
``make fuzz`` runs it, on SQLite and then on PostgreSQL (``FUZZ_DATABASE_URL``: its schema is
dropped and rebuilt). The app runs in-process (WSGI) on a fresh database migrated with Alembic,
seeded with the demo organisation, with bpmn/ deployed, the service catalogue imported and a few
newborn cases started, so generated ids sometimes hit real rows. Every generated request is sent twice: as the admin and
as a window clerk, since most routes answer by role. FUZZ_EXAMPLES sets the examples per operation.
Runs are derandomized (the same examples each time) unless FUZZ_SEED is set: then hypothesis draws
from that seed instead, so a campaign can cover new ground run by run and still replay any of them
(``FUZZ_SEED=7 FUZZ_EXAMPLES=200 make fuzz``).

The app is built when the module is imported because schemathesis makes one test per operation
from a schema it has at collection time (its ``from_fixture`` loader does not work with pytest 9.2).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from support import ROOT, Api

USERS = ("admin", "window1")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Bounded so that `make fuzz` takes a few minutes on two cores; derandomized so runs repeat.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
# Unset: derandomized. Set: random examples from this seed (repeatable with the same seed).
SEED = os.environ.get("FUZZ_SEED")

# Made by the `tokens` fixture and removed after the run (collecting the tests creates nothing).
WORKDIR = Path(tempfile.gettempdir()) / f"changzhi-fuzz-{os.getpid()}"


def _create_app():
    from app import create_app
    from config import TestConfig

    class Settings(TestConfig):
        SQLALCHEMY_DATABASE_URI = os.environ.get("FUZZ_DATABASE_URL") or f"sqlite:///{WORKDIR / 'fuzz.db'}"
        ATTACHMENT_DIR = str(WORKDIR / "attachments")

    return create_app(Settings)


APP = _create_app()
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP)
if SEED:  # schemathesis mixes it with each operation's label, so operations draw different inputs
    schema.config.seed = int(SEED)


def _newborn_support():
    path = ROOT / "tests" / "integration" / "api" / "newborn_support.py"
    spec = importlib.util.spec_from_file_location("newborn_support", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _issue_token(username: str) -> str:
    """A bearer token issued directly: fuzzed logins may lock an account."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User
    from app.services import org

    with APP.app_context():
        raw, _ = org.issue_token(db.session.scalar(select(User).where(User.username == username)))
        db.session.commit()
    return raw


@pytest.fixture(scope="session")
def tokens() -> dict[str, str]:
    """Migrate, seed, deploy bpmn/, import the catalogue, start three newborn cases; a bearer token
    per fuzzing user."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.extensions import db
    from app.services import demo

    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir()
    with APP.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        demo.seed()
        db.session.commit()
    result = APP.test_cli_runner().invoke(args=["bpmn", "deploy", str(ROOT / "bpmn"), "--forms", str(ROOT / "forms")])
    assert result.exit_code == 0, result.output
    result = APP.test_cli_runner().invoke(args=["catalogue", "import", str(ROOT / "catalogue")])
    assert result.exit_code == 0, result.output
    api = Api(APP.test_client())
    newborn = _newborn_support()
    for _ in range(3):
        r = api.start("newborn", newborn.application())
        assert r.status_code in (200, 201), r.get_json()
    yield {username: _issue_token(username) for username in USERS}
    with APP.app_context():
        db.engine.dispose()
    shutil.rmtree(WORKDIR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, tokens):
    # DELETE /auth/token revokes the token it is sent with: give it a fresh one each time.
    revokes_token = case.method.upper() == "DELETE" and case.path.endswith("/auth/token")
    for username in USERS:
        token = _issue_token("admin") if revokes_token else tokens[username]
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
