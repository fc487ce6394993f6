"""Deploying diagrams: versions, identical uploads, refusals with located findings, limits, Camunda groups."""

from __future__ import annotations

import re

import pytest
from newborn_support import APPLICANT, NEWBORN_BPMN, deploy_bytes, newborn_files

from support import DATA

CHECKS = DATA / "api_checks"
V1 = CHECKS / "versioned_v1.bpmn"
V2 = CHECKS / "versioned_v2.bpmn"


def files_of(*paths, rename: dict | None = None) -> list[tuple[str, bytes]]:
    rename = rename or {}
    return [(rename.get(p.name, p.name), p.read_bytes()) for p in paths]


def deploy(api, files, user="designer"):
    return deploy_bytes(api.client, api.token(user), files)


def versioned(path):
    """A version of the 'versioned' process, always uploaded as versioned.bpmn."""
    return [("versioned.bpmn", path.read_bytes())]


def refused(r, status=422) -> list[dict]:
    """The deployment was refused with the findings list shape; return the findings."""
    assert r.status_code == status, r.get_data(as_text=True)[:800]
    body = r.get_json()
    assert body["code"] == status
    assert body["error"] == "invalid_diagram"
    assert isinstance(body["errors"], list) and body["errors"]
    for finding in body["errors"]:
        assert set(finding) == {"file", "line", "element", "message", "severity", "code"}
        assert finding["severity"] == "error"
        assert isinstance(finding["message"], str) and finding["message"]
    return body["errors"]


def start(api, key, data=None, user="window1") -> dict:
    r = api.start(key, data or {}, user=user, applicant=APPLICANT)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def do_open(api, user, case_id, data=None) -> dict:
    """Claim and complete the only open task of a case."""
    case = api.get(f"/api/v1/cases/{case_id}", user).get_json()
    assert len(case["tasks"]) == 1, case["tasks"]
    task_id = case["tasks"][0]["id"]
    r = api.post(f"/api/v1/tasks/{task_id}/claim", user)
    assert r.status_code == 200, r.get_json()
    r = api.post(f"/api/v1/tasks/{task_id}/complete", user, json={"data": data or {}})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# -- versions ------------------------------------------------------------------------------------


def test_new_deployment_is_201(api):
    """A first deployment creates version 1 and reports its files, hash and routing."""
    r = api.deploy(*newborn_files())
    assert r.status_code == 201
    body = r.get_json()
    assert body["key"] == "newborn"
    assert body["name"] == "新生儿出生一件事"
    assert body["version"] == 1
    assert body["created"] is True
    assert re.fullmatch(r"[0-9a-f]{64}", body["content_hash"])
    assert sorted(body["files"]) == sorted(p.name for p in newborn_files())


def test_identical_deployment_is_200_same_version(api):
    """Uploading the same files again (in another order) answers 200 with the same version and hash."""
    first = api.deploy(*newborn_files()).get_json()
    r = api.deploy(*reversed(newborn_files()))
    assert r.status_code == 200
    body = r.get_json()
    assert body["created"] is False
    assert body["version"] == first["version"] == 1
    assert body["content_hash"] == first["content_hash"]
    listing = api.get("/api/v1/processes", "designer").get_json()
    assert [v["version"] for v in listing[0]["versions"]] == [1]


def test_redeploying_only_the_diagram_reuses_the_forms(api):
    """The diagram alone, unchanged, resolves its forms from the latest version: 200, same version."""
    first = api.deploy(*newborn_files()).get_json()
    r = api.deploy(NEWBORN_BPMN)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["content_hash"] == first["content_hash"]


def test_changed_diagram_without_forms_is_version_2_with_forms(api):
    """A changed diagram uploaded alone becomes version 2 and carries the previous forms."""
    api.deploy(*newborn_files())
    changed = NEWBORN_BPMN.read_bytes().replace("统一出件".encode(), "统一出件（窗口）".encode())
    r = deploy(api, [("newborn.bpmn", changed)])
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["version"] == 2
    assert sorted(body["files"]) == sorted(p.name for p in newborn_files())
    assert body["user_tasks"]["handover"]["name"] == "统一出件（窗口）"


def test_changed_diagram_is_a_new_version(api):
    """A changed diagram of the same process key is version 2 with another hash; the list shows both."""
    v1 = deploy(api, versioned(V1)).get_json()
    r = deploy(api, versioned(V2))
    assert r.status_code == 201
    v2 = r.get_json()
    assert v2["version"] == 2 and v2["created"] is True
    assert v2["content_hash"] != v1["content_hash"]
    listing = api.get("/api/v1/processes", "window1").get_json()
    assert len(listing) == 1
    process = listing[0]
    assert process["key"] == "versioned"
    assert process["latest_version"] == 2
    assert [v["version"] for v in process["versions"]] == [1, 2]
    assert process["versions"][0]["deployed_by"] == "designer"
    assert process["versions"][1]["files"] == ["versioned.bpmn"]


def test_running_case_stays_on_its_version(app, api):
    """A case started on v1 finishes on v1 after v2 is deployed; new cases start on v2."""
    from app.services import runtime

    deploy(api, versioned(V1))
    old = start(api, "versioned")
    assert old["version"] == 1
    task_id = old["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", "window1").status_code == 200

    assert deploy(api, versioned(V2)).status_code == 201
    with app.app_context():
        runtime.spec_cache().clear()  # as in another worker: the version is reloaded from the database
    new = start(api, "versioned")
    assert new["version"] == 2
    assert [t["name"] for t in new["tasks"]] == ["审查 v2"]

    assert api.get(f"/api/v1/tasks/{task_id}", "window1").get_json()["name"] == "审查 v1"
    r = api.post(f"/api/v1/tasks/{task_id}/complete", "window1", json={"data": {}})
    assert r.status_code == 200, r.get_json()
    done = r.get_json()
    assert done["version"] == 1
    assert done["status"] == "completed"
    assert done["outcome"] == "办结 v1"

    case = do_open(api, "window1", new["id"])
    assert [t["name"] for t in case["tasks"]] == ["复核 v2"]
    assert case["tasks"][0]["group"] == "health"
    case = do_open(api, "health1", new["id"])
    assert case["version"] == 2
    assert case["outcome"] == "办结 v2"


def test_redeploying_an_older_content_makes_a_new_version(api):
    """After v2, uploading v1's content again is a change from the latest: version 3."""
    deploy(api, versioned(V1))
    deploy(api, versioned(V2))
    r = deploy(api, versioned(V1))
    assert r.status_code == 201
    assert r.get_json()["version"] == 3
    assert start(api, "versioned")["tasks"][0]["name"] == "审查 v1"


# -- refusals ------------------------------------------------------------------------------------


def test_malformed_xml_is_refused_with_location(api):
    """Broken XML: 422 naming the file and a line."""
    findings = refused(api.deploy(DATA / "compile_errors" / "malformed.bpmn"))
    assert findings[0]["file"] == "malformed.bpmn"
    assert isinstance(findings[0]["line"], int) and findings[0]["line"] >= 7


def test_missing_form_is_refused(api):
    """The newborn diagram without its forms: one finding per missing form, named by file."""
    findings = refused(api.deploy(NEWBORN_BPMN))
    missing = {f["file"] for f in findings}
    assert missing == {p.name for p in newborn_files()[1:]}
    assert all("not uploaded" in f["message"] for f in findings)
    assert api.get("/api/v1/processes", "designer").get_json() == []


def test_invalid_form_is_refused(api):
    """A referenced form that is not valid JSON is refused, naming the form."""
    files = files_of(*newborn_files())
    files = [(n, b"{ not json" if n == "newborn_handover.json" else c) for n, c in files]
    findings = refused(deploy(api, files))
    assert [f["file"] for f in findings] == ["newborn_handover.json"]


def test_form_that_is_not_a_json_schema_is_refused(api):
    """A form whose content is JSON but not a valid JSON Schema is refused."""
    files = files_of(*newborn_files())
    files = [(n, b'{"type": 12}' if n == "newborn_handover.json" else c) for n, c in files]
    findings = refused(deploy(api, files))
    assert [f["file"] for f in findings] == ["newborn_handover.json"]


def test_script_import_is_refused(api):
    """A script that imports a module is refused by the sandbox at deploy, located at the script task."""
    findings = refused(api.deploy(DATA / "compile_errors" / "script_import.bpmn"))
    assert findings[0]["element"] == "evil_script"
    assert findings[0]["file"] == "script_import.bpmn"
    assert findings[0]["line"] == 9
    assert "import" in findings[0]["message"]


def test_dunder_condition_is_refused(api):
    """A condition walking dunder attributes is refused by the sandbox at deploy."""
    findings = refused(api.deploy(DATA / "compile_errors" / "condition_dunder.bpmn"))
    assert findings[0]["file"] == "condition_dunder.bpmn"
    assert findings[0]["element"] in ("decide", "flow_escape")
    assert "__" in findings[0]["message"] or "underscore" in findings[0]["message"].lower()


def test_lane_naming_no_group_is_refused(api):
    """A user task in a lane that is neither a group code nor a group name is refused, located."""
    findings = refused(api.deploy(CHECKS / "unknown_lane.bpmn"))
    assert len(findings) == 1
    assert findings[0]["element"] == "land_review"
    assert findings[0]["file"] == "unknown_lane.bpmn"
    assert findings[0]["line"] == 14
    assert "自然资源局" in findings[0]["message"]


def test_unknown_candidate_group_is_refused(api):
    """camunda:candidateGroups naming a group that does not exist is refused."""
    content = (CHECKS / "joint_review.bpmn").read_bytes().replace(b"health,public_security", b"health,land")
    findings = refused(deploy(api, [("joint_review.bpmn", content),
                                    ("joint_review_form.json", (CHECKS / "joint_review_form.json").read_bytes())]))
    assert findings[0]["element"] == "joint"
    assert "land" in findings[0]["message"]


@pytest.mark.parametrize("name", ["notes.txt", "diagram.bpmn.exe", "README"])
def test_unsupported_file_type_is_refused(api, name):
    """A file that is not .bpmn, .dmn or .json is refused, naming the file."""
    findings = refused(deploy(api, [*files_of(V1), (name, b"hello")]))
    assert [f["file"] for f in findings] == [name]


def test_no_file_is_refused(api):
    """A deployment without files is 422."""
    r = api.client.post("/api/v1/processes", headers=api.headers("designer"), data={},
                        content_type="multipart/form-data")
    refused(r)


def test_only_forms_is_refused(api):
    """A deployment of forms without a diagram is 422."""
    refused(api.deploy(CHECKS / "joint_review_form.json"))


def test_same_file_twice_is_refused(api):
    """The same file name twice in one upload is 422."""
    findings = refused(deploy(api, files_of(V1, V1)))
    assert findings[0]["file"] == "versioned_v1.bpmn"


def test_xml_with_doctype_is_refused(api):
    """An XXE attempt (DOCTYPE with an external entity) is refused without reading the file."""
    r = api.deploy(DATA / "hostile" / "xxe_file_passwd.bpmn")
    findings = refused(r)
    assert "root:" not in r.get_data(as_text=True)
    assert findings[0]["file"] == "xxe_file_passwd.bpmn"


def test_refused_deployment_stores_nothing(api):
    """After a refusal no process is listed."""
    refused(api.deploy(CHECKS / "unknown_lane.bpmn"))
    assert api.get("/api/v1/processes", "designer").get_json() == []


def test_upload_over_the_limit_is_413(app, api):
    """An upload larger than MAX_CONTENT_LENGTH is 413 payload_too_large JSON."""
    api.token("designer")
    saved = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 4096
    try:
        r = api.deploy(NEWBORN_BPMN)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved
    assert r.status_code == 413
    body = r.get_json()
    assert body["code"] == 413
    assert body["error"] == "payload_too_large"
    assert api.get("/api/v1/processes", "designer").get_json() == []


def test_upload_under_the_limit_is_accepted(app, api):
    """With the limit above the upload size the same upload deploys."""
    api.token("designer")
    saved = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    try:
        r = api.deploy(V1)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved
    assert r.status_code == 201


# -- Camunda candidate groups --------------------------------------------------------------------


@pytest.fixture()
def joint(api):
    r = api.deploy(CHECKS / "joint_review.bpmn", CHECKS / "joint_review_form.json")
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_camunda_candidate_groups_route_to_both(api, joint):
    """camunda:candidateGroups="health,public_security": groups has both codes, group the first."""
    assert joint["user_tasks"]["joint"]["groups"] == ["health", "public_security"]
    case = start(api, "joint_review")
    task = case["tasks"][0]
    assert task["groups"] == ["health", "public_security"]
    assert task["group"] == "health"
    for user in ("health1", "police1"):
        assert [t["id"] for t in api.available(user)] == [task["id"]]
    assert api.available("medins1") == []


def test_camunda_task_claimed_by_one_group_leaves_the_other(api, joint):
    """Once police1 claims the joint task, health1 no longer has it and gets 409 claiming it."""
    task_id = start(api, "joint_review")["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", "police1").status_code == 200
    assert api.available("health1") == []
    assert api.post(f"/api/v1/tasks/{task_id}/claim", "health1").status_code == 409


def test_camunda_form_key_is_the_task_form(api, joint):
    """camunda:formKey names the task's form: it is shown and enforced on complete."""
    task_id = start(api, "joint_review")["tasks"][0]["id"]
    detail = api.get(f"/api/v1/tasks/{task_id}", "police1").get_json()
    assert detail["form"]["required"] == ["joint_ok"]
    api.post(f"/api/v1/tasks/{task_id}/claim", "police1")
    r = api.post(f"/api/v1/tasks/{task_id}/complete", "police1", json={"data": {}})
    assert r.status_code == 422
    assert "data.joint_ok" in r.get_json()["errors"]
    r = api.post(f"/api/v1/tasks/{task_id}/complete", "police1", json={"data": {"joint_ok": True}})
    assert r.status_code == 200
    assert r.get_json()["outcome"] == "办结"


def test_camunda_task_visible_case_for_both_groups(api, joint):
    """Both candidate groups may read the case."""
    case = start(api, "joint_review")
    assert api.get(f"/api/v1/cases/{case['id']}", "health1").status_code == 200
    assert api.get(f"/api/v1/cases/{case['id']}", "police1").status_code == 200
    assert api.get(f"/api/v1/cases/{case['id']}", "medins1").status_code == 404


def test_lane_by_group_display_name_routes(api):
    """A lane named with a group's display name (卫生健康) routes to that group's code."""
    r = deploy(api, versioned(V2))
    assert r.status_code == 201
    assert r.get_json()["user_tasks"]["recheck"]["groups"] == ["health"]
