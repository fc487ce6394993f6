"""Request ids (app/request_ids.py): every answer names its request in ``X-Request-ID`` (nginx's id
when it sent a usable one, else a fresh one), the app's log records carry the same id, and a 5xx
names it in its JSON body or on its page, so a user's report leads to the log line."""

from __future__ import annotations

import logging
import re
import runpy

import pytest
from sqlalchemy.exc import OperationalError

from support import ROOT

NEW_ID = re.compile(r"[0-9a-f]{32}")  # uuid4().hex
FOUR_KEYS = {"code", "error", "message", "errors"}


@pytest.fixture(scope="module")
def crash_app(app, database_url):
    """An app of its own with test-only routes that fail: the suite's app has served requests
    already, and Flask takes no new routes after that."""
    from app import create_app
    from app.api import public
    from app.extensions import db
    from config import TestConfig

    class Settings(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    application = create_app(Settings)

    @application.get("/api/v1/test-only/crash")
    @public
    def api_crash():
        raise RuntimeError("a bug")

    @application.get("/api/v1/test-only/database-down")
    @public
    def api_database_down():
        raise OperationalError("SELECT 1", None, ConnectionRefusedError("connection refused"))

    @application.get("/test-only/crash")
    def page_crash():
        raise RuntimeError("a bug")

    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def crash_client(crash_app):
    return crash_app.test_client()


def test_a_request_without_an_id_gets_a_new_one(client):
    assert NEW_ID.fullmatch(client.get("/healthz").headers["X-Request-ID"])


@pytest.mark.parametrize("incoming", ["4f1c2b9e0d8a4c6b9f3e2a1d0c9b8a7f", "lb-01:2026.11.27_x-1", "a" * 128])
def test_a_valid_incoming_id_is_kept(client, incoming):
    assert client.get("/healthz", headers={"X-Request-ID": incoming}).headers["X-Request-ID"] == incoming


@pytest.mark.parametrize("incoming", ["", "a" * 129, "two words", "<b>x</b>", "id;rm", "a/b", "é"])
def test_an_invalid_incoming_id_is_replaced(client, incoming):
    assert NEW_ID.fullmatch(client.get("/healthz", headers={"X-Request-ID": incoming}).headers["X-Request-ID"])


def test_each_request_gets_its_own_id(client):
    assert client.get("/healthz").headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]


def test_4xx_answers_and_static_files_carry_the_id_in_the_header_only(client):
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404 and NEW_ID.fullmatch(r.headers["X-Request-ID"])
    assert set(r.get_json()) == FOUR_KEYS  # 4xx bodies keep their four keys
    r = client.get("/api/v1/tasks")
    assert r.status_code == 401 and NEW_ID.fullmatch(r.headers["X-Request-ID"])
    r = client.get("/no-such-page")
    assert r.status_code == 404 and r.headers["X-Request-ID"] not in r.get_data(as_text=True)
    r = client.get("/static/css/app.css")
    r.close()
    assert r.status_code == 200 and NEW_ID.fullmatch(r.headers["X-Request-ID"])


def test_a_500_names_the_id_in_its_body_and_its_log_record(crash_client, caplog, capsys):
    caplog.set_level(logging.ERROR, logger="app.errors")
    r = crash_client.get("/api/v1/test-only/crash", headers={"X-Request-ID": "nginx-7f3a"})
    assert r.status_code == 500
    body = r.get_json()
    assert body["error"] == "internal_error" and set(body) == FOUR_KEYS | {"request_id"}
    assert body["request_id"] == r.headers["X-Request-ID"] == "nginx-7f3a"
    [record] = [rec for rec in caplog.records if rec.name == "app.errors" and rec.message == "unhandled error"]
    assert record.request_id == "nginx-7f3a" and record.exc_info[0] is RuntimeError
    assert "[ERROR] [req nginx-7f3a] app.errors: unhandled error" in capsys.readouterr().err  # the log line


def test_a_fresh_id_on_a_500_is_the_logged_one(crash_client, caplog):
    r = crash_client.get("/api/v1/test-only/crash")
    assert NEW_ID.fullmatch(r.get_json()["request_id"])
    logged = [rec.request_id for rec in caplog.records if rec.name == "app.errors"]
    assert logged == [r.headers["X-Request-ID"]]


def test_a_503_names_the_id_in_its_body(crash_client):
    r = crash_client.get("/api/v1/test-only/database-down")
    assert r.status_code == 503
    body = r.get_json()
    assert body["error"] == "unavailable" and body["request_id"] == r.headers["X-Request-ID"]


def test_the_500_page_shows_the_reference(crash_client):
    crash_client.get("/lang/en")
    r = crash_client.get("/test-only/crash")
    assert r.status_code == 500 and r.mimetype == "text/html"
    assert f"Reference: {r.headers['X-Request-ID']}" in r.get_data(as_text=True)


def test_records_outside_a_request_have_no_id(app, caplog):
    logging.getLogger("app.errors").warning("outside")
    assert [rec.request_id for rec in caplog.records] == ["-"]


def test_the_openapi_error_schema_has_the_id(client):
    error = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Error"]
    assert error["properties"]["request_id"]["type"] == "string" and "request_id" not in error["required"]


def test_gunicorn_logs_the_id_with_each_request():
    from gunicorn.config import AccessLogFormat

    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["access_log_format"] == AccessLogFormat.default + " %({x-request-id}o)s"
