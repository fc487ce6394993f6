"""Helpers for the benchmarks: form data, databases, a gunicorn runner and a small HTTP client.

Nothing here needs pytest; everything runs with the project's own dependencies.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
FORMS = ROOT / "forms"
BPMN = ROOT / "bpmn"
PASSWORD = "changzhi2025"  # the demo seed's password (app.services.demo.DEMO_PASSWORD)
APPLICANT = {"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}

# Who works on a task of each candidate group (demo seed users).
GROUP_USERS = {
    "window": "window1",
    "health": "health1",
    "public_security": "police1",
    "medical_insurance": "medins1",
    "hr_social_security": "hrss1",
}

# Sample values for the string patterns the forms use.
_PATTERN_SAMPLES = {
    "^[0-9]{17}[0-9Xx]$": "140402199001011234",
}


# -- form data -------------------------------------------------------------------------
def load_form(name: str) -> dict:
    """Read one JSON Schema form from forms/."""
    return json.loads((FORMS / name).read_text(encoding="utf-8"))


def sample_value(name: str, prop: dict):
    """A valid value for one form property; choices take their first option (the happy path)."""
    if "const" in prop:
        return prop["const"]
    if "oneOf" in prop:
        return sample_value(name, prop["oneOf"][0])
    if "anyOf" in prop:
        return sample_value(name, prop["anyOf"][0])
    if "enum" in prop:
        return prop["enum"][0]
    kind = prop.get("type", "string")
    if kind == "boolean":
        return True
    if kind == "integer":
        return int(prop.get("minimum", 0)) + 1
    if kind == "number":
        return float(prop.get("minimum", 0)) + 1280.5
    if kind == "array":
        item = sample_value(name, {"title": prop.get("title"), **prop.get("items", {"type": "string"})})
        return [item] * max(1, int(prop.get("minItems", 1)))
    if kind == "object":
        return form_data(prop)
    if kind != "string":
        raise ValueError(f"no sample for field {name!r} of type {kind!r}")
    if prop.get("format") == "date":
        return date.today().isoformat()
    if "pattern" in prop:
        try:
            return _PATTERN_SAMPLES[prop["pattern"]]
        except KeyError:
            raise ValueError(f"no sample for field {name!r} with pattern {prop['pattern']!r}") from None
    text = "示例" + (prop.get("title") or name)
    text = text[: prop.get("maxLength", len(text))]
    return text.ljust(prop.get("minLength", 0), "一")


def form_data(schema: dict) -> dict:
    """Fill every field of a form (required and optional) with a valid value; checked against the form.
    Read-only fields show case data and are never submitted."""
    data = {name: sample_value(name, prop) for name, prop in (schema.get("properties") or {}).items()
            if prop.get("readOnly") is not True}
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(data)]
    if errors:
        raise ValueError(f"generated data does not satisfy form {schema.get('title')!r}: {errors}")
    return data


class NewbornPlan:
    """The newborn bundle's files and the data each of its steps is completed with."""

    key = "newborn"
    outcome = "办结"

    def __init__(self) -> None:
        from app.engine import compile_process

        self.bpmn = BPMN / "newborn.bpmn"
        source = self.bpmn.read_bytes()
        self.process = compile_process({self.bpmn.name: source})
        self.start_data = form_data(load_form(self.process.start_form))
        self.task_data = {t.bpmn_id: form_data(load_form(t.form)) if t.form else {} for t in self.process.user_tasks}
        assert self.start_data["apply_maternity_allowance"] is True  # the path with maternity allowance
        self.uploads = [(self.bpmn.name, source)] + [
            (name, (FORMS / name).read_bytes()) for name in sorted(self.process.forms())
        ]


# -- databases ----------------------------------------------------------------------------
def make_app(url: str):
    """An app on ``url`` (no instance/secret_key file is written)."""
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret", "TESTING": False})


def prepare_database(app, plan: NewbornPlan) -> None:
    """Empty the database, migrate it, seed the demo organisation and deploy the bundle."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import transaction
    from app.extensions import db
    from app.services import demo, processes

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
        with contextlib.redirect_stderr(io.StringIO()):
            upgrade(directory=str(ROOT / "migrations"))
        transaction.run(demo.seed)
        transaction.run(processes.deploy, demo.system_user(), plan.uploads)
        db.session.remove()
        db.engine.dispose()


def sqlite_url(directory: str | Path, name: str = "bench.db") -> str:
    return f"sqlite:///{Path(directory) / name}"


def _can_connect(url: str) -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def ensure_pg_database(url: str, name: str) -> str:
    """Create database ``name`` next to ``url``'s (if missing); return its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres(database: str = "approval_bench"):
    """Yield a PostgreSQL URL for the benchmark, or None (with a reason printed) when there is none.

    BENCH_DATABASE_URL is used as it is. Otherwise the throwaway cluster of scripts/pg.sh is used;
    it is stopped afterwards only if this benchmark started it.
    """
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        yield url
        return
    port = os.environ.get("PGPORT", "55432")
    probe = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    already_running = _can_connect(probe)
    try:
        out = subprocess.run(
            [str(ROOT / "scripts" / "pg.sh"), "start"], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"PostgreSQL skipped: scripts/pg.sh start failed: {exc}", file=sys.stderr)
        yield None
        return
    if out.returncode != 0 or not out.stdout.strip():
        print(f"PostgreSQL skipped: {out.stderr.strip() or 'scripts/pg.sh start failed'}", file=sys.stderr)
        yield None
        return
    try:
        yield ensure_pg_database(out.stdout.strip().splitlines()[-1], database)
    finally:
        if not already_running:
            subprocess.run([str(ROOT / "scripts" / "pg.sh"), "stop"], cwd=ROOT, capture_output=True)


# -- gunicorn -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(database_url: str, workers: int = 2, info: dict | None = None):
    """Run ``gunicorn --config gunicorn.conf.py wsgi:app`` on ``database_url``; yield its base URL.

    ``info``, when given, receives the master's ``pid``."""
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        GUNICORN_ACCESS_LOG="/dev/null",
        SECRET_KEY="bench-secret",
    )
    env.pop("GUNICORN_CMD_ARGS", None)
    # A file, not a pipe: a full pipe would block the server's error log.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        if info is not None:
            info["pid"] = proc.pid
        try:
            _wait_until_up(proc, base, log)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.seek(0)
            errors = [
                line
                for line in log.read().decode(errors="replace").splitlines()
                if "Traceback" in line or "ERROR" in line
            ]
            if errors:
                print(f"gunicorn logged {len(errors)} error line(s), e.g.: {errors[0]}", file=sys.stderr)


def _wait_until_up(proc: subprocess.Popen, base: str, log, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    client = HttpClient(base)
    try:
        while True:
            try:
                if client.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError("gunicorn did not start: " + log.read().decode(errors="replace")[-2000:])
            time.sleep(0.2)
    finally:
        client.close()


class HttpClient:
    """One persistent http.client connection (re-opened whenever the server closes it)."""

    def __init__(self, base: str, timeout: float = 60):
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)

    def request(self, method: str, path: str, body=None, token: str | None = None):
        """Send one request; return (status, parsed JSON body or None, seconds)."""
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
        except Exception:
            self.conn.close()
            raise
        elapsed = time.perf_counter() - started
        if resp.will_close:
            self.conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = {"raw": raw[:500].decode(errors="replace")}
        return resp.status, parsed, elapsed

    def close(self) -> None:
        self.conn.close()


# -- statistics --------------------------------------------------------------------------------
def percentile(values, pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
