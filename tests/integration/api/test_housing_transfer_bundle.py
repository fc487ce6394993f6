"""二手房转移登记及水电气暖联动过户: tax and registration in parallel, then the ticked utility
transfers as messages the utilities send back (with a 48-hour SLA that makes the window urge)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from support import ROOT

SH = ZoneInfo("Asia/Shanghai")
ACCEPT = {"check_decision": "accept", "check_opinion": "受理"}
APPLICATION = {"property_cert_no": "晋(2024)长治市不动产权第0001234号", "contract_filing_no": "WQ2026-88",
               "seller_name": "张三", "buyer_name": "李四", "price": 85, "buyer_only_home": True,
               "transfer_water": True, "transfer_power": False, "transfer_gas": True, "transfer_heating": False}


@pytest.fixture()
def case_id(api, clock):
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    path = ROOT / "bpmn" / "housing_transfer.bpmn"
    forms = [f for f in sorted((ROOT / "forms").glob("*.json")) if f.name.encode() in path.read_bytes()]
    r = api.deploy(path, *forms)
    assert r.status_code == 201, r.get_json()
    case_id = api.start("housing_transfer", APPLICATION).get_json()["id"]
    api.do("window1", "formal_check", ACCEPT, case_id)
    api.do("tax1", "tax_assessment", {"tax_assessment_done": True, "tax_assessment_opinion": "核定",
                                      "tax_amount": 8500}, case_id)
    api.do("window1", "tax_payment", {"tax_paid": True, "tax_receipt_no": "WS001"}, case_id)
    api.do("natural_resources1", "registration_review", {"registration_review_decision": "approve",
                                                         "registration_review_opinion": "审核通过"}, case_id)
    api.do("natural_resources1", "record", {"record_done": True, "record_opinion": "已登簿",
                                            "new_cert_no": "晋(2026)长治市不动产权第0009999号"}, case_id)
    return case_id


def _case(api, case_id):
    return api.get(f"/api/v1/cases/{case_id}", "window1").get_json()


def test_utilities_send_their_results_back(api, case_id):
    waits = api.get("/api/v1/messages", "utilities1").get_json()
    assert sorted(w["name"] for w in waits) == ["gas_transfer_done", "water_transfer_done"]  # only the ticked
    assert api.get("/api/v1/messages", "tax1").get_json() == []

    r = api.post(f"/api/v1/cases/{case_id}/messages", "tax1", json={"name": "water_transfer_done", "payload": {}})
    assert r.status_code == 403  # sees the case (tax had a task), but does not send this message
    r = api.post(f"/api/v1/cases/{case_id}/messages", "police1", json={"name": "water_transfer_done"})
    assert r.status_code == 404  # may not see the case: its existence is not revealed
    r = api.post(f"/api/v1/cases/{case_id}/messages", "utilities1", json={"name": "power_transfer_done"})
    assert r.status_code == 404 and "not waiting" in r.get_json()["message"]
    r = api.post(f"/api/v1/cases/{case_id}/messages", "utilities1",
                 json={"name": "water_transfer_done", "payload": {"result": "done", "account": "S-1001"}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["water_transfer_done"] == {"result": "done", "account": "S-1001"}
    again = api.post(f"/api/v1/cases/{case_id}/messages", "utilities1", json={"name": "water_transfer_done"})
    assert again.status_code == 404  # delivered once
    api.post(f"/api/v1/cases/{case_id}/messages", "utilities1",
             json={"name": "gas_transfer_done", "payload": {"result": "done"}})
    assert api.get("/api/v1/messages", "utilities1").get_json() == []
    assert [t["bpmn_id"] for t in _case(api, case_id)["tasks"]] == ["handover"]
    done = api.do("window1", "handover", {"handover_method": "online", "handed_over_items": ["电子不动产权证书"]},
                  case_id)
    assert done["status"] == "completed"
    assert [e["data"]["message"] for e in done["history"] if e["type"] == "message_received"] == [
        "water_transfer_done", "gas_transfer_done"]


def test_a_late_utility_makes_the_window_urge(api, app, case_id, clock):
    api.post(f"/api/v1/cases/{case_id}/messages", "utilities1",
             json={"name": "water_transfer_done", "payload": {"result": "done"}})
    clock.shift(timedelta(hours=49))
    assert "fired 1 timer" in app.test_cli_runner().invoke(args=["worker", "--once"]).output
    body = _case(api, case_id)
    assert sorted(t["bpmn_id"] for t in body["tasks"]) == ["gas_urge"]
    api.do("window1", "gas_urge", {"urge_note": "已电话催办燃气公司"}, case_id)
    api.post(f"/api/v1/cases/{case_id}/messages", "utilities1",
             json={"name": "gas_transfer_done", "payload": {"result": "done"}})
    assert [t["bpmn_id"] for t in _case(api, case_id)["tasks"]] == ["handover"]


def test_utilities_page_lists_and_sends_results(app, api, case_id):
    import re

    from support import PASSWORD

    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "utilities1", "password": PASSWORD, "csrf_token": token})
    page = client.get("/messages").get_data(as_text=True)
    assert 'href="/messages"' in page and "供水过户" in page and "燃气过户" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # a new session after login
    assert client.get(f"/cases/{case_id}").status_code == 200  # the utility may read the case it serves
    r = client.post(f"/cases/{case_id}/messages", data={"csrf_token": token, "name": "water_transfer_done",
                                                        "result": "done", "note": "户号S-1001"},
                    follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "供水过户" not in page and "燃气过户" in page
    assert _case(api, case_id)["data"]["water_transfer_done"] == {"result": "done", "note": "户号S-1001"}
