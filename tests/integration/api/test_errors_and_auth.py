"""Authentication (tokens, sessions, CSRF), error bodies and precedence, masking, receipts and paging."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from newborn_support import (
    APPLICANT,
    MASKED_ID,
    MASKED_PHONE,
    application,
    newborn_files,
    task_data,
)

from support import DATA, PASSWORD

PROTECTED = [
    ("get", "/api/v1/processes"),
    ("post", "/api/v1/processes"),
    ("post", "/api/v1/cases"),
    ("get", "/api/v1/cases/1"),
    ("get", "/api/v1/tasks"),
    ("get", "/api/v1/tasks/1"),
    ("post", "/api/v1/tasks/1/claim"),
    ("post", "/api/v1/tasks/1/unclaim"),
    ("post", "/api/v1/tasks/1/complete"),
    ("get", "/api/v1/auth/me"),
    ("delete", "/api/v1/auth/token"),
    ("delete", "/api/v1/auth/session"),
]


def assert_error(r, status: int, error: str | None = None) -> dict:
    """The response is the API's JSON error body with this status (and machine code)."""
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    assert r.is_json, r.get_data(as_text=True)[:200]
    body = r.get_json()
    assert set(body) == {"code", "error", "message", "errors"}
    assert body["code"] == status
    assert isinstance(body["message"], str) and body["message"]
    if error is not None:
        assert body["error"] == error
    return body


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def newborn(api):
    r = api.deploy(*newborn_files())
    assert r.status_code == 201, r.get_json()


def start(api, user="window1", applicant=APPLICANT) -> dict:
    r = api.start("newborn", application(), user=user, applicant=applicant)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# -- 401 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_protected_endpoint_without_credentials_is_401(client, method, path):
    """Without a token or session every protected endpoint answers 401 JSON."""
    r = getattr(client, method)(path)
    assert_error(r, 401, "unauthorized")


@pytest.mark.parametrize("header", ["Bearer not-a-real-token", "Bearer ", "Basic d2luZG93MTpjaGFuZ3poaTIwMjU=",
                                    "Token abc"])
def test_bad_authorization_header_is_401(client, header):
    """A wrong, empty or non-bearer Authorization header is 401."""
    r = client.get("/api/v1/tasks", headers={"Authorization": header})
    assert_error(r, 401, "unauthorized")


def test_token_grants_access(api):
    """A token from POST /auth/token identifies the user on /auth/me."""
    r = api.get("/api/v1/auth/me", "health1")
    assert r.status_code == 200
    user = r.get_json()["user"]
    assert user["username"] == "health1"
    assert user["groups"] == ["health"]
    assert user["roles"] == ["reviewer"]


def test_token_response_shape_and_default_lifetime(client):
    """The token response has token, expires_at TOKEN_TTL_HOURS ahead (8 by default) and the user."""
    before = datetime.now(UTC)
    r = client.post("/api/v1/auth/token", json={"username": "window1", "password": PASSWORD})
    assert r.status_code == 200
    body = r.get_json()
    assert isinstance(body["token"], str) and len(body["token"]) >= 32
    assert body["user"]["username"] == "window1"
    assert "password" not in body["user"]
    expires = datetime.fromisoformat(body["expires_at"])
    ttl = timedelta(hours=client.application.config["TOKEN_TTL_HOURS"])
    assert ttl - timedelta(minutes=1) <= expires - before <= ttl + timedelta(minutes=1)
    from config import Config

    assert int(os.environ.get("TOKEN_TTL_HOURS", 8)) == Config.TOKEN_TTL_HOURS


def test_expired_token_is_401(app, api):
    """A token whose expires_at has passed is refused."""
    from sqlalchemy import update

    from app.extensions import db
    from app.models import ApiToken

    token = api.token("window1")
    assert api.get("/api/v1/auth/me", "window1").status_code == 200
    with app.app_context():
        db.session.execute(update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    assert_error(api.client.get("/api/v1/auth/me", headers=bearer(token)), 401, "unauthorized")


def test_zero_ttl_token_is_born_expired(app, client):
    """With TOKEN_TTL_HOURS = 0 a new token is already expired."""
    saved = app.config["TOKEN_TTL_HOURS"]
    app.config["TOKEN_TTL_HOURS"] = 0
    try:
        r = client.post("/api/v1/auth/token", json={"username": "window1", "password": PASSWORD})
    finally:
        app.config["TOKEN_TTL_HOURS"] = saved
    assert r.status_code == 200
    assert_error(client.get("/api/v1/auth/me", headers=bearer(r.get_json()["token"])), 401)


def test_revoked_token_is_401(api):
    """DELETE /auth/token revokes the token used; the next request with it is 401."""
    token = api.token("window1")
    r = api.client.delete("/api/v1/auth/token", headers=bearer(token))
    assert r.status_code == 204
    assert_error(api.client.get("/api/v1/auth/me", headers=bearer(token)), 401, "unauthorized")
    assert_error(api.client.delete("/api/v1/auth/token", headers=bearer(token)), 401)


def test_revoking_one_token_keeps_the_others(client):
    """Revoking one of a user's tokens leaves their other tokens working."""
    tokens = [client.post("/api/v1/auth/token", json={"username": "window1", "password": PASSWORD})
              .get_json()["token"] for _ in range(2)]
    assert client.delete("/api/v1/auth/token", headers=bearer(tokens[0])).status_code == 204
    assert client.get("/api/v1/auth/me", headers=bearer(tokens[1])).status_code == 200


def test_token_of_deactivated_user_is_401(app, api):
    """A user deactivated after getting a token can no longer use it."""
    from sqlalchemy import update

    from app.extensions import db
    from app.models import User

    token = api.token("health1")
    with app.app_context():
        db.session.execute(update(User).where(User.username == "health1").values(active=False))
        db.session.commit()
    assert_error(api.client.get("/api/v1/auth/me", headers=bearer(token)), 401)


@pytest.mark.parametrize(("username", "password"), [("window1", "wrong"), ("nobody", PASSWORD),
                                                    ("window1", PASSWORD.upper())])
def test_token_login_with_bad_credentials_is_401(client, username, password):
    """Wrong password or unknown user: 401 invalid_credentials with the same message."""
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    body = assert_error(r, 401, "invalid_credentials")
    assert body["message"] == "Wrong username or password."


def test_token_login_of_inactive_user_is_401(app, client):
    """A deactivated user cannot log in."""
    from sqlalchemy import update

    from app.extensions import db
    from app.models import User

    with app.app_context():
        db.session.execute(update(User).where(User.username == "window2").values(active=False))
        db.session.commit()
    r = client.post("/api/v1/auth/token", json={"username": "window2", "password": PASSWORD})
    assert_error(r, 401, "invalid_credentials")


def test_token_login_missing_fields_is_422(client):
    """A token request without a password lists the field."""
    body = assert_error(client.post("/api/v1/auth/token", json={"username": "window1"}), 422, "invalid_input")
    assert list(body["errors"]) == ["password"]


# -- malformed JSON and precedence ---------------------------------------------------------------


def test_malformed_json_is_400(api):
    """A body that is not JSON gives 400 malformed_json."""
    r = api.post("/api/v1/cases", "window1", data="{not json", content_type="application/json")
    assert_error(r, 400, "malformed_json")


def test_malformed_json_on_public_token_endpoint_is_400(client):
    """POST /auth/token with broken JSON gives 400 malformed_json."""
    r = client.post("/api/v1/auth/token", data="{", content_type="application/json")
    assert_error(r, 400, "malformed_json")


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/reviews"])
@pytest.mark.parametrize("body", ["[" * 5000 + "]" * 5000, "[" * 990 + "]" * 990,
                                  '{"a": ' + "[" * 5000 + '"\\u0000"' + "]" * 5000 + "}"])
def test_json_nested_too_deep_is_400_not_a_server_error(client, path, body):
    """JSON nested thousands deep (the decoder would hit Python's recursion limit) is refused as
    malformed, also on the public endpoints and when the NUL check reads the body."""
    assert_error(client.post(path, data=body, content_type="application/json"), 400, "malformed_json")
    within = "[" * 200 + '"[[[{{"' + "]" * 200  # brackets in a string do not count
    assert_error(client.post(path, data=within, content_type="application/json"), 422, "invalid_input")


def test_malformed_json_on_complete_is_400(api, newborn):
    """POST /tasks/<id>/complete with broken JSON gives 400 malformed_json."""
    case = start(api)
    task_id = case["tasks"][0]["id"]
    api.post(f"/api/v1/tasks/{task_id}/claim", "window1")
    r = api.post(f"/api/v1/tasks/{task_id}/complete", "window1", data='{"data": ', content_type="application/json")
    assert_error(r, 400, "malformed_json")


def test_anonymous_malformed_json_is_401(client):
    """Authentication is checked before the body: anonymous + broken JSON -> 401."""
    r = client.post("/api/v1/cases", data="{not json", content_type="application/json")
    assert_error(r, 401, "unauthorized")


def test_reviewer_invalid_body_on_start_is_403(api):
    """The role is checked before the body: reviewer + invalid body on POST /cases -> 403."""
    r = api.post("/api/v1/cases", "health1", json={"process_key": 5, "applicant": "x"})
    assert_error(r, 403, "forbidden")


def test_reviewer_malformed_json_on_start_is_403(api):
    """The role is checked before the body is parsed: reviewer + broken JSON -> 403."""
    r = api.post("/api/v1/cases", "health1", data="{", content_type="application/json")
    assert_error(r, 403, "forbidden")


def test_claim_missing_task_is_404(api):
    """Claiming a task that does not exist is 404."""
    assert_error(api.post("/api/v1/tasks/999999/claim", "window1"), 404, "not_found")


def test_get_missing_task_is_404(api):
    """Reading a task that does not exist is 404."""
    assert_error(api.get("/api/v1/tasks/999999", "supervisor"), 404, "not_found")


def test_complete_missing_task_with_invalid_data_is_404(api):
    """404 comes before 422: completing a missing task with bad data is 404."""
    r = api.post("/api/v1/tasks/999999/complete", "window1", json={"data": "not an object"})
    assert_error(r, 404, "not_found")


def test_unclaim_missing_task_is_404(api):
    """Unclaiming a task that does not exist is 404."""
    assert_error(api.post("/api/v1/tasks/999999/unclaim", "admin"), 404, "not_found")


def test_complete_with_invalid_data_on_task_held_by_other_is_409(api, newborn):
    """409 comes before 422: window2 completes window1's claimed task with bad data -> 409."""
    task_id = start(api)["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", "window1").status_code == 200
    r = api.post(f"/api/v1/tasks/{task_id}/complete", "window2", json={"data": {"check_decision": "maybe"}})
    assert_error(r, 409)


def test_complete_with_invalid_data_on_other_groups_task_is_403(api, newborn):
    """403 comes before 409 and 422: health1 completes the window's task with bad data -> 403."""
    task_id = start(api)["tasks"][0]["id"]
    r = api.post(f"/api/v1/tasks/{task_id}/complete", "health1", json={"data": {"check_decision": "maybe"}})
    assert_error(r, 403, "forbidden")


def test_claim_held_task_by_other_group_is_403(api, newborn):
    """403 comes before 409: health1 claiming the window's task that window1 holds -> 403."""
    task_id = start(api)["tasks"][0]["id"]
    api.post(f"/api/v1/tasks/{task_id}/claim", "window1")
    assert_error(api.post(f"/api/v1/tasks/{task_id}/claim", "health1"), 403)


def test_start_unknown_process_is_422(api):
    """Starting a process that is not deployed is 422 on process_key."""
    r = api.post("/api/v1/cases", "window1", json={"process_key": "nope", "applicant": APPLICANT, "data": {}})
    body = assert_error(r, 422, "invalid_input")
    assert list(body["errors"]) == ["process_key"]


def test_start_invalid_applicant_is_422_with_dotted_fields(api, newborn):
    """Applicant errors are keyed by dotted paths such as applicant.id_number."""
    r = api.post("/api/v1/cases", "window1", json={
        "process_key": "newborn", "applicant": {"name": "", "id_number": "12345"}, "data": application()})
    body = assert_error(r, 422, "invalid_input")
    assert "applicant.id_number" in body["errors"]
    assert "applicant.name" in body["errors"]


def test_start_missing_applicant_is_422(api, newborn):
    """A start request without applicant names the field."""
    r = api.post("/api/v1/cases", "window1", json={"process_key": "newborn", "data": application()})
    body = assert_error(r, 422, "invalid_input")
    assert "applicant" in body["errors"]


def test_start_form_errors_are_prefixed_with_data(api, newborn):
    """Start-form errors are keyed data.<field>; nothing is created."""
    data = application(newborn_birth_date=20260101)
    del data["mother_name"]
    r = api.post("/api/v1/cases", "window1", json={"process_key": "newborn", "applicant": APPLICANT, "data": data})
    body = assert_error(r, 422, "invalid_input")
    assert set(body["errors"]) == {"data.mother_name", "data.newborn_birth_date"}
    assert body["errors"]["data.mother_name"] == ["This field is required."]
    assert api.available("window1") == []


def test_complete_with_invalid_data_stores_nothing(api, newborn):
    """422 on complete lists field errors; the task stays claimed and no audit event is added."""
    case = start(api)
    task_id = case["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", "window1").status_code == 200
    before = api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()
    r = api.post(f"/api/v1/tasks/{task_id}/complete", "window1",
                 json={"data": {"check_decision": "maybe", "missing_materials": "结婚证"}})
    body = assert_error(r, 422, "invalid_input")
    assert set(body["errors"]) == {"data.check_decision", "data.check_opinion", "data.missing_materials"}
    after = api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()
    assert after["history"] == before["history"]
    assert after["data"] == before["data"]
    task = api.get(f"/api/v1/tasks/{task_id}", "window1").get_json()
    assert task["state"] == "claimed" and task["assignee"] == "window1"
    assert task["completed_at"] is None


def test_complete_with_non_object_data_is_422(api, newborn):
    """data must be a JSON object."""
    task_id = start(api)["tasks"][0]["id"]
    api.post(f"/api/v1/tasks/{task_id}/claim", "window1")
    body = assert_error(api.post(f"/api/v1/tasks/{task_id}/complete", "window1", json={"data": [1, 2]}), 422)
    assert "data" in body["errors"]


def test_failed_engine_step_is_422_and_stores_nothing(app, api):
    """A gateway condition on an undefined variable: 422 workflow_error; state, lock and claim unchanged."""
    from app.extensions import db
    from app.models import Case

    r = api.deploy(DATA / "api_checks" / "undefined_variable.bpmn")
    assert r.status_code == 201, r.get_json()
    case = api.start("undefined_variable", {}, applicant=APPLICANT).get_json()
    task_id = case["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", "window1").status_code == 200
    with app.app_context():
        stored = db.session.get(Case, case["id"])
        before = (stored.workflow_state, stored.lock_version)
    history = api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()["history"]

    r = api.post(f"/api/v1/tasks/{task_id}/complete", "window1", json={"data": {}})
    body = assert_error(r, 422, "workflow_error")
    assert isinstance(body["errors"], list)
    assert set(body["errors"][0]) == {"file", "line", "element", "message"}

    with app.app_context():
        stored = db.session.get(Case, case["id"])
        assert (stored.workflow_state, stored.lock_version) == before
        assert stored.status == "active"
    assert api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()["history"] == history
    task = api.get(f"/api/v1/tasks/{task_id}", "window1").get_json()
    assert task["state"] == "claimed" and task["assignee"] == "window1"


# -- never HTML under /api -----------------------------------------------------------------------


def test_unknown_api_path_is_json_404(api):
    """An unknown path under /api/v1 is a JSON 404, with or without a token."""
    assert_error(api.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error(api.get("/api/v1/no-such-thing", "window1"), 404, "not_found")


@pytest.mark.parametrize("path", ["/api", "/api/", "/api/v2/cases"])
def test_paths_under_api_without_a_route_are_json(client, path):
    """Anything under /api (the bare /api too) answers a JSON error, never an HTML page."""
    assert_error(client.get(path), 404, "not_found")


def test_wrong_method_is_json_405(api):
    """A wrong method under /api/v1 is a JSON 405."""
    assert_error(api.get("/api/v1/tasks/1/claim", "window1"), 405, "method_not_allowed")


# -- sessions and CSRF ---------------------------------------------------------------------------


def session_login(client, username="window1") -> str:
    r = client.post("/api/v1/auth/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["user"]["username"] == username
    return r.get_json()["csrf_token"]


def test_session_login_bad_password_is_401(client):
    """POST /auth/session with a wrong password is 401 and sets no session."""
    r = client.post("/api/v1/auth/session", json={"username": "window1", "password": "nope"})
    assert_error(r, 401, "invalid_credentials")
    assert_error(client.get("/api/v1/auth/me"), 401)


def test_session_me_returns_csrf_token(client):
    """GET /auth/me over the session cookie returns the user and a CSRF token."""
    session_login(client)
    r = client.get("/api/v1/auth/me")
    assert r.status_code == 200
    body = r.get_json()
    assert body["user"]["username"] == "window1"
    assert isinstance(body["csrf_token"], str) and body["csrf_token"]


def test_session_unsafe_request_without_csrf_is_400(client, api, newborn):
    """A session-cookie POST without X-CSRFToken is 400 csrf_failed and creates nothing."""
    session_login(client)
    r = client.post("/api/v1/cases", json={"process_key": "newborn", "applicant": APPLICANT,
                                           "data": application()})
    assert_error(r, 400, "csrf_failed")
    assert client.get("/api/v1/tasks").get_json()["total"] == 0


def test_session_unsafe_request_with_wrong_csrf_is_400(client, newborn):
    """A session-cookie POST with a wrong X-CSRFToken is 400 csrf_failed."""
    session_login(client)
    r = client.post("/api/v1/cases", headers={"X-CSRFToken": "forged"},
                    json={"process_key": "newborn", "applicant": APPLICANT, "data": application()})
    assert_error(r, 400, "csrf_failed")


def test_session_unsafe_request_with_csrf_succeeds(client, newborn):
    """With X-CSRFToken from the login response, the session may start a case and claim its task."""
    csrf = session_login(client)
    r = client.post("/api/v1/cases", headers={"X-CSRFToken": csrf},
                    json={"process_key": "newborn", "applicant": APPLICANT, "data": application()})
    assert r.status_code == 201, r.get_json()
    task_id = r.get_json()["tasks"][0]["id"]
    assert_error(client.post(f"/api/v1/tasks/{task_id}/claim"), 400, "csrf_failed")
    me_csrf = client.get("/api/v1/auth/me").get_json()["csrf_token"]
    r = client.post(f"/api/v1/tasks/{task_id}/claim", headers={"X-CSRFToken": me_csrf})
    assert r.status_code == 200
    assert r.get_json()["assignee"] == "window1"


def test_session_get_needs_no_csrf(client):
    """Safe methods over a session need no CSRF header."""
    session_login(client)
    assert client.get("/api/v1/tasks").status_code == 200


def test_session_logout(client):
    """DELETE /auth/session needs the CSRF header, then the session is gone."""
    csrf = session_login(client)
    assert_error(client.delete("/api/v1/auth/session"), 400, "csrf_failed")
    assert client.delete("/api/v1/auth/session", headers={"X-CSRFToken": csrf}).status_code == 204
    assert_error(client.get("/api/v1/auth/me"), 401)
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_session_login_starts_a_fresh_session(client):
    """Nothing planted in the cookie session before the login (a CSRF token an attacker knows,
    anything else) survives it; the chosen language does."""
    with client.session_transaction() as session:
        session["csrf_token"] = "planted-by-someone-else"
        session["planted"] = "x"
        session["lang"] = "en"
    csrf = session_login(client)
    with client.session_transaction() as session:
        assert "planted" not in session and session.get("lang") == "en"
        assert session.get("csrf_token") != "planted-by-someone-else"
    assert csrf and client.get("/api/v1/auth/me").status_code == 200


def test_bearer_request_needs_no_csrf_even_with_a_session_cookie(client, api, newborn):
    """A bearer token decides alone: no CSRF needed, and the token's user (not the session's) acts."""
    session_login(client, "window2")
    token = api.token("window1")
    r = client.post("/api/v1/cases", headers=bearer(token),
                    json={"process_key": "newborn", "applicant": APPLICANT, "data": application()})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["started_by"] == "window1"


def test_session_of_deactivated_user_is_401(app, client):
    """A logged-in session stops working once the user is deactivated."""
    from sqlalchemy import update

    from app.extensions import db
    from app.models import User

    session_login(client)
    with app.app_context():
        db.session.execute(update(User).where(User.username == "window1").values(active=False))
        db.session.commit()
    assert_error(client.get("/api/v1/auth/me"), 401)


def test_invalid_bearer_with_a_session_cookie_is_401(client):
    """A bad bearer token is not rescued by a valid session cookie."""
    session_login(client)
    assert_error(client.get("/api/v1/auth/me", headers=bearer("bogus")), 401)


# -- OpenAPI and health --------------------------------------------------------------------------

API_PATHS = {
    "/api/v1/auth/token": {"post", "delete"},
    "/api/v1/auth/session": {"post", "delete"},
    "/api/v1/auth/me": {"get"},
    "/api/v1/processes": {"get", "post"},
    "/api/v1/cases": {"post"},
    "/api/v1/cases/{case_id}": {"get"},
    "/api/v1/tasks": {"get"},
    "/api/v1/tasks/{task_id}": {"get"},
    "/api/v1/tasks/{task_id}/claim": {"post"},
    "/api/v1/tasks/{task_id}/unclaim": {"post"},
    "/api/v1/tasks/{task_id}/complete": {"post"},
}


@pytest.fixture()
def openapi(client) -> dict:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert r.is_json
    return r.get_json()


def test_openapi_is_public_openapi_3(openapi):
    """GET /openapi.json needs no token and is an OpenAPI 3 document with info and paths."""
    assert re.fullmatch(r"3\.\d+\.\d+", openapi["openapi"])
    assert openapi["info"]["title"]
    assert openapi["info"]["version"]
    assert isinstance(openapi["paths"], dict)


def test_openapi_lists_every_api_path(openapi):
    """Every endpoint of the API is in the document with its methods."""
    for path, methods in API_PATHS.items():
        assert path in openapi["paths"], path
        assert methods <= set(openapi["paths"][path]), (path, set(openapi["paths"][path]))


def test_openapi_operations_are_well_formed(openapi):
    """Every operation has responses with string status keys; path parameters are declared."""
    for path, item in openapi["paths"].items():
        assert path.startswith("/api/v1/"), path
        for method, op in item.items():
            if method == "parameters":
                continue
            assert method in {"get", "post", "put", "patch", "delete"}, (path, method)
            assert op["responses"], (path, method)
            assert all(re.fullmatch(r"\d{3}|default", code) for code in op["responses"]), (path, method)
            for name in re.findall(r"{(\w+)}", path):
                params = item.get("parameters", []) + op.get("parameters", [])
                assert any(p.get("name") == name and p.get("in") == "path" for p in params), (path, name)


def test_openapi_declares_bearer_auth(openapi):
    """The document declares the bearer scheme."""
    assert openapi["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}


def test_openapi_schema_references_resolve(openapi):
    """Every $ref points to a schema that the document defines."""
    refs = set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', str(openapi).replace("'", '"')))
    assert refs
    assert refs <= set(openapi["components"]["schemas"])


def _documented_error_schema(openapi) -> dict:
    ref = openapi["components"]["responses"]["DEFAULT_ERROR"]["content"]["application/json"]["schema"]["$ref"]
    return openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_openapi_error_schema_has_the_error_body_fields(openapi):
    """The documented error schema has the fields error bodies really have: code, error, message, errors."""
    schema = _documented_error_schema(openapi)
    assert {"code", "error", "message", "errors"} <= set(schema["properties"])


def test_real_error_bodies_match_the_documented_error_schema(openapi, api):
    """A 404 body and an invalid-diagram 422 body validate against the documented error schema."""
    from jsonschema import Draft4Validator

    validator = Draft4Validator(_documented_error_schema(openapi))
    not_found = api.get("/api/v1/cases/999999", "supervisor").get_json()
    refused = api.deploy(DATA / "compile_errors" / "malformed.bpmn").get_json()
    assert refused["error"] == "invalid_diagram"
    problems = [e.message for body in (not_found, refused) for e in validator.iter_errors(body)]
    assert problems == []


@pytest.mark.parametrize(("method", "path"), [("post", "/api/v1/auth/token"), ("post", "/api/v1/auth/session")])
def test_openapi_public_operations_need_no_auth(openapi, method, path):
    """The log-in operations are public, so the document must not require bearerAuth for them."""
    op = openapi["paths"][path][method]
    assert op.get("security", openapi.get("security")) == []


def test_healthz(client):
    """GET /healthz answers {"status": "ok"} without a token."""
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok"}


# -- masking -------------------------------------------------------------------------------------


def assert_masked(text: str) -> None:
    assert APPLICANT["id_number"] not in text
    assert APPLICANT["phone"] not in text


def test_case_masks_applicant(api, newborn):
    """The created case shows the ID number as 1404**********1234 and the phone as 138****1234."""
    r = api.start("newborn", application(), applicant=APPLICANT)
    assert r.status_code == 201
    applicant = r.get_json()["applicant"]
    assert applicant == {"name": APPLICANT["name"], "id_number": MASKED_ID, "phone": MASKED_PHONE}
    assert_masked(r.get_data(as_text=True))


def test_masking_in_every_representation(api, newborn):
    """Case GET, task detail, inbox, claim and complete responses never contain the raw ID or phone."""
    case = start(api)
    task_id = case["tasks"][0]["id"]
    responses = [
        api.get(f"/api/v1/cases/{case['id']}", "window1"),
        api.get(f"/api/v1/cases/{case['id']}", "supervisor"),
        api.get(f"/api/v1/tasks/{task_id}", "window1"),
        api.get("/api/v1/tasks?view=available", "window1"),
        api.post(f"/api/v1/tasks/{task_id}/claim", "window1"),
        api.post(f"/api/v1/tasks/{task_id}/complete", "window1",
                 json={"data": task_data("formal_check", "accept")}),
    ]
    for r in responses:
        assert r.status_code == 200, r.get_json()
        assert_masked(r.get_data(as_text=True))
    detail = responses[2].get_json()
    assert detail["case"]["applicant"]["id_number"] == MASKED_ID
    assert detail["case"]["applicant"]["phone"] == MASKED_PHONE


def test_id_number_ending_in_x_is_masked(api, newborn):
    """An 18-character ID ending in X keeps its first and last four characters."""
    r = api.start("newborn", application(), applicant={"name": "李四", "id_number": "14040219900101123X"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["applicant"]["id_number"] == "1404**********123X"
    assert r.get_json()["applicant"]["phone"] is None


# -- receipt numbers -----------------------------------------------------------------------------


def test_receipt_numbers_have_the_format_and_increase(api, newborn):
    """receipt_no is CZ + today's date in Asia/Shanghai + 6 digits, unique and increasing by one."""
    days = {datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")}
    receipts = [start(api, user=("window1", "window2")[i % 2])["receipt_no"] for i in range(5)]
    days.add(datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d"))
    for receipt in receipts:
        assert re.fullmatch(r"CZ\d{8}\d{6}", receipt), receipt
        assert receipt[2:10] in days
    assert len(set(receipts)) == 5
    seqs = [int(r[10:]) for r in receipts]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    assert seqs[0] == 1


def test_failed_start_consumes_no_receipt_number(api, newborn):
    """A start refused for invalid data does not use up a receipt number."""
    first = start(api)["receipt_no"]
    bad = api.post("/api/v1/cases", "window1", json={"process_key": "newborn", "applicant": APPLICANT, "data": {}})
    assert bad.status_code == 422
    second = start(api)["receipt_no"]
    assert int(second[10:]) == int(first[10:]) + 1


# -- paging --------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["per_page=101", "per_page=0", "page=0", "view=everything", "per_page=abc"])
def test_invalid_inbox_query_is_422(api, query):
    """per_page over 100 (or below 1), page 0, an unknown view or a non-number is 422."""
    body = assert_error(api.get(f"/api/v1/tasks?{query}", "window1"), 422, "invalid_input")
    assert list(body["errors"]) == [query.split("=")[0]]


def test_per_page_100_is_allowed(api):
    """per_page=100 is the maximum and is accepted."""
    r = api.get("/api/v1/tasks?per_page=100", "window1")
    assert r.status_code == 200
    assert r.get_json()["per_page"] == 100


def test_inbox_pages(api, newborn):
    """Three open tasks, two per page: page 1 has two, page 2 the third, total is 3 on both."""
    ids = [start(api)["tasks"][0]["id"] for _ in range(3)]
    p1 = api.get("/api/v1/tasks?view=available&per_page=2&page=1", "window2").get_json()
    p2 = api.get("/api/v1/tasks?view=available&per_page=2&page=2", "window2").get_json()
    assert [t["id"] for t in p1["items"]] == ids[:2]
    assert [t["id"] for t in p2["items"]] == ids[2:]
    assert p1["total"] == p2["total"] == 3
    assert (p1["page"], p1["per_page"]) == (1, 2)


def test_inbox_defaults(api, newborn):
    """Without a query the inbox is the available view, page 1, 20 per page."""
    start(api)
    body = api.get("/api/v1/tasks", "window1").get_json()
    assert body["page"] == 1 and body["per_page"] == 20
    assert body["total"] == 1
    assert body["items"][0]["state"] == "open"
