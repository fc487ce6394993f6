"""A diagram script that tries to allocate gigabytes fails the step cleanly over the API: a 422
with the reason, nothing stored, and the worker process keeps serving (issue 9)."""

from __future__ import annotations

from sqlalchemy import func, select

from support import DATA

HOG = DATA / "scripts" / "memory_hog.bpmn"


def test_a_script_over_its_memory_budget_fails_the_start_and_stores_nothing(app, api):
    from app.extensions import db
    from app.models import Case

    assert api.deploy(HOG).status_code == 201
    r = api.start("memory_hog", {"size": 10**10})
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert body["error"] == "workflow_error" and "MB of memory" in body["message"], body
    assert [e["element"] for e in body["errors"]] == ["build"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Case.id))) == 0

    r = api.start("memory_hog", {"size": 10})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"]["blob_length"] == 10
