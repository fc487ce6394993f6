"""Every deploy is audited: deployed, unchanged, refused, and four-eyes requests and decisions."""

import io

import pytest

from support import DATA

LOOP = DATA / "parallel_loop" / "parallel_loop.bpmn"


def _events(api, user="designer", key=None):
    r = api.get("/api/v1/deployments" + (f"?key={key}" if key else ""), user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_deploy_and_redeploy_are_recorded(api):
    """A new version and an identical re-upload each leave an event with actor and version."""
    assert api.deploy(LOOP).status_code == 201
    assert api.deploy(LOOP, user="admin").status_code == 200
    events = _events(api, key="parallel_loop")
    assert [(e["action"], e["actor"], e["version"]) for e in events] == [
        ("unchanged", "admin", 1), ("deployed", "designer", 1)]


def test_a_refused_deploy_is_recorded_although_nothing_was_stored(api):
    """The refusal survives the rollback of the refused deploy."""
    bad = (io.BytesIO(b"<not-bpmn/>"), "broken.bpmn")
    r = api.client.post("/api/v1/processes", headers=api.headers("designer"), data={"file": [bad]},
                        content_type="multipart/form-data")
    assert r.status_code == 422
    (event,) = _events(api)
    assert event["action"] == "refused" and event["actor"] == "designer"
    assert event["detail"]["files"] == ["broken.bpmn"] and event["detail"]["errors"] >= 1


def test_four_eyes_request_and_approval_are_recorded(api, app, monkeypatch):
    """Request by the designer, approval by the admin, then the deployment itself."""
    monkeypatch.setitem(app.config, "FOUR_EYES_DEPLOY", True)
    pending = api.deploy(LOOP).get_json()["pending_deployment_id"]
    assert api.post(f"/api/v1/pending-deployments/{pending}/approve", "admin", json={}).status_code in (200, 201)
    actions = [(e["action"], e["actor"]) for e in _events(api, key="parallel_loop")]
    # The version is deployed under the requester's name; the approval names the approver.
    assert actions == [("approved", "admin"), ("deployed", "designer"), ("requested", "designer")]


@pytest.mark.parametrize(("user", "status"), [("designer", 200), ("admin", 200), ("supervisor", 200),
                                              ("window1", 403), ("health1", 403), (None, 401)])
def test_who_may_read_the_deployment_trail(api, user, status):
    """Designers, admins and supervisors read it; others get 403, anonymous 401."""
    assert api.get("/api/v1/deployments", user).status_code == status
