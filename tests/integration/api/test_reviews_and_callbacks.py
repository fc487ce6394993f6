"""好差评 and 办件回访 (issue 7): public reviews checked by receipt number and phone, bad reviews
rectified by the responsible unit within five working days and called back, seeded callback
samples with the 廉政监督反馈卡 routing problems to supervision, and the KPIs of both."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from support import ROOT

SH = ZoneInfo("Asia/Shanghai")
TAXI = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
        ROOT / "forms" / "taxi_driver_decision.json")
APPLICATION = {"driving_licence_no": "140402199001011234", "exam_certificate_no": "KS2025-0001",
               "no_bad_record_pledge": True}
ISSUE = {"decision": "issue", "licence_no": "CZ-TAXI-0001", "decision_opinion": "当场核发"}
PHONE = "13812341234"  # the applicant's phone of api.start
WEEK = "/api/v1/kpis?from=2026-11-23&to=2026-11-27"


def at(day, hour=10):
    return datetime(2026, 11, day, hour, 0, tzinfo=SH)


def deploy(api, key):
    path = ROOT / "bpmn" / f"{key}.bpmn"
    forms = [f for f in sorted((ROOT / "forms").glob("*.json")) if f.name.encode() in path.read_bytes()]
    assert api.deploy(path, *forms).status_code == 201


@pytest.fixture()
def done_cases(api, clock):
    """Four taxi licences issued on Mon 23 Nov, and one still running."""
    assert api.deploy(*TAXI).status_code == 201
    for key in ("bad_review", "case_callback"):
        deploy(api, key)
    clock.set_time(at(23))
    cases = []
    for _ in range(4):
        case = api.start("taxi_driver_licence", APPLICATION).get_json()
        cases.append(api.do("window1", "window_decision", ISSUE, case["id"]))
    running = api.start("taxi_driver_licence", APPLICATION).get_json()
    return cases, running


def review(client, case, level, phone=PHONE, comment=""):
    return client.post("/api/v1/reviews", json={"receipt_no": case["receipt_no"], "phone": phone, "level": level,
                                                "comment": comment})


def test_a_review_needs_the_receipt_number_and_phone_of_a_completed_case(client, done_cases):
    cases, running = done_cases
    wrong = review(client, cases[0], 5, phone="13800000000")
    assert wrong.status_code == 422 and "receipt_no" in wrong.get_json()["errors"]
    assert review(client, running, 5).status_code == 422  # not completed yet
    assert review(client, cases[0], 6).status_code == 422
    ok = review(client, cases[0], 5, phone="138-1234-1234")
    assert ok.status_code == 201 and ok.get_json()["rectification"] is False
    assert review(client, cases[0], 1).status_code == 409  # once per case


def test_a_phone_without_digits_matches_no_review(api, client, done_cases):
    """A case whose phone was recorded without a digit ("-----" passes the phone check) cannot be
    rated by anyone who sends another digitless "phone": there is nothing to match."""
    applicant = {"name": "王小明", "id_number": "140402199001011234", "phone": "-----"}
    started = api.start("taxi_driver_licence", APPLICATION, applicant=applicant)
    assert started.status_code == 201, started.get_json()
    case = api.do("window1", "window_decision", ISSUE, started.get_json()["id"])
    assert case["status"] == "completed"
    refused = review(client, case, 1, phone="----")
    assert refused.status_code == 422 and "receipt_no" in refused.get_json()["errors"]


def _from(client, address, case, level, phone=PHONE, receipt_no=None):
    return client.post("/api/v1/reviews", environ_base={"REMOTE_ADDR": address},
                       json={"receipt_no": receipt_no or case["receipt_no"], "phone": phone, "level": level})


def test_guessing_a_phone_locks_the_receipt_number(client, clock, done_cases):
    """A phone cannot be guessed: ten wrong ones for a receipt number (from any addresses) lock it."""
    cases, _ = done_cases
    for n in range(10):
        assert _from(client, f"10.0.0.{n}", cases[0], 1, phone=f"1380000000{n}").status_code == 422
    locked = _from(client, "10.0.1.1", cases[0], 5)  # even the right phone, from yet another address
    assert locked.status_code == 429 and locked.get_json()["error"] == "too_many_attempts"
    assert _from(client, "10.0.1.1", cases[1], 5).status_code == 201  # other receipt numbers are not held up
    clock.shift(timedelta(minutes=15))
    assert _from(client, "10.0.1.1", cases[0], 5).status_code == 201


def test_trying_receipt_numbers_with_a_known_phone_locks_the_client(client, done_cases):
    """Nor can someone who knows a phone find its cases by trying receipt numbers (and review them
    before their applicant): ten misses in a row lock that client; others go on."""
    cases, _ = done_cases
    for n in range(10):
        assert _from(client, "10.9.9.9", cases[0], 1, receipt_no=f"NX-GUESS-{n}").status_code == 422
    assert _from(client, "10.9.9.9", cases[0], 1).status_code == 429
    assert _from(client, "10.0.0.1", cases[0], 5).status_code == 201


def test_a_match_ends_a_run_of_misses(client, done_cases):
    cases, _ = done_cases
    for n in range(9):
        assert _from(client, "10.7.7.7", cases[0], 5, receipt_no=f"NX-TYPO-{n}").status_code == 422
    assert _from(client, "10.7.7.7", cases[0], 5).status_code == 201
    for n in range(9):
        assert _from(client, "10.7.7.7", cases[1], 5, receipt_no=f"NX-TYPO-{n}").status_code == 422
    assert _from(client, "10.7.7.7", cases[1], 5).status_code == 201


def test_the_review_page_says_when_tries_are_locked(client, done_cases):
    cases, _ = done_cases
    for n in range(10):
        _from(client, "10.5.5.5", cases[0], 5, receipt_no=f"NX-NONE-{n}")
    form = client.get("/review").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    page = client.post("/review", environ_base={"REMOTE_ADDR": "10.5.5.5"},
                       data={"receipt_no": cases[0]["receipt_no"], "phone": PHONE, "level": "5", "csrf_token": token})
    assert page.status_code == 429
    assert "多次未能匹配到办件，请稍后再试" in page.get_data(as_text=True)


def test_bad_reviews_are_rectified_within_five_working_days_and_counted(api, client, clock, done_cases):
    cases, _ = done_cases
    for case in cases[:2]:
        assert review(client, case, 5).status_code == 201
    bad = review(client, cases[2], 1, comment="窗口态度差，让我跑了两趟")
    assert bad.status_code == 201 and bad.get_json()["rectification"] is True
    rejected = review(client, cases[3], 2, comment="不满意")
    assert rejected.status_code == 201
    tasks = [t for t in api.available("supervisor") if t["bpmn_id"] == "assess"]
    assert len(tasks) == 2 and all(t["group"] == "supervision" for t in tasks)
    by_subject = {api.get(f"/api/v1/cases/{t['case_id']}", "supervisor").get_json()["data"]["subject_case_id"]: t
                  for t in tasks}
    first, second = by_subject[cases[2]["id"]]["case_id"], by_subject[cases[3]["id"]]["case_id"]
    api.do("supervisor", "assess", {"needs_rectification": False, "assess_note": "经核实办理规范",
                                    "responsible_unit": "window"}, second)
    case = api.do("supervisor", "assess", {"needs_rectification": True, "assess_note": "属实",
                                           "responsible_unit": "window"}, first)
    rectify = case["tasks"][0]
    assert (rectify["bpmn_id"], rectify["group"]) == ("rectify", "window")
    clock.set_time(at(26))
    api.do("window2", "rectify", {"rectify_cause": "一次性告知不到位", "rectify_measures": "已致歉并培训"}, first)
    api.do("supervisor", "verify", {"verify_decision": "accept"}, first)
    done = api.do("callback1", "callback", {"callback_result": "satisfied"}, first)
    assert done["outcome"] == "整改完成"
    k = api.get(WEEK, "leader1").get_json()
    assert (k["reviews"], k["bad_reviews"]) == (4, 2)
    assert k["satisfaction_rate"] == 0.5
    assert k["bad_review_rectification_rate"] == 1.0  # the one needing it, reported back in time


def test_a_late_rectification_does_not_count(api, client, clock, done_cases):
    cases, _ = done_cases
    review(client, cases[0], 1)
    task = next(t for t in api.available("supervisor") if t["bpmn_id"] == "assess")
    api.do("supervisor", "assess", {"needs_rectification": True, "assess_note": "属实", "responsible_unit": "window"},
           task["case_id"])
    clock.set_time(at(30, 23))  # five working days end on Mon 30 Nov: still in time at 23:00
    clock.set_time(datetime(2026, 12, 1, 9, 0, tzinfo=SH))
    api.do("window1", "rectify", {"rectify_cause": "x", "rectify_measures": "y"}, task["case_id"])
    api.do("supervisor", "verify", {"verify_decision": "accept"}, task["case_id"])
    assert api.get(WEEK, "leader1").get_json()["bad_review_rectification_rate"] == 0.0


def test_callbacks_are_a_seeded_sample_and_problems_go_to_supervision(api, done_cases):
    cases, _ = done_cases
    ids = sorted(c["id"] for c in cases)
    r = api.post("/api/v1/callbacks", "callback1", json={"from": "2026-11-23", "to": "2026-11-27", "rate": 0.5,
                                                        "seed": 99})
    assert r.status_code == 201, r.get_json()
    batch = r.get_json()
    assert batch["population"] == 4 and batch["case_ids"] == sorted(random.Random(99).sample(ids, 2))
    rest = api.post("/api/v1/callbacks", "callback1", json={"from": "2026-11-23", "to": "2026-11-27"}).get_json()
    assert rest["population"] == 2 and sorted(rest["case_ids"] + batch["case_ids"]) == ids  # nobody twice
    tasks = [t for t in api.available("callback1") if t["bpmn_id"] == "callback"]
    assert len(tasks) == 4
    fine = {"callback_result": "satisfied", "asked_for_gifts": False, "delayed": False, "extra_materials": False}
    outcomes = []
    for i, task in enumerate(tasks):
        answer = {**fine, "asked_for_gifts": True} if i == 0 else fine
        if i == 3:
            answer = {**fine, "callback_result": "unreachable"}
        outcomes.append(api.do("callback1", "callback", answer, task["case_id"]))
    assert outcomes[0]["tasks"][0]["bpmn_id"] == "investigate" and outcomes[0]["tasks"][0]["group"] == "supervision"
    assert [o["outcome"] for o in outcomes[1:]] == ["回访完成"] * 3
    done = api.do("supervisor", "investigate", {"investigation_result": "partly", "investigation_measures": "约谈"},
                  tasks[0]["case_id"])
    assert done["outcome"] == "核处完成"
    k = api.get(WEEK, "leader1").get_json()
    assert (k["callbacks"], k["callback_problems"]) == (4, 1)
    assert k["callback_satisfaction_rate"] == 1.0  # 3 reached and satisfied; the unreachable one is left out


def test_only_the_callback_desk_and_supervisors_start_callbacks(api, done_cases):
    r = api.post("/api/v1/callbacks", "window1", json={"from": "2026-11-23", "to": "2026-11-27"})
    assert r.status_code == 403
