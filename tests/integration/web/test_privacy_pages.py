"""Personal data stays masked on the pages, as in the API: read-only form fields, notes, the case clock."""

from __future__ import annotations

import re

from support import ROOT

from app.extensions import db
from app.models import Case

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
