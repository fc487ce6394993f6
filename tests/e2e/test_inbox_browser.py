"""The inbox and case page in Chromium: an htmx claim race between two reviewers, and the progress diagram."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e_support import login, screenshot

pytestmark = pytest.mark.server

# Not imported from conftest: with several conftest.py files the name ``conftest`` is ambiguous.
ROOT = Path(__file__).resolve().parents[2]
LOOP = ROOT / "tests" / "data" / "parallel_loop" / "parallel_loop.bpmn"








def _newborn_support():
    """The newborn bundle helpers of the API tests (deploy files, valid form data)."""
    path = ROOT / "tests" / "integration" / "api" / "newborn_support.py"
    spec = importlib.util.spec_from_file_location("newborn_support_e2e", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_claim_race_without_reload(new_page, api, make_user):
    """A claims with htmx (no reload), counts update; B's stale page gets the friendly message; B reloads."""
    make_user("health_a", ["reviewer"], ["health"])
    make_user("health_b", ["reviewer"], ["health"])
    assert api.deploy(LOOP).status_code == 201
    assert api.start("parallel_loop").status_code == 201
    task_id = api.find_task("health_a", "review_a")["id"]

    a, b = new_page(), new_page()
    login(a, "health_a")
    login(b, "health_b")
    b.goto("/lang/en")  # B reads English; A keeps the default Chinese UI
    for page in (a, b):
        page.goto("/")
        expect(page.locator(f"#task-{task_id}")).to_be_visible()
    expect(a.locator("#count-available")).to_have_text("1")
    screenshot(a, "inbox_available")

    a.evaluate("window.__inboxMarker = 'not reloaded'")
    a.locator(f"#task-{task_id} button[type=submit]").click()
    claimed = a.locator(f"#task-{task_id}.notice-claimed")
    expect(claimed).to_be_visible()
    expect(claimed.locator(f'a[href="/tasks/{task_id}"]')).to_be_visible()
    expect(a.locator("#count-available")).to_have_text("0")
    expect(a.locator("#count-mine")).to_have_text("1")
    assert a.evaluate("window.__inboxMarker") == "not reloaded"
    screenshot(a, "inbox_after_claim")

    # B's page still offers the claim: clicking it shows why it failed, in place.
    b.evaluate("window.__inboxMarker = 'stale'")
    b.locator(f"#task-{task_id} button[type=submit]").click()
    message = b.locator(f"#task-{task_id}.notice-message [role=alert]")
    expect(message).to_have_text("Someone else has already claimed this task.")
    expect(b.locator("#count-available")).to_have_text("0")
    assert b.evaluate("window.__inboxMarker") == "stale"
    screenshot(b, "inbox_claimed_by_someone_else")
    b.reload()
    expect(b.locator("#inbox-table")).to_be_visible()
    expect(b.locator(f"#task-{task_id}")).to_have_count(0)

    a.goto("/?tab=mine")
    expect(a.locator(f"#task-{task_id}")).to_be_visible()


def test_case_page_shows_the_diagram_with_progress(new_page, api):
    """After the formal check, the case page marks done elements green and the waiting tasks yellow."""
    newborn = _newborn_support()
    assert api.deploy(*newborn.newborn_files()).status_code == 201
    r = api.start("newborn", newborn.application(), applicant=newborn.APPLICANT)
    assert r.status_code == 201, r.get_json()
    case = r.get_json()
    api.do("window1", "formal_check", newborn.task_data("formal_check", "accept"), case_id=case["id"])

    page = new_page()
    login(page, "window1")
    page.goto(f"/cases/{case['id']}")
    diagram = page.locator("#diagram[data-loaded=true]")
    expect(diagram).to_be_visible()
    assert int(diagram.get_attribute("data-marked-done")) > 0
    assert int(diagram.get_attribute("data-marked-current")) > 0
    expect(page.locator("#diagram .highlight-done").first).to_be_attached()
    expect(page.locator("#case-header")).to_contain_text(newborn.MASKED_ID)
    expect(page.locator("body")).not_to_contain_text(newborn.APPLICANT["id_number"])
    screenshot(page, "case_page")

    page.goto("/?tab=started")
    expect(page.locator(f"#case-{case['id']}")).to_be_visible()
    screenshot(page, "inbox_started")
