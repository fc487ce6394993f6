"""Issue 8 in Chromium: the dashboard's charts render (ECharts) and its numbers are the API's."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e_support import login, screenshot
from support import local_today

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
TAXI = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
        ROOT / "forms" / "taxi_driver_decision.json")
APPLICATION = {"driving_licence_no": "140402199001011234", "exam_certificate_no": "KS2025-0001",
               "no_bad_record_pledge": True}


def test_dashboard_charts_render_and_numbers_match_the_api(new_page, api):
    assert api.deploy(*TAXI).status_code == 201
    for i in range(3):
        case = api.start("taxi_driver_licence", APPLICATION).get_json()
        if i < 2:
            api.do("window1", "window_decision", {"decision": "issue", "licence_no": "X", "decision_opinion": "ok"},
                   case["id"])
    page = new_page()
    login(page, "leader1")
    page.get_by_role("link", name="统计分析", exact=True).click()
    expect(page.locator("#dashboard-heading")).to_be_visible()
    for chart in ("daily", "departments", "reviews", "units"):
        el = page.locator(f"#chart-{chart}")
        expect(el).to_have_attribute("data-rendered", "true")
        expect(el.locator("svg")).to_have_count(1)
    start = page.locator("#from").input_value()
    end = page.locator("#to").input_value()
    figures = api.get(f"/api/v1/kpis?from={start}&to={end}", "leader1").get_json()
    for key in ("cases_received", "cases_completed", "immediate_rate", "on_time_rate", "overdue_open",
                "orders_received", "direct_handling_rate"):
        raw = page.locator(f'[data-kpi="{key}"]').get_attribute("data-raw")
        assert json.loads(raw) == figures[key], key
    assert figures["cases_received"] == 3 and figures["cases_completed"] == 2
    expect(page.locator('[data-kpi="immediate_rate"]')).to_contain_text("66.7%")
    screenshot(page, "dashboard")
    page.locator('[data-kpi="cases_received"] a').click()
    expect(page.locator("#drill-total")).to_have_text("3")
    assert date.fromisoformat(start) <= local_today()
