"""Moving running cases to a newer version over the API: permissions, preview, one case, bulk, audit,
claims, and cases that changed between the preview and the move."""

from __future__ import annotations

import pytest
from newborn_support import deploy_bytes

from support import DATA

MIG = DATA / "migration"
URL = "/api/v1/processes/mig_simple/migration"


def deploy(api, bpmn: str, form_dir=MIG):
    """Deploy a version of mig_simple, always uploaded as mig_simple.bpmn, with its form."""
    files = [("mig_simple.bpmn", (MIG / bpmn).read_bytes()),
             ("simple_accept.json", (form_dir / "simple_accept.json").read_bytes())]
    r = deploy_bytes(api.client, api.token("designer"), files)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["version"]


def start(api) -> int:
    r = api.start("mig_simple", {})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def case(api, case_id: int) -> dict:
    r = api.get(f"/api/v1/cases/{case_id}", "admin")
    assert r.status_code == 200
    return r.get_json()


def preview(api, query: str, user="designer") -> dict:
    r = api.get(f"{URL}?{query}", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def migrate(api, body: dict, user="designer") -> dict:
    r = api.post(URL, user, json=body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def by_case(rows: list[dict]) -> dict[int, dict]:
    return {row["case_id"]: row for row in rows}


@pytest.fixture
def three_cases(api):
    """v1 deployed; one case waits at accept, one at review, one has ended."""
    deploy(api, "simple_v1.bpmn")
    at_accept, at_review, ended = start(api), start(api), start(api)
    for case_id in (at_review, ended):
        api.do("window1", "accept", {"accepted": True}, case_id=case_id)
    api.do("health1", "review", {}, case_id=ended)
    return at_accept, at_review, ended


# -- permissions and input ------------------------------------------------------------------------

@pytest.mark.parametrize(("user", "status"), [(None, 401), ("window1", 403), ("health1", 403),
                                              ("supervisor", 403), ("designer", 200), ("admin", 200)])
def test_preview_is_for_designers_and_admins(api, three_cases, user, status):
    """Only designers and admins see (and move) cases across versions."""
    deploy(api, "simple_v2_added.bpmn")
    assert api.get(f"{URL}?from=1&to=2", user).status_code == status


@pytest.mark.parametrize("user", [None, "window1", "supervisor"])
def test_others_may_not_move_cases(api, three_cases, user):
    """A clerk or supervisor cannot move cases; nothing moves."""
    deploy(api, "simple_v2_added.bpmn")
    r = api.post(URL, user, json={"from": 1, "to": 2})
    assert r.status_code == (401 if user is None else 403)
    assert case(api, three_cases[0])["version"] == 1


@pytest.mark.parametrize(("query", "status"), [("from=2&to=1", 422), ("from=1&to=1", 422), ("to=2", 422),
                                               ("from=1&to=9", 404), ("from=1&to=2&map=nocolon", 422)])
def test_preview_refuses_bad_versions(api, three_cases, query, status):
    """Cases move forward to an existing version; mappings are old:new."""
    deploy(api, "simple_v2_added.bpmn")
    assert api.get(f"{URL}?{query}", "designer").status_code == status


def test_every_reason_has_a_message(app):
    """Each code the engine or the service can give has designer wording that formats."""
    import re

    from app.engine.migrate import REASON_CODES
    from app.services.migration import reason_messages

    with app.test_request_context("/api/v1/processes"):
        messages = reason_messages()
    assert set(messages) == {*REASON_CODES, "not_active", "not_on_version"}
    for template in messages.values():
        assert template % {name: "x" for name in re.findall(r"%\((\w+)\)s", template)}


# -- preview --------------------------------------------------------------------------------------

def test_preview_lists_active_cases_and_says_why_not(api, three_cases):
    """The ended case is not listed; the case at the removed step is not eligible, with a reason."""
    at_accept, at_review, _ended = three_cases
    deploy(api, "simple_v3_removed.bpmn")
    body = preview(api, "from=1&to=2")
    assert (body["total"], body["eligible"]) == (2, 1)
    rows = by_case(body["cases"])
    assert set(rows) == {at_accept, at_review}
    assert rows[at_accept]["eligible"] and rows[at_accept]["reasons"] == []
    assert rows[at_accept]["waiting_at"] == ["受理"]
    (reason,) = rows[at_review]["reasons"]
    assert reason["code"] == "task_replaced" and reason["params"]["task"] == "review"
    assert "卫健审查" in reason["message"] and "Map review" in reason["message"]


def test_preview_with_a_mapping_makes_the_case_eligible(api, three_cases):
    """map=review:final: the waiting review continues as the new 终审 step."""
    deploy(api, "simple_v3_removed.bpmn")
    assert preview(api, "from=1&to=2&map=review:final")["eligible"] == 2


# -- moving ---------------------------------------------------------------------------------------

def test_move_one_case_keeps_its_claimed_task_and_runs_to_the_end(api, three_cases):
    """The mapped review becomes 终审 for the same health reviewer, who keeps the claim."""
    at_accept, at_review, _ = three_cases
    task = api.find_task("health1", "review", at_review)
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "health1").status_code == 200
    deploy(api, "simple_v3_removed.bpmn")

    body = migrate(api, {"from": 1, "to": 2, "case_ids": [at_review], "mapping": {"review": "final"}})
    assert (body["moved"], body["refused"], body["failed"]) == (1, 0, 0)
    assert (body["results"][0]["status"], body["results"][0]["to_version"]) == ("moved", 2)

    moved = case(api, at_review)
    assert moved["version"] == 2
    (open_task,) = moved["tasks"]
    assert (open_task["id"], open_task["bpmn_id"], open_task["state"]) == (task["id"], "final", "claimed")
    event = next(e for e in moved["history"] if e["type"] == "case_migrated")
    assert event["actor"] == "designer"
    assert event["data"]["from_version"] == 1 and event["data"]["to_version"] == 2
    assert event["data"]["mapping"] == {"review": "final"}
    assert case(api, at_accept)["version"] == 1  # not asked for

    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "health1", json={"data": {}})
    assert r.status_code == 200, r.get_json()
    done = api.do("window1", "archive", {}, case_id=at_review)
    assert done["status"] == "completed" and done["outcome"] == "办结"


def test_move_all_moves_the_eligible_and_reports_the_others(api, three_cases):
    """Without case_ids every active case is tried; the one at the removed step is refused."""
    at_accept, at_review, ended = three_cases
    deploy(api, "simple_v3_removed.bpmn")
    body = migrate(api, {"from": 1, "to": 2})
    assert (body["moved"], body["refused"], body["failed"]) == (1, 1, 0)
    results = by_case(body["results"])
    assert set(results) == {at_accept, at_review}
    assert results[at_accept]["status"] == "moved"
    assert results[at_review]["status"] == "refused" and results[at_review]["error"] == "not_eligible"
    assert results[at_review]["reasons"][0]["code"] == "task_replaced"
    assert (case(api, at_accept)["version"], case(api, at_review)["version"], case(api, ended)["version"]) == (2, 1, 1)

    api.do("window1", "accept", {"accepted": True}, case_id=at_accept)
    api.do("health1", "final", {}, case_id=at_accept)
    assert api.do("window1", "archive", {}, case_id=at_accept)["status"] == "completed"


def test_changed_group_releases_the_claim(api, three_cases):
    """{review: review} accepts the new lane: the health reviewer's claim is released, police gets it."""
    _, at_review, _ = three_cases
    task = api.find_task("health1", "review", at_review)
    api.post(f"/api/v1/tasks/{task['id']}/claim", "health1")
    deploy(api, "simple_v4_routing.bpmn")
    assert migrate(api, {"from": 1, "to": 2, "mapping": {"review": "review"}})["moved"] == 2

    moved = case(api, at_review)
    assert moved["tasks"][0]["id"] == task["id"] and moved["tasks"][0]["state"] == "open"
    released = [e for e in moved["history"] if e["type"] == "task_unclaimed"]
    assert released and released[-1]["data"] == {"reason": "case_migrated"}
    assert not [t for t in api.available("health1") if t["case_id"] == at_review]
    assert api.do("police1", "review", {}, case_id=at_review)["status"] == "completed"


def test_changed_form_of_the_waiting_task_is_refused(api, three_cases):
    """A new content of the form at the waiting step needs the designer's {accept: accept}."""
    at_accept, _, _ = three_cases
    deploy(api, "simple_v2_added.bpmn", form_dir=MIG / "form_v2")
    rows = by_case(preview(api, "from=1&to=2")["cases"])
    assert [r["code"] for r in rows[at_accept]["reasons"]] == ["form_changed"]
    assert preview(api, "from=1&to=2&map=accept:accept")["eligible"] == 2


def test_case_that_moved_on_after_the_preview_is_refused(api, three_cases):
    """Eligible in the preview, then its task is completed: the move re-checks and refuses it."""
    at_accept, at_review, _ = three_cases
    deploy(api, "simple_v4_routing.bpmn")
    assert by_case(preview(api, "from=1&to=2")["cases"])[at_accept]["eligible"]
    api.do("window1", "accept", {"accepted": True}, case_id=at_accept)  # now waits at the rerouted review
    api.do("health1", "review", {}, case_id=at_review)  # ends on version 1

    body = migrate(api, {"from": 1, "to": 2, "case_ids": [at_accept, at_review]})
    results = by_case(body["results"])
    assert results[at_accept]["status"] == "refused"
    assert results[at_accept]["reasons"][0]["code"] == "routing_changed"
    assert results[at_review]["status"] == "refused"
    assert results[at_review]["reasons"][0]["code"] == "not_active"
    assert case(api, at_accept)["version"] == 1


def test_a_case_already_moved_is_refused_the_second_time(api, three_cases):
    """Running the bulk move again reports the moved case as no longer on the old version."""
    at_accept, _, _ = three_cases
    deploy(api, "simple_v2_added.bpmn")
    migrate(api, {"from": 1, "to": 2, "case_ids": [at_accept]})
    again = migrate(api, {"from": 1, "to": 2, "case_ids": [at_accept]})
    assert again["results"][0]["reasons"][0]["code"] == "not_on_version"
    history = case(api, at_accept)["history"]
    assert [e["type"] for e in history].count("case_migrated") == 1


def test_one_failing_case_does_not_stop_the_others(api, three_cases, monkeypatch):
    """An unexpected error rolls back that case only; the bulk run continues."""
    from app.services import migration

    at_accept, at_review, _ = three_cases
    deploy(api, "simple_v2_added.bpmn")
    real = migration.migrate_case

    def broken(user, case_id, *args, **kwargs):
        result = real(user, case_id, *args, **kwargs)
        if case_id == at_accept:
            raise RuntimeError("disk full")
        return result

    monkeypatch.setattr(migration, "migrate_case", broken)
    body = migrate(api, {"from": 1, "to": 2})
    results = by_case(body["results"])
    assert results[at_accept]["status"] == "failed" and "disk full" in results[at_accept]["message"]
    assert results[at_review]["status"] == "moved"
    assert case(api, at_accept)["version"] == 1  # rolled back, history untouched
    assert "case_migrated" not in [e["type"] for e in case(api, at_accept)["history"]]
    assert case(api, at_review)["version"] == 2


def test_a_database_error_is_reported_without_its_sql_or_parameters(api, three_cases, monkeypatch):
    """A database error's text holds the statement and its parameters (case data: ID numbers): the
    result names the error class and the request id to find it in the log, not the SQL."""
    from sqlalchemy.exc import DataError

    from app.services import migration

    at_accept, _, _ = three_cases
    deploy(api, "simple_v2_added.bpmn")

    def broken(user, case_id, *args, **kwargs):
        raise DataError("UPDATE cases SET data=? WHERE cases.id = ?",
                        ('{"mother_id_number": "140402199001011234"}', case_id), Exception("value too long"))

    monkeypatch.setattr(migration, "migrate_case", broken)
    body = migrate(api, {"from": 1, "to": 2, "case_ids": [at_accept]})
    result = body["results"][0]
    assert (result["status"], result["error"]) == ("failed", "internal_error")
    assert "DataError" in result["message"]
    assert "UPDATE" not in result["message"] and "140402199001011234" not in result["message"]


def test_a_case_of_another_process_is_not_touched(api, three_cases):
    """case_ids of another process are reported as not found, never moved to this key's version."""
    deploy(api, "simple_v2_added.bpmn")
    assert api.deploy(MIG / "parallel_v1.bpmn").status_code == 201
    other = api.start("mig_parallel", {}).get_json()["id"]
    body = migrate(api, {"from": 1, "to": 2, "case_ids": [other, 999999]})
    assert [(r["status"], r["error"]) for r in body["results"]] == [("refused", "not_found")] * 2
    assert case(api, other)["version"] == 1 and case(api, other)["process_key"] == "mig_parallel"
