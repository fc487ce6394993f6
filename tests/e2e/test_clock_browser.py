"""Time-limit warning colours and the 补正 notice in Chromium against the real gunicorn server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e_support import login, screenshot

pytestmark = pytest.mark.server

# Not imported from conftest: with several conftest.py files the name ``conftest`` is ambiguous.
MOVES = Path(__file__).resolve().parents[2] / "tests" / "data" / "moves" / "moves.bpmn"
RED = "rgb(253, 228, 228)"
YELLOW = "rgb(255, 248, 214)"


def _two_cases(api, clock):
    """One case accepted 40 days ago (red) and one accepted now (its 1-day formal check: yellow)."""
    assert api.deploy(MOVES).status_code == 201
    clock.shift(timedelta(days=-40))
    late = api.start("moves").get_json()
    clock.reset()
    fresh = api.start("moves").get_json()
    return late, fresh


def test_inbox_and_case_page_show_warning_colours_with_a_text_label(new_page, api, clock):
    late, fresh = _two_cases(api, clock)
    page = new_page()
    login(page, "window1")
    page.goto("/")
    late_due = page.locator(f"#task-{late['tasks'][0]['id']} td.due")
    fresh_due = page.locator(f"#task-{fresh['tasks'][0]['id']} td.due")
    expect(late_due).to_have_attribute("data-warning", "red")
    expect(late_due.locator(".warning-label")).to_have_text("已超期")
    expect(fresh_due).to_have_attribute("data-warning", "yellow")
    expect(fresh_due.locator(".warning-label")).to_have_text("即将到期")
    assert late_due.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    assert fresh_due.evaluate("e => getComputedStyle(e).backgroundColor") == YELLOW
    screenshot(page, "inbox_warnings")

    page.goto(f"/cases/{late['id']}")
    promised = page.locator("#case-due-promised")
    expect(promised).to_have_attribute("data-warning", "red")
    assert promised.evaluate("e => getComputedStyle(e).backgroundColor") == RED

    supervisor = new_page()
    login(supervisor, "supervisor")
    supervisor.goto("/supervision/overdue?level=red")
    expect(supervisor.locator("#overdue-list tr[data-warning=red]")).to_have_count(1)
    screenshot(supervisor, "overdue_list")


def test_correction_notice_stops_the_clock_and_prints(new_page, api, clock):
    _, fresh = _two_cases(api, clock)
    page = new_page()
    login(page, "window1")
    page.goto(f"/cases/{fresh['id']}")
    expect(page.locator("#clock-state")).to_have_attribute("data-paused", "false")
    page.locator("#correction summary").click()
    page.get_by_label("材料名称 1").fill("出生医学证明")
    page.get_by_label("需补正的内容 1").fill("缺少复印件")
    page.get_by_label("材料名称 2").fill("户口簿")
    page.get_by_label("需补正的内容 2").fill("照片页不清晰")
    page.locator("#issue-correction").click()
    expect(page.locator(".flash-success")).to_contain_text("已出具补正通知书")
    expect(page.locator("#clock-state")).to_have_attribute("data-paused", "true")
    expect(page.locator("#case-due-promised")).to_have_attribute("data-warning", "none")

    page.locator("#notices a").first.click()
    expect(page.locator("#notice-title")).to_have_text("补正材料通知书")
    rows = page.locator("#notice-items tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("户口簿")
    expect(rows.nth(1)).to_contain_text("照片页不清晰")
    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    expect(page.locator("#print")).to_be_hidden()
    screenshot(page, "correction_notice_print")
    page.emulate_media(media="screen")

    page.locator("a", has_text="返回办件").click()
    page.locator("#materials-received").click()
    expect(page.locator("#clock-state")).to_have_attribute("data-paused", "false")
