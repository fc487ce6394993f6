"""The task page through the Flask test client: claim, unclaim, save draft, submit, errors next to fields."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "changzhi2025"
NEWBORN = [ROOT / "bpmn" / "newborn.bpmn", *sorted((ROOT / "forms").glob("newborn_*.json"))]
APPLICANT = {"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}
APPLICATION = {
    "newborn_name": "王小宝", "newborn_sex": "female", "newborn_birth_date": "2026-11-01",
    "birth_place": "山西省长治市潞州区", "birth_hospital": "长治市妇幼保健院", "mother_name": "李丽",
    "mother_id_number": "140402199203045678", "father_name": "王明", "father_id_number": "140402198905061239",
    "marriage_cert_number": "J140402-2020-001234", "register_with": "mother",
    "household_address": "长治市潞州区英雄中路1号", "contact_phone": "13900001111", "data_sharing_consent": True,
    "apply_maternity_allowance": False, "delivery_method": "window",
}

# A one-task process whose form has every kind of field the renderer knows.
KITCHEN_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_kitchen"
    targetNamespace="http://example.invalid/tests">
  <bpmn:collaboration id="Collab_kitchen"><bpmn:participant id="P_kitchen" processRef="kitchen" /></bpmn:collaboration>
  <bpmn:process id="kitchen" name="表单样例" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_window" name="window">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>fill</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill" />
    <bpmn:userTask id="fill" name="填写样例表单">
      <bpmn:documentation>按表单填写。</bpmn:documentation>
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="kitchen.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="end" />
    <bpmn:endEvent id="end" name="完成" />
  </bpmn:process>
</bpmn:definitions>
"""
KITCHEN_FORM = {
    "type": "object",
    "required": ["title", "count", "choice"],
    "properties": {
        "title": {"type": "string", "title": "标题", "description": "简短标题。", "maxLength": 20},
        "count": {"type": "integer", "title": "数量", "minimum": 0},
        "amount": {"type": "number", "title": "金额（元）"},
        "day": {"type": "string", "format": "date", "title": "日期"},
        "note": {"type": "string", "title": "说明", "x-widget": "textarea"},
        "choice": {"type": "string", "title": "结论", "oneOf": [{"const": "yes", "title": "同意"},
                                                               {"const": "no", "title": "不同意"}]},
        "level": {"type": "string", "title": "级别", "enum": ["A", "B"], "default": "B"},
        "urgent": {"type": "boolean", "title": "加急"},
        "items": {"type": "array", "title": "清单", "items": {"type": "string"}},
        "extra": {"type": "object", "title": "附加信息"},
    },
}


@pytest.fixture()
def newborn(api):
    """The newborn bundle deployed, one case started by window1; returns (api, case)."""
    r = api.deploy(*NEWBORN)
    assert r.status_code == 201, r.get_json()
    r = api.start("newborn", APPLICATION, applicant=APPLICANT)
    assert r.status_code == 201, r.get_json()
    return api, r.get_json()


@pytest.fixture()
def kitchen(api, tmp_path):
    """The one-task kitchen-sink process deployed and started; returns (api, case, task id)."""
    (tmp_path / "kitchen.bpmn").write_text(KITCHEN_BPMN, encoding="utf-8")
    (tmp_path / "kitchen.json").write_text(json.dumps(KITCHEN_FORM, ensure_ascii=False), encoding="utf-8")
    r = api.deploy(tmp_path / "kitchen.bpmn", tmp_path / "kitchen.json")
    assert r.status_code == 201, r.get_json()
    case = api.start("kitchen").get_json()
    return api, case, api.find_task("window1", "fill", case["id"])["id"]


def check_task(api, case) -> int:
    return api.find_task("window1", "formal_check", case["id"])["id"]


def field_row(html: str, field_id: str) -> str:
    """The markup of one form field (its wrapper div)."""
    match = re.search(rf'<div class="field[^"]*" id="{field_id}-row">(.*?)\n</div>', html, re.S)
    assert match, field_id
    return match.group(1)


def events(app, case_id: int) -> list[str]:
    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.event_type).where(AuditEvent.case_id == case_id)
                                       .order_by(AuditEvent.id)))


def stored_task(app, task_id: int):
    from app.extensions import db
    from app.models import HumanTask

    with app.app_context():
        task = db.session.get(HumanTask, task_id)
        return {"state": task.state, "draft": task.draft_data, "submitted": task.submitted_data}


def test_task_page_needs_a_login(client):
    """Logged out, the task page sends people to the login page."""
    r = client.get("/tasks/1")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_open_task_shows_case_header_documentation_data_history_and_claim(newborn, login):
    """Before claiming: header (masked ID), the task and its instructions, no inputs, a Claim button."""
    api, case = newborn
    task_id = check_task(api, case)
    html = login("window1").html(f"/tasks/{task_id}")
    assert f"<title>形式审查/受理 · {case['receipt_no']} · " in html
    header = re.search(r'<dl class="kv" id="case-header">(.*?)</dl>', html, re.S).group(1)
    assert case["receipt_no"] in header and "王小明" in header and "1404**********1234" in header
    assert "新生儿出生一件事" in header and "version 1" in header
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", header)
    assert APPLICANT["id_number"] not in html
    assert "核对《新生儿出生一件事》一表申请信息及材料" in html
    assert 'value="claim"' in html and 'value="unclaim"' not in html
    assert 'name="data.check_decision"' not in html and "Nothing has been entered yet." in html
    data = re.search(r'<dl class="kv" id="case-data">(.*?)</dl>', html, re.S).group(1)
    assert "<dt>新生儿姓名</dt>" in data and "王小宝" in data
    assert "<dt>新生儿性别</dt>" in data and "女" in data  # option title, not the stored "female"
    assert "1404**********5678" in data and "140402199203045678" not in html
    assert "Case started" in re.search(r'<ol class="timeline" id="history">(.*?)</ol>', html, re.S).group(1)
    assert f'data-src="/cases/{case["id"]}/diagram.bpmn"' in html
    assert "data-current='[\"formal_check\"]'" in html and "bpmn-navigated-viewer" in html


def test_claim_shows_the_form_with_labels_help_and_required_marks(app, newborn, login):
    """After claiming: every field has a label, help text via aria-describedby, required selects start empty."""
    api, case = newborn
    task_id = check_task(api, case)
    window = login("window1")
    r = window.post(f"/tasks/{task_id}", {"action": "claim"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/tasks/{task_id}")
    html = window.html(f"/tasks/{task_id}")
    assert "You have claimed this task." in html
    assert 'value="unclaim"' in html and 'value="claim"' not in html
    assert 'value="submit"' in html and 'value="draft"' in html and "novalidate" in html
    decision = field_row(html, "field-check_decision")
    assert '<label for="field-check_decision">审查结论 <span class="required"' in decision
    assert re.search(r'<select id="field-check_decision" name="data.check_decision" required aria-required="true"'
                     r' aria-describedby="field-check_decision-help">\s*<option value="">Please choose</option>\s*'
                     r'<option value="accept">受理</option>', decision)
    assert '<p class="help" id="field-check_decision-help">受理：进入各部门并联审批' in decision
    materials = field_row(html, "field-missing_materials")
    assert '<textarea id="field-missing_materials" name="data.missing_materials"' in materials
    assert "One entry per line." in materials and "required" not in materials
    assert 'maxlength="2000"' in field_row(html, "field-check_opinion")
    assert events(app, case["id"])[-1] == "task_claimed"


def test_submit_with_a_missing_field_shows_the_error_next_to_it_and_keeps_the_input(app, newborn, login):
    """422: the message sits under the field it is about; the choice and the lines typed stay."""
    api, case = newborn
    task_id = check_task(api, case)
    window = login("window1")
    window.post(f"/tasks/{task_id}", {"action": "claim"})
    r = window.post(f"/tasks/{task_id}", {"action": "submit", "data.check_decision": "supplement",
                                          "data.missing_materials": "结婚证\n\n户口簿", "data.check_opinion": "  "})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    opinion = field_row(html, "field-check_opinion")
    assert '<p class="field-error" id="field-check_opinion-error">This field is required.</p>' in opinion
    assert 'aria-describedby="field-check_opinion-help field-check_opinion-error" aria-invalid="true"' in opinion
    assert '<option value="supplement" selected>一次性告知补正</option>' in html
    assert ">结婚证\n\n户口簿</textarea>" in html
    assert "field-error" not in field_row(html, "field-check_decision")
    assert "Please correct the marked fields." in html
    assert stored_task(app, task_id)["state"] == "claimed"
    assert "task_completed" not in events(app, case["id"])


def test_submit_completes_the_task_and_goes_to_the_case_page(app, newborn, login):
    """Valid data: the task is completed with typed data, the next tasks open, the case page is next."""
    api, case = newborn
    task_id = check_task(api, case)
    window = login("window1")
    window.post(f"/tasks/{task_id}", {"action": "claim"})
    r = window.post(f"/tasks/{task_id}", {"action": "submit", "data.check_decision": "accept",
                                          "data.missing_materials": "", "data.check_opinion": "材料齐全"})
    assert r.status_code == 302 and r.headers["Location"] == f"/cases/{case['id']}"
    assert stored_task(app, task_id) == {"state": "completed", "draft": None,
                                         "submitted": {"check_decision": "accept", "check_opinion": "材料齐全"}}
    html = window.html(f"/tasks/{task_id}")
    assert "Task completed" in html  # the flash, shown on the next page
    assert 'value="submit"' not in html and 'value="claim"' not in html
    view = re.search(r'<dl class="kv form-view" id="form-view">(.*?)</dl>', html, re.S).group(1)
    assert "受理" in view and "材料齐全" in view
    assert api.find_task("health1", "birth_cert", case["id"])


def test_save_draft_keeps_unvalidated_input_for_next_time(app, newborn, login):
    """A draft needs no valid data, is audited, pre-fills the form; completion leaves it behind."""
    api, case = newborn
    task_id = check_task(api, case)
    window = login("window1")
    window.post(f"/tasks/{task_id}", {"action": "claim"})
    r = window.post(f"/tasks/{task_id}", {"action": "draft", "data.check_decision": "",
                                          "data.missing_materials": "结婚证", "data.check_opinion": "待核对"})
    assert r.status_code == 302
    assert stored_task(app, task_id)["draft"] == {"missing_materials": ["结婚证"], "check_opinion": "待核对"}
    assert events(app, case["id"])[-1] == "draft_saved"
    html = window.html(f"/tasks/{task_id}")
    assert "Draft saved." in html and ">结婚证</textarea>" in html and ">待核对</textarea>" in html
    assert "Draft saved" in re.search(r'<ol class="timeline" id="history">(.*?)</ol>', html, re.S).group(1)
    # A colleague of the group reads the draft, without inputs.
    other = login("window2").html(f"/tasks/{task_id}")
    assert 'name="data.check_opinion"' not in other and "待核对" in other
    window.post(f"/tasks/{task_id}", {"action": "submit", "data.check_decision": "refuse",
                                      "data.check_opinion": "不符合条件"})
    html = window.html(f"/tasks/{task_id}")
    assert "不符合条件" in html and "待核对" not in html


def test_only_the_holder_may_save_a_draft(app, newborn, login):
    """Someone else's claimed task: 409 page; an unclaimed task: 409; another group: 403; nothing stored."""
    api, case = newborn
    task_id = check_task(api, case)
    r = login("window2").post(f"/tasks/{task_id}", {"action": "draft", "data.check_opinion": "x"})
    assert r.status_code == 409 and "Claim the task" in r.get_data(as_text=True)
    login("window1").post(f"/tasks/{task_id}", {"action": "claim"})
    r = login("window2").post(f"/tasks/{task_id}", {"action": "draft", "data.check_opinion": "x"})
    assert r.status_code == 409 and "Someone else has already claimed this task." in r.get_data(as_text=True)
    r = login("health1").post(f"/tasks/{task_id}", {"action": "draft", "data.check_opinion": "x"})
    assert r.status_code == 403 and "not for your groups" in r.get_data(as_text=True)
    assert stored_task(app, task_id)["draft"] is None


def test_claim_taken_by_someone_else_is_a_409_page_in_the_ui_language(newborn, login):
    """The second claimer gets the friendly 409 page, in English or in the default Chinese interface."""
    api, case = newborn
    task_id = check_task(api, case)
    login("window1").post(f"/tasks/{task_id}", {"action": "claim"})
    r = login("window2").post(f"/tasks/{task_id}", {"action": "claim"})
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and "Someone else has already claimed this task." in html
    assert '<html lang="en">' in html and "<title>Conflict · " in html
    r = login("window2", english=False).post(f"/tasks/{task_id}", {"action": "claim"})
    assert r.status_code == 409 and '<html lang="zh-CN">' in r.get_data(as_text=True)


def test_unclaim_gives_the_task_back(app, newborn, login):
    """The holder releases the task: open again, Claim offered, audited."""
    api, case = newborn
    task_id = check_task(api, case)
    window = login("window1")
    window.post(f"/tasks/{task_id}", {"action": "claim"})
    r = window.post(f"/tasks/{task_id}", {"action": "unclaim"})
    assert r.status_code == 302
    html = window.html(f"/tasks/{task_id}")
    assert "The task is back in its group&#39;s inbox." in html and 'value="claim"' in html
    assert stored_task(app, task_id)["state"] == "open" and events(app, case["id"])[-1] == "task_unclaimed"


def test_other_groups_get_403_and_unknown_tasks_404(newborn, login):
    """A reviewer of another group may not open the task; a missing task is 404; both are HTML pages."""
    api, case = newborn
    task_id = check_task(api, case)
    r = login("health1").get(f"/tasks/{task_id}")
    assert r.status_code == 403 and "Not allowed" in r.get_data(as_text=True)
    r = login("health1").get("/tasks/999999")
    assert r.status_code == 404 and "Not found" in r.get_data(as_text=True)
    r = login("health1").post(f"/tasks/{task_id}", {"action": "claim"})
    assert r.status_code == 403


def test_supervisor_reads_without_buttons(newborn, login):
    """A supervisor may read any task but gets neither Claim nor the form."""
    api, case = newborn
    html = login("supervisor").html(f"/tasks/{check_task(api, case)}")
    assert "形式审查/受理" in html and 'value="claim"' not in html and 'name="data.check_decision"' not in html


def test_posts_need_the_csrf_token_and_a_known_action(newborn, login):
    """No token: 400 page, nothing claimed. An unknown action: 400."""
    api, case = newborn
    task_id = check_task(api, case)
    window = login("window1")
    assert window.post(f"/tasks/{task_id}", {"action": "claim"}, csrf=False).status_code == 400
    assert api.find_task("window1", "formal_check", case["id"])["state"] == "open"
    assert window.post(f"/tasks/{task_id}", {"action": "explode"}).status_code == 400


def test_invalid_number_is_shown_again_as_typed(app, kitchen, login):
    """'abc' in an integer field comes back as 'abc' (a text input) with the message; the rest is kept."""
    api, case, task_id = kitchen
    window = login("window1")
    window.post(f"/tasks/{task_id}", {"action": "claim"})
    r = window.post(f"/tasks/{task_id}", {
        "action": "submit", "data.title": "样例", "data.count": "abc", "data.amount": "12.5", "data.day": "2026-01-02",
        "data.choice": "no", "data.urgent": "true", "data.items": "甲\n乙", "data.extra": '{"k": 1}'})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    count = field_row(html, "field-count")
    assert '<input type="text" id="field-count" name="data.count" value="abc"' in count
    assert '<p class="field-error" id="field-count-error">Must be a whole number.</p>' in count
    assert ('<input type="number" id="field-amount" name="data.amount" value="12.5" inputmode="decimal" step="any"'
            in html)
    assert 'value="2026-01-02"' in field_row(html, "field-day")
    assert 'checked' in field_row(html, "field-urgent")
    assert '<option value="no" selected>不同意</option>' in html
    assert ">甲\n乙</textarea>" in html and unescape('{&#34;k&#34;: 1}') in unescape(html)


def test_kitchen_form_submits_typed_data_and_omits_empty_optionals(app, kitchen, login):
    """Numbers, booleans, lists and JSON arrive typed; empty optional inputs are absent, not ""."""
    api, case, task_id = kitchen
    window = login("window1")
    html = window.html(f"/tasks/{task_id}")
    window.post(f"/tasks/{task_id}", {"action": "claim"})
    html = window.html(f"/tasks/{task_id}")
    assert '<option value="B" selected>B</option>' in html  # the schema's default
    assert '<option value="">(none)</option>' in field_row(html, "field-level")
    assert 'step="1"' in field_row(html, "field-count") and 'min="0"' in field_row(html, "field-count")
    r = window.post(f"/tasks/{task_id}", {
        "action": "submit", "data.title": " 样例 ", "data.count": "3", "data.amount": "", "data.day": "",
        "data.note": "", "data.choice": "yes", "data.level": "A", "data.items": "甲\n \n乙\n",
        "data.extra": '{"k": [1, 2]}'})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert stored_task(app, task_id)["submitted"] == {
        "title": "样例", "count": 3, "choice": "yes", "level": "A", "urgent": False, "items": ["甲", "乙"],
        "extra": {"k": [1, 2]}}
