"""Users change their own password (修改密码): on the account page and over the API, proving the
current one. A password an administrator set (a first or a reset password) and one older than
PASSWORD_MAX_AGE_DAYS must be replaced before anything else (等保 2.0: 定期更换). A change ends the
user's other sessions and revokes their tokens; the session it came by goes on."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import SecurityEvent, User
from support import PASSWORD

NEW = "Tai-Hang.2026"


def _form(current=PASSWORD, new=NEW, again=None):
    return {"current_password": current, "new_password": new, "confirm_password": new if again is None else again}


def _events(app, kind):
    with app.app_context():
        rows = [(e.user.username, e.channel, e.data)
                for e in db.session.scalars(select(SecurityEvent).where(SecurityEvent.event_type == kind))]
        db.session.remove()
        return rows


def _log_in_with(app, login, username, password):
    """Log in through the form with ``password``; the Browser of the ``login`` fixture's kind."""
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    client.get("/lang/en")
    page = client.get("/account/password").get_data(as_text=True)  # open to a user who must change
    return _Browser(client, re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1))


class _Browser:
    """A logged-in test client that adds its CSRF token to form posts."""

    def __init__(self, client, token):
        self.client, self.token = client, token

    def get(self, path):
        return self.client.get(path)

    def html(self, path):
        r = self.client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        return r.get_data(as_text=True)

    def post(self, path, data):
        return self.client.post(path, data={**data, "csrf_token": self.token})


def _user(app, username):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge(user)
        db.session.remove()
        return user


def test_a_user_changes_their_password_and_stays_logged_in(app, login, client):
    browser = login("window1")
    elsewhere = login("window1")
    token = client.post("/api/v1/auth/token", json={"username": "window1", "password": PASSWORD}).get_json()["token"]
    assert 'id="change-password"' in browser.html("/")  # linked from every page
    r = browser.post("/account/password", _form())
    assert r.status_code == 302
    assert "Your password has been changed." in browser.client.get(r.headers["Location"]).get_data(as_text=True)
    assert browser.get("/").status_code == 200  # this session goes on
    assert elsewhere.get("/").status_code == 302  # another one, made with the old password, has ended
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post("/api/v1/auth/token", json={"username": "window1", "password": NEW}).status_code == 200
    assert _events(app, "password_changed") == [("window1", "web", {"tokens_revoked": 1})]
    assert _user(app, "window1").must_change_password is False


@pytest.mark.parametrize(("form", "field", "message"), [
    (_form(current="not-it"), "current_password", "The current password is wrong."),
    (_form(new="short1A!"), "new_password", "at least 10 characters"),
    (_form(new="alllowercaseletters"), "new_password", "three of: lower case, upper case, digits, symbols"),
    (_form(new="Window1-secure-9"), "new_password", "not the user name"),
    (_form(new=PASSWORD), "new_password", "not the current password"),
    (_form(again="Tai-Hang.2027"), "confirm_password", "The two new passwords differ."),
])
def test_a_refused_change_says_why_next_to_the_field(app, login, form, field, message):
    browser = login("window1")
    r = browser.post("/account/password", form)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert f'id="{field}-error"' in html and message in html
    assert browser.get("/").status_code == 200
    assert _events(app, "password_changed") == []


def test_the_reasons_are_shown_in_chinese(app, login):
    browser = login("window1", english=False)
    html = browser.post("/account/password", _form(new="short")).get_data(as_text=True)
    assert "至少 10 个字符" in html


def test_wrong_current_passwords_count_towards_the_lock_out(app, login, client):
    browser = login("window1")
    for _ in range(4):
        assert browser.post("/account/password", _form(current="guess")).status_code == 422
    assert browser.post("/account/password", _form(current="guess")).status_code == 422  # the fifth locks
    assert browser.post("/account/password", _form()).status_code == 429  # locked: not even the right one
    assert client.post("/api/v1/auth/token", json={"username": "window1", "password": PASSWORD}).status_code == 429
    events = _events(app, "login_failed")
    assert events[0] == ("window1", "web", {"reason": "wrong_current_password"})


def test_a_password_set_by_an_administrator_must_be_replaced_first(app, login, client):
    out = app.test_cli_runner().invoke(args=["users", "set-password", "health1", "--password", "Reset-by-admin-1"])
    assert out.exit_code == 0, out.output
    browser = _log_in_with(app, login, "health1", "Reset-by-admin-1")
    r = browser.get("/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/password")
    assert browser.get("/cases").status_code == 302
    htmx = browser.client.get("/cases", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].endswith("/account/password")
    page = browser.html("/account/password")
    assert 'id="password-due"' in page and "set by an administrator" in page
    assert browser.post("/account/password", _form(current="Reset-by-admin-1")).status_code == 302
    assert browser.get("/").status_code == 200
    # Integrations use tokens: a token is not held up by a pending change.
    token = client.post("/api/v1/auth/token", json={"username": "health1", "password": NEW}).get_json()["token"]
    assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_an_old_password_must_be_replaced(app, login, clock):
    saved = app.config["PASSWORD_MAX_AGE_DAYS"]
    app.config["PASSWORD_MAX_AGE_DAYS"] = 90
    try:
        browser = login("window1")
        clock.shift(timedelta(days=89))
        assert browser.get("/").status_code == 200
        clock.shift(timedelta(days=1))
        assert browser.get("/").status_code == 302
        assert "older than 90 days" in browser.html("/account/password")
        assert browser.post("/account/password", _form()).status_code == 302
        r = browser.get("/")
        assert r.status_code == 200, r.headers.get("Location")
    finally:
        app.config["PASSWORD_MAX_AGE_DAYS"] = saved


def test_the_api_changes_a_password_over_a_session(app, db_clean, client):
    r = client.post("/api/v1/auth/session", json={"username": "police1", "password": PASSWORD})
    csrf = r.get_json()["csrf_token"]
    assert r.get_json()["password_change"] is None
    bad = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "weak"},
                      headers={"X-CSRFToken": csrf})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"new_password"}
    ok = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW},
                     headers={"X-CSRFToken": csrf})
    assert ok.status_code == 200
    body = ok.get_json()
    assert body["user"]["username"] == "police1" and body["csrf_token"] and body["password_change"] is None
    assert client.get("/api/v1/auth/me").status_code == 200  # the session goes on
    assert _events(app, "password_changed") == [("police1", "api-session", {"tokens_revoked": 0})]


def test_an_api_session_that_must_change_gets_a_clear_403(app, db_clean, client):
    out = app.test_cli_runner().invoke(args=["users", "set-password", "police1", "--password", "Reset-by-admin-1"])
    assert out.exit_code == 0, out.output
    r = client.post("/api/v1/auth/session", json={"username": "police1", "password": "Reset-by-admin-1"})
    assert r.get_json()["password_change"] == "reset"
    refused = client.get("/api/v1/tasks")
    assert refused.status_code == 403 and refused.get_json()["error"] == "password_change_required"
    assert client.get("/api/v1/auth/me").status_code == 200
    ok = client.post("/api/v1/auth/password", json={"current_password": "Reset-by-admin-1", "new_password": NEW},
                     headers={"X-CSRFToken": r.get_json()["csrf_token"]})
    assert ok.status_code == 200
    assert client.get("/api/v1/tasks").status_code == 200


def test_a_bearer_token_changes_the_password_and_is_revoked_with_it(app, db_clean, api, client):
    token = api.token("police1")
    r = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.get_json()["csrf_token"] is None
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert _events(app, "password_changed") == [("police1", "api", {"tokens_revoked": 1})]
