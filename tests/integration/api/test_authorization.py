"""Who may call what: every endpoint for every role, and the group/visibility rules for tasks and cases."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

import pytest
from newborn_support import APPLICANT, application, newborn_files, task_data

from support import DATA, PASSWORD, Api, truncate

ROLES = ["admin", "designer", "window1", "health1", "supervisor", None]
ROLE_IDS = ["admin", "designer", "clerk", "reviewer", "supervisor", "anonymous"]


@dataclass
class Scene:
    case_id: int
    open_task: int          # formal_check of case_id, open
    held_by_window2: int    # formal_check of a second case, claimed by window2
    held_by_window1: int    # formal_check of a third case, claimed by window1


def _start(api, user="window1") -> dict:
    r = api.start("newborn", application(), user=user, applicant=APPLICANT)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _claim(api, user: str, task_id: int):
    r = api.post(f"/api/v1/tasks/{task_id}/claim", user)
    assert r.status_code == 200, r.get_json()


def _make_scene(api) -> Scene:
    cases = [_start(api) for _ in range(3)]
    tasks = [c["tasks"][0]["id"] for c in cases]
    _claim(api, "window2", tasks[1])
    _claim(api, "window1", tasks[2])
    return Scene(cases[0]["id"], tasks[0], tasks[1], tasks[2])


@pytest.fixture()
def scene(api) -> Scene:
    """The newborn bundle deployed and three cases started by window1, each waiting at 形式审查."""
    assert api.deploy(*newborn_files()).status_code == 201
    return _make_scene(api)


class World:
    """One seeded database with the newborn bundle and cached tokens, shared by the matrix rows.

    Seeding the demo users costs about two seconds (password hashes), so the 78 matrix rows share
    one database. Each row gets fresh cases; a row that changes shared state (deploy, revoke) uses
    its own diagram or token. If another test emptied the database meanwhile, it is rebuilt.
    """

    def __init__(self, app):
        self.app = app
        self.api = Api(app.test_client())

    def build(self) -> None:
        from app.extensions import db
        from app.services import demo, runtime

        with self.app.app_context():
            truncate(db)
            demo.seed()
            db.session.commit()
            runtime.spec_cache().clear()
        self.api.tokens.clear()
        r = self.api.deploy(*newborn_files())
        assert r.status_code == 201, r.get_json()

    def alive(self) -> bool:
        if not self.api.tokens:
            return False
        r = self.api.client.get("/api/v1/processes",
                                headers={"Authorization": f"Bearer {self.api.tokens['designer']}"})
        return r.status_code == 200 and "newborn" in [p["key"] for p in r.get_json()]

    def scene(self) -> Scene:
        if not self.alive():
            self.build()
        return _make_scene(self.api)


@pytest.fixture(scope="module")
def _world(app):
    return World(app)


@pytest.fixture()
def world(_world) -> World:
    """The shared matrix database, (re)built when needed."""
    return _world


def _unique_diagram() -> tuple[str, bytes]:
    key = f"loop_{uuid.uuid4().hex[:12]}"
    content = (DATA / "parallel_loop" / "parallel_loop.bpmn").read_bytes()
    return f"{key}.bpmn", content.replace(b'"parallel_loop"', f'"{key}"'.encode())


def _call(api, endpoint: str, user: str | None, scene: Scene):
    if endpoint == "list_processes":
        return api.get("/api/v1/processes", user)
    if endpoint == "deploy":
        name, content = _unique_diagram()
        return api.client.post("/api/v1/processes", headers=api.headers(user),
                               data={"file": [(io.BytesIO(content), name)]}, content_type="multipart/form-data")
    if endpoint == "start_case":
        return api.post("/api/v1/cases", user, json={"process_key": "newborn", "applicant": APPLICANT,
                                                    "data": application()})
    if endpoint == "get_case":
        return api.get(f"/api/v1/cases/{scene.case_id}", user)
    if endpoint == "list_tasks":
        return api.get("/api/v1/tasks", user)
    if endpoint == "get_task":
        return api.get(f"/api/v1/tasks/{scene.open_task}", user)
    if endpoint == "claim":
        return api.post(f"/api/v1/tasks/{scene.open_task}/claim", user)
    if endpoint == "unclaim":
        return api.post(f"/api/v1/tasks/{scene.held_by_window2}/unclaim", user)
    if endpoint == "complete":
        return api.post(f"/api/v1/tasks/{scene.held_by_window1}/complete", user,
                        json={"data": task_data("formal_check", "accept")})
    if endpoint == "me":
        return api.get("/api/v1/auth/me", user)
    if endpoint == "revoke_token":
        headers = {}
        if user is not None:
            # A token of its own: the cached one is shared with later rows.
            r = api.client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
            headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
        return api.client.delete("/api/v1/auth/token", headers=headers)
    if endpoint == "openapi":
        return api.get("/api/v1/openapi.json", user)
    if endpoint == "healthz":
        return api.get("/healthz", user)
    raise AssertionError(endpoint)


#                      admin designer clerk reviewer supervisor anonymous
MATRIX = {
    "list_processes": (200, 200, 200, 200, 200, 401),
    "deploy":         (201, 201, 403, 403, 403, 401),
    "start_case":     (403, 403, 201, 403, 403, 401),
    "get_case":       (200, 404, 200, 404, 200, 401),
    "list_tasks":     (200, 200, 200, 200, 200, 401),
    "get_task":       (200, 403, 200, 403, 200, 401),
    "claim":          (403, 403, 200, 403, 403, 401),
    "unclaim":        (200, 403, 403, 403, 403, 401),
    "complete":       (403, 403, 200, 403, 403, 401),
    "me":             (200, 200, 200, 200, 200, 401),
    "revoke_token":   (204, 204, 204, 204, 204, 401),
    "openapi":        (200, 200, 200, 200, 200, 200),
    "healthz":        (200, 200, 200, 200, 200, 200),
}

CASES = [
    pytest.param(endpoint, user, expected[i], id=f"{endpoint}-{ROLE_IDS[i]}")
    for endpoint, expected in MATRIX.items()
    for i, user in enumerate(ROLES)
]


@pytest.mark.parametrize(("endpoint", "user", "expected"), CASES)
def test_matrix(world, endpoint, user, expected):
    """Each endpoint answers each role with the expected status, and errors are JSON."""
    scene = world.scene()
    r = _call(world.api, endpoint, user, scene)
    assert r.status_code == expected, r.get_data(as_text=True)[:500]
    if expected >= 400:
        body = r.get_json()
        assert body is not None, r.get_data(as_text=True)[:200]
        assert body["code"] == expected
        assert body["error"] == {401: "unauthorized", 403: "forbidden", 404: "not_found"}[expected]
        assert isinstance(body["message"], str) and body["message"]


def test_window2_cannot_complete_a_task_window1_holds(api, scene):
    """A member of the same group who does not hold the claim gets 409 on complete."""
    r = api.post(f"/api/v1/tasks/{scene.held_by_window1}/complete", "window2",
                 json={"data": task_data("formal_check", "accept")})
    assert r.status_code == 409
    assert r.get_json()["error"] == "not_claimed_by_you"


def test_window2_claiming_a_task_window1_holds_conflicts(api, scene):
    """Claiming a task someone else of the group holds is 409 claimed_by_other."""
    r = api.post(f"/api/v1/tasks/{scene.held_by_window1}/claim", "window2")
    assert r.status_code == 409
    assert r.get_json()["error"] == "claimed_by_other"


def test_window2_sees_a_case_window1_started(api, scene):
    """window2 is in the window group, which had the 形式审查 task of the case: the case is visible."""
    r = api.get(f"/api/v1/cases/{scene.case_id}", "window2")
    assert r.status_code == 200
    assert r.get_json()["started_by"] == "window1"


@pytest.fixture()
def accepted(api, scene) -> int:
    """Case ``scene.case_id`` accepted: health has 出生医学证明签发 and 生育登记, medins the allowance."""
    api.do("window1", "formal_check", task_data("formal_check", "accept"), case_id=scene.case_id)
    return scene.case_id


def _birth_cert(api, case_id: int) -> dict:
    return api.find_task("health1", "birth_cert", case_id)


def test_other_group_cannot_see_the_task(api, accepted):
    """police1 gets 403 reading health's open task."""
    task = _birth_cert(api, accepted)
    r = api.get(f"/api/v1/tasks/{task['id']}", "police1")
    assert r.status_code == 403
    assert r.get_json()["error"] == "forbidden"


def test_other_group_cannot_claim_the_task(api, accepted):
    """police1 gets 403 claiming health's open task, and the task stays open."""
    task = _birth_cert(api, accepted)
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "police1").status_code == 403
    assert api.get(f"/api/v1/tasks/{task['id']}", "health1").get_json()["state"] == "open"


def test_other_group_cannot_complete_a_held_task(api, accepted):
    """police1 gets 403 (not 409) completing health's task that health1 holds."""
    task = _birth_cert(api, accepted)
    _claim(api, "health1", task["id"])
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "police1",
                 json={"data": task_data("birth_cert", "approve")})
    assert r.status_code == 403


def test_other_group_cannot_unclaim_a_held_task(api, accepted):
    """police1 gets 403 unclaiming health1's claim, which stays with health1."""
    task = _birth_cert(api, accepted)
    _claim(api, "health1", task["id"])
    assert api.post(f"/api/v1/tasks/{task['id']}/unclaim", "police1").status_code == 403
    assert api.get(f"/api/v1/tasks/{task['id']}", "health1").get_json()["assignee"] == "health1"


def test_other_group_cannot_see_the_case(api, accepted):
    """police1's group has had no task in the case yet: 404, as if it did not exist."""
    r = api.get(f"/api/v1/cases/{accepted}", "police1")
    assert r.status_code == 404
    missing = api.get("/api/v1/cases/999999", "police1")
    assert missing.status_code == 404
    assert r.get_json()["error"] == missing.get_json()["error"] == "not_found"


def test_group_with_an_open_task_sees_the_case(api, accepted):
    """health1 and medins1 have open tasks in the case: it is visible to them."""
    assert api.get(f"/api/v1/cases/{accepted}", "health1").status_code == 200
    assert api.get(f"/api/v1/cases/{accepted}", "medins1").status_code == 200


def test_group_that_had_a_task_still_sees_the_case(api, accepted):
    """After health finished both its tasks, health1 still sees the case; police now does too."""
    api.do("health1", "birth_cert", task_data("birth_cert", "approve"), case_id=accepted)
    api.do("health1", "birth_registration", task_data("birth_registration", "approve"), case_id=accepted)
    assert api.get(f"/api/v1/cases/{accepted}", "health1").status_code == 200
    assert api.get(f"/api/v1/cases/{accepted}", "police1").status_code == 200
    assert api.get(f"/api/v1/cases/{accepted}", "hrss1").status_code == 404


def test_group_member_sees_its_completed_task_after_the_case_moved_on(api, accepted):
    """health1 can still read a health task it completed."""
    task = _birth_cert(api, accepted)
    api.do("health1", "birth_cert", task_data("birth_cert", "approve"), case_id=accepted)
    r = api.get(f"/api/v1/tasks/{task['id']}", "health1")
    assert r.status_code == 200
    assert r.get_json()["state"] == "completed"


def test_supervisor_sees_every_case(api, scene):
    """The supervisor reads cases started by window1 and by window2."""
    other = _start(api, user="window2")
    for case_id in (scene.case_id, other["id"]):
        r = api.get(f"/api/v1/cases/{case_id}", "supervisor")
        assert r.status_code == 200
        assert r.get_json()["id"] == case_id


def test_supervisor_reads_any_task_but_cannot_claim(api, accepted):
    """The supervisor may read a health task (200) but not claim it (403)."""
    task = _birth_cert(api, accepted)
    assert api.get(f"/api/v1/tasks/{task['id']}", "supervisor").status_code == 200
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "supervisor").status_code == 403


def test_starter_without_a_group_sees_own_case(api, scene, make_user):
    """A clerk in no group sees the case they started (starter rule), others of no group do not."""
    make_user("clerk_nogroup", ["clerk"], [])
    make_user("clerk_tax", ["clerk"], ["tax"])
    case = _start(api, user="clerk_nogroup")
    assert api.get(f"/api/v1/cases/{case['id']}", "clerk_nogroup").status_code == 200
    assert api.get(f"/api/v1/cases/{case['id']}", "clerk_tax").status_code == 404
    assert api.get(f"/api/v1/cases/{scene.case_id}", "clerk_tax").status_code == 404


def test_starter_sees_case_where_group_has_no_task(api, make_user):
    """window1 started the case; even after it moved to departments only, window1 still sees it."""
    assert api.deploy(DATA / "parallel_loop" / "parallel_loop.bpmn").status_code == 201
    r = api.start("parallel_loop", user="window1", applicant=APPLICANT)
    assert r.status_code == 201
    case_id = r.get_json()["id"]
    assert api.get(f"/api/v1/cases/{case_id}", "window1").status_code == 200
    assert api.get(f"/api/v1/cases/{case_id}", "window2").status_code == 404


def test_admin_unclaims_someone_elses_task(api, scene):
    """An admin releases window2's claim: the task is open and offered to the group again."""
    r = api.post(f"/api/v1/tasks/{scene.held_by_window2}/unclaim", "admin")
    assert r.status_code == 200
    body = r.get_json()
    assert body["state"] == "open" and body["assignee"] is None
    assert scene.held_by_window2 in [t["id"] for t in api.available("window1")]
    history = api.get(f"/api/v1/cases/{body['case_id']}", "admin").get_json()["history"]
    assert [(e["type"], e["actor"]) for e in history][-1] == ("task_unclaimed", "admin")


def test_holder_unclaims_own_task(api, scene):
    """window2 releases its claim; the task leaves window2's ``mine`` and returns to ``available``."""
    r = api.post(f"/api/v1/tasks/{scene.held_by_window2}/unclaim", "window2")
    assert r.status_code == 200
    mine = api.get("/api/v1/tasks?view=mine", "window2").get_json()
    assert mine["items"] == [] and mine["total"] == 0
    assert scene.held_by_window2 in [t["id"] for t in api.available("window2")]


def test_claim_twice_by_holder_is_ok_and_recorded_once(api, scene):
    """Claiming a task I already hold answers 200 and adds no second task_claimed event."""
    r = api.post(f"/api/v1/tasks/{scene.held_by_window1}/claim", "window1")
    assert r.status_code == 200
    assert r.get_json()["assignee"] == "window1"
    task = api.get(f"/api/v1/tasks/{scene.held_by_window1}", "window1").get_json()
    case = api.get(f"/api/v1/cases/{task['case_id']}", "window1").get_json()
    assert [e["type"] for e in case["history"]].count("task_claimed") == 1


def test_claim_of_completed_task_conflicts(api, scene):
    """A completed task cannot be claimed (409 task_not_open) nor completed again (409)."""
    r = api.post(f"/api/v1/tasks/{scene.held_by_window1}/complete", "window1",
                 json={"data": task_data("formal_check", "accept")})
    assert r.status_code == 200
    r = api.post(f"/api/v1/tasks/{scene.held_by_window1}/claim", "window1")
    assert r.status_code == 409
    assert r.get_json()["error"] == "task_not_open"
    r = api.post(f"/api/v1/tasks/{scene.held_by_window1}/complete", "window1",
                 json={"data": task_data("formal_check", "accept")})
    assert r.status_code == 409


def test_complete_without_claim_conflicts(api, scene):
    """Completing an open task of my group without claiming it first is 409."""
    r = api.post(f"/api/v1/tasks/{scene.open_task}/complete", "window1",
                 json={"data": task_data("formal_check", "accept")})
    assert r.status_code == 409
    assert r.get_json()["error"] == "not_claimed_by_you"


def test_inbox_views_follow_claims(api, scene):
    """available = open tasks of my groups oldest first; mine = claimed by me."""
    available = api.available("window1")
    assert [t["id"] for t in available] == [scene.open_task]
    mine = api.get("/api/v1/tasks?view=mine", "window1").get_json()
    assert [t["id"] for t in mine["items"]] == [scene.held_by_window1]
    assert mine["items"][0]["assignee"] == "window1"
    assert mine["items"][0]["state"] == "claimed"
    assert api.get("/api/v1/tasks?view=available", "health1").get_json() == {
        "items": [], "total": 0, "page": 1, "per_page": 20}


def test_available_is_oldest_first(api, scene):
    """After the holders release their claims, the three tasks are listed in creation order."""
    api.post(f"/api/v1/tasks/{scene.held_by_window2}/unclaim", "window2")
    api.post(f"/api/v1/tasks/{scene.held_by_window1}/unclaim", "window1")
    ids = [t["id"] for t in api.available("window2")]
    assert ids == [scene.open_task, scene.held_by_window2, scene.held_by_window1]


def test_task_list_item_shape(api, scene):
    """Inbox items carry id, case, receipt, process, bpmn id, name, group, state, assignee, created_at."""
    item = api.available("window1")[0]
    for key in ("id", "case_id", "receipt_no", "process_key", "bpmn_id", "name", "group", "state",
                "assignee", "created_at"):
        assert key in item, key
    assert item["process_key"] == "newborn"
    assert item["bpmn_id"] == "formal_check"
    assert item["group"] == "window"
    assert item["assignee"] is None


def test_task_detail_has_form_and_case_data(api, scene):
    """GET /tasks/<id> returns the task's JSON Schema form and the case data it shows."""
    r = api.get(f"/api/v1/tasks/{scene.open_task}", "window1")
    assert r.status_code == 200
    body = r.get_json()
    assert body["form"]["title"] == "形式审查/受理"
    assert "check_decision" in body["form"]["required"]
    assert body["data"]["newborn_name"] == application()["newborn_name"]
    assert body["case"]["id"] == scene.case_id

