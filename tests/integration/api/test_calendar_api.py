"""The calendar API: due dates for any logged-in user, per-date overrides for admins (/api/v1/calendar)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

DUE = "/api/v1/calendar/due"
OVERRIDES = "/api/v1/calendar/overrides"


def due(api, user="window1", **params):
    return api.get(DUE + "?" + urlencode(params), user)


def put(api, day, user="admin", **body):
    return api.client.put(f"{OVERRIDES}/{day}", headers=api.headers(user), json=body)


def delete(api, day, user="admin"):
    return api.client.delete(f"{OVERRIDES}/{day}", headers=api.headers(user))


@pytest.mark.parametrize("user", ["window1", "health1", "designer", "supervisor", "admin"])
def test_any_user_gets_a_due_date(api, user):
    r = due(api, user, start="2025-09-30T10:00:00+08:00", working_days=1)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"due": "2025-10-09T15:59:59.999999+00:00", "provisional": False}


def test_provisional_due_date(api):
    r = due(api, start="2026-12-31T10:00:00+08:00", working_days=1)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"due": "2027-01-04T15:59:59.999999+00:00", "provisional": True}


def test_utc_start_is_read_in_china_time(api):
    """2025-09-30T23:30Z is 10-01 07:30 in Changzhi: counting starts after the holiday's first day."""
    r = due(api, start="2025-09-30T23:30:00Z", working_days=1)
    assert r.get_json()["due"] == "2025-10-09T15:59:59.999999+00:00"


@pytest.mark.parametrize(("method", "path"), [
    ("get", DUE + "?start=2025-09-30T10:00:00%2B08:00&working_days=1"),
    ("get", OVERRIDES),
    ("put", OVERRIDES + "/2025-03-10"),
    ("delete", OVERRIDES + "/2025-03-10"),
])
def test_anonymous_gets_401(client, db_clean, method, path):
    r = getattr(client, method)(path, json={"is_working_day": False} if method == "put" else None)
    assert r.status_code == 401, r.get_data(as_text=True)[:300]
    assert r.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize("params", [
    {"start": "2025-09-30T10:00:00", "working_days": 1},  # naive
    {"start": "not a date", "working_days": 1},
    {"start": "2025-09-30T10:00:00+08:00", "working_days": -1},
    {"start": "2025-09-30T10:00:00+08:00", "working_days": "x"},
    {"start": "2025-09-30T10:00:00+08:00", "working_days": 100000},
    {"working_days": 1},
    {"start": "2025-09-30T10:00:00+08:00"},
])
def test_bad_due_queries_get_422(api, params):
    r = due(api, **params)
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert body["error"] == "invalid_input"
    assert body["errors"], body
    assert "start" in str(body["errors"]) or "working_days" in str(body["errors"])


@pytest.mark.parametrize("user", ["window1", "health1", "designer", "supervisor"])
def test_only_admins_write_overrides(api, user):
    r = put(api, "2025-03-10", user, is_working_day=False, note="x")
    assert r.status_code == 403, r.get_json()
    r = delete(api, "2025-03-10", user)
    assert r.status_code == 403, r.get_json()
    assert api.get(OVERRIDES, user).get_json() == []


def test_admin_overrides_change_due_dates(api):
    start = "2025-03-07T10:00:00+08:00"  # Friday
    assert due(api, start=start, working_days=1).get_json()["due"] == "2025-03-10T15:59:59.999999+00:00"

    r = put(api, "2025-03-10", is_working_day=False, note="local holiday")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["day"] == "2025-03-10"
    assert r.get_json()["is_working_day"] is False
    assert r.get_json()["updated_by"] == "admin"
    assert due(api, start=start, working_days=1).get_json()["due"] == "2025-03-11T15:59:59.999999+00:00"

    r = put(api, "2025-03-09", is_working_day=True, note="make-up Sunday")
    assert r.status_code == 200, r.get_json()
    assert due(api, start=start, working_days=1).get_json()["due"] == "2025-03-09T15:59:59.999999+00:00"

    # PUT again replaces; any user reads the list.
    r = put(api, "2025-03-09", is_working_day=False)
    assert r.status_code == 200 and r.get_json()["note"] == ""
    listed = api.get(OVERRIDES, "window1").get_json()
    assert [(o["day"], o["is_working_day"]) for o in listed] == [("2025-03-09", False), ("2025-03-10", False)]
    ranged = api.get(OVERRIDES + "?start=2025-03-10&end=2025-03-31", "window1").get_json()
    assert [o["day"] for o in ranged] == ["2025-03-10"]

    assert delete(api, "2025-03-10").status_code == 204
    assert delete(api, "2025-03-09").status_code == 204
    assert delete(api, "2025-03-09").status_code == 404
    assert due(api, start=start, working_days=1).get_json()["due"] == "2025-03-10T15:59:59.999999+00:00"


@pytest.mark.parametrize(("day", "body"), [
    ("2025-13-01", {"is_working_day": True}),
    ("tomorrow", {"is_working_day": True}),
    ("2025-03-10", {}),
    ("2025-03-10", {"is_working_day": "maybe"}),
    ("2025-03-10", {"is_working_day": True, "note": "x" * 501}),
])
def test_bad_override_writes_get_422(api, day, body):
    r = put(api, day, **body)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"] == "invalid_input"
    assert r.get_json()["errors"]


def test_bad_date_for_non_admin_is_403_before_422(api):
    assert put(api, "tomorrow", "window1", is_working_day=True).status_code == 403
