"""Personal data stays masked on the pages, as in the API: read-only form fields, notes, the case clock."""

from __future__ import annotations

import re

from app.extensions import db
from app.models import Case
from support import ROOT

TAXI = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
        ROOT / "forms" / "taxi_driver_decision.json")
RAW_ID = "140402199001011234"
MASKED_ID = "1404**********1234"


def _taxi_case(api) -> dict:
    assert api.deploy(*TAXI).status_code == 201
    r = api.start("taxi_driver_licence", {"driving_licence_no": RAW_ID, "exam_certificate_no": "KS2025-0001",
                                          "no_bad_record_pledge": True})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_a_read_only_form_field_is_masked_for_the_tasks_holder(app, api, login):
    """The holder edits the decision, not the driving licence number the form shows read-only: the
    page shows it masked, as GET /tasks/{id} does (only editable fields are shown as they are)."""
    case = _taxi_case(api)
    task_id = case["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", "window1").status_code == 200
    assert api.get(f"/api/v1/tasks/{task_id}", "window1").get_json()["data"]["driving_licence_no"] == MASKED_ID
    browser = login("window1")
    html = browser.html(f"/tasks/{task_id}")
    field = re.search(r'<input[^>]*name="data\.driving_licence_no"[^>]*>', html).group(0)
    assert "disabled" in field and f'value="{MASKED_ID}"' in field
    assert RAW_ID not in html
    # The disabled field is never posted, and the decision still goes through.
    r = browser.post(f"/tasks/{task_id}", {"action": "submit", "data.decision": "issue", "data.licence_no": "X1",
                                           "data.decision_opinion": "当场核发"})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    with app.app_context():
        stored = db.session.get(Case, case["id"]).data
    assert stored["driving_licence_no"] == RAW_ID  # the case keeps the number as entered


def test_numbers_written_in_notes_and_clock_reasons_are_masked(api, login):
    """A comment, a reminder or a clock-stop / extension reason often names the applicant's phone or ID
    number: the task's notes and the case clock show them masked, in the API and on the pages, as
    the history (which records the same texts) does."""
    case = _taxi_case(api)
    task_id = case["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/comments", "window1",
                    json={"body": "申请人电话13812341234，请回电"}).status_code == 201
    assert api.post(f"/api/v1/tasks/{task_id}/urge", "supervisor",
                    json={"message": f"身份证{RAW_ID}的申请人催问"}).status_code == 201
    assert api.post(f"/api/v1/cases/{case['id']}/pause", "window1",
                    json={"kind": "inspection", "reason": "联系13700009876现场核查"}).status_code == 200
    assert api.post(f"/api/v1/cases/{case['id']}/extensions", "window1",
                    json={"working_days": 3, "reason": "等待13900001111补充说明"}).status_code == 201
    notes = api.get(f"/api/v1/tasks/{task_id}/notes", "window2").get_json()
    assert [n["body"] for n in notes] == ["申请人电话138****1234，请回电", f"身份证{MASKED_ID}的申请人催问"]
    clock = api.get(f"/api/v1/cases/{case['id']}/clock", "window2").get_json()
    assert clock["pauses"][0]["reason"] == "联系137****9876现场核查"
    assert clock["extensions"][0]["reason"] == "等待139****1111补充说明"
    pending = api.get("/api/v1/extensions", "chief1").get_json()
    assert [e["reason"] for e in pending] == ["等待139****1111补充说明"]
    browser = login("window2")
    for page in (f"/tasks/{task_id}", f"/cases/{case['id']}"):
        html = browser.html(page)
        for raw in ("13812341234", RAW_ID, "13700009876", "13900001111"):
            assert raw not in html, (page, raw)
    assert "申请人电话138****1234，请回电" in browser.html(f"/tasks/{task_id}")
    html = browser.html(f"/cases/{case['id']}")
    assert "联系137****9876现场核查" in html and "等待139****1111补充说明" in html
