"""Personal data is masked by default and revealing it is audited; the audit trail is exported
and nothing in the code updates or deletes it (issue 9)."""

from __future__ import annotations

import io
import re

from support import ROOT, local_today

TAXI = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
        ROOT / "forms" / "taxi_driver_decision.json")
APPLICATION = {"driving_licence_no": "140402199001011234", "exam_certificate_no": "KS2025-0001",
               "no_bad_record_pledge": True}


def _case(api):
    assert api.deploy(*TAXI).status_code == 201
    return api.start("taxi_driver_licence", APPLICATION).get_json()


def test_revealing_the_applicant_is_audited_and_needs_a_reason(api):
    case = _case(api)
    assert case["applicant"]["id_number"] == "1404**********1234"
    path = f"/api/v1/cases/{case['id']}/reveal"
    assert api.post(path, "window1", json={}).status_code == 422
    r = api.post(path, "window1", json={"reason": "申请人来电核对身份"})
    assert r.status_code == 200 and r.get_json()["id_number"] == "140402199001011234"
    assert api.post(path, "health1", json={"reason": "x"}).status_code == 404  # may not see the case
    history = api.get(f"/api/v1/cases/{case['id']}", "supervisor").get_json()["history"]
    reveals = [e for e in history if e["type"] == "pii_revealed"]
    assert len(reveals) == 1 and reveals[0]["actor"] == "window1"
    assert reveals[0]["data"]["reason"] == "申请人来电核对身份"


def test_personal_data_in_case_data_tasks_history_and_export_is_masked(api):
    """ID numbers (and phones, bank cards) in the case data are masked wherever the API shows them:
    the case, a task's data (its read-only fields), the history and the audit export. A client
    that echoes the whole form it was shown, masked values included, is not refused."""
    raw = "140402199001011234"
    case = _case(api)
    assert case["data"]["driving_licence_no"] == "1404**********1234"
    task = api.get(f"/api/v1/tasks/{case['tasks'][0]['id']}", "window1").get_json()
    assert task["data"]["driving_licence_no"] == "1404**********1234"  # read-only in the decision form
    api.post(f"/api/v1/tasks/{task['id']}/claim", "window1")
    echoed = {**{k: v for k, v in task["data"].items() if k in task["form"]["properties"]},
              "decision": "issue", "licence_no": raw, "decision_opinion": "当场核发"}
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "window1", json={"data": echoed})
    assert r.status_code == 200, r.get_json()
    done = api.get(f"/api/v1/cases/{case['id']}", "supervisor").get_json()
    assert done["status"] == "completed"
    assert (done["data"]["driving_licence_no"], done["data"]["licence_no"]) == ("1404**********1234",) * 2
    completed = [e for e in done["history"] if e["type"] == "task_completed"]
    assert completed and completed[0]["data"]["licence_no"] == "1404**********1234"
    today = local_today().isoformat()
    export = api.get(f"/api/v1/audit?from={today}&to={today}&format=csv", "supervisor")
    assert export.status_code == 200 and "1404**********1234" in export.get_data(as_text=True)
    assert raw not in export.get_data(as_text=True)
    assert raw not in str(api.get(f"/api/v1/audit?from={today}&to={today}", "supervisor").get_json())
    # Stored as entered: the reveal (audited) gives the applicant's number in full.
    revealed = api.post(f"/api/v1/cases/{case['id']}/reveal", "window1", json={"reason": "核对"}).get_json()
    assert revealed["id_number"] == raw


def test_the_audit_trail_exports(api):
    from openpyxl import load_workbook

    case = _case(api)
    today = local_today().isoformat()
    rows = api.get(f"/api/v1/audit?from={today}&to={today}&case_id={case['id']}", "supervisor").get_json()
    assert [r["event"] for r in rows] == ["case_started"] and rows[0]["receipt_no"] == case["receipt_no"]
    r = api.get(f"/api/v1/audit?from={today}&to={today}&format=xlsx", "leader1")
    sheet = load_workbook(io.BytesIO(r.data)).active
    assert [c.value for c in sheet[1]] == ["id", "at", "receipt_no", "case_id", "event", "actor", "task", "data"]
    assert sheet.cell(row=2, column=5).value == "case_started"
    assert api.get(f"/api/v1/audit?from={today}&to={today}", "window1").status_code == 403


def test_no_code_updates_or_deletes_audit_events():
    """Append-only: the application never issues an UPDATE or DELETE on audit_events."""
    pattern = re.compile(r"(update|delete)\(\s*AuditEvent|AuditEvent\)\.(update|delete)|audit_events\s+(set|where)",
                         re.IGNORECASE)
    for path in (ROOT / "app").rglob("*.py"):
        assert not pattern.search(path.read_text(encoding="utf-8")), path


def test_the_database_refuses_to_change_or_delete_audit_events(api, app):
    """A trigger (PostgreSQL and SQLite) keeps the audit trail append-only, whatever the code does."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    _case(api)
    with app.app_context():
        from app.extensions import db

        for statement in ("UPDATE audit_events SET event_type = 'forged'", "DELETE FROM audit_events"):
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.execute(text("SELECT count(*) FROM audit_events")).scalar() >= 1
        db.session.execute(text("INSERT INTO audit_events (case_id, event_type, at) "
                                "SELECT case_id, 'note', at FROM audit_events LIMIT 1"))  # appending works
        db.session.rollback()


def test_a_task_shows_its_editable_fields_unmasked_only_to_who_may_still_edit_them(api):
    """The form's editable fields are shown as they are to the holder (they must see what they
    change); once the task is done, or to a reader who may not work on it (a supervisor), they are
    masked like all case data."""
    raw = "140402199001011234"
    case = _case(api)
    task_id = case["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", "window1").status_code == 200
    r = api.post(f"/api/v1/tasks/{task_id}/complete", "window1",
                 json={"data": {"decision": "issue", "licence_no": raw, "decision_opinion": "当场核发"}})
    assert r.status_code == 200, r.get_json()
    for reader in ("supervisor", "window1"):
        data = api.get(f"/api/v1/tasks/{task_id}", reader).get_json()["data"]
        assert data["licence_no"] == "1404**********1234", reader


def test_database_errors_logged_do_not_carry_personal_data(app, db_clean, caplog):
    """A database error's text names the statement's parameters (an applicant's ID number, a
    caller's phone), and the app logs that text (a 503, an unexpected error, a failed migration):
    the engine leaves the parameters out of it."""
    import logging

    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from app.extensions import db

    raw = "140402199001011234"
    caplog.set_level(logging.WARNING)
    with app.app_context():
        with pytest.raises(DBAPIError) as caught:
            db.session.execute(text("SELECT id FROM no_such_table WHERE applicant_id_number = :p"), {"p": raw})
        db.session.rollback()
        logging.getLogger("app.errors").warning("database error: %s", caught.value)
    assert "no_such_table" in str(caught.value)  # still says what failed
    assert raw not in str(caught.value) and raw not in caplog.text


def test_a_form_message_never_repeats_the_numbers_it_was_given(app):
    """The few JSON Schema checks without a message of our own (uniqueItems, not, ...) name the value
    they refused: the ID numbers and phones in it are masked (a 422 answer, a task page again)."""
    from app.services import forms

    schema = {"type": "object", "properties": {
        "holder_ids": {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
        "contact": {"type": "string", "not": {"pattern": "^1[3-9]"}}}}
    with app.test_request_context():
        errors = forms.field_errors(schema, {"holder_ids": ["140402199001011234", "140402199001011234"],
                                             "contact": "13812341234"})
    assert set(errors) == {"data.holder_ids", "data.contact"}
    shown = str(errors)
    assert "140402199001011234" not in shown and "13812341234" not in shown
    assert "1404**********1234" in shown and "138****1234" in shown
