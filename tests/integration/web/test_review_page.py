"""The public 好差评 page: no login, receipt number + phone, a bad rating is followed up."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TAXI = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
        ROOT / "forms" / "taxi_driver_decision.json")
BAD_REVIEW = ROOT / "bpmn" / "bad_review.bpmn"
# Not imported from conftest: with several conftest.py files the name ``conftest`` is ambiguous.
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    return CSRF.search(html).group(1)


def _completed(api):
    assert api.deploy(*TAXI).status_code == 201
    forms = [f for f in sorted((ROOT / "forms").glob("bad_review_*.json"))]
    assert api.deploy(BAD_REVIEW, *forms).status_code == 201
    case = api.start("taxi_driver_licence", {"driving_licence_no": "140402199001011234",
                                             "exam_certificate_no": "KS2025-0001", "no_bad_record_pledge": True})
    return api.do("window1", "window_decision", {"decision": "issue", "licence_no": "X", "decision_opinion": "ok"},
                  case.get_json()["id"])


def test_an_anonymous_applicant_rates_a_case_and_a_bad_rating_is_followed_up(api, app, db_clean):
    case = _completed(api)
    visitor = app.test_client()
    page = visitor.get("/review")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    wrong = visitor.post("/review", data={"csrf_token": token, "receipt_no": case["receipt_no"], "phone": "1",
                                          "level": "1"})
    assert wrong.status_code == 422 and 'id="form-error-summary"' in wrong.get_data(as_text=True)
    assert visitor.post("/review", data={"receipt_no": case["receipt_no"], "phone": "13812341234",
                                         "level": "1"}).status_code in (400, 403)  # no CSRF token
    ok = visitor.post("/review", data={"csrf_token": token, "receipt_no": case["receipt_no"],
                                       "phone": "13812341234", "level": "1", "comment": "排队太久"})
    assert ok.status_code == 200 and 'id="review-followup"' in ok.get_data(as_text=True)
    assert [t["bpmn_id"] for t in api.available("supervisor")] == ["assess"]
    again = visitor.post("/review", data={"csrf_token": token, "receipt_no": case["receipt_no"],
                                          "phone": "13812341234", "level": "5"})
    assert again.status_code == 409
