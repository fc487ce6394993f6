"""With FOUR_EYES_DEPLOY the plain upload route cannot bypass the second approver."""

import pytest

from support import DATA

LOOP = DATA / "parallel_loop" / "parallel_loop.bpmn"


@pytest.fixture
def four_eyes(app, monkeypatch):
    """FOUR_EYES_DEPLOY on for this test (the production setting)."""
    monkeypatch.setitem(app.config, "FOUR_EYES_DEPLOY", True)


def test_upload_becomes_a_request_and_deploys_nothing(api, four_eyes):
    """POST /processes answers 202 with a pending request; no version exists until approval."""
    r = api.deploy(LOOP)
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["status"] == "pending" and body["key"] == "parallel_loop"
    assert api.get("/api/v1/processes", "designer").get_json() == []


def test_another_person_approves_and_the_version_appears(api, four_eyes):
    """The requester cannot approve; an admin can, and version 1 is deployed."""
    pending_id = api.deploy(LOOP).get_json()["pending_deployment_id"]
    assert api.post(f"/api/v1/pending-deployments/{pending_id}/approve", "designer", json={}).status_code == 403
    r = api.post(f"/api/v1/pending-deployments/{pending_id}/approve", "admin", json={})
    assert r.status_code in (200, 201), r.get_json()
    processes = api.get("/api/v1/processes", "designer").get_json()
    assert [p["key"] for p in processes] == ["parallel_loop"] and processes[0]["latest_version"] == 1
