"""Per-task field permissions: readOnly form fields show the case's value and cannot be changed;
x-hiddenData keeps case data off a task's page and API, and off the case for readers whose
every task hides it."""

from __future__ import annotations

import re

import pytest

from support import DATA, PASSWORD

FILES = (DATA / "field_permissions" / "field_permissions.bpmn", DATA / "field_permissions" / "fp_review.json")


@pytest.fixture()
def task_id(api):
    assert api.deploy(*FILES).status_code == 201
    r = api.start("field_permissions", {"child_name": "王小宝", "bank_account": "6222020200112233445"})
    assert r.status_code == 201, r.get_json()
    task = r.get_json()["tasks"][0]
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "health1").status_code == 200
    return task["id"]


def test_api_hides_data_and_refuses_read_only_changes(api, task_id):
    detail = api.get(f"/api/v1/tasks/{task_id}", "health1").get_json()
    assert detail["data"] == {"child_name": "王小宝"}  # no bank account
    r = api.post(f"/api/v1/tasks/{task_id}/complete", "health1",
                 json={"data": {"child_name": "王大宝", "decision": "通过"}})
    assert r.status_code == 422
    assert r.get_json()["errors"] == {"data.child_name": ["This field is read-only for this task."]}
    # Echoing the unchanged value is fine; so is leaving it out (the case's value satisfies "required").
    r = api.post(f"/api/v1/tasks/{task_id}/complete", "health1", json={"data": {"decision": "通过"}})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "completed"
    assert body["data"]["child_name"] == "王小宝"
    completed = [e for e in body["history"] if e["type"] == "task_completed"]
    assert completed[0]["data"] == {"decision": "通过"}  # the task wrote only its own field


def test_task_page_shows_read_only_value_disabled_and_no_hidden_data(app, api, task_id):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "health1", "password": PASSWORD, "csrf_token": token})
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="data\.child_name"[^>]*>', page).group(0)
    assert 'value="王小宝"' in field and "disabled" in field
    assert "6222020200112233445" not in page and "bank_account" not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # a new session after login
    r = client.post(f"/tasks/{task_id}", data={"csrf_token": token, "action": "submit",
                                               "data.child_name": "篡改", "data.decision": "通过"})
    assert r.status_code == 302  # the disabled field is ignored even if a client posts it
    assert api.get(f"/api/v1/cases/{api.get(f'/api/v1/tasks/{task_id}', 'health1').get_json()['case_id']}",
                   "window1").get_json()["data"]["child_name"] == "王小宝"


def _uid(app, username: str) -> int:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User

    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def test_the_case_withholds_what_every_task_of_the_reader_hides(api, app, task_id):
    """Data minimisation: a reviewer who reads the case through a task that hides the bank account
    does not find it on the case either (API data and history, case page); the starter and the
    supervisors do (masked); a copy recipient, who has no task, misses it too."""
    case_id = api.get(f"/api/v1/tasks/{task_id}", "health1").get_json()["case_id"]
    for user in ("health1", "health2"):  # the holder, and a member of the task's group
        case = api.get(f"/api/v1/cases/{case_id}", user).get_json()
        assert case["data"] == {"child_name": "王小宝"}, user
        assert "bank_account" not in str(case["history"]) and "3445" not in str(case), user
    for user in ("window1", "supervisor"):
        assert api.get(f"/api/v1/cases/{case_id}", user).get_json()["data"]["bank_account"].endswith("3445"), user
    page = _page(app, "health1", f"/cases/{case_id}")
    assert "王小宝" in page and "3445" not in page
    assert "3445" in _page(app, "window1", f"/cases/{case_id}")

    r = api.post(f"/api/v1/tasks/{task_id}/copies", "health1", json={"user_ids": [_uid(app, "fund1")]})
    assert r.status_code == 201, r.get_json()
    copied = api.get(f"/api/v1/cases/{case_id}", "fund1")
    assert copied.status_code == 200 and "bank_account" not in copied.get_json()["data"]


def _page(app, username: str, path: str) -> str:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    r = client.get(path)
    assert r.status_code == 200, (username, path, r.status_code)
    return r.get_data(as_text=True)
