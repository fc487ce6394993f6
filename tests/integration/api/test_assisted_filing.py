"""肩并肩 assisted filing: helper1 prepares an application with the applicant (scenario questions,
material pre-review), hands it to the window queue; a clerk accepts it in one step."""

from __future__ import annotations

import pytest

from support import ROOT

APPLICANT = {"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}
DATA = {"company_name": "长治市示范科技有限公司", "company_type": "llc", "registered_capital": 10,
        "business_address": "长治市潞州区", "legal_representative": "王小明", "standard_articles": True,
        "seal_count": 4, "need_invoices": True, "employee_count": 3, "delivery": "window"}
ANSWERS = {"articles": "standard", "premises": "pledge", "agent": "no"}
REVIEW = {"M1": {"status": "ok", "remark": ""}, "M2": {"status": "ok", "remark": "示范章程"},
          "M4": {"status": "missing", "remark": "监事身份证未带"}, "M6": {"status": "ok", "remark": ""}}


@pytest.fixture()
def ready(api, app):
    from app import transaction
    from app.services import catalogue

    bundle = ROOT / "bpmn" / "business_startup.bpmn"
    assert api.deploy(bundle, *sorted((ROOT / "forms").glob("business_startup_*.json"))).status_code == 201
    with app.app_context():
        transaction.run(catalogue.import_dir, None, ROOT / "catalogue")
    return api


def _draft(api, **changes):
    body = {"process_key": "business_startup", "applicant": APPLICANT, "data": DATA, "answers": ANSWERS,
            "materials": REVIEW, **changes}
    r = api.post("/api/v1/assisted-applications", "helper1", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_helper_prepares_and_the_window_accepts_in_one_step(ready):
    api = ready
    assert api.post("/api/v1/assisted-applications", "window1",
                    json={"process_key": "business_startup"}).status_code == 403  # only helpers prepare
    draft = _draft(api, materials={"M1": {"status": "ok"}})
    r = api.post(f"/api/v1/assisted-applications/{draft['id']}/submit", "helper1")
    assert r.status_code == 422 and "materials" in r.get_json()["errors"]  # pre-review every material
    r = api.client.put(f"/api/v1/assisted-applications/{draft['id']}", headers=api.headers("helper1"),
                       json={"process_key": "business_startup", "applicant": APPLICANT, "data": DATA,
                             "answers": ANSWERS, "materials": REVIEW})
    assert r.status_code == 200, r.get_json()
    r = api.post(f"/api/v1/assisted-applications/{draft['id']}/submit", "helper1")
    assert r.status_code == 200 and r.get_json()["status"] == "submitted"
    assert api.client.put(f"/api/v1/assisted-applications/{draft['id']}", headers=api.headers("helper1"),
                          json={"process_key": "business_startup"}).status_code == 409

    queue = api.get("/api/v1/assisted-applications?view=queue", "window1").get_json()
    assert [a["id"] for a in queue] == [draft["id"]]
    # The clerk sees the applicant's numbers masked; the helper who typed them sees them as typed.
    assert queue[0]["applicant"] == {"name": "王小明", "id_number": "1404**********1234", "phone": "138****1234"}
    seen = api.get(f"/api/v1/assisted-applications/{draft['id']}", "window1").get_json()
    assert "140402199001011234" not in str(seen) and "13812341234" not in str(seen)
    assert api.get(f"/api/v1/assisted-applications/{draft['id']}", "helper1").get_json()["applicant"] == APPLICANT
    assert api.get("/api/v1/assisted-applications?view=queue", "helper1").status_code == 403
    r = api.post(f"/api/v1/assisted-applications/{draft['id']}/accept", "window1")
    assert r.status_code == 201, r.get_json()
    case = r.get_json()
    assert case["assisted_by"] == "helper1" and case["started_by"] == "window1"
    assert [m["code"] for m in case["intake"]["missing"]] == ["M4"]
    assert case["intake"]["pre_review"]["M4"]["remark"] == "监事身份证未带"
    assert "assisted_application_accepted" in [e["type"] for e in case["history"]]
    again = api.post(f"/api/v1/assisted-applications/{draft['id']}/accept", "window2")
    assert again.status_code == 409 and again.get_json()["error"] == "already_decided"
    assert api.get(f"/api/v1/assisted-applications/{draft['id']}", "helper1").get_json()["case_id"] == case["id"]


def test_the_window_returns_an_application_to_the_helper(ready):
    api = ready
    draft = _draft(api)
    api.post(f"/api/v1/assisted-applications/{draft['id']}/submit", "helper1")
    assert api.post(f"/api/v1/assisted-applications/{draft['id']}/return", "window1", json={"remark": ""}
                    ).status_code == 422
    r = api.post(f"/api/v1/assisted-applications/{draft['id']}/return", "window1",
                 json={"remark": "住所承诺书需申请人本人签字"})
    assert r.status_code == 200 and r.get_json()["status"] == "returned"
    mine = api.get("/api/v1/assisted-applications", "helper1").get_json()
    assert (mine[0]["status"], mine[0]["return_remark"]) == ("returned", "住所承诺书需申请人本人签字")
    assert api.post(f"/api/v1/assisted-applications/{draft['id']}/submit", "helper1").status_code == 200
    assert api.get(f"/api/v1/assisted-applications/{draft['id']}", "window2").status_code == 200
