"""会签 (all of a group sign) and 或签 (any one signs): multi-instance user tasks, one task per
signer from group_members(), each signature with its opinion kept in the case data."""

from __future__ import annotations

from support import DATA

FILES = (DATA / "countersign" / "countersign.bpmn", DATA / "countersign" / "sign_form.json")


def _sign(api, user, bpmn_id, case_id, approve, opinion):
    return api.do(user, bpmn_id, {"approve": approve, "opinion": opinion}, case_id)


def test_every_member_signs_then_any_one_signs(api, make_user):
    make_user("tax2", ["reviewer"], ["tax"])
    assert api.deploy(*FILES).status_code == 201
    case = api.start("countersign").get_json()
    tasks = case["tasks"]
    # One task per active health member (health1, health2, healthchief), each for that person only.
    assert sorted((t["bpmn_id"], t["name"]) for t in tasks) == [("all_sign", "卫健会签")] * 3
    mine = [t for t in api.available("health1") if t["case_id"] == case["id"]]
    assert len(mine) == 1  # not the colleagues' signatures
    other = next(t for t in tasks if t["id"] != mine[0]["id"])
    assert api.post(f"/api/v1/tasks/{other['id']}/claim", "health1").status_code == 403

    _sign(api, "health1", "all_sign", case["id"], True, "同意")
    _sign(api, "health2", "all_sign", case["id"], True, "同意，材料齐全")
    body = api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()
    assert [t["bpmn_id"] for t in body["tasks"]] == ["all_sign"]  # the chief has not signed yet
    body = _sign(api, "healthchief", "all_sign", case["id"], False, "需补充说明")
    signatures = body["data"]["health_signatures"]
    assert [(s["signer"], s["approve"], s["opinion"]) for s in signatures] == [
        ("health1", True, "同意"), ("health2", True, "同意，材料齐全"), ("healthchief", False, "需补充说明")]

    # 或签: the first tax signature completes the step; the other signer's task is withdrawn.
    assert sorted(t["bpmn_id"] for t in body["tasks"]) == ["any_sign", "any_sign"]
    final = _sign(api, "tax1", "any_sign", case["id"], True, "同意")
    assert final["status"] == "completed"
    assert [(s["tax_signer"], s["opinion"]) for s in final["data"]["tax_signatures"]] == [("tax1", "同意")]
    assert "task_cancelled" in [e["type"] for e in final["history"]]


def test_a_signature_needs_its_opinion(api):
    assert api.deploy(*FILES).status_code == 201
    case = api.start("countersign").get_json()
    task = next(t for t in api.available("health1") if t["case_id"] == case["id"])
    api.post(f"/api/v1/tasks/{task['id']}/claim", "health1")
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "health1", json={"data": {"approve": True}})
    assert r.status_code == 422 and "data.opinion" in r.get_json()["errors"]


def _uid(app, username):
    from app.extensions import db
    from app.models import User

    with app.app_context():
        return db.session.query(User).filter_by(username=username).one().id


def test_add_and_remove_signers_while_countersigning(api, app, make_user):
    """加签 by the current signer, 减签 by the section chief; the signatures list follows."""
    assert api.deploy(*FILES).status_code == 201
    case = api.start("countersign").get_json()
    health3 = make_user("health3", ["reviewer"], ["health"])  # joined after the signers were fixed
    mine = next(t for t in api.available("health1") if t["case_id"] == case["id"])
    api.post(f"/api/v1/tasks/{mine['id']}/claim", "health1")

    tax1 = _uid(app, "tax1")
    r = api.post(f"/api/v1/tasks/{mine['id']}/signers", "health1", json={"user_id": tax1})
    assert r.status_code == 422  # not of the health group
    r = api.post(f"/api/v1/tasks/{mine['id']}/signers", "health1", json={"user_id": _uid(app, "health2")})
    assert r.status_code == 409 and r.get_json()["error"] == "already_signing"
    # health3 was created after the case started: 加签 adds them.
    r = api.post(f"/api/v1/tasks/{mine['id']}/signers", "health1", json={"user_id": health3, "note": "请一并会签"})
    assert r.status_code == 201, r.get_json()
    assert any(t["case_id"] == case["id"] for t in api.available("health3"))
    assert api.post(f"/api/v1/tasks/{mine['id']}/signers", "tax1", json={"user_id": health3}).status_code == 403

    # 减签: the chief removes health2's unsigned task.
    h2 = next(t for t in api.available("health2") if t["case_id"] == case["id"])
    assert api.post(f"/api/v1/tasks/{h2['id']}/remove-signer", "health1", json={}).status_code == 403
    r = api.post(f"/api/v1/tasks/{h2['id']}/remove-signer", "healthchief", json={"message": "回避"})
    assert r.status_code == 200 and r.get_json()["state"] == "cancelled"

    r = api.post(f"/api/v1/tasks/{mine['id']}/complete", "health1", json={"data": {"approve": True, "opinion": "同意"}})
    assert r.status_code == 200, r.get_json()
    _sign(api, "health3", "all_sign", case["id"], True, "同意")
    body = _sign(api, "healthchief", "all_sign", case["id"], True, "同意")
    signers = [s["signer"] for s in body["data"]["health_signatures"]]
    assert signers == ["health1", "health3", "healthchief"]
    assert body["data"]["health_signers"] == ["health1", "healthchief", "health3"]
    events = [e["type"] for e in body["history"]]
    assert events.count("signer_added") == 1 and events.count("signer_removed") == 1
    # Nothing left to remove once the countersignature is over.
    last = next(t for t in body["tasks"] if t["bpmn_id"] == "any_sign")
    r = api.post(f"/api/v1/tasks/{last['id']}/remove-signer", "admin", json={})
    assert r.status_code == 409 and r.get_json()["error"] == "not_removable"  # the only tax signer


def test_sequential_countersign_add_before_after_and_remove_a_waiting_signer(api, app, make_user):
    """依次会签: health1 signs first; 加签 before them (health3), at the end (health4); 减签 of
    health2, who is still waiting. The signatures follow the queue."""
    files = (DATA / "countersign" / "countersign_sequential.bpmn", DATA / "countersign" / "sign_form.json")
    assert api.deploy(*files).status_code == 201
    case = api.start("countersign_seq").get_json()
    assert [t["bpmn_id"] for t in case["tasks"]] == ["all_sign"]  # one at a time
    first = case["tasks"][0]
    health3 = make_user("health3", ["reviewer"], ["health"])
    health4 = make_user("health4", ["reviewer"], ["health"])
    assert api.post(f"/api/v1/tasks/{first['id']}/claim", "health1").status_code == 200
    r = api.post(f"/api/v1/tasks/{first['id']}/signers", "health1",
                 json={"user_id": health3, "position": "before", "note": "请先审"})
    assert r.status_code == 201, r.get_json()
    assert api.get(f"/api/v1/tasks/{first['id']}", "health1").get_json()["state"] == "cancelled"
    live = api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()["tasks"]
    assert len(live) == 1 and api.find_task("health3", "all_sign", case["id"])["id"] == live[0]["id"]
    r = api.post(f"/api/v1/tasks/{live[0]['id']}/signers", "healthchief", json={"user_id": health4, "position": "end"})
    assert r.status_code == 201
    health2 = _uid(app, "health2")
    r = api.post(f"/api/v1/tasks/{live[0]['id']}/remove-signer", "healthchief", json={"user_id": health2})
    assert r.status_code == 200, r.get_json()
    bad = api.post(f"/api/v1/tasks/{live[0]['id']}/signers", "health1", json={"user_id": health4, "position": "middle"})
    assert bad.status_code == 422

    for user in ("health3", "health1", "healthchief"):
        body = _sign(api, user, "all_sign", case["id"], True, f"{user}同意")
    body = _sign(api, "health4", "all_sign", case["id"], True, "health4同意")
    assert [s["signer"] for s in body["data"]["health_signatures"]] == ["health3", "health1", "healthchief", "health4"]
    assert [t["bpmn_id"] for t in body["tasks"]] == ["any_sign"]
