"""Browser tests: Playwright driving Debian's Chromium against the real gunicorn `server`."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e_support import CHROMIUM


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (Debian package, no downloaded browser)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium not found at {CHROMIUM}: install the Debian package 'chromium'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture()
def new_page(browser, server, db_clean):
    """Open a fresh browser context (own cookies) and return a page factory: new_page().

    Every page of every browser test is also a Content-Security-Policy check: a script or style
    the policy refuses makes the test fail."""
    contexts, refused = [], []

    def _watch(message):
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    def _open():
        context = browser.new_context(base_url=server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                      viewport={"width": 1366, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", _watch)
        return page

    yield _open
    for context in contexts:
        context.close()
    assert refused == [], refused
