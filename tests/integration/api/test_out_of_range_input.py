"""Values the fuzzer (`make fuzz`) found answered with 500: ids beyond 64 bits, huge page numbers,
dates at the ends of the calendar. They are a 404 or a 422 with field errors now."""

from __future__ import annotations

import pytest

HUGE = 2**70  # no 64-bit column holds it: SQLite cannot bind it at all


def assert_invalid(r, field: str) -> None:
    assert r.status_code == 422, r.get_data(as_text=True)[:500]
    body = r.get_json()
    assert body["error"] == "invalid_input"
    assert field in body["errors"], body


@pytest.mark.parametrize(("method", "path", "user"), [
    ("get", f"/api/v1/tasks/{HUGE}", "window1"),
    ("post", f"/api/v1/tasks/{HUGE}/claim", "window1"),
    ("get", f"/api/v1/cases/{HUGE}", "window1"),
    ("get", f"/api/v1/cases/{HUGE}/clock", "window1"),
    ("get", f"/api/v1/work-orders/{HUGE}", "admin"),
    ("delete", f"/api/v1/drafts/{HUGE}", "designer"),
    ("get", f"/api/v1/processes/newborn/versions/{HUGE}", "designer"),
])
def test_an_id_beyond_64_bits_is_not_found(api, method, path, user):
    r = api.client.open(path, method=method.upper(), headers=api.headers(user))
    assert r.status_code == 404, r.get_data(as_text=True)[:500]
    assert r.get_json()["error"] == "not_found"


def test_an_id_beyond_64_bits_still_needs_a_token(client, db_clean):
    assert client.get(f"/api/v1/tasks/{HUGE}").status_code == 401


@pytest.mark.parametrize(("path", "user"), [
    ("/api/v1/tasks", "window1"),
    ("/api/v1/work-orders", "admin"),
    ("/api/v1/supervision/overdue", "admin"),
    ("/api/v1/kpis/drilldown?from=2025-01-01&to=2025-01-31&metric=received", "admin"),
])
def test_a_huge_page_number_is_invalid(api, path, user):
    sep = "&" if "?" in path else "?"
    assert_invalid(api.get(f"{path}{sep}page={HUGE}", user), "page")


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/tasks/1/delegate", {"user_id": HUGE}, "user_id"),
    ("/api/v1/tasks/1/reassign", {"user_id": HUGE}, "user_id"),
    ("/api/v1/tasks/1/return", {"target_task_id": HUGE, "opinion": "x"}, "target_task_id"),
    ("/api/v1/tasks/1/copies", {"user_ids": [HUGE]}, "user_ids.0"),
    ("/api/v1/work-orders/1/merge", {"into": HUGE}, "into"),
])
def test_an_id_beyond_64_bits_in_a_body_is_invalid(api, path, body, field):
    assert_invalid(api.post(path, "admin", json=body), field)


@pytest.mark.parametrize("path", [
    f"/api/v1/audit?from=2025-01-01&to=2025-01-31&case_id={HUGE}",
    f"/api/v1/catalogue/newborn?revision={HUGE}",
    f"/api/v1/processes/newborn/diff?from=1&to={HUGE}",
])
def test_an_id_beyond_64_bits_in_a_query_is_invalid(api, path):
    r = api.get(path, "admin")
    field = path.rsplit("&", 1)[-1].rsplit("?", 1)[-1].split("=")[0]
    assert_invalid(r, field)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize("path", [
    "/api/v1/kpis?from={day}&to={day}",
    "/api/v1/kpis/series?from={day}&to={day}",
    "/api/v1/kpis/export?table=categories&from={day}&to={day}",
    "/api/v1/audit?from={day}&to={day}",
])
def test_a_date_at_the_end_of_the_calendar_is_invalid_in_a_query(api, day, path):
    assert_invalid(api.get(path.format(day=day), "admin"), "from")


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_date_at_the_end_of_the_calendar_is_invalid_in_a_body(api, day):
    assert_invalid(api.post("/api/v1/callbacks", "admin", json={"from": day, "to": day}), "from")
    assert_invalid(api.post("/api/v1/evaluation-samples", "admin", json={"week": day}), "week")


def test_the_audit_download_formats_are_documented(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    content = doc["paths"]["/api/v1/audit"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv; charset=utf-8",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} <= set(content)


def test_pages_with_ids_beyond_64_bits_answer_404(client):
    """The browser routes too: a case or task page with a huge id is not found, never a 500."""
    import re

    from support import PASSWORD

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": "window1", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    for path in ("/cases/1180591620717411303424", "/tasks/1180591620717411303424"):
        assert client.get(path).status_code == 404, path
    assert client.get("/cases/999999").status_code == 404
