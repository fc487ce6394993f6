"""The case data beside a task is readable: a long label must not squeeze its value to a sliver."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e_support import login, screenshot

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = [ROOT / "bpmn" / "business_startup.bpmn", *sorted((ROOT / "forms").glob("business_startup_*.json"))]
APPLICATION = {
    "company_name": "长治市示范餐饮管理有限公司", "company_type": "llc", "registered_capital": 50,
    "business_address": "长治市潞州区英雄中路1号", "legal_representative": "王小明", "standard_articles": True,
    "seal_count": 4, "need_invoices": True, "employee_count": 5, "bank": "中国工商银行", "delivery": "window",
}


def test_long_labels_leave_the_values_room_beside_the_task(new_page, api):
    """企业开办 has labels like 使用示范章程（标准化登记，窗口当场办结）: the label column took its
    full length and left the company name a column two characters wide."""
    assert api.deploy(*BUNDLE).status_code == 201
    case = api.start("business_startup", APPLICATION)
    assert case.status_code == 201, case.get_json()
    task = api.find_task("window1", "formal_check", case.get_json()["id"])
    page = new_page()
    login(page, "window1")
    page.goto(f"/tasks/{task['id']}")
    data = page.locator("#case-data")
    width = data.bounding_box()["width"]
    values = data.locator("dd")
    assert values.count() > 5
    narrowest = min(values.nth(i).bounding_box()["width"] for i in range(values.count()))
    screenshot(page, "case_data_beside_task")
    assert narrowest >= 0.4 * width, (narrowest, width)
