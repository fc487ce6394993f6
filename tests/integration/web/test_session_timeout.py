"""Browser sessions end by themselves (登录连接超时自动退出, GB/T 22239-2019): after
SESSION_IDLE_MINUTES without a request, and SESSION_MAX_HOURS after the login however busy. The
next request asks for a new login and says why, in the user's language; the security log records
the end. API tokens are not sessions: their own expiry applies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import SecurityEvent
from support import PASSWORD

IDLE, LONGEST = 30, 12


@pytest.fixture()
def limits(app, db_clean, clock):
    """The production limits (TestConfig raises them for the time-travelling tests)."""
    saved = app.config["SESSION_IDLE_MINUTES"], app.config["SESSION_MAX_HOURS"]
    app.config.update(SESSION_IDLE_MINUTES=IDLE, SESSION_MAX_HOURS=LONGEST)
    yield clock
    app.config.update(SESSION_IDLE_MINUTES=saved[0], SESSION_MAX_HOURS=saved[1])


def _expired_events(app):
    with app.app_context():
        rows = [(e.event_type, e.user.username, e.channel, e.data)
                for e in db.session.scalars(select(SecurityEvent).where(SecurityEvent.event_type == "session_expired"))]
        db.session.remove()
        return rows


def test_a_session_unused_for_the_idle_limit_ends_and_the_login_page_says_why(app, login, limits):
    browser = login("window1")
    limits.shift(timedelta(minutes=IDLE - 1))
    assert browser.get("/").status_code == 200  # still within the limit
    limits.shift(timedelta(minutes=IDLE))  # 29 minutes after that request would still be fine; 30 is not
    r = browser.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    page = browser.client.get(r.headers["Location"]).get_data(as_text=True)
    assert f"logged out after {IDLE} minutes without activity" in page
    assert "Please log in to continue." not in page
    assert browser.get("/").status_code == 302  # the session is gone, not only this request refused
    assert _expired_events(app) == [("session_expired", "window1", "web", {"reason": "idle"})]


def test_every_request_keeps_a_session_alive(app, login, limits):
    browser = login("window1")
    for _ in range(4):  # two hours of work, a request every 25 minutes
        limits.shift(timedelta(minutes=25))
        assert browser.get("/").status_code == 200
    assert _expired_events(app) == []


def test_a_busy_session_still_ends_at_its_maximum_length(app, login, limits):
    browser = login("window1", english=False)
    for _ in range(LONGEST * 60 // 20 - 1):
        limits.shift(timedelta(minutes=20))
        assert browser.get("/").status_code == 200
    limits.shift(timedelta(minutes=20))
    r = browser.get("/")
    assert r.status_code == 302
    page = browser.client.get(r.headers["Location"]).get_data(as_text=True)
    assert f"会话已达到最长时限 {LONGEST} 小时" in page  # the Chinese UI says it in Chinese
    assert _expired_events(app) == [("session_expired", "window1", "web", {"reason": "max_age"})]


def test_a_new_login_starts_a_new_session(app, login, limits):
    browser = login("window1")
    limits.shift(timedelta(minutes=IDLE + 5))
    assert browser.get("/").status_code == 302
    again = login("window1")
    assert again.get("/").status_code == 200


def test_an_api_session_times_out_with_a_json_401(app, login, limits, client):
    r = client.post("/api/v1/auth/session", json={"username": "health1", "password": PASSWORD})
    assert r.status_code == 200, r.get_json()
    assert client.get("/api/v1/tasks?view=available").status_code == 200
    limits.shift(timedelta(minutes=IDLE))
    r = client.get("/api/v1/tasks?view=available")
    assert r.status_code == 401 and r.get_json()["error"]
    assert _expired_events(app) == [("session_expired", "health1", "api-session", {"reason": "idle"})]


def test_bearer_tokens_are_not_sessions(app, login, limits, client):
    token = client.post("/api/v1/auth/token", json={"username": "health1", "password": PASSWORD}).get_json()["token"]
    limits.shift(timedelta(hours=LONGEST + 1))
    r = client.get("/api/v1/tasks?view=available", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert _expired_events(app) == []


def test_a_session_from_before_the_limits_must_log_in_again(app, login, limits):
    browser = login("window1")
    with browser.client.session_transaction() as session:  # a cookie signed before this release
        del session["_started"], session["_seen"]
    assert browser.get("/").status_code == 302


def test_the_admins_page_names_the_end_of_a_session(app, login, limits):
    browser = login("window1")
    limits.shift(timedelta(minutes=IDLE))
    browser.get("/")
    limits.reset()
    admin = login("admin")
    html = admin.html("/admin/system")
    assert "Session timed out · no activity" in html
