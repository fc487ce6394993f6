"""Values the fuzzer (`make fuzz`) found answered with 500: ids beyond the integer columns (32-bit on
PostgreSQL; beyond 64 bits SQLite cannot bind them at all), huge page numbers, dates at the ends of
the calendar. They are a 404 or a 422 with field errors now."""

from __future__ import annotations

import io

import pytest

HUGE = 2**70  # no 64-bit column holds it: SQLite cannot bind it at all
BEYOND_INTEGER = 2**31  # the first id PostgreSQL's integer columns cannot hold


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
@pytest.mark.parametrize("value", [BEYOND_INTEGER, HUGE])
def test_an_id_beyond_the_integer_columns_is_not_found(api, method, path, user, value):
    r = api.client.open(path.replace(str(HUGE), str(value)), method=method.upper(), headers=api.headers(user))
    assert r.status_code == 404, r.get_data(as_text=True)[:500]
    assert r.get_json()["error"] == "not_found"


def test_an_id_beyond_the_integer_columns_still_needs_a_token(client, db_clean):
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
@pytest.mark.parametrize("value", [BEYOND_INTEGER, HUGE])
def test_an_id_beyond_the_integer_columns_in_a_body_is_invalid(api, path, body, field, value):
    body = {k: ([value] if isinstance(v, list) else value) if v in (HUGE, [HUGE]) else v for k, v in body.items()}
    assert_invalid(api.post(path, "admin", json=body), field)


@pytest.mark.parametrize("path", [
    f"/api/v1/audit?from=2025-01-01&to=2025-01-31&case_id={HUGE}",
    f"/api/v1/catalogue/newborn?revision={HUGE}",
    f"/api/v1/processes/newborn/diff?from=1&to={HUGE}",
])
@pytest.mark.parametrize("value", [BEYOND_INTEGER, HUGE])
def test_an_id_beyond_the_integer_columns_in_a_query_is_invalid(api, path, value):
    r = api.get(path.replace(str(HUGE), str(value)), "admin")
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


def test_pages_with_ids_beyond_the_integer_columns_answer_404(client):
    """The browser routes too: a case or task page with a huge id is not found, never a 500."""
    import re

    from support import PASSWORD

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": "window1", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    for path in ("/cases/1180591620717411303424", "/tasks/1180591620717411303424", "/cases/2147483648",
                 "/tasks/2147483648"):
        assert client.get(path).status_code == 404, path
    assert client.get("/cases/999999").status_code == 404


def test_text_with_a_nul_character_is_invalid_everywhere(api, client):
    """PostgreSQL stores no NUL character (the fuzzer's 500 there): any JSON string or key, query
    value or form field holding one is a 422 naming the field, on every database, and nothing is stored."""
    r = api.post("/api/v1/reviews", "admin", json={"receipt_no": "CZ\u0000", "level": 1, "phone": "138"})
    assert_invalid(r, "receipt_no")
    r = api.post("/api/v1/tasks/1/copies", "admin", json={"user_ids": [1], "note": {"a\u0000": ["x"]}})
    assert_invalid(r, "note.a\u0000")
    r = api.post("/api/v1/tasks/1/complete", "admin", json={"data": {"items": ["ok", "b\u0000d"]}})
    assert_invalid(r, "data.items.1")
    # JSON in UTF-16 (which the parser accepts) escapes it just the same
    body = '{"receipt_no": "CZ\\u0000", "level": 1, "phone": "138"}'.encode("utf-16")
    assert_invalid(api.post("/api/v1/reviews", "admin", data=body, content_type="application/json"), "receipt_no")
    assert_invalid(api.get("/api/v1/knowledge?q=%00", "admin"), "q")
    r = client.post("/login", data={"username": "window1\u0000", "password": "x"})
    assert r.status_code == 422 and "<html" in r.get_data(as_text=True)
    assert api.get("/api/v1/knowledge?q=ok", "admin").status_code == 200
    # in the path (a process key) and in an uploaded file's name
    assert_invalid(api.get("/api/v1/processes/a%00b/versions", "admin"), "key")
    r = client.get("/guide/a%00b")
    assert r.status_code == 422 and "<html" in r.get_data(as_text=True)
    upload = {"file": (io.BytesIO(b"%PDF-1.4\n"), "scan\x00.pdf")}
    r = api.client.post("/api/v1/tasks/1/attachments", headers=api.headers("admin"), data=upload,
                        content_type="multipart/form-data")
    assert_invalid(r, "file")
    # an escaped backslash before "u0000" is text, not a NUL
    r = api.post("/api/v1/reviews", "admin", json={"receipt_no": "CZ\\u0000", "level": 1, "phone": "138"})
    assert r.status_code != 422 or "receipt_no" not in (r.get_json().get("errors") or {}), r.get_json()


@pytest.mark.parametrize("start", ["9999-12-31T23:00:00%2B00:00", "9999-12-20T00:00:00%2B00:00",
                                   "0001-01-01T00:00:00%2B05:00", "1899-12-31T00:00:00%2B08:00"])
def test_a_due_date_start_at_the_end_of_the_calendar_is_invalid(api, start):
    """Found by the fuzz campaign's probes: counting working days from there ran past Python's
    calendar (or its local day before year 1), a 500."""
    assert_invalid(api.get(f"/api/v1/calendar/due?start={start}&working_days=1", "window1"), "start")


def test_a_due_date_start_inside_the_range_is_counted(api):
    r = api.get("/api/v1/calendar/due?start=2999-12-01T00:00:00%2B08:00&working_days=3", "window1")
    assert r.status_code == 200, r.get_json()


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31"])
def test_a_calendar_override_at_the_end_of_the_calendar_is_invalid(api, day):
    """Setting 0001-01-01 was a 500 (the recomputation looks at the day before it)."""
    headers = api.headers("admin")
    r = api.client.put(f"/api/v1/calendar/overrides/{day}", json={"is_working_day": True}, headers=headers)
    assert_invalid(r, "day")
    assert_invalid(api.client.delete(f"/api/v1/calendar/overrides/{day}", headers=headers), "day")
