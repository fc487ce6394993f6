"""Process drafts, validation, deploy from a draft and four-eyes deployment requests (/api/v1/drafts, …)."""

from __future__ import annotations

import io

import pytest
from newborn_support import APPLICANT, NEWBORN_BPMN, application, newborn_files

OLD_NAME = "形式审查/受理"
NEW_NAME = "形式审查（新）"


@pytest.fixture()
def newborn(api):
    """The newborn bundle deployed as version 1."""
    r = api.deploy(*newborn_files())
    assert r.status_code == 201, r.get_json()
    return r.get_json()


@pytest.fixture()
def four_eyes(app, monkeypatch):
    """FOUR_EYES_DEPLOY on for this test (the production setting)."""
    monkeypatch.setitem(app.config, "FOUR_EYES_DEPLOY", True)


@pytest.fixture()
def designer2(make_user):
    """A second designer, to approve the first one's requests."""
    make_user("designer2", ["designer"])
    return "designer2"


def newborn_texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in newborn_files()}


def renamed(files: dict[str, str], new_name: str = NEW_NAME) -> dict[str, str]:
    """The files with the formal check task renamed in the diagram."""
    bpmn = files["newborn.bpmn"]
    assert f'name="{OLD_NAME}"' in bpmn
    return {**files, "newborn.bpmn": bpmn.replace(f'name="{OLD_NAME}"', f'name="{new_name}"')}


def create(api, user="designer", **body):
    r = api.post("/api/v1/drafts", user, json={"key": "newborn", **body})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def save(api, draft, files, user="designer", **extra):
    return api.client.put(f"/api/v1/drafts/{draft['id']}", headers=api.headers(user),
                          json={"files": files, **extra})


def deploy(api, draft_id, user="designer", **body):
    return api.post(f"/api/v1/drafts/{draft_id}/deploy", user, json=body)


def versions(api) -> list[int]:
    processes = {p["key"]: p for p in api.get("/api/v1/processes", "designer").get_json()}
    return [v["version"] for v in processes["newborn"]["versions"]] if "newborn" in processes else []


def deployed_bpmn(app, version: int) -> str:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import ProcessDefinition, ProcessVersion

    with app.app_context():
        found = db.session.scalar(select(ProcessVersion).join(ProcessDefinition).where(
            ProcessDefinition.key == "newborn", ProcessVersion.version == version))
        return found.file_map("bpmn")["newborn.bpmn"].decode()


def refused(r, status: int, error: str) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)[:800]
    body = r.get_json()
    assert body["code"] == status and body["error"] == error, body
    return body


# -- drafts ---------------------------------------------------------------------------------------


def test_a_draft_starts_as_a_copy_of_the_latest_version(api, newborn):
    """POST /drafts without files copies the base version's files; GET returns them, the list names them."""
    draft = create(api)
    assert draft["key"] == "newborn"
    assert draft["base_version"] == 1
    assert draft["author"] == "designer"
    assert draft["revision"] == 1
    assert draft["files"] == newborn_texts()
    assert api.get(f"/api/v1/drafts/{draft['id']}", "designer").get_json()["files"] == newborn_texts()
    listed = api.get("/api/v1/drafts?key=newborn", "designer").get_json()
    assert [d["id"] for d in listed] == [draft["id"]]
    assert "files" not in listed[0] and "newborn.bpmn" in listed[0]["file_names"]


def test_saving_a_draft_never_changes_what_runs(api, newborn):
    """A saved draft leaves the deployed version, its hash and new cases' version alone."""
    draft = create(api)
    r = save(api, draft, renamed(draft["files"]), revision=1)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["revision"] == 2
    assert versions(api) == [1]
    latest = api.get("/api/v1/processes", "designer").get_json()[0]["versions"][-1]
    assert latest["content_hash"] == newborn["content_hash"]
    case = api.start("newborn", application(), applicant=APPLICANT).get_json()
    assert case["version"] == 1
    assert case["tasks"][0]["name"] == OLD_NAME


def test_a_save_from_an_older_revision_is_refused(api, newborn):
    """Two tabs: the second save that names the revision it loaded gets 409 draft_changed."""
    draft = create(api)
    assert save(api, draft, renamed(draft["files"]), revision=1).status_code == 200
    refused(save(api, draft, renamed(draft["files"], "另一个名字"), revision=1), 409, "draft_changed")
    assert api.get(f"/api/v1/drafts/{draft['id']}", "designer").get_json()["files"]["newborn.bpmn"].count(NEW_NAME)


@pytest.mark.parametrize(("files", "field"), [
    ({"../newborn.bpmn": "<x/>"}, "files.../newborn.bpmn"),
    ({"run.sh": "echo", "a.bpmn": "<x/>"}, "files.run.sh"),
    ({"form.json": "{}"}, "files"),
    ({}, "files"),
])
def test_draft_files_must_be_plain_process_files(api, newborn, files, field):
    """Path names, unknown kinds, no diagram at all: 422 naming the file."""
    body = refused(api.post("/api/v1/drafts", "designer", json={"key": "newborn", "files": files}),
                   422, "invalid_input")
    assert field in body["errors"]


def test_an_unknown_base_version_is_404(api, newborn):
    """Starting a draft from a version that does not exist."""
    refused(api.post("/api/v1/drafts", "designer", json={"key": "newborn", "base_version": 9}), 404, "not_found")


def test_only_the_author_or_an_admin_changes_a_draft(api, newborn, designer2):
    """Another designer may read a draft but not save, deploy or delete it; an admin may."""
    draft = create(api)
    assert api.get(f"/api/v1/drafts/{draft['id']}", designer2).status_code == 200
    refused(save(api, draft, draft["files"], user=designer2), 403, "not_your_draft")
    refused(deploy(api, draft["id"], user=designer2), 403, "not_your_draft")
    refused(api.client.delete(f"/api/v1/drafts/{draft['id']}", headers=api.headers(designer2)), 403,
            "not_your_draft")
    assert save(api, draft, renamed(draft["files"]), user="admin").status_code == 200
    assert api.client.delete(f"/api/v1/drafts/{draft['id']}", headers=api.headers("admin")).status_code == 204
    refused(api.get(f"/api/v1/drafts/{draft['id']}", "designer"), 404, "not_found")


@pytest.mark.parametrize(("user", "status"), [("window1", 403), ("health1", 403), ("supervisor", 403), (None, 401)])
def test_only_designers_and_admins_use_drafts(api, newborn, user, status):
    """Clerks, reviewers, supervisors: 403 before the body is read; no token: 401."""
    for method, path in (("get", "/api/v1/drafts"), ("post", "/api/v1/drafts"), ("post", "/api/v1/drafts/validate"),
                         ("get", "/api/v1/pending-deployments"), ("post", "/api/v1/pending-deployments/1/approve")):
        r = getattr(api.client, method)(path, headers=api.headers(user), json={"nonsense": True})
        assert r.status_code == status, (method, path, r.get_json())


# -- validation -----------------------------------------------------------------------------------


def validate(api, files, user="designer"):
    r = api.post("/api/v1/drafts/validate", user, json={"files": files})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_valid_files_validate_without_deploying(api, newborn):
    """A renamed task validates; nothing is stored."""
    report = validate(api, renamed(newborn_texts()))
    assert report["valid"] is True
    assert [f for f in report["findings"] if f["severity"] == "error"] == []
    assert versions(api) == [1]


def test_a_malformed_diagram_is_reported_with_its_file_and_line(api, newborn):
    """Broken XML: valid false, an error finding naming the file and a line."""
    files = newborn_texts()
    files["newborn.bpmn"] = files["newborn.bpmn"].replace("</bpmn:process>", "", 1)
    report = validate(api, files)
    assert report["valid"] is False
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert errors and errors[0]["file"] == "newborn.bpmn" and errors[0]["line"]


def test_an_invalid_form_schema_is_reported(api, newborn):
    """A referenced form that is not a JSON Schema, and an unreferenced one: both named."""
    files = newborn_texts()
    files["newborn_formal_check.json"] = '{"type": 5}'
    files["spare.json"] = "{not json"
    report = validate(api, files)
    assert report["valid"] is False
    named = {f["file"] for f in report["findings"] if f["severity"] == "error"}
    assert {"newborn_formal_check.json", "spare.json"} <= named


def test_a_validation_never_creates_a_process(api):
    """Validating a process that was never deployed leaves the library empty."""
    assert validate(api, newborn_texts())["valid"] is True
    assert api.get("/api/v1/processes", "designer").get_json() == []


def test_without_a_validation_service_deploys_own_checks_run_and_roll_back(api, newborn, monkeypatch):
    """Fallback when services.processes has no validate(): a trial deploy in a savepoint, never kept."""
    from app.services import processes

    monkeypatch.delattr(processes, "validate", raising=False)
    assert validate(api, renamed(newborn_texts())) == {"valid": True, "findings": []}
    assert versions(api) == [1]
    files = newborn_texts()
    files["newborn.bpmn"] = files["newborn.bpmn"].replace('name="window"', 'name="no_such_group"')
    report = validate(api, files)
    assert report["valid"] is False and any("no_such_group" in f["message"] for f in report["findings"])
    assert versions(api) == [1]


def test_a_saved_draft_validates_by_id(api, newborn):
    """POST /drafts/<id>/validate checks the stored files."""
    draft = create(api)
    bad = dict(draft["files"], **{"newborn.bpmn": "<definitions/>"})
    assert save(api, draft, bad).status_code == 200
    r = api.post(f"/api/v1/drafts/{draft['id']}/validate", "designer")
    assert r.status_code == 200 and r.get_json()["valid"] is False


# -- deploy ---------------------------------------------------------------------------------------


def test_deploying_a_draft_creates_the_next_version(api, app, newborn):
    """Deploy: 201 with version 2; the new name runs; the draft is gone (its content is the version now)."""
    draft = create(api)
    assert save(api, draft, renamed(draft["files"])).status_code == 200
    r = deploy(api, draft["id"])
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "deployed"
    assert body["version"]["version"] == 2 and body["version"]["created"] is True
    assert body["version"]["user_tasks"]["formal_check"]["name"] == NEW_NAME
    assert versions(api) == [1, 2]
    assert f'name="{NEW_NAME}"' in deployed_bpmn(app, 2)
    refused(api.get(f"/api/v1/drafts/{draft['id']}", "designer"), 404, "not_found")
    case = api.start("newborn", application(), applicant=APPLICANT).get_json()
    assert case["version"] == 2 and case["tasks"][0]["name"] == NEW_NAME


def test_deploying_an_unchanged_draft_is_200_same_version(api, newborn):
    """Nothing changed: 200 "unchanged", still version 1."""
    r = deploy(api, create(api)["id"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "unchanged" and r.get_json()["version"]["version"] == 1
    assert versions(api) == [1]


def test_an_invalid_draft_is_not_deployed(api, newborn):
    """422 invalid_diagram with findings; the draft stays, no version appears."""
    draft = create(api)
    files = dict(draft["files"], **{"newborn.bpmn": draft["files"]["newborn.bpmn"].replace(
        'name="window"', 'name="no_such_group"')})
    assert save(api, draft, files).status_code == 200
    body = refused(deploy(api, draft["id"]), 422, "invalid_diagram")
    assert any("no_such_group" in f["message"] for f in body["errors"])
    assert versions(api) == [1]
    assert api.get(f"/api/v1/drafts/{draft['id']}", "designer").status_code == 200


def test_a_draft_older_than_the_latest_version_needs_force(api, newborn):
    """Two drafts of v1: after the first is deployed, the second gets 409 stale_base unless forced."""
    first, second = create(api), create(api)
    assert save(api, first, renamed(first["files"])).status_code == 200
    assert save(api, second, renamed(second["files"], "形式审查（另一版）")).status_code == 200
    assert deploy(api, first["id"]).status_code == 201
    refused(deploy(api, second["id"]), 409, "stale_base")
    assert versions(api) == [1, 2]
    r = deploy(api, second["id"], force=True)
    assert r.status_code == 201 and r.get_json()["version"]["version"] == 3


# -- four-eyes ------------------------------------------------------------------------------------


def request_deploy(api, user="designer") -> dict:
    draft = create(api, user=user)
    assert save(api, draft, renamed(draft["files"]), user=user).status_code == 200
    r = deploy(api, draft["id"], user=user)
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["status"] == "pending" and body["version"] is None
    return body["pending"]


def test_four_eyes_a_deploy_waits_for_approval(api, newborn, four_eyes):
    """With FOUR_EYES_DEPLOY the deploy is a request: 202, nothing runs yet, the draft is kept."""
    pending = request_deploy(api)
    assert pending["status"] == "pending"
    assert pending["requested_by"] == "designer" and pending["base_version"] == 1
    assert pending["changes"]["newborn.bpmn"] == "changed"
    assert pending["changes"]["newborn_application.json"] == "same"
    assert versions(api) == [1]
    assert [p["id"] for p in api.get("/api/v1/pending-deployments", "admin").get_json()] == [pending["id"]]
    assert api.get(f"/api/v1/drafts/{pending['draft_id']}", "designer").status_code == 200


def test_four_eyes_the_requester_cannot_approve(api, newborn, four_eyes):
    """403 own_request, even for the requester; still pending, no version."""
    pending = request_deploy(api)
    refused(api.post(f"/api/v1/pending-deployments/{pending['id']}/approve", "designer"), 403, "own_request")
    assert versions(api) == [1]
    assert api.get(f"/api/v1/pending-deployments/{pending['id']}", "designer").get_json()["status"] == "pending"


def test_four_eyes_an_admin_requester_cannot_approve_either(api, newborn, four_eyes):
    """The rule is about people, not roles: an admin's own request needs someone else."""
    pending = request_deploy(api, user="admin")
    refused(api.post(f"/api/v1/pending-deployments/{pending['id']}/approve", "admin"), 403, "own_request")
    r = api.post(f"/api/v1/pending-deployments/{pending['id']}/approve", "designer")
    assert r.status_code == 200 and r.get_json()["version"] == 2


@pytest.mark.parametrize("approver", ["designer2", "admin"])
def test_four_eyes_a_second_designer_or_an_admin_approves(api, app, newborn, four_eyes, designer2, approver):
    """Approval deploys version 2 under the requester's name; who and when are kept (the audit)."""
    pending = request_deploy(api)
    r = api.post(f"/api/v1/pending-deployments/{pending['id']}/approve", approver, json={"comment": "看过了"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "approved" and body["version"] == 2
    assert body["requested_by"] == "designer" and body["approved_by"] == approver
    assert body["approved_at"] and body["requested_at"] and body["comment"] == "看过了"
    assert versions(api) == [1, 2]
    assert f'name="{NEW_NAME}"' in deployed_bpmn(app, 2)
    latest = api.get("/api/v1/processes", "designer").get_json()[0]["versions"][-1]
    assert latest["deployed_by"] == "designer"
    assert api.get("/api/v1/pending-deployments", "designer").get_json() == []
    history = api.get("/api/v1/pending-deployments?status=all", "designer").get_json()
    assert [(h["id"], h["status"], h["approved_by"]) for h in history] == [(pending["id"], "approved", approver)]
    # The draft that was approved as it stands is gone: it runs now.
    assert api.get(f"/api/v1/drafts/{pending['draft_id']}", "designer").status_code == 404
    refused(api.post(f"/api/v1/pending-deployments/{pending['id']}/approve", approver), 409, "not_pending")


def test_four_eyes_a_rejected_request_never_deploys(api, newborn, four_eyes, designer2):
    """Rejection is recorded with who, when and why; approving it afterwards is 409."""
    pending = request_deploy(api)
    r = api.post(f"/api/v1/pending-deployments/{pending['id']}/reject", designer2, json={"comment": "缺少说明"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "rejected" and body["rejected_by"] == designer2 and body["rejected_at"]
    assert body["comment"] == "缺少说明" and body["version"] is None
    refused(api.post(f"/api/v1/pending-deployments/{pending['id']}/approve", "admin"), 409, "not_pending")
    assert versions(api) == [1]


def test_four_eyes_the_requester_may_withdraw(api, newborn, four_eyes):
    """Rejecting one's own request withdraws it."""
    pending = request_deploy(api)
    r = api.post(f"/api/v1/pending-deployments/{pending['id']}/reject", "designer")
    assert r.status_code == 200 and r.get_json()["rejected_by"] == "designer"


def test_four_eyes_an_approval_after_another_deploy_is_refused(api, newborn, four_eyes, designer2):
    """If a newer version appeared meanwhile, the approval is 409 stale_base (nothing overwritten)."""
    first = request_deploy(api)
    second = request_deploy(api, user=designer2)
    assert api.post(f"/api/v1/pending-deployments/{first['id']}/approve", "admin").status_code == 200
    refused(api.post(f"/api/v1/pending-deployments/{second['id']}/approve", "designer"), 409, "stale_base")
    assert versions(api) == [1, 2]


def test_four_eyes_an_invalid_draft_is_not_even_requested(api, newborn, four_eyes):
    """A request is validated first: 422 invalid_diagram and no pending request."""
    draft = create(api)
    assert save(api, draft, dict(draft["files"], **{"newborn.bpmn": "<nope/>"})).status_code == 200
    refused(deploy(api, draft["id"]), 422, "invalid_diagram")
    assert api.get("/api/v1/pending-deployments?status=all", "designer").get_json() == []


def upload(api, user="designer"):
    return api.client.post("/api/v1/pending-deployments", headers=api.headers(user), content_type="multipart/form-data",
                           data={"file": [(io.BytesIO(p.read_bytes()), p.name) for p in newborn_files()]})


def test_four_eyes_uploaded_files_are_requested_too(api, four_eyes, designer2):
    """POST /pending-deployments with files: a request for a new process; approved, it is version 1."""
    r = upload(api)
    assert r.status_code == 202, r.get_json()
    pending = r.get_json()["pending"]
    assert pending["key"] == "newborn" and pending["base_version"] is None
    assert versions(api) == []
    r = api.post(f"/api/v1/pending-deployments/{pending['id']}/approve", designer2)
    assert r.status_code == 200 and r.get_json()["version"] == 1


def test_without_four_eyes_uploaded_files_deploy_at_once(api):
    """The same upload route deploys directly when FOUR_EYES_DEPLOY is off."""
    r = upload(api)
    assert r.status_code == 201 and r.get_json()["status"] == "deployed"
    assert versions(api) == [1]
    assert NEWBORN_BPMN.name in r.get_json()["version"]["files"]
