"""The process library API: versions with case counts, a version's meta and files, raw files, diffs."""

from __future__ import annotations

import json
import re

import pytest
from newborn_support import APPLICANT, deploy_bytes

from support import DATA

CHECKS = DATA / "api_checks"
V1 = CHECKS / "versioned_v1.bpmn"
V2 = CHECKS / "versioned_v2.bpmn"
JOINT = CHECKS / "joint_review.bpmn"
JOINT_FORM = CHECKS / "joint_review_form.json"

ROLES = ["admin", "designer", "window1", "health1", "supervisor", None]
ROLE_IDS = ["admin", "designer", "clerk", "reviewer", "supervisor", "anonymous"]
ENDPOINTS = {
    "versions": "/api/v1/processes/versioned/versions",
    "version": "/api/v1/processes/versioned/versions/1",
    "file": "/api/v1/processes/versioned/versions/1/files/versioned.bpmn",
    "diff": "/api/v1/processes/versioned/diff?from=1&to=2",
}
#                admin designer clerk reviewer supervisor anonymous
EXPECTED = (200, 200, 403, 403, 403, 401)


def deploy(api, path, name="versioned.bpmn"):
    r = deploy_bytes(api.client, api.token("designer"), [(name, path.read_bytes())])
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def start(api, key="versioned") -> dict:
    r = api.start(key, applicant=APPLICANT)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def finish(api, case: dict, user="window1") -> None:
    task_id = case["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", user).status_code == 200
    assert api.post(f"/api/v1/tasks/{task_id}/complete", user, json={"data": {}}).status_code == 200


@pytest.fixture()
def versions(api):
    """versioned v1 with one running and one finished case, v2 with one running case."""
    deploy(api, V1)
    first, _second = start(api), start(api)
    finish(api, first)
    deploy(api, V2)
    start(api)
    return api


def ok(r) -> dict:
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.get_json()


# -- permissions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(("user", "expected"), list(zip(ROLES, EXPECTED, strict=True)), ids=ROLE_IDS)
def test_permission_matrix(versions, endpoint, user, expected):
    """Designers and admins read the library; clerks, reviewers, supervisors 403; anonymous 401 (JSON)."""
    r = versions.get(ENDPOINTS[endpoint], user)
    assert r.status_code == expected, r.get_data(as_text=True)[:300]
    if expected >= 400:
        body = r.get_json()
        assert body["code"] == expected
        assert body["error"] == {401: "unauthorized", 403: "forbidden"}[expected]


@pytest.mark.parametrize("path", [
    "/api/v1/processes/nope/versions",
    "/api/v1/processes/versioned/versions/9",
    "/api/v1/processes/nope/versions/1",
    "/api/v1/processes/versioned/versions/1/files/other.bpmn",
    "/api/v1/processes/versioned/versions/9/files/versioned.bpmn",
    "/api/v1/processes/nope/diff",
    "/api/v1/processes/versioned/diff?from=1&to=9",
    "/api/v1/processes/versioned/diff?from=9&to=1",
])
def test_unknown_keys_versions_and_files_are_404(versions, path):
    r = versions.get(path, "designer")
    assert r.status_code == 404
    assert r.get_json()["error"] == "not_found"


def test_forbidden_before_not_found(versions):
    """A clerk asking for a version that does not exist gets 403, not 404 (roles are checked first)."""
    assert versions.get("/api/v1/processes/nope/versions/9", "window1").status_code == 403


# -- versions ----------------------------------------------------------------------------------------


def test_versions_newest_first_with_case_counts(versions):
    """Both versions, newest first: deployer, time, hash, files, latest/previous and running/finished."""
    body = ok(versions.get("/api/v1/processes/versioned/versions", "designer"))
    assert body["key"] == "versioned"
    assert body["name"] == "版本测试"
    assert body["latest_version"] == 2
    assert [v["version"] for v in body["versions"]] == [2, 1]
    v2, v1 = body["versions"]
    assert v2["cases"] == {"running": 1, "finished": 0}
    assert v1["cases"] == {"running": 1, "finished": 1}
    assert (v2["latest"], v1["latest"]) == (True, False)
    assert (v2["previous"], v1["previous"]) == (1, None)
    assert v1["deployed_by"] == "designer"
    assert re.fullmatch(r"[0-9a-f]{64}", v1["content_hash"])
    assert v1["deployed_at"].endswith("+00:00")
    assert v1["files"] == ["versioned.bpmn"]


def test_terminated_cases_count_as_finished(app, versions):
    """A terminated case is finished, not running (the counts group by status)."""
    from app.extensions import db
    from app.models import Case

    with app.app_context():
        case = db.session.scalars(db.select(Case).where(Case.version == 2)).one()
        case.status = "terminated"
        db.session.commit()
    body = ok(versions.get("/api/v1/processes/versioned/versions", "admin"))
    assert body["versions"][0]["cases"] == {"running": 0, "finished": 1}


def test_version_detail(versions):
    """v2: routing of each user task from the deployment, end events, files with download URLs."""
    body = ok(versions.get("/api/v1/processes/versioned/versions/2", "designer"))
    assert body["key"] == "versioned" and body["version"] == 2
    assert body["cases"] == {"running": 1, "finished": 0}
    tasks = {t["id"]: t for t in body["user_tasks"]}
    assert tasks["review"] == {"id": "review", "name": "审查 v2", "lane": "window", "groups": ["window"],
                               "initiator": False, "form": None}
    assert tasks["recheck"]["groups"] == ["health"]
    assert body["end_events"] == {"end": "办结 v2"}
    assert body["start_form"] is None
    [file] = body["files"]
    assert file["filename"] == "versioned.bpmn" and file["kind"] == "bpmn"
    assert file["size"] == len(V2.read_bytes())
    assert file["url"] == "/api/v1/processes/versioned/versions/2/files/versioned.bpmn"


def test_version_detail_lists_forms(api):
    """A process with a form: the form is a file of kind 'form' and the task names it."""
    r = api.deploy(JOINT, JOINT_FORM)
    assert r.status_code == 201
    body = ok(api.get("/api/v1/processes/joint_review/versions/1", "admin"))
    assert [(f["filename"], f["kind"]) for f in body["files"]] == [("joint_review.bpmn", "bpmn"),
                                                                   ("joint_review_form.json", "form")]
    assert body["user_tasks"][0]["form"] == "joint_review_form.json"
    assert body["user_tasks"][0]["groups"] == ["health", "public_security"]


# -- raw files ---------------------------------------------------------------------------------------


def test_raw_bpmn_file(versions):
    """The stored bytes, as an attachment that is never sniffed or run as a page."""
    r = versions.get("/api/v1/processes/versioned/versions/1/files/versioned.bpmn", "designer")
    assert r.status_code == 200
    assert r.data == V1.read_bytes()
    assert r.mimetype == "application/xml"
    assert r.headers["Content-Disposition"] == "attachment; filename=versioned.bpmn"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_raw_form_file(api):
    api.deploy(JOINT, JOINT_FORM)
    r = api.get("/api/v1/processes/joint_review/versions/1/files/joint_review_form.json", "designer")
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    assert json.loads(r.data) == json.loads(JOINT_FORM.read_bytes())


# -- diff --------------------------------------------------------------------------------------------


def test_diff_of_the_two_test_versions(versions):
    """v1 -> v2: 复核 added, 审查 and 办结 renamed, flow f3 added and f2 re-targeted; no form changes."""
    body = ok(versions.get("/api/v1/processes/versioned/diff?from=1&to=2", "designer"))
    assert (body["key"], body["from"], body["to"], body["identical"]) == ("versioned", 1, 2, False)
    assert [t["id"] for t in body["tasks"]["added"]] == ["recheck"]
    assert body["tasks"]["removed"] == []
    assert body["tasks"]["changed"] == [{
        "id": "review", "name": "审查 v2", "type": "userTask", "process": "versioned",
        "changes": [{"field": "name", "old": "审查 v1", "new": "审查 v2"}]}]  # only flows have source/target
    assert body["events"]["changed"][0]["changes"] == [{"field": "name", "old": "办结 v1", "new": "办结 v2"}]
    assert [(f["id"], f["source"], f["target"]) for f in body["flows"]["added"]] == [("f3", "recheck", "end")]
    assert body["flows"]["changed"][0]["changes"] == [{"field": "target", "old": "end", "new": "recheck"}]
    assert body["gateways"] == {"added": [], "removed": [], "changed": []}
    assert body["forms"] == {"added": [], "removed": [], "changed": []}
    assert body["files"] == {"added": [], "removed": [], "changed": ["versioned.bpmn"]}


def test_diff_backwards(versions):
    """v2 -> v1 reports 复核 removed."""
    body = ok(versions.get("/api/v1/processes/versioned/diff?from=2&to=1", "admin"))
    assert [t["id"] for t in body["tasks"]["removed"]] == ["recheck"]


def test_diff_defaults_to_latest_against_previous(versions):
    body = ok(versions.get("/api/v1/processes/versioned/diff", "designer"))
    assert (body["from"], body["to"]) == (1, 2)
    body = ok(versions.get("/api/v1/processes/versioned/diff?to=1", "designer"))
    assert (body["from"], body["to"], body["identical"]) == (1, 1, True)


@pytest.mark.parametrize("query", ["from=0&to=2", "from=abc", "to=-1"])
def test_diff_with_bad_versions_is_422(versions, query):
    r = versions.get(f"/api/v1/processes/versioned/diff?{query}", "designer")
    assert r.status_code == 422
    assert r.get_json()["error"] == "invalid_input"


def test_diff_reports_form_and_routing_changes(api):
    """A new version with other candidate groups and a changed form: both show up in the diff."""
    assert api.deploy(JOINT, JOINT_FORM).status_code == 201
    schema = json.loads(JOINT_FORM.read_text(encoding="utf-8"))
    schema["properties"]["opinion"] = {"type": "string", "title": "意见"}
    schema["properties"]["joint_ok"]["title"] = "同意办理"
    schema["required"] = ["joint_ok", "opinion"]
    diagram = JOINT.read_bytes().replace(b"health,public_security", b"health")
    r = deploy_bytes(api.client, api.token("designer"), [
        ("joint_review.bpmn", diagram), ("joint_review_form.json", json.dumps(schema, ensure_ascii=False).encode())])
    assert r.status_code == 201, r.get_json()
    body = ok(api.get("/api/v1/processes/joint_review/diff?from=1&to=2", "designer"))
    [task] = body["tasks"]["changed"]
    assert task["id"] == "joint"
    assert task["changes"] == [{"field": "candidate_groups", "old": ["health", "public_security"], "new": ["health"]}]
    [form] = body["forms"]["changed"]
    assert form["file"] == "joint_review_form.json"
    assert form["properties_added"] == ["opinion"]
    assert form["required_added"] == ["opinion"]
    assert form["properties_changed"] == [{"property": "joint_ok",
                                           "changes": [{"field": "title", "old": "同意", "new": "同意办理"}]}]


# -- documentation -----------------------------------------------------------------------------------


def test_openapi_documents_the_library(versions):
    """The new paths and the diff schema are in the OpenAPI document, with their query parameters."""
    spec = ok(versions.get("/api/v1/openapi.json"))
    paths = spec["paths"]
    for path in ("/api/v1/processes/{key}/versions", "/api/v1/processes/{key}/versions/{version}",
                 "/api/v1/processes/{key}/versions/{version}/files/{filename}", "/api/v1/processes/{key}/diff"):
        assert "get" in paths[path], path
    params = {p["name"] for p in paths["/api/v1/processes/{key}/diff"]["get"]["parameters"]}
    assert {"from", "to"} <= params
    schemas = spec["components"]["schemas"]
    assert {"tasks", "flows", "forms", "from", "to"} <= set(schemas["Diff"]["properties"])
    assert "cases" in schemas["VersionSummary"]["properties"]


def test_diff_of_a_version_that_no_longer_compiles_is_409(app, versions):
    """A stored version the engine refuses today (e.g. a check was tightened) is a 409 with a reason, not a 500."""
    from app.extensions import db
    from app.models import ProcessFile, ProcessVersion
    from app.services import runtime

    with app.app_context():
        stored = db.session.scalars(db.select(ProcessFile).join(ProcessVersion)
                                    .where(ProcessVersion.version == 1)).one()
        stored.content = stored.content.replace(b'targetRef="end"', b'targetRef="nowhere"')
        db.session.commit()
        runtime.spec_cache().clear()
    r = versions.get("/api/v1/processes/versioned/diff?from=1&to=2", "designer")
    assert r.status_code == 409, r.get_data(as_text=True)[:300]
    assert "cannot be compiled" in r.get_json()["message"]
