"""New passwords meet the policy (issue 9); setting one lifts a lock-out."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("password", "reason"), [
    ("Short1!", "at least 10 characters"),
    ("alllowercaseletters", "three of"),
    ("Window1-secure-9", "not the user name"),
])
def test_weak_passwords_are_refused_with_the_reason(app, api, password, reason):
    out = app.test_cli_runner().invoke(args=["users", "set-password", "window1", "--password", password])
    assert out.exit_code != 0 and reason in out.output


def test_a_good_password_works_and_unlocks(app, api, client):
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"username": "window1", "password": "wrong"})
    out = app.test_cli_runner().invoke(args=["users", "set-password", "window1", "--password", "Tai-Hang.2026"])
    assert out.exit_code == 0, out.output
    r = client.post("/api/v1/auth/token", json={"username": "window1", "password": "Tai-Hang.2026"})
    assert r.status_code == 200


def test_a_new_password_ends_the_tokens_and_sessions_made_with_the_old_one(app, api, client):
    from support import PASSWORD

    token = api.token("window1")
    other = api.token("window2")
    r = client.post("/api/v1/auth/session", json={"username": "window1", "password": PASSWORD})
    assert r.status_code == 200 and client.get("/api/v1/auth/me").status_code == 200
    assert client.get("/").status_code == 200
    out = app.test_cli_runner().invoke(args=["users", "set-password", "window1", "--password", "Tai-Hang.2026"])
    assert out.exit_code == 0, out.output
    assert client.get("/api/v1/auth/me").status_code == 401  # the session signed in with the old one
    assert client.get("/").status_code == 302  # the pages send it to the login
    mine = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 401
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    r = client.post("/api/v1/auth/session", json={"username": "window1", "password": "Tai-Hang.2026"})
    assert r.status_code == 200 and client.get("/api/v1/auth/me").status_code == 200
