"""JSON bodies the decoder reads but nothing can store or answer: found by a hand-written probe of the
fuzz campaign (every route with real ids), each a 500 before. They are a 422 naming the field now."""

from __future__ import annotations

import json
import sys

import pytest
from newborn_support import APPLICANT, application, newborn_files

from support import ROOT

LONG = "9" * (sys.get_int_max_str_digits() + 1)  # beyond Python's limit for integer text (4300 digits)


BUSINESS = {
    "company_name": "长治市示范餐饮管理有限公司", "company_type": "llc", "registered_capital": 50,
    "business_address": "长治市潞州区英雄中路1号", "legal_representative": "王小明", "standard_articles": True,
    "seal_count": 4, "need_invoices": True, "employee_count": 5, "bank": "中国工商银行", "delivery": "window",
}
APPLICANT_JSON = '{"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}'


@pytest.fixture()
def claimed_task(api) -> int:
    """The first task of a newborn case, claimed by window1."""
    assert api.deploy(*newborn_files()).status_code == 201
    case = api.start("newborn", application(), applicant=APPLICANT).get_json()
    task_id = case["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", "window1").status_code == 200
    return task_id


def post_json(api, path: str, user: str | None, body: str | bytes):
    return api.client.post(path, data=body, content_type="application/json", headers=api.headers(user))


def assert_invalid(r, field: str) -> None:
    assert r.status_code == 422, r.get_data(as_text=True)[:500]
    body = r.get_json()
    assert body["error"] == "invalid_input"
    assert field in body["errors"], body


@pytest.mark.parametrize(("path", "user", "body", "field"), [
    ("/api/v1/auth/token", None, '{"username": "window1", "password": %s}', "password"),
    ("/api/v1/cases", "window1", '{"process_key": "newborn", "data": {"a": [1, %s]}}', "data.a.1"),
    ("/api/v1/tasks/1/copies", "admin", '{"user_ids": [%s]}', "user_ids.0"),
])
def test_an_integer_too_long_to_read_is_invalid(api, path, user, body, field):
    assert_invalid(post_json(api, path, user, body.replace("%s", LONG)), field)


def test_an_integer_too_long_to_read_is_invalid_in_task_data(api, claimed_task):
    r = post_json(api, f"/api/v1/tasks/{claimed_task}/complete", "window1", '{"data": {"n": -%s}}'.replace("%s", LONG))
    assert_invalid(r, "data.n")


def test_an_integer_too_long_to_read_is_invalid_in_utf16(api):
    body = '{"user_ids": [%s]}'.replace("%s", LONG).encode("utf-16")
    assert_invalid(post_json(api, "/api/v1/tasks/1/copies", "admin", body), "user_ids.0")


def test_long_digits_in_a_string_or_a_long_fraction_are_read(api):
    """Only an integer the decoder cannot convert is refused: digits inside text, or a long float, are fine."""
    r = api.post("/api/v1/saved-filters", "window1", json={"name": "x", "query": {"q": LONG}})
    assert r.status_code == 201, r.get_json()
    r = api.client.post("/api/v1/tasks/1/priority", data='{"priority": 0.%s}'.replace("%s", LONG),
                        content_type="application/json", headers=api.headers("window1"))
    assert r.status_code != 500 and "priority" in r.get_json()["errors"], r.get_json()


SURROGATE_MESSAGE = ["Text may not contain unpaired UTF-16 surrogates (\\ud800-\\udfff)."]


@pytest.mark.parametrize(("path", "user", "body", "field"), [
    ("/api/v1/reviews", None, '{"receipt_no": "CZ\\ud800", "level": 1, "phone": "13812341234"}', "receipt_no"),
    ("/api/v1/auth/token", None, '{"username": "\\udfff", "password": "x"}', "username"),
    ("/api/v1/cases", "window1",
     '{"process_key": "newborn", "applicant": %s, "data": {"a": ["ok", "\\udc00\\ud800"]}}'
     .replace("%s", APPLICANT_JSON),
     "data.a.1"),
    ("/api/v1/saved-filters", "window1", '{"name": "x", "query": {"q": "a\\uD83D"}}', "query.q"),
])
def test_an_unpaired_surrogate_is_invalid(api, path, user, body, field):
    """A lone UTF-16 surrogate escape decodes to text that no UTF-8 encoder takes: the database
    cannot store it (a 500)."""
    r = post_json(api, path, user, body)
    assert_invalid(r, field)
    assert r.get_json()["errors"][field] == SURROGATE_MESSAGE


def test_an_unpaired_surrogate_in_a_key_is_invalid(api, claimed_task):
    """Named in the error, the key itself could not be written into the answer (a 500)."""
    r = post_json(api, f"/api/v1/tasks/{claimed_task}/complete", "window1", '{"data": {"x\\ud800": 1}}')
    assert_invalid(r, "data.x\\ud800")
    assert r.get_json()["errors"]["data.x\\ud800"] == SURROGATE_MESSAGE


def test_a_surrogate_pair_is_one_character_and_fine(api):
    r = api.client.post("/api/v1/saved-filters", data='{"name": "\\ud83d\\ude00", "query": {"q": "\\uD83D\\uDE00"}}',
                        content_type="application/json", headers=api.headers("window1"))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["name"] == "\U0001f600"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-2.5E+999", "9" * 400 + ".5"])
def test_a_number_that_is_not_finite_is_invalid(api, number):
    """Python's decoder reads NaN, Infinity and floats beyond 1.8e308 (as inf), and a form's
    ``"type": "number"`` with only a minimum accepts them: PostgreSQL's jsonb stores none (a 500),
    and on SQLite the case answered with ``Infinity`` in it, which is not JSON."""
    assert api.deploy(ROOT / "bpmn" / "business_startup.bpmn",
                      *sorted((ROOT / "forms").glob("business_startup_*.json"))).status_code == 201
    data = json.dumps({**BUSINESS, "registered_capital": 0}, ensure_ascii=False)
    body = f'{{"process_key": "business_startup", "applicant": {APPLICANT_JSON}, "data": {data}}}'
    body = body.replace('"registered_capital": 0', f'"registered_capital": {number}')
    r = post_json(api, "/api/v1/cases", "window1", body)
    assert_invalid(r, "data.registered_capital")
    assert r.get_json()["errors"]["data.registered_capital"] == ["Not a finite number."]


def test_a_large_finite_number_is_read(api):
    assert api.deploy(ROOT / "bpmn" / "business_startup.bpmn",
                      *sorted((ROOT / "forms").glob("business_startup_*.json"))).status_code == 201
    r = api.start("business_startup", {**BUSINESS, "registered_capital": 1.5e308})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"]["registered_capital"] == 1.5e308
