"""The process modeler in Chromium: a designer renames a task, validates, deploys, and finds version 2."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e_support import login, screenshot

pytestmark = pytest.mark.server

# Not imported from conftest: with several conftest.py files the name ``conftest`` is ambiguous.
ROOT = Path(__file__).resolve().parents[2]
NEWBORN = [ROOT / "bpmn" / "newborn.bpmn", *sorted((ROOT / "forms").glob("newborn_*.json"))]
NEW_NAME = "形式审查（修订）"
INSTRUCTIONS = "请逐项核对出生医学证明与户口簿。"

RENAME = """name => {
  const registry = window.modeler.get('elementRegistry');
  window.modeler.get('modeling').updateLabel(registry.get('formal_check'), name);
  window.modeler.get('selection').select(registry.get('formal_check'));
}"""


def deployed_bpmn(app, version: int) -> str:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import ProcessDefinition, ProcessVersion

    with app.app_context():
        found = db.session.scalar(select(ProcessVersion).join(ProcessDefinition).where(
            ProcessDefinition.key == "newborn", ProcessVersion.version == version))
        return found.file_map("bpmn")["newborn.bpmn"].decode()


def test_rename_a_task_validate_deploy_and_see_the_next_version(new_page, api, app):
    """Modeler: rename 形式审查 and give it instructions, preview a form, validate, deploy; the library has v2."""
    assert api.deploy(*NEWBORN).status_code == 201
    page = new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, "designer")

    page.goto("/designer/newborn/edit?version=1")
    canvas = page.locator("#modeler-canvas")
    expect(canvas).to_have_attribute("data-loaded", "true")
    expect(canvas.locator('[data-element-id="formal_check"]')).to_contain_text("形式审查")

    # The bpmn-js API renames the task; the properties panel follows the selection and edits the rest.
    page.evaluate(RENAME, NEW_NAME)
    expect(canvas.locator('[data-element-id="formal_check"]')).to_contain_text(NEW_NAME)
    expect(page.locator("#prop-name")).to_have_value(NEW_NAME)
    page.locator("#prop-documentation").fill(INSTRUCTIONS)
    page.locator("#prop-documentation").press("Tab")  # change fires on leaving the field

    # The form editor: a JSON check as you type and the server-rendered preview.
    page.locator('#form-list button[data-form="newborn_formal_check.json"]').click()
    expect(page.locator("#form-text")).to_have_value(
        (ROOT / "forms" / "newborn_formal_check.json").read_text(encoding="utf-8"))
    original = page.locator("#form-text").input_value()
    page.locator("#form-text").fill(original + "}")
    expect(page.locator("#form-text")).to_have_attribute("aria-invalid", "true")
    page.locator("#form-text").fill(original)
    expect(page.locator("#form-text")).not_to_have_attribute("aria-invalid", "true")
    page.locator("#form-preview").click()
    expect(page.locator("#form-preview-area #field-check_decision")).to_be_visible()
    expect(page.locator("#form-preview-area")).to_contain_text("审查结论")

    page.locator("#validate").click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", "ok")
    expect(page.locator('#findings li[data-severity="error"]')).to_have_count(0)
    screenshot(page, "modeler_validated")

    page.locator("#deploy").click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", "ok")
    expect(page.locator("#modeler-status")).to_contain_text("2")
    expect(page.locator("#edit-new-version")).to_have_attribute("href", "/designer/newborn/edit?version=2")
    assert page.url.endswith("/designer/newborn/edit?version=2")
    screenshot(page, "modeler_deployed")

    # Version 2 runs the new name (and the instructions); version 1 is unchanged.
    processes = {p["key"]: p for p in api.get("/api/v1/processes", "designer").get_json()}
    assert [v["version"] for v in processes["newborn"]["versions"]] == [1, 2]
    v2 = deployed_bpmn(app, 2)
    assert f'name="{NEW_NAME}"' in v2 and INSTRUCTIONS in v2
    assert NEW_NAME not in deployed_bpmn(app, 1)

    # The library page (web_designer) lists version 2.
    response = page.goto("/designer")
    assert response is not None and response.status == 200
    expect(page.locator("#version-newborn-2")).to_be_visible()
    screenshot(page, "modeler_library")
    assert errors == []


WAIT_REVIEW = ROOT / "tests" / "data" / "modeler" / "wait_review.bpmn"
NEW_FORM = """{
  "type": "object",
  "title": "审查意见",
  "required": ["decision"],
  "properties": {"decision": {"type": "string", "title": "结论", "enum": ["approve", "refuse"]}}
}"""

SELECT = "id => window.modeler.get('selection').select(window.modeler.get('elementRegistry').get(id))"


def deployed_version(app, key: str, version: int):
    from sqlalchemy import select

    from app.extensions import db
    from app.models import ProcessDefinition, ProcessVersion

    with app.app_context():
        found = db.session.scalar(select(ProcessVersion).join(ProcessDefinition).where(
            ProcessDefinition.key == key, ProcessVersion.version == version))
        return {name: content.decode() for name, content in found.file_map().items()}, found.meta


def test_the_properties_panel_edits_timers_conditions_groups_forms_and_lanes(new_page, api, app):
    """Each panel field lands in the deployed diagram, and the engine reads it as routing."""
    assert api.deploy(WAIT_REVIEW).status_code == 201
    page = new_page()
    login(page, "designer")
    page.goto("/designer/wait_review/edit")
    canvas = page.locator("#modeler-canvas")
    expect(canvas).to_have_attribute("data-loaded", "true")

    canvas.locator('[data-element-id="wait"]').click()  # a real click selects the timer event
    expect(page.locator("#prop-timer-kind")).to_have_value("timeDuration")
    expect(page.locator("#prop-timer-value")).to_have_value('"PT1H"')
    page.locator("#prop-timer-value").fill('"PT2H"')
    page.locator("#prop-timer-value").press("Tab")

    page.evaluate(SELECT, "f_yes")
    page.locator("#prop-condition").fill('decision == "approve"')
    page.locator("#prop-condition").press("Tab")
    page.evaluate(SELECT, "f_no")
    page.locator("#prop-default").check()
    expect(page.locator("#prop-condition")).to_be_disabled()

    page.locator("#new-form-name").fill("wait_review_form.json")
    page.locator("#add-form").click()
    expect(page.locator('#form-list button[aria-current="true"]')).to_have_text("wait_review_form.json")
    page.locator("#form-text").fill(NEW_FORM)

    canvas.locator('[data-element-id="review"]').click()
    page.locator("#prop-form").fill("wait_review_form.json")
    page.locator("#prop-form").press("Tab")
    page.locator("#prop-candidate-groups").fill("health， window")
    page.locator("#prop-candidate-groups").press("Tab")

    page.evaluate(SELECT, "Lane_health")
    page.locator("#prop-name").fill("卫生健康")
    page.locator("#prop-name").press("Tab")
    screenshot(page, "modeler_panel")

    page.locator("#validate").click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", "ok")
    page.locator("#deploy").click()
    expect(page.locator("#edit-new-version")).to_be_visible()

    files, meta = deployed_version(app, "wait_review", 2)
    xml = files["wait_review.bpmn"]
    assert '"PT2H"' in xml and '"PT1H"' not in xml
    assert 'decision == "approve"' in xml
    assert 'default="f_no"' in xml and ">False<" not in xml
    assert 'name="卫生健康"' in xml
    assert 'camunda:candidateGroups="health,window"' in xml
    assert "wait_review_form.json" in files
    assert meta["user_tasks"]["review"]["groups"] == ["health", "window"]
    assert meta["user_tasks"]["review"]["form"] == "wait_review_form.json"


def test_a_stale_draft_is_deployed_only_when_the_designer_insists(new_page, api, app):
    """Someone deployed version 2 while this page had version 1 open: warn, then 'Deploy anyway'."""
    assert api.deploy(WAIT_REVIEW).status_code == 201
    page = new_page()
    login(page, "designer")
    page.goto("/designer/wait_review/edit?version=1")
    expect(page.locator("#modeler-canvas")).to_have_attribute("data-loaded", "true")
    page.evaluate("""() => {
      const registry = window.modeler.get('elementRegistry');
      window.modeler.get('modeling').updateLabel(registry.get('review'), '复审');
    }""")
    page.locator("#save-draft").click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", "ok")
    assert "?draft=" in page.url

    other = WAIT_REVIEW.read_text(encoding="utf-8").replace('name="审查"', 'name="初审"')
    r = api.client.post("/api/v1/processes", headers=api.headers("admin"), content_type="multipart/form-data",
                        data={"file": [(io.BytesIO(other.encode()), "wait_review.bpmn")]})
    assert r.status_code == 201 and r.get_json()["version"] == 2

    page.locator("#deploy").click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", "bad")
    expect(page.locator("#deploy-force")).to_be_visible()
    page.locator("#deploy-force").click()
    expect(page.locator("#edit-new-version")).to_have_attribute("href", "/designer/wait_review/edit?version=3")
    assert 'name="复审"' in deployed_version(app, "wait_review", 3)[0]["wait_review.bpmn"]


def test_four_eyes_a_second_person_approves_a_request_in_the_modeler(new_page, api, app, monkeypatch):
    """designer requests a deploy (FOUR_EYES_DEPLOY); the admin approves it on the modeler page: version 2."""
    assert api.deploy(WAIT_REVIEW).status_code == 201
    monkeypatch.setitem(app.config, "FOUR_EYES_DEPLOY", True)  # the in-process app the `api` fixture talks to
    draft = api.post("/api/v1/drafts", "designer", json={"key": "wait_review"}).get_json()
    files = dict(draft["files"])
    files["wait_review.bpmn"] = files["wait_review.bpmn"].replace('name="审查"', 'name="复核"')
    assert api.client.put(f"/api/v1/drafts/{draft['id']}", headers=api.headers("designer"),
                          json={"files": files}).status_code == 200
    r = api.post(f"/api/v1/drafts/{draft['id']}/deploy", "designer", json={})
    assert r.status_code == 202, r.get_json()
    pending_id = r.get_json()["pending"]["id"]

    requester = new_page()
    login(requester, "designer")
    requester.goto("/designer/wait_review/edit")
    row = requester.locator(f'tr[data-pending="{pending_id}"]')
    expect(row).to_be_visible()
    expect(row.locator('[data-decide="approve"]')).to_have_count(0)  # never one's own

    approver = new_page()
    login(approver, "admin")
    approver.goto(f"/designer/wait_review/edit?pending={pending_id}")
    expect(approver.locator("#modeler-canvas")).to_have_attribute("data-loaded", "true")
    expect(approver.locator('#modeler-canvas [data-element-id="review"]')).to_contain_text("复核")
    row = approver.locator(f'tr[data-pending="{pending_id}"]')
    row.locator(f"#comment-{pending_id}").fill("同意发布")
    row.locator('[data-decide="approve"]').click()
    expect(approver.locator("#modeler-status")).to_have_attribute("data-state", "ok")
    expect(row).to_have_count(0)
    screenshot(approver, "modeler_approved")

    done = api.get(f"/api/v1/pending-deployments/{pending_id}", "admin").get_json()
    assert (done["status"], done["version"], done["approved_by"]) == ("approved", 2, "admin")
    assert done["requested_by"] == "designer" and done["comment"] == "同意发布"
    assert 'name="复核"' in deployed_version(app, "wait_review", 2)[0]["wait_review.bpmn"]


def test_deploying_without_changes_keeps_the_version(new_page, api):
    """Nothing edited: the original bytes are sent, so the deploy answers 'unchanged' (no version 2)."""
    assert api.deploy(WAIT_REVIEW).status_code == 201
    page = new_page()
    login(page, "designer")
    page.goto("/designer/wait_review/edit")
    expect(page.locator("#modeler-canvas")).to_have_attribute("data-loaded", "true")
    page.locator("#deploy").click()
    expect(page.locator("#modeler-status")).to_have_attribute("data-state", "ok")
    expect(page.locator("#edit-new-version")).to_have_attribute("href", "/designer/wait_review/edit?version=1")
    versions = {p["key"]: p for p in api.get("/api/v1/processes", "designer").get_json()}["wait_review"]["versions"]
    assert [v["version"] for v in versions] == [1]
