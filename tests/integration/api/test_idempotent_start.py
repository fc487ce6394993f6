"""POST /cases with an Idempotency-Key: a resent application starts no second case."""

from __future__ import annotations

import pytest
from newborn_support import APPLICANT, application, newborn_files
from sqlalchemy import func, select


@pytest.fixture()
def newborn(api):
    r = api.deploy(*newborn_files())
    assert r.status_code == 201, r.get_json()


def start(api, key=None, user="window1", applicant=APPLICANT, process_key="newborn"):
    headers = api.headers(user) | ({"Idempotency-Key": key} if key is not None else {})
    return api.client.post("/api/v1/cases", headers=headers, json={
        "process_key": process_key, "applicant": applicant, "data": application()})


def cases(app) -> int:
    from app.extensions import db
    from app.models import Case

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Case))


def test_a_resent_start_returns_the_first_case(api, app, newborn):
    first = start(api, "0b6f9a1e-7c2d-4f5a-9e3b-1d2c3b4a5f60")
    assert first.status_code == 201, first.get_json()
    again = start(api, "0b6f9a1e-7c2d-4f5a-9e3b-1d2c3b4a5f60")
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["receipt_no"] == first.get_json()["receipt_no"]
    assert [e["type"] for e in again.get_json()["history"]].count("case_started") == 1
    assert cases(app) == 1
    # Without a key, or with another one, each request starts its own case.
    assert start(api).status_code == 201 and start(api).status_code == 201
    assert start(api, "another-key-0001").status_code == 201
    assert cases(app) == 4


def test_keys_are_per_user(api, app, newborn, make_user):
    make_user("window9", ["clerk"], ["window"])
    assert start(api, "shared-key-0001").status_code == 201
    r = start(api, "shared-key-0001", user="window9")
    assert r.status_code == 201 and cases(app) == 2


def test_a_key_sent_again_for_another_application_is_refused(api, app, newborn):
    first = start(api, "form-0001-abcdef")
    assert first.status_code == 201
    other = start(api, "form-0001-abcdef", applicant={**APPLICANT, "name": "赵六", "id_number": "140402198802023456"})
    body = other.get_json()
    assert other.status_code == 409 and body["error"] == "submission_key_reused", body
    assert first.get_json()["receipt_no"] in body["message"]
    assert cases(app) == 1


@pytest.mark.parametrize("key", ["short", "x" * 65, "has space in it", "中文的键值一二三四"])
def test_a_malformed_key_is_422_naming_the_header(api, app, newborn, key):
    r = start(api, key)
    body = r.get_json()
    assert r.status_code == 422 and "Idempotency-Key" in body["errors"], body
    assert cases(app) == 0


def test_a_refused_start_keeps_the_key_free(api, app, newborn):
    """Nothing was started, so the corrected request with the same key starts the case."""
    bad = api.client.post("/api/v1/cases", headers=api.headers("window1") | {"Idempotency-Key": "retry-0001-x"},
                          json={"process_key": "newborn", "applicant": APPLICANT, "data": {}})
    assert bad.status_code == 422
    assert start(api, "retry-0001-x").status_code == 201 and cases(app) == 1


def test_the_header_is_in_the_openapi_document(client):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/cases"]["post"]
    assert [p["name"] for p in operation["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert {"200", "201"} <= set(operation["responses"])
