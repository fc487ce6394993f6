"""Issue 7's main 12345 screens in Chromium against the real gunicorn server: the hotline agent
registers an order, finds the standard answer in the knowledge base and answers directly; the
callback clerk calls back a handled order from the inbox and closes it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e_support import login, screenshot

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
DIAGRAM = ROOT / "bpmn" / "hotline_work_order.bpmn"
ORDER = {"request_type": "投诉", "category": "道路破损", "urgency": "normal",
         "caller": {"name": "李女士", "phone": "13912345678", "confidential": False},
         "address": "长治市潞州区英雄中路88号", "content": "小区门口道路塌陷，请尽快修复。"}


@pytest.fixture()
def hotline(api, app):
    forms = [f for f in sorted((ROOT / "forms").glob("hotline_*.json")) if f.name.encode() in DIAGRAM.read_bytes()]
    assert api.deploy(DIAGRAM, *forms).status_code == 201
    out = app.test_cli_runner().invoke(args=["hotline", "knowledge", str(ROOT / "hotline" / "knowledge.toml")])
    assert out.exit_code == 0, out.output
    return api


def test_agent_registers_an_order_finds_the_answer_and_answers_directly(new_page, hotline):
    page = new_page()
    login(page, "hotline1")
    page.get_by_role("link", name="12345工单", exact=True).click()
    page.wait_for_url(re.compile(r"/hotline$"))

    # A phone number that is not one is reported next to the field; what was typed stays.
    page.locator("#request_type").select_option("咨询")
    page.locator("#category").fill("夜间施工噪音")
    page.locator("#caller_name").fill("王先生")
    page.locator("#caller_phone").fill("call me")
    page.locator("#content").fill("小区旁工地晚上11点还在施工，噪音很大，怎么处理？")
    page.locator("#register-order").click()
    expect(page.locator("#form-error-summary")).to_be_visible()
    expect(page.locator("#content")).to_have_value("小区旁工地晚上11点还在施工，噪音很大，怎么处理？")
    page.locator("#caller_phone").fill("13800001111")
    page.locator("#register-order").click()
    page.wait_for_url(re.compile(r"/hotline/orders/\d+$"))
    expect(page.locator(".flash")).to_contain_text("RX")
    expect(page.locator("#order-status")).to_have_text("已登记")
    expect(page.locator("#order-caller")).to_contain_text("138****1111")
    expect(page.locator("#order-sla")).to_contain_text("夜间施工噪音")
    screenshot(page, "hotline_order_registered")
    order_url = page.url

    # The standard answer from the knowledge base.
    page.goto("/hotline?kb=噪音")
    expect(page.locator("#kb-results li[data-key=night-noise]")).to_contain_text("30分钟内响应")

    # The triage step of the order, answered directly.
    page.goto(order_url)
    page.locator("#order-case").click()
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    page.locator("#open-tasks").get_by_role("link", name="受理：直办或派单").click()
    page.locator("#claim").click()
    expect(page.locator("#task-state")).to_have_text("已认领")
    expect(page.locator("#field-content")).to_be_disabled()
    page.locator("#field-triage_decision").select_option(label="直办（当场答复）")
    page.locator("#field-triage_note").fill("已告知夜间施工规定，并提示可继续派单城管现场核查。")
    page.locator("#field-kb_article").fill("night-noise")
    page.locator("#submit").click()
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    expect(page.locator("#case-status")).to_have_text("已办结")
    page.goto(order_url)
    expect(page.locator("#order-status")).to_have_text("已直办答复")
    screenshot(page, "hotline_order_answered")


def test_callback_clerk_calls_back_from_the_inbox_and_closes_the_order(new_page, hotline):
    api = hotline
    r = api.post("/api/v1/work-orders", "hotline1", json=ORDER)
    assert r.status_code == 201, r.get_json()
    order = r.get_json()
    cid = order["case_id"]
    api.do("hotline1", "triage", {"triage_decision": "dispatch", "triage_note": "派城管"}, cid)
    api.do("dispatch1", "dispatch", {"handling_unit": "urban_management", "dispatch_note": "请核实"}, cid)
    api.do("urban_management1", "sign_for", {"sign_decision": "sign"}, cid)
    api.do("urban_management1", "handle", {"handling_result": "solved", "reply": "已修复塌陷路面。"}, cid)
    api.do("dispatch1", "reply_review", {"reply_decision": "accept"}, cid)

    page = new_page()
    login(page, "callback1")
    page.goto("/?tab=available")
    row = page.locator("#task-rows tr").filter(has=page.get_by_role("link", name="回访", exact=True))
    expect(row).to_have_count(1)
    row_id = row.get_attribute("id")
    row.locator("button[type=submit]").click()
    claimed = page.locator(f"#{row_id}.notice-claimed")
    expect(claimed).to_be_visible()
    claimed.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator("#field-reply")).to_have_value("已修复塌陷路面。")
    page.locator("#field-callback_result").select_option(label="满意")
    page.locator("#field-callback_note").fill("来电人确认已修复。")
    screenshot(page, "hotline_callback_form")
    page.locator("#submit").click()
    page.wait_for_url(re.compile(rf"/cases/{cid}$"))
    expect(page.locator("#case-status")).to_have_text("已办结")
    page.goto(f"/hotline/orders/{order['id']}")
    expect(page.locator("#order-status")).to_have_text("已办结")
    expect(page.locator("#order-satisfaction")).to_have_text("满意")
