"""Browser-test helpers (Playwright + Debian chromium); fixtures are in tests/e2e/conftest.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from support import PASSWORD

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


def login(page, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form and wait for the inbox."""
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
