"""Every bundle of bpmn/ draws in Chromium (bpmn-js) on its designer page, with all of its tasks."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from playwright.sync_api import expect

from e2e_support import login, screenshot

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = sorted((ROOT / "bpmn").glob("*.bpmn"))
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def _uploads(path):
    content = path.read_bytes()
    return [path, *[f for f in sorted((ROOT / "forms").glob("*.json")) if f.name.encode() in content]]


@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_bundle_diagram_draws_every_task(new_page, api, path):
    assert api.deploy(*_uploads(path)).status_code == 201
    tasks = [t.get("id") for t in etree.parse(str(path)).getroot().iter(f"{{{BPMN}}}userTask")]
    page = new_page()
    login(page, "designer")
    page.goto(f"/designer/{path.stem}/v/1")
    diagram = page.locator("#diagram[data-loaded=true]")
    expect(diagram).to_be_visible()
    for task_id in tasks:
        expect(page.locator(f'#diagram [data-element-id="{task_id}"]').first).to_be_attached()
    screenshot(page, f"bundle_{path.stem}")
