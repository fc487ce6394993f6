"""修改密码 in Chromium against the real gunicorn server: a clerk whose password an administrator
reset is led to the password page first, chooses their own, and goes on to the inbox."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from e2e_support import login, screenshot

pytestmark = pytest.mark.server

RESET, OWN = "Reset-by-admin-1", "Tai-Hang.2026"


def test_a_reset_password_is_replaced_before_anything_else(new_page, app):
    out = app.test_cli_runner().invoke(args=["users", "set-password", "window2", "--password", RESET])
    assert out.exit_code == 0, out.output
    page = new_page()
    login(page, "window2", RESET)
    expect(page).to_have_url(re.compile(r"/account/password$"))
    expect(page.locator("#password-due")).to_contain_text("管理员")
    page.goto("/cases")  # any other page leads back here
    expect(page).to_have_url(re.compile(r"/account/password$"))

    page.locator("#current_password").fill(RESET)
    page.locator("#new_password").fill(OWN)
    page.locator("#confirm_password").fill("Tai-Hang.2027")
    page.locator("#password-form button[type=submit]").click()
    expect(page.locator("#confirm_password-error")).to_have_text("两次输入的新密码不一致。")
    screenshot(page, "account_password_error")

    page.locator("#current_password").fill(RESET)
    page.locator("#new_password").fill(OWN)
    page.locator("#confirm_password").fill(OWN)
    page.locator("#password-form button[type=submit]").click()
    expect(page.locator(".flash-success")).to_have_text("密码已修改。")
    expect(page).not_to_have_url(re.compile(r"/account/password"))
    page.goto("/cases")
    expect(page).to_have_url(re.compile(r"/cases$"))

    again = new_page()
    login(again, "window2", OWN)
    expect(again).not_to_have_url(re.compile(r"/account/password|/login"))
