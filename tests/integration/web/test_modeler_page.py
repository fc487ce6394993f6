"""The process modeler page (/designer/<key>/edit) and its form preview, through the Flask test client."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
NEWBORN = [ROOT / "bpmn" / "newborn.bpmn", *sorted((ROOT / "forms").glob("newborn_*.json"))]
FORMAL_CHECK = (ROOT / "forms" / "newborn_formal_check.json").read_text(encoding="utf-8")


@pytest.fixture()
def deployed(api):
    """The newborn bundle as version 1."""
    assert api.deploy(*NEWBORN).status_code == 201
    return api


def page_data(page: str) -> dict:
    """The JSON the page hands to modeler.js."""
    raw = re.search(r'<script type="application/json" id="modeler-data">(.*?)</script>', page, re.S).group(1)
    return json.loads(raw)


def test_the_modeler_opens_the_latest_version(login, deployed):
    """A designer gets the Modeler, the properties panel, the form editor and the three actions."""
    page = login("designer").html("/designer/newborn/edit")
    assert "vendor/bpmn-js/bpmn-modeler.production.min.js" in page
    assert "js/modeler.js" in page
    for element_id in ("modeler-canvas", "properties", "form-text", "form-preview", "save-draft", "validate",
                       "deploy"):
        assert f'id="{element_id}"' in page, element_id
    assert ">Deploy<" in page
    data = page_data(page)
    assert data["key"] == "newborn" and data["version"] == 1 and data["draft"] is None
    assert data["diagram"] == "newborn.bpmn"
    assert data["files"]["newborn.bpmn"] == NEWBORN[0].read_text(encoding="utf-8")
    assert json.loads(data["files"]["newborn_formal_check.json"]) == json.loads(FORMAL_CHECK)
    assert data["fourEyes"] is False
    assert data["text"]["valid"] == "Validation passed: the process can be deployed."
    assert 'data-form="newborn_formal_check.json"' in page


def test_a_given_version_opens_and_an_unknown_one_is_404(login, deployed):
    """?version=1 opens; ?version=9 and an unknown key are 404 pages."""
    browser = login("designer")
    assert page_data(browser.html("/designer/newborn/edit?version=1"))["version"] == 1
    assert browser.get("/designer/newborn/edit?version=9").status_code == 404
    assert browser.get("/designer/nothing/edit").status_code == 404


@pytest.mark.parametrize("user", ["window1", "health1", "supervisor"])
def test_only_designers_and_admins_open_the_modeler(login, deployed, user):
    """Other roles get the 403 page."""
    assert login(user).get("/designer/newborn/edit").status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(client, deployed):
    r = client.get("/designer/newborn/edit")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_an_admin_opens_the_modeler(login, deployed):
    assert page_data(login("admin").html("/designer/newborn/edit"))["key"] == "newborn"


def test_a_draft_opens_with_its_files(login, deployed):
    """?draft=ID shows the draft's text and its revision; a draft of another key is 404."""
    draft = deployed.post("/api/v1/drafts", "designer", json={"key": "newborn"}).get_json()
    bpmn = draft["files"]["newborn.bpmn"].replace("形式审查/受理", "改过的名字")
    files = dict(draft["files"], **{"newborn.bpmn": bpmn})
    assert deployed.client.put(f"/api/v1/drafts/{draft['id']}", headers=deployed.headers("designer"),
                               json={"files": files}).status_code == 200
    browser = login("designer")
    page = browser.html(f"/designer/newborn/edit?draft={draft['id']}")
    data = page_data(page)
    assert data["draft"] == {"id": draft["id"], "revision": 2}
    assert "改过的名字" in data["files"]["newborn.bpmn"]
    assert f"Draft {draft['id']} by" in page
    assert 'id="draft-list"' in page
    assert browser.get(f"/designer/other/edit?draft={draft['id']}").status_code == 404


def test_file_contents_cannot_break_out_of_the_page_data(login, deployed):
    """A form that contains </script> stays inside the JSON (escaped), never becomes markup."""
    hostile = '{"type": "object", "title": "</script><script>alert(1)</script>"}'
    files = {"newborn.bpmn": NEWBORN[0].read_text(encoding="utf-8"), "evil.json": hostile}
    draft = deployed.post("/api/v1/drafts", "designer", json={"key": "newborn", "files": files}).get_json()
    page = login("designer").html(f"/designer/newborn/edit?draft={draft['id']}")
    assert "<script>alert(1)" not in page
    assert page_data(page)["files"]["evil.json"] == hostile


def preview(browser, schema: str, token: str | None = None):
    headers = {"HX-Request": "true"}
    if token is not None:
        headers["X-CSRFToken"] = token
    return browser.client.post("/designer/newborn/edit/preview-form", data={"schema": schema}, headers=headers)


def test_the_preview_renders_the_form_like_a_task_page(login, deployed):
    """Field titles, the choices of a oneOf, a textarea, the required marks: the task page's renderer."""
    browser = login("designer")
    r = preview(browser, FORMAL_CHECK, browser.meta_token())
    assert r.status_code == 200
    fragment = r.get_data(as_text=True)
    assert "<html" not in fragment
    for text in ("形式审查/受理", "审查结论", "一次性告知补正", "审查意见", "需补正材料清单"):
        assert text in fragment
    assert 'id="field-check_decision"' in fragment and "<textarea" in fragment
    assert "<form" not in fragment  # a preview is never submitted


@pytest.mark.parametrize(("schema", "reason"), [
    ("{not json", "not valid JSON"),
    ('{"type": 5}', "not a valid JSON Schema"),
    ("[1, 2]", "must be a JSON object"),
])
def test_the_preview_says_why_a_form_cannot_be_shown(login, deployed, schema, reason):
    """Broken JSON, a wrong schema, not an object: a readable reason in the fragment."""
    browser = login("designer")
    r = preview(browser, schema, browser.meta_token())
    assert r.status_code == 200
    fragment = html.unescape(r.get_data(as_text=True))
    assert "This form cannot be shown" in fragment and reason in fragment


def test_the_preview_needs_the_csrf_token_and_a_designer(login, deployed):
    """Without the token: 400; a clerk: 403."""
    designer = login("designer")
    assert preview(designer, FORMAL_CHECK).status_code == 400
    clerk = login("window1")
    assert preview(clerk, FORMAL_CHECK, clerk.meta_token()).status_code == 403


def test_the_page_saves_through_the_api_with_its_session_and_csrf_token(login, deployed):
    """What modeler.js does: session cookie + X-CSRFToken; without the token the API refuses."""
    browser = login("designer")
    body = {"key": "newborn"}
    r = browser.client.post("/api/v1/drafts", json=body)
    assert r.status_code == 400 and r.get_json()["error"] == "csrf_failed"
    r = browser.client.post("/api/v1/drafts", json=body, headers={"X-CSRFToken": browser.meta_token()})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["author"] == "designer"


def test_the_page_gets_the_api_refusals_in_chinese(login, deployed):
    """modeler.js sends Accept-Language from the page (zh-CN): a refused deployment and a save
    over a newer revision answer in Chinese, which the page shows as they are."""
    browser = login("designer", english=False)
    headers = {"X-CSRFToken": browser.meta_token(), "Accept-Language": "zh-CN"}
    draft = browser.client.post("/api/v1/drafts", json={"key": "newborn"}, headers=headers).get_json()
    broken = '{"type": "object", "properties": {"x": {"type": 1}}}'
    files = dict(draft["files"], **{"newborn_formal_check.json": broken})
    r = browser.client.put(f"/api/v1/drafts/{draft['id']}", json={"files": files, "revision": 1}, headers=headers)
    assert r.status_code == 200, r.get_json()
    r = browser.client.put(f"/api/v1/drafts/{draft['id']}", json={"files": files, "revision": 1}, headers=headers)
    assert r.status_code == 409 and r.get_json()["message"] == "草稿在您打开之后已在别处保存，请先重新加载。"
    r = browser.client.post(f"/api/v1/drafts/{draft['id']}/deploy", json={}, headers=headers)
    assert r.status_code == 422 and r.get_json()["message"] == "流程图无效。"


# -- four-eyes ------------------------------------------------------------------------------------


@pytest.fixture()
def four_eyes(app, monkeypatch):
    monkeypatch.setitem(app.config, "FOUR_EYES_DEPLOY", True)


def test_with_four_eyes_the_page_requests_and_lists_requests(login, deployed, four_eyes, make_user):
    """The deploy button asks for approval; the requester sees their request but no approve button."""
    make_user("designer2", ["designer"])
    draft = deployed.post("/api/v1/drafts", "designer", json={"key": "newborn"}).get_json()
    files = dict(draft["files"], **{"newborn.bpmn": draft["files"]["newborn.bpmn"].replace("形式审查/受理", "新名字")})
    deployed.client.put(f"/api/v1/drafts/{draft['id']}", headers=deployed.headers("designer"), json={"files": files})
    r = deployed.post(f"/api/v1/drafts/{draft['id']}/deploy", "designer", json={})
    assert r.status_code == 202
    pending_id = r.get_json()["pending"]["id"]

    page = login("designer").html("/designer/newborn/edit")
    assert ">Request deployment<" in page and "Four-eyes publication is on" in page
    assert page_data(page)["fourEyes"] is True
    assert f'data-pending="{pending_id}"' in page
    assert "Your own request" in page
    assert f'data-decide="approve" data-id="{pending_id}"' not in page
    assert "newborn.bpmn <span class=\"muted\">(changed)</span>" in page

    other = login("designer2").html("/designer/newborn/edit")
    assert f'data-decide="approve" data-id="{pending_id}"' in other

    review = login("designer2").html(f"/designer/newborn/edit?pending={pending_id}")
    assert "新名字" in page_data(review)["files"]["newborn.bpmn"]
    assert page_data(review)["pending"] == pending_id
    assert 'id="deploy"' not in review and 'id="save-draft"' not in review
