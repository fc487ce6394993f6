"""Case and task time limits over the API and in the pages: due dates from the diagram's
promisedDays/statutoryDays properties counted with the working-day calendar, warnings on read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from newborn_support import APPLICANT, application, newborn_files

from app.extensions import db
from app.models import ProcessVersion
from app.services import calendar, deadlines, projection
from app.services import cases as cases_service
from support import DATA, PASSWORD

CST = timezone(timedelta(hours=8))
# Tue 2025-09-30 10:00 in Changzhi, before the National Day holiday (10-01..08; Sat 10-11 is worked).
STARTED = datetime(2025, 9, 30, 10, 0, tzinfo=CST).astimezone(UTC)
TASK_DUE = DATA / "deadlines" / "task_due.bpmn"


def iso(day: str) -> str:
    """The end of a China-time day as the API writes it."""
    return (datetime.fromisoformat(f"{day}T23:59:59.999999+08:00").astimezone(UTC)).isoformat()


@pytest.fixture()
def started_then(monkeypatch):
    """Cases and tasks start at STARTED."""
    monkeypatch.setattr(cases_service, "utcnow", lambda: STARTED)
    monkeypatch.setattr(projection, "utcnow", lambda: STARTED)


def now_is(monkeypatch, moment: datetime) -> None:
    monkeypatch.setattr(deadlines, "utcnow", lambda: moment)


def start_newborn(api) -> dict:
    r = api.deploy(*newborn_files())
    assert r.status_code == 201, r.get_json()
    r = api.start("newborn", application(), applicant=APPLICANT)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_newborn_declares_its_time_limits(api, app):
    """brief §2.5: 5 working days promised, 20 statutory; stored on the version at deploy."""
    start_newborn(api)
    with app.app_context():
        version = db.session.query(ProcessVersion).one()
        assert version.meta["time_limits"] == {"promised_days": 5, "statutory_days": 20, "immediate": False}
        assert all("promised_days" not in t for t in version.meta["user_tasks"].values())


def test_newborn_case_due_dates_follow_the_calendar(api, app, started_then, monkeypatch):
    now_is(monkeypatch, STARTED)
    case = start_newborn(api)
    # 5 working days after 09-30: 10-09, 10-10, 10-11 (make-up Saturday), 10-13, 10-14.
    assert case["due_at"] == iso("2025-10-14")
    assert case["statutory_due_at"] == iso("2025-11-04")  # brief §6.4
    with app.app_context():
        assert case["due_at"] == calendar.add_working_days(STARTED, 5)[0].isoformat()
    assert case["warning"] == "none"
    assert case["paused"] is False
    # Tasks of newborn declare no limit of their own.
    assert [(t["due_at"], t["warning"]) for t in case["tasks"]] == [(None, "none")]

    fetched = api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()
    assert (fetched["due_at"], fetched["statutory_due_at"]) == (case["due_at"], case["statutory_due_at"])


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2025, 10, 10, 9, tzinfo=CST), "none"),
    (datetime(2025, 10, 13, 9, tzinfo=CST), "yellow"),
    (datetime(2025, 10, 14, 23, tzinfo=CST), "yellow"),
    (datetime(2025, 10, 15, 0, 0, 1, tzinfo=CST), "red"),
])
def test_case_warning_is_computed_on_read(api, started_then, monkeypatch, now, expected):
    case = start_newborn(api)
    now_is(monkeypatch, now)
    fetched = api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()
    assert fetched["warning"] == expected
    assert fetched["paused"] is False


def test_warning_threshold_is_configurable(api, app, started_then, monkeypatch):
    case = start_newborn(api)
    now_is(monkeypatch, datetime(2025, 10, 11, 9, tzinfo=CST))  # make-up Saturday: 10-13 and 10-14 left
    assert api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()["warning"] == "none"
    monkeypatch.setitem(app.config, "WARNING_WORKING_DAYS", 2)
    assert api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()["warning"] == "yellow"


def test_task_level_due_date(api, started_then, monkeypatch):
    """check (promisedDays=1) is due at the end of 10-09; decide has no limit of its own."""
    assert api.deploy(TASK_DUE).status_code == 201
    r = api.start("task_due")
    assert r.status_code == 201, r.get_json()
    case = r.get_json()
    assert case["due_at"] == iso("2025-10-11")  # 3 working days: 10-09, 10-10, 10-11 (make-up Saturday)
    assert case["statutory_due_at"] == iso("2025-10-21")

    now_is(monkeypatch, datetime(2025, 10, 9, 12, tzinfo=CST))
    task = api.find_task("window1", "check", case["id"])
    assert task["due_at"] == iso("2025-10-09")
    assert task["warning"] == "yellow"
    assert task["paused"] is False
    now_is(monkeypatch, datetime(2025, 10, 10, 8, tzinfo=CST))
    assert api.find_task("window1", "check", case["id"])["warning"] == "red"
    assert api.get(f"/api/v1/tasks/{task['id']}", "window1").get_json()["warning"] == "red"

    case = api.do("window1", "check", {}, case["id"])
    decide = api.find_task("window1", "decide", case["id"])
    assert (decide["due_at"], decide["warning"]) == (None, "none")
    assert api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()["warning"] == "yellow"

    now_is(monkeypatch, datetime(2026, 1, 5, tzinfo=CST))
    done = api.do("window1", "decide", {}, case["id"])
    assert done["status"] == "completed"
    assert done["warning"] == "none"  # a finished case is never late any more


def test_camunda_properties_and_no_limits(api):
    assert api.deploy(DATA / "deadlines" / "camunda_limits.bpmn").status_code == 201
    case = api.start("camunda_limits").get_json()
    assert case["due_at"] is None
    assert case["warning"] == "none"
    assert case["statutory_due_at"] is not None


def test_malformed_time_limit_is_refused_at_deploy(api):
    r = api.deploy(DATA / "deadlines" / "bad_limit.bpmn")
    assert r.status_code == 422, r.get_json()
    assert "invalid_time_limit" in r.get_data(as_text=True)


def test_pages_show_due_dates_with_a_text_label(api, app, started_then, monkeypatch):
    case = start_newborn(api)
    now_is(monkeypatch, datetime(2025, 10, 20, 9, tzinfo=CST))
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"username": "window1", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "承诺办结时限" in page and "法定办结时限" in page
    promised = re.search(r'<dd id="case-due-promised"[^>]*>(.*?)</dd>', page, re.S)
    assert 'data-warning="red"' in promised.group(0) and "2025-10-14" in promised.group(1)
    assert "已超期" in promised.group(1)
    statutory = re.search(r'<dd id="case-due-statutory"[^>]*>(.*?)</dd>', page, re.S).group(0)
    assert 'data-warning="none"' in statutory and "2025-11-04" in statutory

    inbox = client.get("/?tab=available").get_data(as_text=True)
    row = re.search(rf'<tr id="task-\d+">(?:(?!</tr>).)*{case["receipt_no"]}.*?</tr>', inbox, re.S).group(0)
    assert "warning-red" in row and "已超期" in row and "2025-10-14" in row
