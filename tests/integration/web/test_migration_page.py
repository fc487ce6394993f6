"""The move-cases page (/designer/<key>/migrate) through the Flask test client."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest

from support import DATA

MIG = DATA / "migration"
PAGE = "/designer/mig_simple/migrate"


def deploy(api, bpmn: str) -> None:
    files = [(io.BytesIO((MIG / bpmn).read_bytes()), "mig_simple.bpmn"),
             (io.BytesIO((MIG / "simple_accept.json").read_bytes()), "simple_accept.json")]
    r = api.client.post("/api/v1/processes", headers=api.headers("designer"), data={"file": files},
                        content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()


@pytest.fixture
def cases(api):
    """Version 1 with one case at accept and one at review, then version 2 without the review."""
    deploy(api, "simple_v1.bpmn")
    ids = []
    for _ in range(2):
        r = api.start("mig_simple", {})
        assert r.status_code == 201
        ids.append(r.get_json()["id"])
    api.do("window1", "accept", {"accepted": True}, case_id=ids[1])
    deploy(api, "simple_v3_removed.bpmn")
    return ids


def row(html: str, case_id: int, table: str = "migration-cases") -> str:
    body = html.split(f'id="{table}"', 1)[1]
    match = re.search(rf'<tr data-case="{case_id}".*?</tr>', body, re.S)
    assert match, f"no row for case {case_id}"
    return unescape(match.group(0))


def version(api, case_id: int) -> int:
    return api.get(f"/api/v1/cases/{case_id}", "admin").get_json()["version"]


@pytest.mark.parametrize("user", ["window1", "health1", "supervisor"])
def test_page_is_for_designers_and_admins(login, cases, user):
    """Clerks, reviewers and supervisors get 403; logged out goes to the login page."""
    assert login(user).get(f"{PAGE}?from=1&to=2").status_code == 403


def test_page_needs_a_login(client, cases):
    """Logged out, the page sends people to the login page."""
    r = client.get(f"{PAGE}?from=1&to=2")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_page_lists_cases_with_why_not_and_defaults_to_the_latest_versions(login, cases):
    """Without from/to: the latest version and the one before. The blocked case says why, unchecked."""
    at_accept, at_review = cases
    r = login("designer").get(PAGE)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "1 of 2 running cases can move to version 2." in html
    ok, blocked = row(html, at_accept), row(html, at_review)
    assert 'data-eligible="yes"' in ok and "disabled" not in ok and "受理" in ok
    assert 'data-eligible="no"' in blocked and "disabled" in blocked
    assert "卫健审查" in blocked and "Map review" in blocked
    assert "Move all eligible (1)" in html


def test_mapping_in_the_form_makes_the_blocked_case_eligible(login, cases):
    """review=final in the mapping box re-checks every case with it."""
    html = login("designer").get(f"{PAGE}?from=1&to=2&mapping=review%3Dfinal").get_data(as_text=True)
    assert "2 of 2 running cases can move" in html
    assert ">review=final</textarea>" in html


def test_page_renders_in_the_default_chinese_interface(login, cases):
    """The clerks' default language renders too (reasons and labels come from the catalog)."""
    r = login("designer", english=False).get(f"{PAGE}?from=1&to=2")
    assert r.status_code == 200 and 'lang="zh-CN"' in r.get_data(as_text=True)


def test_bad_mapping_text_is_shown(login, cases):
    """A mapping that is not old=new is explained, and the list is shown without it."""
    html = login("admin").get(f"{PAGE}?from=1&to=2&mapping=review").get_data(as_text=True)
    assert "Write each mapping as old_id=new_id." in html


def test_move_selected_shows_results_and_progress(api, login, cases):
    """The selected case moves; the results table and the progress line say so."""
    at_accept, at_review = cases
    r = login("designer").post(PAGE, {"from": 1, "to": 2, "action": "selected", "case_id": [at_accept]})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'data-status="moved"' in row(html, at_accept, "migration-result-table")
    assert "1 of 1 cases handled: 1 moved, 0 not moved, 0 failed." in html
    assert '<progress value="1" max="1">' in html
    assert (version(api, at_accept), version(api, at_review)) == (2, 1)
    # The list is shown again for what is left on version 1.
    assert "0 of 1 running cases can move" in html


def test_move_all_eligible_with_a_mapping(api, login, cases):
    """'Move all eligible' with review=final moves both cases, each audited."""
    at_accept, at_review = cases
    r = login("designer").post(PAGE, {"from": 1, "to": 2, "action": "all", "mapping": "review=final"})
    html = r.get_data(as_text=True)
    assert "2 of 2 cases handled: 2 moved" in html
    assert (version(api, at_accept), version(api, at_review)) == (2, 2)
    history = api.get(f"/api/v1/cases/{at_review}", "admin").get_json()["history"]
    assert [e for e in history if e["type"] == "case_migrated"][0]["data"]["mapping"] == {"review": "final"}


def test_a_blocked_case_posted_anyway_is_not_moved(api, login, cases):
    """A hand-made POST of an ineligible case is refused with the reason, not moved."""
    _, at_review = cases
    html = login("designer").post(PAGE, {"from": 1, "to": 2, "action": "selected",
                                         "case_id": [at_review]}).get_data(as_text=True)
    result = row(html, at_review, "migration-result-table")
    assert 'data-status="refused"' in result and "卫健审查" in result
    assert version(api, at_review) == 1


def test_large_runs_continue_in_batches(api, login, cases, monkeypatch):
    """Beyond one batch the page offers to continue with the rest, carrying the totals."""
    from app.web import migration as page

    monkeypatch.setattr(page, "BATCH", 1)
    at_accept, at_review = cases
    browser = login("designer")
    html = browser.post(PAGE, {"from": 1, "to": 2, "action": "all", "mapping": "review=final"}).get_data(as_text=True)
    assert "1 of 2 cases handled" in html and 'id="migration-continue"' in html
    remaining = re.findall(r'name="case_id" value="(\d+)">', html.split('id="migration-continue"', 1)[1])
    assert remaining == [str(at_review)]
    html = browser.post(PAGE, {"from": 1, "to": 2, "action": "continue", "mapping": "review=final", "total": 2,
                               "done_moved": 1, "case_id": remaining}).get_data(as_text=True)
    assert "2 of 2 cases handled: 2 moved" in html and 'id="migration-continue"' not in html
    assert (version(api, at_accept), version(api, at_review)) == (2, 2)


def test_post_without_a_selection_or_csrf_is_refused(login, cases):
    """Nothing selected: 422 with a message; no CSRF token: 400."""
    browser = login("designer")
    assert browser.post(PAGE, {"from": 1, "to": 2, "action": "selected"}).status_code == 422
    r = browser.client.post(PAGE, data={"from": 1, "to": 2, "action": "all"})
    assert r.status_code == 400  # no CSRF token
