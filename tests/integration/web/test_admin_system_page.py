"""The administrators' system page (系统状态): timer workers and the latest security events."""

from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from app.models import WorkerHeartbeat
from app.models.types import utcnow
from support import PASSWORD


def test_only_admins_see_the_system_page_and_its_link(login):
    assert 'href="/admin/system"' in login("admin").html("/")
    for user in ("supervisor", "window1", "designer"):
        browser = login(user)
        assert browser.get("/admin/system").status_code == 403, user
        assert 'href="/admin/system"' not in browser.html("/"), user


def test_the_page_says_when_no_timer_worker_has_run(login):
    html = login("admin").html("/admin/system")
    assert 'id="no-workers"' in html and "No timer worker has run yet" in html


def test_workers_show_as_running_not_responding_or_stopped(app, login, clock):
    assert app.test_cli_runner().invoke(args=["worker", "--once"]).exit_code == 0
    now = utcnow()
    with app.app_context():
        db.session.add_all([
            WorkerHeartbeat(name="host-b:42", started_at=now - timedelta(hours=2), beat_at=now - timedelta(minutes=10),
                            passes=700, timers_fired=3, last_error="database not available (OperationalError)"),
            WorkerHeartbeat(name="host-c:7", started_at=now - timedelta(hours=1), beat_at=now - timedelta(minutes=30),
                            stopped_at=now - timedelta(minutes=30)),
        ])
        db.session.commit()
    html = login("admin").html("/admin/system")
    assert html.count('data-state="alive"') == 1
    assert 'data-state="silent"' in html and "Not responding" in html and "host-b:42" in html
    assert "database not available (OperationalError)" in html
    assert 'data-state="stopped"' in html and "Stopped at" in html
    assert "无响应" in login("admin", english=False).html("/admin/system")


def test_the_security_log_lists_the_latest_events_with_their_reasons(app, client, login):
    client.post("/api/v1/auth/token", json={"username": "window1", "password": "Xyzzy-1"})
    client.post("/api/v1/auth/token", json={"username": "nobody-here", "password": "Xyzzy-1"})
    client.post("/api/v1/auth/token", json={"username": "window2", "password": PASSWORD})
    admin = login("admin")
    html = admin.html("/admin/system")
    assert html.count('data-event="login_failed"') == 2 and 'data-event="token_issued"' in html
    assert "Login failed · wrong password" in html and "unknown user name" in html
    assert html.index("window2") < html.index("window1")  # newest first
    only = admin.html("/admin/system?type=login_failed")
    assert only.count("<tr data-event=") == 2 and 'data-event="token_issued"' not in only
    assert admin.html("/admin/system?type=forged").count('data-event="login_failed"') == 2  # no filter
    zh = login("admin", english=False).html("/admin/system")
    assert "登录失败 · 密码错误" in zh and "不存在的用户名" in zh
