"""The demo 即办件: 巡游出租汽车驾驶员证核发, finished by the window alone on the acceptance day."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from support import ROOT

FILES = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
         ROOT / "forms" / "taxi_driver_decision.json")
APPLICATION = {"driving_licence_no": "140402199001011234", "exam_certificate_no": "KS2025-0001",
               "no_bad_record_pledge": True}


def test_window_issues_the_licence_on_the_spot(api):
    r = api.deploy(*FILES)
    assert r.status_code == 201, r.get_json()
    case = api.start("taxi_driver_licence", APPLICATION).get_json()
    assert case["immediate"] is True
    task = case["tasks"][0]
    assert (task["bpmn_id"], task["groups"]) == ("window_decision", ["window"])
    # promisedDays 0: due at the end of the acceptance day itself
    sh = ZoneInfo("Asia/Shanghai")
    due = datetime.fromisoformat(case["due_at"]).astimezone(sh)
    assert due.date() == datetime.fromisoformat(case["started_at"]).astimezone(sh).date()
    assert (due.hour, due.minute) == (23, 59)
    detail = api.get(f"/api/v1/tasks/{task['id']}", "window1").get_json()
    assert detail["form"]["properties"]["driving_licence_no"]["readOnly"] is True
    done = api.do("window1", "window_decision", {"decision": "issue", "licence_no": "CZ-TAXI-0001",
                                                 "decision_opinion": "材料齐全，当场核发"}, case["id"])
    assert (done["status"], done["outcome"], done["finished_same_day"]) == ("completed", "当场核发", True)


def test_changing_the_applicants_data_at_the_window_is_refused(api):
    assert api.deploy(*FILES).status_code == 201
    case = api.start("taxi_driver_licence", APPLICATION).get_json()
    task = case["tasks"][0]
    api.post(f"/api/v1/tasks/{task['id']}/claim", "window1")
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "window1", json={"data": {
        "driving_licence_no": "999", "decision": "refuse", "decision_opinion": "x"}})
    assert r.status_code == 422 and "data.driving_licence_no" in r.get_json()["errors"]
