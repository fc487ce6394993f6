"""Issue #3 end to end in Chromium, through the UI only: a newborn case from intake to hand-over.

window1 takes the case in at the comprehensive window and does the formal check; health1, police1,
medins1, tax1 and hrss1 each claim their tasks from 待认领 in their own browser and approve them (the
parallel approvals in whatever order they appear); window1 hands the results over; the case page
then shows the case completed with every step of the diagram done. On the way: a second health
reviewer sees a claimed task leave 待认领, a required field left empty is reported next to it,
and the language switch turns the page to English and back. The API only deploys the bundle.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e_support import login, screenshot

pytestmark = pytest.mark.server

# Not imported from conftest: with several conftest.py files the name ``conftest`` is ambiguous.
ROOT = Path(__file__).resolve().parents[2]
NEWBORN = [ROOT / "bpmn" / "newborn.bpmn", *sorted((ROOT / "forms").glob("newborn_*.json"))]
RECEIPT = re.compile(r"CZ\d{14}")
REQUIRED = "此项为必填项"
COMPLETED = "已办结"  # the Chinese catalog's case status "Completed"
APPROVE = "同意"
COLLECTED = "已征收"

FORMAL_CHECK = "形式审查/受理"
HANDOVER = "统一出件"
# The department tasks of the bundle (task name -> who approves it, the form's field prefix).
DEPARTMENT_TASKS = {
    "出生医学证明签发": ("health1", "birth_cert"),
    "生育登记及科学育儿指导登记": ("health1", "birth_registration"),
    "出生登记（户口登记）": ("police1", "hukou"),
    "城乡居民医保参保登记": ("medins1", "medins_enrol"),
    "城乡居民医保费征收": ("tax1", "premium"),
    "生育医疗费用报销/生育津贴": ("medins1", "allowance"),
    "社会保障卡申领": ("hrss1", "sscard"),
}


def fill_application(page) -> None:
    """The applicant and the newborn start form (with the maternity allowance), as a clerk types them."""
    page.locator("#applicant-name").fill("王小明")
    page.locator("#applicant-id_number").fill("140402199001011234")
    page.locator("#applicant-phone").fill("13812341234")
    texts = {
        "newborn_name": "王小宝",
        "birth_place": "山西省长治市潞州区",
        "birth_hospital": "长治市妇幼保健院",
        "mother_name": "李丽",
        "mother_id_number": "140402199203045678",
        "father_name": "王明",
        "father_id_number": "140402198905061239",
        "marriage_cert_number": "J140402-2020-001234",
        "household_address": "长治市潞州区英雄中路1号",
        "contact_phone": "13900001111",
        "bank_card_number": "6222020000000000000",
        "bank_name": "中国工商银行长治分行",
    }
    for name, value in texts.items():
        page.locator(f"#field-{name}").fill(value)
    # Born 40 days ago: eligible, with the late birth-registration notice (资格核验).
    page.locator("#field-newborn_birth_date").fill((date.today() - timedelta(days=40)).isoformat())
    page.locator("#field-newborn_sex").select_option(label="女")
    page.locator("#field-register_with").select_option(label="随母亲落户")
    page.locator("#field-delivery_method").select_option(label="窗口领取")
    page.locator("#field-data_sharing_consent").check()
    page.locator("#field-apply_maternity_allowance").check()


def open_to_claim(page) -> None:
    """The 待认领 tab of the inbox."""
    page.goto("/?tab=available")
    expect(page.locator("#inbox-table")).to_be_visible()


def task_row(page, receipt: str, name: str):
    """The inbox row of this case's task ``name``."""
    return (
        page.locator("#task-rows tr")
        .filter(has_text=receipt)
        .filter(has=page.get_by_role("link", name=name, exact=True))
    )


def waiting_names(page, receipt: str) -> list[str]:
    """The names of this case's tasks listed on the open inbox tab, top to bottom."""
    return page.locator("#task-rows tr").filter(has_text=receipt).locator("td:nth-child(3) a").all_inner_texts()


def claim_from_inbox(page, receipt: str, name: str) -> None:
    """Claim the task in 待认领 (htmx swaps the row) and follow the row's link to the task page."""
    row = task_row(page, receipt, name)
    row_id = row.get_attribute("id")
    row.locator("button[type=submit]").click()
    claimed = page.locator(f"#{row_id}.notice-claimed")
    expect(claimed).to_be_visible()
    claimed.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator("#task-heading")).to_contain_text(name)
    expect(page.locator("#task-form")).to_be_visible()


def submit_task(page, case_id: int) -> None:
    """Submit the task form; the browser goes to the case page."""
    page.locator("#submit").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}$"))
    expect(page.locator(".flash")).to_be_visible()


def approve(page, prefix: str, case_id: int) -> None:
    """Approve a department task with an opinion (医保 leaves the premium to the tax department)."""
    page.locator(f"#field-{prefix}_decision").select_option(label=COLLECTED if prefix == "premium" else APPROVE)
    if prefix == "medins_enrol":
        page.locator("#field-medins_premium_status").select_option(label="待缴费（税务代征）")
    if prefix == "premium":
        expect(page.locator("#field-medins_number")).to_be_disabled()
    page.locator(f"#field-{prefix}_opinion").fill("经审查，材料齐全，符合条件，同意办理。")
    submit_task(page, case_id)


def required_field_is_reported(page, case_id: int) -> None:
    """Submit with the opinion empty: the message is next to it and the typed values stay; then approve."""
    page.locator("#field-birth_cert_decision").select_option(label=APPROVE)
    page.locator("#field-birth_cert_number").fill("P140400123456")
    page.locator("#field-birth_cert_issue_date").fill("2026-11-03")
    page.locator("#submit").click()
    expect(page.locator("#form-error-summary")).to_be_visible()
    expect(page.locator("#field-birth_cert_opinion-row .field-error")).to_contain_text(REQUIRED)
    expect(page.locator("#field-birth_cert_opinion")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#field-birth_cert_decision")).to_have_value("approve")
    expect(page.locator("#field-birth_cert_number")).to_have_value("P140400123456")
    expect(page.locator("#field-birth_cert_issue_date")).to_have_value("2026-11-03")
    screenshot(page, "full_flow_task_required_field")
    page.locator("#field-birth_cert_opinion").fill("出生医学证明已签发，同意。")
    submit_task(page, case_id)


def test_newborn_case_from_intake_to_handover(new_page, api, make_user):
    """The whole newborn bundle through the workbench, every step by a person in a browser."""
    assert api.deploy(*NEWBORN).status_code == 201

    # The comprehensive window: the language switch, then 综窗受理 from the navigation.
    window = new_page()
    login(window, "window1")
    nav = window.locator("header.topbar nav")
    expect(nav).to_contain_text("待办")
    window.locator(".account a[lang=en]").click()
    expect(nav.get_by_role("link", name="Inbox", exact=True)).to_be_visible()
    expect(window.locator("html")).to_have_attribute("lang", "en")
    window.locator(".account a[lang=zh-CN]").click()
    expect(nav.get_by_role("link", name="待办", exact=True)).to_be_visible()
    expect(window.locator("html")).to_have_attribute("lang", "zh-CN")

    nav.get_by_role("link", name="综窗受理", exact=True).click()
    window.get_by_role("link", name="新生儿出生一件事", exact=True).click()
    window.wait_for_url(re.compile(r"/cases/new\?process_key=newborn$"))
    fill_application(window)
    window.locator("#start-case").click()
    window.wait_for_url(re.compile(r"/cases/\d+$"))
    case_id = int(window.url.rsplit("/", 1)[1])
    flash = window.locator(".flash")
    expect(flash).to_contain_text("受理编号")
    receipt = RECEIPT.search(flash.inner_text()).group(0)
    expect(window.locator("#case-heading")).to_contain_text(receipt)

    # The formal check, claimed and completed on the task page.
    window.locator("#open-tasks").get_by_role("link", name=FORMAL_CHECK).click()
    window.wait_for_url(re.compile(r"/tasks/\d+$"))
    window.locator("#claim").click()
    expect(window.locator("#task-state")).to_have_text("已认领")
    expect(window.locator("#field-eligibility_notes")).to_have_value(re.compile("逾期申报出生登记"))
    expect(window.locator("#field-eligibility_notes")).to_be_disabled()
    window.locator("#field-check_decision").select_option(label="受理")
    window.locator("#field-check_opinion").fill("材料齐全，予以受理。")
    submit_task(window, case_id)
    done = [FORMAL_CHECK]

    # health2 has 待认领 open while health1 claims the birth certificate there.
    health, colleague = new_page(), new_page()
    login(health, "health1")
    login(colleague, "health2")
    for page in (health, colleague):
        open_to_claim(page)
        expect(task_row(page, receipt, "出生医学证明签发")).to_be_visible()
    screenshot(health, "full_flow_inbox")
    claim_from_inbox(health, receipt, "出生医学证明签发")
    colleague.reload()
    expect(colleague.locator("#inbox-table")).to_be_visible()
    expect(task_row(colleague, receipt, "出生医学证明签发")).to_have_count(0)
    expect(task_row(colleague, receipt, "生育登记及科学育儿指导登记")).to_be_visible()
    required_field_is_reported(health, case_id)
    done.append("出生医学证明签发")

    # Every department works through its own 待认领, in whatever order the tasks appear there.
    pages = {"health1": health}
    for user in ("health1", "police1", "medins1", "tax1", "hrss1"):
        if user not in pages:
            pages[user] = new_page()
            login(pages[user], user)
        page = pages[user]
        open_to_claim(page)
        names = waiting_names(page, receipt)
        assert names, f"{user} has nothing to claim"
        while names:
            name = names[0]
            worker, prefix = DEPARTMENT_TASKS[name]
            assert worker == user, f"{name} is in {user}'s inbox"
            claim_from_inbox(page, receipt, name)
            approve(page, prefix, case_id)
            done.append(name)
            open_to_claim(page)
            names = waiting_names(page, receipt)
    assert sorted(done[1:]) == sorted(DEPARTMENT_TASKS)

    # The window hands the results over.
    open_to_claim(window)
    expect(task_row(window, receipt, HANDOVER)).to_be_visible()
    claim_from_inbox(window, receipt, HANDOVER)
    window.locator("#field-handover_method").select_option(label="窗口领取")
    window.locator("#field-handed_over_items").fill("出生医学证明\n户口簿新生儿页\n医保参保凭证\n社会保障卡申领回执")
    window.locator("#field-handover_date").fill("2026-11-20")
    window.locator("#field-recipient_name").fill("王小明")
    submit_task(window, case_id)
    done.append(HANDOVER)

    # The case page: completed, nothing waiting, the whole path green.
    expect(window.locator("#case-status")).to_have_text(COMPLETED)
    expect(window.locator("#open-tasks")).to_have_count(0)
    diagram = window.locator("#diagram[data-loaded=true]")
    expect(diagram).to_be_visible()
    expect(diagram).to_have_attribute("data-marked-current", "0")
    assert len(done) == 9
    assert int(diagram.get_attribute("data-marked-done")) > len(done)  # the tasks, and the events and gateways
    expect(window.locator("#history")).to_contain_text(HANDOVER)
    screenshot(window, "full_flow_case_completed")
