"""The process library pages (/designer): permissions, versions with case counts, downloads, diagram, diff."""

from __future__ import annotations

import html
import io
import json
import re
from urllib.parse import urlsplit

import pytest

from support import DATA, ROOT

V1 = DATA / "api_checks" / "versioned_v1.bpmn"
V2 = DATA / "api_checks" / "versioned_v2.bpmn"
JOINT = (DATA / "api_checks" / "joint_review.bpmn", DATA / "api_checks" / "joint_review_form.json")
APPLICANT = {"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}

PAGES = ("/designer", "/designer/versioned/v/1", "/designer/versioned/v/1/diagram.bpmn",
         "/designer/versioned/v/1/files/versioned.bpmn", "/designer/versioned/diff?from=1&to=2")


def _deploy_versioned(api, path):
    content = path.read_bytes()
    r = api.client.post("/api/v1/processes", headers=api.headers("designer"),
                        data={"file": [(io.BytesIO(content), "versioned.bpmn")]}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()


def _finish_open_task(api, case_id: int, user: str = "window1"):
    case = api.get(f"/api/v1/cases/{case_id}", user).get_json()
    task_id = case["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", user).status_code == 200
    r = api.post(f"/api/v1/tasks/{task_id}/complete", user, json={"data": {}})
    assert r.status_code == 200, r.get_json()


@pytest.fixture()
def versions(api):
    """versioned v1 (one case running, one finished) and v2 (one case running)."""
    _deploy_versioned(api, V1)
    cases = [api.start("versioned", applicant=APPLICANT).get_json()["id"] for _ in range(2)]
    _finish_open_task(api, cases[0])
    _deploy_versioned(api, V2)
    assert api.start("versioned", applicant=APPLICANT).get_json()["version"] == 2
    return api


def row(page: str, row_id: str) -> str:
    match = re.search(rf'<tr id="{re.escape(row_id)}"[^>]*>(.*?)</tr>', page, re.S)
    assert match, f"no row {row_id}"
    return match.group(1)


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


# -- who may see it ----------------------------------------------------------------------------------


def test_pages_need_a_login(client):
    """Logged out, every library URL sends people to the login page."""
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 302, path
        assert urlsplit(r.headers["Location"]).path == "/login"


@pytest.mark.parametrize("username", ["window1", "health1", "supervisor"])
def test_other_roles_get_the_403_page(versions, login, username):
    """Clerks, reviewers and supervisors get the HTML 403 page on every library URL, files included."""
    browser = login(username)
    for path in PAGES:
        r = browser.client.get(path)
        assert r.status_code == 403, path
        assert r.mimetype == "text/html"
        assert "403" in r.get_data(as_text=True)
        assert "<?xml" not in r.get_data(as_text=True)


@pytest.mark.parametrize("username", ["designer", "admin"])
def test_designers_and_admins_see_every_page(versions, login, username):
    """Designers and admins get 200 on the library, a version, its diagram, a file and the diff."""
    browser = login(username)
    for path in PAGES:
        assert browser.client.get(path).status_code == 200, path


def test_nav_shows_the_library_to_designers_only(versions, login):
    """The 'Process library' navigation item is there for designers and admins, not for clerks."""
    assert 'href="/designer"' in login("designer").html("/")
    assert 'href="/designer"' in login("admin").html("/")
    page = login("window1").html("/")
    assert 'href="/designer"' not in page and "Process library" not in page


# -- the library ---------------------------------------------------------------------------------------


def test_library_lists_versions_newest_first_with_case_counts(versions, login):
    """Both versions, newest first, with deployer, local time, short hash and running/finished cases."""
    page = login("designer").html("/designer")
    assert "<title>Process library" in page
    assert "<h1>Process library</h1>" in page
    numbers = re.findall(r'<tr id="version-versioned-(\d+)"', page)
    assert numbers == ["2", "1"]
    v2, v1 = row(page, "version-versioned-2"), row(page, "version-versioned-1")
    assert "Current" in v2 and "Current" not in v1
    assert re.search(r'<td class="running">1</td>\s*<td class="finished">0</td>', v2)
    assert re.search(r'<td class="running">1</td>\s*<td class="finished">1</td>', v1)
    assert "designer" in text(v1)
    assert re.search(r'<code class="hash" title="[0-9a-f]{64}">[0-9a-f]{12}</code>', v1)
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", text(v1))
    # Every version's files can be downloaded; only v2 has a previous version to compare with.
    assert 'href="/designer/versioned/v/1/files/versioned.bpmn"' in v1
    assert 'href="/designer/versioned/v/2/files/versioned.bpmn"' in v2
    assert 'href="/designer/versioned/diff?from=1&amp;to=2"' in v2
    assert "Compare with previous" not in v1
    assert 'href="/designer/versioned/v/2"' in v2


def test_library_headers_are_table_headers(versions, login):
    """The versions table has column headers and a caption naming the process (screen readers)."""
    page = login("designer").html("/designer")
    for header in ("Version", "Deployed by", "Deployed at", "Content hash", "Running cases", "Finished cases",
                   "Files", "Actions"):
        assert f'<th scope="col">{header}</th>' in page
    assert '<caption class="sr-only">Versions of 版本测试</caption>' in page
    assert '<th scope="row">' in row(page, "version-versioned-1")


def test_library_lists_every_process_and_its_forms(versions, login):
    """A second process with a form: its diagram and its form are both downloadable."""
    assert versions.deploy(*JOINT).status_code == 201
    page = login("designer").html("/designer")
    joint = row(page, "version-joint_review-1")
    assert 'href="/designer/joint_review/v/1/files/joint_review.bpmn"' in joint
    assert 'href="/designer/joint_review/v/1/files/joint_review_form.json"' in joint
    assert page.index('id="process-joint_review"') < page.index('id="process-versioned"')  # by key


def test_empty_library(login):
    """No deployments yet: the page says so."""
    page = login("designer").html("/designer")
    assert 'id="no-processes"' in page


def test_library_in_chinese_by_default(versions, login):
    """Without a language choice the page is served as zh-CN (strings come from the Chinese catalog)."""
    page = login("designer", english=False).html("/designer")
    assert '<html lang="zh-CN">' in page


# -- a version -----------------------------------------------------------------------------------------


def test_version_page_shows_diagram_tasks_and_files(versions, login):
    """v2: header, the bpmn-js viewer pointed at this version's diagram, user tasks with lane and groups."""
    page = login("designer").html("/designer/versioned/v/2")
    assert "<title>版本测试 · version 2 · Process library" in page
    assert 'data-src="/designer/versioned/v/2/diagram.bpmn"' in page
    assert "data-current='[]'" in page and "data-done='[]'" in page
    assert "bpmn-navigated-viewer.production.min.js" in page
    assert text(row(page, "task-review")) == "review 审查 v2 window window —"
    assert text(row(page, "task-recheck")) == "recheck 复核 v2 卫生健康 health —"
    assert '<dd id="running-cases">1</dd>' in page
    assert 'href="/designer/versioned/diff?from=1&amp;to=2"' in page
    assert 'href="/designer/versioned/v/2/files/versioned.bpmn"' in page


def test_version_page_links_task_forms(versions, login):
    """A user task's form is a download link on the version page."""
    versions.deploy(*JOINT)
    page = login("designer").html("/designer/joint_review/v/1")
    task = row(page, "task-joint")
    assert "health、public_security" in text(task)
    assert 'href="/designer/joint_review/v/1/files/joint_review_form.json"' in task


def test_first_version_has_no_compare_link(versions, login):
    page = login("designer").html("/designer/versioned/v/1")
    assert "Compare with previous" not in page


@pytest.mark.parametrize("path", ["/designer/versioned/v/9", "/designer/nope/v/1", "/designer/nope/diff",
                                  "/designer/versioned/diff?from=1&to=9", "/designer/versioned/v/9/diagram.bpmn",
                                  "/designer/versioned/v/1/files/other.bpmn"])
def test_unknown_versions_and_files_are_404_pages(versions, login, path):
    r = login("designer").client.get(path)
    assert r.status_code == 404
    assert r.mimetype == "text/html"


# -- downloads -------------------------------------------------------------------------------------------


def test_diagram_is_served_as_an_inert_attachment(versions, login):
    """The viewer's XML: the version's BPMN, never rendered or sniffed as a page on our origin."""
    r = login("designer").client.get("/designer/versioned/v/1/diagram.bpmn")
    assert r.status_code == 200
    assert r.data == V1.read_bytes()
    assert r.mimetype == "application/xml"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in r.headers["Content-Security-Policy"]
    assert r.headers["Content-Disposition"].startswith("attachment")


def test_file_download_headers(versions, login):
    """A version's BPMN: attachment with its file name, nosniff, a sandboxing CSP, the file's own bytes."""
    r = login("designer").client.get("/designer/versioned/v/2/files/versioned.bpmn")
    assert r.status_code == 200
    assert r.data == V2.read_bytes()
    assert r.mimetype == "application/xml"
    assert r.headers["Content-Disposition"] == "attachment; filename=versioned.bpmn"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert r.headers["ETag"]


def test_form_download_is_json(versions, login):
    versions.deploy(*JOINT)
    r = login("designer").client.get("/designer/joint_review/v/1/files/joint_review_form.json")
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    assert r.data == JOINT[1].read_bytes()
    assert r.headers["Content-Disposition"] == "attachment; filename=joint_review_form.json"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_download_is_conditional(versions, login):
    """A second download with the ETag is 304."""
    browser = login("designer")
    first = browser.client.get("/designer/versioned/v/1/files/versioned.bpmn")
    again = browser.client.get("/designer/versioned/v/1/files/versioned.bpmn",
                               headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


# -- diff ----------------------------------------------------------------------------------------------


def test_diff_page_lists_changes(versions, login):
    """v1 -> v2: 复核 added, 审查 renamed (old and new name), flow f3 added, f2 re-targeted."""
    page = login("designer").html("/designer/versioned/diff?from=1&to=2")
    assert "<title>Compare versions · 版本测试" in page
    assert "Version 1 → version 2" in page
    added = text(row(page, "diff-task-added-recheck"))
    assert "Added" in added and "复核 v2" in added and "userTask" in added
    changed = text(row(page, "diff-task-changed-review"))
    assert "Element name: 审查 v1 → 审查 v2" in changed
    assert "recheck → end" in text(row(page, "diff-flow-added-f3"))
    assert "To: end → recheck" in text(row(page, "diff-flow-changed-f2"))
    assert "Element name: 办结 v1 → 办结 v2" in text(row(page, "diff-event-changed-end"))
    assert '<label for="diff-from">From version</label>' in page
    assert re.search(r'<option value="1"\s+selected>v1</option>', page)


def test_diff_page_defaults_to_latest_against_previous(versions, login):
    page = login("designer").html("/designer/versioned/diff")
    assert "Version 1 → version 2" in page
    assert 'id="diff-task-added-recheck"' in page


def test_diff_of_a_version_with_itself_is_identical(versions, login):
    page = login("designer").html("/designer/versioned/diff?from=2&to=2")
    assert 'id="diff-identical"' in page


def test_diff_page_shows_form_field_changes(api, login):
    """A changed form: fields added and requirements are listed."""
    bpmn, form = JOINT
    assert api.deploy(bpmn, form).status_code == 201
    schema = json.loads(form.read_text(encoding="utf-8"))
    schema["properties"]["remark"] = {"type": "string", "title": "备注"}
    schema["required"].append("remark")
    files = [(io.BytesIO(bpmn.read_bytes()), bpmn.name),
             (io.BytesIO(json.dumps(schema, ensure_ascii=False).encode()), form.name)]
    r = api.client.post("/api/v1/processes", headers=api.headers("designer"), data={"file": files},
                        content_type="multipart/form-data")
    assert r.status_code == 201
    page = login("designer").html("/designer/joint_review/diff?from=1&to=2")
    form_row = text(row(page, "diff-form-changed-joint_review_form.json"))
    assert "Fields added: remark" in form_row
    assert "Now required: remark" in form_row


def test_newborn_bundle_pages(api, login):
    """The real bundle: every form downloadable from its version page, the diagram of its own file."""
    diagram = ROOT / "bpmn" / "newborn.bpmn"
    forms = sorted(set(re.findall(r'"([\w.-]+\.json)"', diagram.read_text(encoding="utf-8"))))
    assert api.deploy(diagram, *(ROOT / "forms" / name for name in forms)).status_code == 201
    browser = login("admin")
    page = browser.html("/designer/newborn/v/1")
    for name in ["newborn.bpmn", *forms]:
        assert f'href="/designer/newborn/v/1/files/{name}"' in page
    assert text(row(page, "task-birth_cert")).startswith("birth_cert 出生医学证明签发 health health")
    assert browser.client.get("/designer/newborn/v/1/diagram.bpmn").data == diagram.read_bytes()


def test_versions_link_to_the_modeler_when_it_exists(versions, login, app):
    """Each version opens in the in-browser modeler (when that page is registered)."""
    page = login("designer").html("/designer")
    if "web_modeler.edit" not in app.view_functions:
        assert "Open in the modeler" not in page
        return
    assert 'href="/designer/versioned/edit?version=1"' in row(page, "version-versioned-1")
    assert 'href="/designer/versioned/edit?version=2"' in login("designer").html("/designer/versioned/v/2")
