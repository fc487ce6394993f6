"""New case and task pages in Chromium: window1 takes in a newborn case with a file, then does the formal check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e_support import login, screenshot

pytestmark = pytest.mark.server

# Not imported from conftest: with several conftest.py files the name ``conftest`` is ambiguous.
ROOT = Path(__file__).resolve().parents[2]
NEWBORN = [ROOT / "bpmn" / "newborn.bpmn", *sorted((ROOT / "forms").glob("newborn_*.json"))]
LOOP = ROOT / "tests" / "data" / "parallel_loop" / "parallel_loop.bpmn"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
REQUIRED = "此项为必填项"  # the Chinese catalog's "This field is required." (the UI runs in Chinese)








def fill_application(page) -> None:
    """The applicant and the newborn start form, as a clerk types them."""
    page.locator("#applicant-name").fill("王小明")
    page.locator("#applicant-id_number").fill("140402199001011234")
    page.locator("#applicant-phone").fill("13812341234")
    texts = {
        "newborn_name": "王小宝", "birth_place": "山西省长治市潞州区", "birth_hospital": "长治市妇幼保健院",
        "mother_name": "李丽", "mother_id_number": "140402199203045678", "father_name": "王明",
        "father_id_number": "140402198905061239", "marriage_cert_number": "J140402-2020-001234",
        "household_address": "长治市潞州区英雄中路1号", "contact_phone": "13900001111",
    }
    for name, value in texts.items():
        page.locator(f"#field-{name}").fill(value)
    page.locator("#field-newborn_birth_date").fill("2026-11-01")
    page.locator("#field-newborn_sex").select_option(label="女")
    page.locator("#field-register_with").select_option(label="随母亲落户")
    page.locator("#field-delivery_method").select_option(label="窗口领取")
    page.locator("#field-data_sharing_consent").check()


def test_take_in_a_case_and_do_the_formal_check(new_page, api):
    """Pick the bundle (filter, keyboard), fill the form, attach a PNG; claim; a missing field; submit."""
    assert api.deploy(*NEWBORN).status_code == 201
    assert api.deploy(LOOP).status_code == 201
    page = new_page()
    login(page, "window1")

    page.goto("/cases/new")
    items = page.locator("#bundle-list li")
    expect(items).to_have_count(2)
    page.locator("#bundle-filter").fill("新生儿")  # narrows on the client, no submit
    expect(items.filter(has_text="新生儿出生一件事")).to_be_visible()
    expect(items.filter(has_text="parallel_loop")).to_be_hidden()
    screenshot(page, "new_case_pick")
    page.locator("#bundle-filter").press("Tab")  # the search button, then the first visible bundle
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/cases/new\?process_key=newborn$"))

    fill_application(page)
    page.locator("#attachments").set_input_files(
        [{"name": "出生医学证明.png", "mimeType": "image/png", "buffer": PNG}])
    screenshot(page, "new_case_form")
    page.locator("#start-case").click()
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    case_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".flash")).to_contain_text(re.compile(r"CZ\d{8}\d{6}"))
    screenshot(page, "new_case_started")

    task_id = api.find_task("window1", "formal_check", case_id)["id"]
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("#attachments")).to_contain_text("出生医学证明.png")
    expect(page.locator("#case-header")).to_contain_text("1404**********1234")
    expect(page.locator("#diagram[data-loaded=true]")).to_have_attribute("data-marked-current", "1")
    page.locator("#claim").click()
    expect(page.locator("#task-form")).to_be_visible()

    page.locator("#field-check_decision").select_option(label="受理")
    page.locator("#field-missing_materials").fill("无")
    page.locator("#submit").click()
    error = page.locator("#field-check_opinion-row .field-error")
    expect(error).to_contain_text(REQUIRED)
    expect(page.locator("#field-check_opinion")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#field-check_decision")).to_have_value("accept")  # what was chosen stays
    expect(page.locator("#field-missing_materials")).to_have_value("无")
    screenshot(page, "task_form_error")

    page.locator("#field-check_opinion").fill("材料齐全，予以受理。")
    page.locator("#submit").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}$"))
    expect(page.locator(".flash")).to_be_visible()
    page.goto(f"/tasks/{task_id}")
    expect(page.locator("#form-view")).to_contain_text("材料齐全，予以受理。")
    screenshot(page, "task_completed")
