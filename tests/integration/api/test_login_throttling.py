"""Login throttling (issue 9): failures are counted in the database — so every host sees them —
and lock the account for a while; a success resets the count."""

from __future__ import annotations

from datetime import timedelta

from support import PASSWORD


def token(client, password, username="window1"):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(client, app, clock):
    for _ in range(5):
        assert token(client, "wrong").status_code == 401
    locked = token(client, PASSWORD)
    assert locked.status_code == 429 and locked.get_json()["error"] == "account_locked"
    other_host = app.test_client()  # another gunicorn host reads the same counters
    assert token(other_host, PASSWORD).status_code == 429
    assert token(client, PASSWORD, "window2").status_code == 200  # only that account
    clock.shift(timedelta(minutes=15, seconds=1))
    assert token(client, PASSWORD).status_code == 200


def test_a_success_resets_the_count(client):
    for _ in range(4):
        token(client, "wrong")
    assert token(client, PASSWORD).status_code == 200
    for _ in range(4):
        token(client, "wrong")
    assert token(client, PASSWORD).status_code == 200


def test_the_browser_login_page_says_the_account_is_locked(app, client):
    import re

    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    for _ in range(5):
        r = client.post("/login", data={"username": "health1", "password": "x", "csrf_token": csrf})
        assert r.status_code == 401
    r = client.post("/login", data={"username": "health1", "password": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 429 and "locked" in r.get_data(as_text=True).lower() or "锁定" in r.get_data(as_text=True)
    assert client.post("/api/v1/auth/session", json={"username": "health1", "password": PASSWORD}).status_code == 429
