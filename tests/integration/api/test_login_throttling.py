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


def _answers(client, username, attempts=6):
    """Status, error code and message field names of ``attempts`` wrong passwords in a row."""
    out = []
    for _ in range(attempts):
        r = token(client, "wrong", username)
        body = r.get_json()
        out.append((r.status_code, body["error"], sorted(body.get("errors") or {})))
    return out


def test_unknown_and_disabled_names_answer_like_real_ones(client, app, clock, make_user):
    """The lock-out does not tell which names exist: a name without an account, and a disabled
    account, are locked after the same number of failures, with the same answers, for as long."""
    from app.extensions import db
    from app.models import LoginThrottle, User

    make_user("gone1", roles=["clerk"])
    with app.app_context():
        db.session.query(User).filter_by(username="gone1").update({"active": False})
        db.session.commit()
    real = _answers(client, "window1")
    assert [a[0] for a in real] == [401] * 5 + [429]
    assert _answers(client, "nobody-here") == real
    assert _answers(client, "gone1") == real
    # the stored rows keep no name, only its digest
    with app.app_context():
        hashes = db.session.scalars(db.select(LoginThrottle.name_hash)).all()
    assert len(hashes) == 2 and all(len(h) == 64 and "nobody" not in h for h in hashes)
    clock.shift(timedelta(minutes=15, seconds=1))
    assert token(client, "wrong", "nobody-here").status_code == 401


def test_rows_of_made_up_names_are_deleted_once_they_lock_nothing(client, app, clock):
    """A spray of made-up names leaves rows behind only for LOGIN_THROTTLE_RETENTION_HOURS."""
    from app.extensions import db
    from app.models import LoginThrottle

    for i in range(3):
        assert token(client, "wrong", f"sprayed{i}").status_code == 401
    for _ in range(5):
        token(client, "wrong", "locked-name")
    clock.shift(timedelta(hours=app.config["LOGIN_THROTTLE_RETENTION_HOURS"], minutes=1))
    app.config["LOGIN_LOCK_MINUTES"] = 60 * 48  # a lock that outlives the retention
    try:
        for _ in range(5):
            token(client, "wrong", "long-locked")
        assert token(client, "wrong", "fresh").status_code == 401
    finally:
        app.config["LOGIN_LOCK_MINUTES"] = 15
    with app.app_context():
        left = db.session.scalar(db.select(db.func.count()).select_from(LoginThrottle))
    assert left == 2  # long-locked and fresh; the three sprayed names and the expired lock are gone


def test_a_name_without_an_account_costs_a_password_check_too(client, monkeypatch):
    """Otherwise an unknown name would answer faster than a real one (no hash to check)."""
    from app.services import org

    checked = []
    real = org.check_password_hash
    monkeypatch.setattr(org, "check_password_hash", lambda h, p: checked.append(p) or real(h, p))
    assert token(client, "guess", "nobody-here").status_code == 401
    assert checked == ["guess"]
