"""The newborn bundle (新生儿出生一件事) end to end over the JSON API, with its real diagram and forms."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from newborn_support import (
    APPLICANT,
    NEWBORN_BPMN,
    WORKER,
    application,
    newborn_files,
    referenced_forms,
    task_data,
)

GROUP = {
    "formal_check": "window",
    "birth_cert": "health",
    "birth_registration": "health",
    "hukou_registration": "public_security",
    "medins_enrolment": "medical_insurance",
    "maternity_allowance": "medical_insurance",
    "medins_premium": "tax",
    "sscard_application": "hr_social_security",
    "handover": "window",
    "return_handling": "window",
}


@pytest.fixture()
def newborn(api):
    """The newborn bundle deployed by the designer."""
    r = api.deploy(*newborn_files())
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def start(api, user="window1", **overrides) -> dict:
    r = api.start("newborn", application(**overrides), user=user, applicant=APPLICANT)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def open_tasks(case: dict) -> list[str]:
    return sorted(t["bpmn_id"] for t in case["tasks"])


def work(api, case_id: int, bpmn_id: str, decision: str | None = None, user: str | None = None,
         **extra) -> dict:
    """The task's group member finds it in ``available`` (with the right group), claims and completes it."""
    user = user or WORKER[bpmn_id]
    item = api.find_task(user, bpmn_id, case_id)
    if bpmn_id in GROUP:
        assert item["group"] == GROUP[bpmn_id]
    assert item["state"] == "open" and item["assignee"] is None
    return api.do(user, bpmn_id, task_data(bpmn_id, decision, **extra), case_id=case_id)


def case_tasks_for(api, user: str, case_id: int) -> list[str]:
    return sorted(t["bpmn_id"] for t in api.available(user) if t["case_id"] == case_id)


def approve_round(api, case_id: int, order: list[str]) -> dict:
    case = None
    for bpmn_id in order:
        case = work(api, case_id, bpmn_id, "approve")
    return case


FULL_ROUND = ["birth_cert", "hukou_registration", "medins_enrolment", "sscard_application",
              "birth_registration", "maternity_allowance"]


def test_referenced_forms_are_all_found():
    """The deploy helper finds the thirteen newborn forms the diagram names, and they exist."""
    forms = referenced_forms(NEWBORN_BPMN)
    assert len(forms) == 13
    assert all(f.exists() for f in forms)
    assert {f.name for f in forms} >= {"newborn_application.json", "newborn_handover.json"}


def test_deploy_reports_routing_of_every_task(newborn):
    """The deployment lists each user task with the group its lane names (申请人 -> initiator)."""
    tasks = newborn["user_tasks"]
    for bpmn_id, group in GROUP.items():
        assert tasks[bpmn_id]["groups"] == [group], bpmn_id
    assert tasks["supplement_materials"]["initiator"] is True
    assert tasks["correct_application"]["initiator"] is True
    assert newborn["key"] == "newborn" and newborn["version"] == 1


def test_start_opens_formal_check_for_the_window(api, newborn):
    """A new case is active with one open 形式审查 task for the window group."""
    case = start(api)
    assert case["status"] == "active"
    assert case["outcome"] is None
    assert open_tasks(case) == ["formal_check"]
    assert case["tasks"][0]["group"] == "window"
    assert case["data"]["apply_maternity_allowance"] is True
    assert [t["bpmn_id"] for t in api.available("window2")] == ["formal_check"]


def test_start_data_is_validated_against_the_start_form(api, newborn):
    """Missing and wrongly typed application fields are reported under ``data.``."""
    data = application(newborn_sex="unknown")
    del data["newborn_name"]
    r = api.start("newborn", data, applicant=APPLICANT)
    assert r.status_code == 422
    body = r.get_json()
    assert body["error"] == "invalid_input"
    assert "data.newborn_name" in body["errors"]
    assert "data.newborn_sex" in body["errors"]


def test_happy_path_with_maternity_allowance(api, newborn):
    """Accept, every department approves (allowance too), hand over -> completed 办结."""
    case = start(api)
    cid = case["id"]
    case = work(api, cid, "formal_check", "accept")
    assert open_tasks(case) == ["birth_cert", "birth_registration", "maternity_allowance"]
    assert case_tasks_for(api, "health1", cid) == ["birth_cert", "birth_registration"]
    assert case_tasks_for(api, "medins1", cid) == ["maternity_allowance"]
    assert case_tasks_for(api, "police1", cid) == []
    assert case_tasks_for(api, "hrss1", cid) == []

    case = work(api, cid, "birth_cert", "approve")
    assert case_tasks_for(api, "police1", cid) == ["hukou_registration"]
    case = work(api, cid, "hukou_registration", "approve")
    assert case_tasks_for(api, "medins1", cid) == ["maternity_allowance", "medins_enrolment"]
    assert case_tasks_for(api, "hrss1", cid) == ["sscard_application"]
    for bpmn_id in ("medins_enrolment", "sscard_application", "birth_registration"):
        case = work(api, cid, bpmn_id, "approve")
        assert "handover" not in open_tasks(case)
    case = work(api, cid, "maternity_allowance", "approve")
    assert open_tasks(case) == ["handover"]

    case = work(api, cid, "handover")
    assert case["status"] == "completed"
    assert case["outcome"] == "办结"
    assert case["tasks"] == []
    assert case["ended_at"] is not None
    for key in ("birth_cert_decision", "hukou_decision", "medins_enrol_decision", "sscard_decision",
                "birth_registration_decision", "allowance_decision"):
        assert case["data"][key] == "approve", key


def test_happy_path_history_records_every_step(api, newborn):
    """The case history holds one start, a claim and a completion per task and one case_completed."""
    cid = start(api)["id"]
    work(api, cid, "formal_check", "accept")
    case = approve_round(api, cid, FULL_ROUND)
    case = work(api, cid, "handover")
    types = [e["type"] for e in case["history"]]
    assert types[0] == "case_started"
    assert types[-1] == "case_completed"
    counts = Counter(types)
    assert counts == {"case_started": 1, "task_claimed": 8, "task_completed": 8, "case_completed": 1}
    completed = [e for e in case["history"] if e["type"] == "task_completed"]
    assert {e["actor"] for e in completed} == {"window1", "health1", "police1", "medins1", "hrss1"}
    assert case["history"][-1]["data"] == {"outcome": "办结"}


def test_completed_view_lists_department_work_newest_first(api, newborn):
    """health1's ``completed`` inbox holds both health tasks, the latest first."""
    cid = start(api)["id"]
    work(api, cid, "formal_check", "accept")
    work(api, cid, "birth_registration", "approve")
    work(api, cid, "birth_cert", "approve")
    r = api.get("/api/v1/tasks?view=completed", "health1")
    assert r.status_code == 200
    body = r.get_json()
    assert [t["bpmn_id"] for t in body["items"]] == ["birth_cert", "birth_registration"]
    assert body["total"] == 2
    assert all(t["state"] == "completed" and t["receipt_no"] == body["items"][0]["receipt_no"]
               for t in body["items"])


def test_supplement_then_accept_completes(api, newborn):
    """补正 at acceptance goes to the starting clerk, corrected data is kept, then accept -> 办结."""
    cid = start(api)["id"]
    case = work(api, cid, "formal_check", "supplement", missing_materials=["结婚证"])
    assert case["status"] == "active"
    assert open_tasks(case) == ["supplement_materials"]
    assert case_tasks_for(api, "window2", cid) == []
    case = work(api, cid, "supplement_materials", newborn_name="王小红")
    assert open_tasks(case) == ["formal_check"]
    assert case["data"]["newborn_name"] == "王小红"
    work(api, cid, "formal_check", "accept")
    approve_round(api, cid, FULL_ROUND)
    case = work(api, cid, "handover")
    assert case["status"] == "completed"
    assert case["outcome"] == "办结"
    assert case["data"]["newborn_name"] == "王小红"
    names = [e["task_name"] for e in case["history"] if e["type"] == "task_completed"]
    assert names.count("形式审查/受理") == 2
    assert names.count("补正材料") == 1


def test_refuse_at_acceptance_ends_not_accepted(api, newborn):
    """不予受理 at the formal check ends the case with outcome 不予受理 and no open task."""
    cid = start(api)["id"]
    case = work(api, cid, "formal_check", "refuse")
    assert case["status"] != "active"
    assert case["outcome"] == "不予受理"
    assert case["tasks"] == []
    assert case["history"][-1]["type"] in ("case_completed", "case_terminated")
    assert api.available("health1") == []


def reject_round_one(api, cid: int) -> dict:
    """Round 1: accept; health approves both; police rejects the hukou; allowance approved."""
    work(api, cid, "formal_check", "accept")
    work(api, cid, "birth_cert", "approve")
    work(api, cid, "birth_registration", "approve")
    work(api, cid, "maternity_allowance", "approve")
    case = work(api, cid, "hukou_registration", "reject")
    assert case_tasks_for(api, "medins1", cid) == []
    assert case_tasks_for(api, "hrss1", cid) == []
    return case


def test_rejection_goes_to_return_handling(api, newborn):
    """A department rejection skips the rest of branch A and, once all branches end, opens 退件处理."""
    cid = start(api)["id"]
    case = reject_round_one(api, cid)
    assert case["status"] == "active"
    assert open_tasks(case) == ["return_handling"]
    assert case["data"]["hukou_decision"] == "reject"


def test_correction_goes_to_the_starting_clerk_only(api, newborn):
    """补正申请 (applicant lane) is offered to window1, who started the case, and not to window2."""
    cid = start(api)["id"]
    reject_round_one(api, cid)
    case = work(api, cid, "return_handling", "resubmit")
    assert open_tasks(case) == ["correct_application"]
    assert case_tasks_for(api, "window1", cid) == ["correct_application"]
    assert case_tasks_for(api, "window2", cid) == []
    task_id = case["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", "window2").status_code == 403


def test_correction_by_window2_is_refused(api, newborn):
    """window2 cannot complete 补正申请 of a case window1 started, even after window1 claimed it."""
    cid = start(api)["id"]
    reject_round_one(api, cid)
    case = work(api, cid, "return_handling", "resubmit")
    task_id = case["tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/claim", "window1").status_code == 200
    r = api.post(f"/api/v1/tasks/{task_id}/complete", "window2",
                 json={"data": task_data("correct_application", corrections_made=["户口簿"],
                                         apply_maternity_allowance=True)})
    assert r.status_code == 403
    assert api.get(f"/api/v1/tasks/{task_id}", "window1").get_json()["state"] == "claimed"


ROUND_TWO_ORDERS = {
    "branch_a_first": FULL_ROUND,
    "others_first": ["maternity_allowance", "birth_registration", "birth_cert", "hukou_registration",
                     "sscard_application", "medins_enrolment"],
}


@pytest.mark.parametrize("order", list(ROUND_TWO_ORDERS), ids=list(ROUND_TWO_ORDERS))
def test_rejection_resubmit_second_round_completes(api, newborn, order):
    """Reject -> 退件处理 resubmit -> 补正申请 by window1 -> everyone approves round 2 -> 办结."""
    cid = start(api)["id"]
    reject_round_one(api, cid)
    work(api, cid, "return_handling", "resubmit")
    case = work(api, cid, "correct_application", corrections_made=["户口簿地址"],
                apply_maternity_allowance=True, household_address="山西省长治市潞州区英雄中路1号")
    assert open_tasks(case) == ["birth_cert", "birth_registration", "maternity_allowance"]
    assert case["data"]["household_address"] == "山西省长治市潞州区英雄中路1号"
    order = ROUND_TWO_ORDERS[order]
    for i, bpmn_id in enumerate(order):
        case = work(api, cid, bpmn_id, "approve")
        if i < len(order) - 1:
            assert "handover" not in open_tasks(case)
            assert "return_handling" not in open_tasks(case)
    assert open_tasks(case) == ["handover"]
    case = work(api, cid, "handover")
    assert case["status"] == "completed"
    assert case["outcome"] == "办结"
    assert case["data"]["hukou_decision"] == "approve"
    completed = Counter(e["task_name"] for e in case["history"] if e["type"] == "task_completed")
    assert completed["出生医学证明签发"] == 2
    assert completed["城乡居民医保参保登记"] == 1


def test_dropping_the_allowance_in_the_correction_completes(api, newborn):
    """Allowance rejected -> the correction withdraws it -> round 2 has no allowance task -> 办结."""
    cid = start(api)["id"]
    work(api, cid, "formal_check", "accept")
    approve_round(api, cid, ["birth_cert", "hukou_registration", "medins_enrolment", "sscard_application",
                             "birth_registration"])
    case = work(api, cid, "maternity_allowance", "reject")
    assert open_tasks(case) == ["return_handling"]
    work(api, cid, "return_handling", "resubmit")
    case = work(api, cid, "correct_application", corrections_made=["撤回生育津贴申请"],
                apply_maternity_allowance=False)
    assert open_tasks(case) == ["birth_cert", "birth_registration"]
    case = approve_round(api, cid, ["birth_cert", "hukou_registration", "medins_enrolment",
                                    "sscard_application", "birth_registration"])
    assert open_tasks(case) == ["handover"]
    case = work(api, cid, "handover")
    assert case["outcome"] == "办结"


def test_rejection_then_terminate_ends_not_handled(api, newborn):
    """Birth certificate rejected -> 退件处理 terminate -> outcome 不予办理; police never got a task."""
    cid = start(api)["id"]
    work(api, cid, "formal_check", "accept")
    work(api, cid, "birth_cert", "reject")
    assert case_tasks_for(api, "police1", cid) == []
    work(api, cid, "birth_registration", "approve")
    case = work(api, cid, "maternity_allowance", "approve")
    assert open_tasks(case) == ["return_handling"]
    case = work(api, cid, "return_handling", "terminate")
    assert case["status"] != "active"
    assert case["outcome"] == "不予办理"
    assert case["tasks"] == []
    assert case["ended_at"] is not None
    names = {e["task_name"] for e in case["history"] if e["type"] == "task_completed"}
    assert "出生登记（户口登记）" not in names


def test_department_cannot_overwrite_another_departments_decision(api, newborn):
    """medins1 adding police's and its colleagues' decision keys to its own form cannot turn a rejection into 办结."""
    cid = start(api)["id"]
    work(api, cid, "formal_check", "accept")
    work(api, cid, "birth_cert", "approve")
    work(api, cid, "hukou_registration", "reject")
    work(api, cid, "birth_registration", "approve")
    task = api.find_task("medins1", "maternity_allowance", cid)
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "medins1").status_code == 200
    forged = task_data("maternity_allowance", "approve", hukou_decision="approve",
                       medins_enrol_decision="approve", sscard_decision="approve")
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "medins1", json={"data": forged})
    assert r.status_code in (200, 422), r.get_json()
    case = api.get(f"/api/v1/cases/{cid}", "supervisor").get_json()
    assert case["data"]["hukou_decision"] == "reject"
    assert "handover" not in open_tasks(case)


SKIPPED_AFTER_REJECTION = {
    "birth_cert": {"hukou_registration", "medins_enrolment", "sscard_application"},
    "hukou_registration": {"medins_enrolment", "sscard_application"},
}


@pytest.mark.parametrize("rejecter", FULL_ROUND)
def test_any_single_rejection_then_full_second_round_completes(api, newborn, rejecter):
    """Whichever department rejects in round 1, a corrected round 2 where all approve ends 办结."""
    cid = start(api)["id"]
    work(api, cid, "formal_check", "accept")
    skipped = SKIPPED_AFTER_REJECTION.get(rejecter, set())
    case = None
    for bpmn_id in FULL_ROUND:
        if bpmn_id in skipped:
            assert bpmn_id not in case_tasks_for(api, WORKER[bpmn_id], cid)
            continue
        case = work(api, cid, bpmn_id, "reject" if bpmn_id == rejecter else "approve")
    assert open_tasks(case) == ["return_handling"]
    work(api, cid, "return_handling", "resubmit")
    work(api, cid, "correct_application", corrections_made=["已补正"], apply_maternity_allowance=True)
    case = approve_round(api, cid, list(reversed(FULL_ROUND[4:])) + FULL_ROUND[:4])
    assert open_tasks(case) == ["handover"]
    assert work(api, cid, "handover")["outcome"] == "办结"


def test_three_rounds_with_different_rejections_complete(api, newborn):
    """Round 1 police rejects, round 2 health rejects the birth registration, round 3 all approve -> 办结."""
    cid = start(api)["id"]
    reject_round_one(api, cid)
    work(api, cid, "return_handling", "resubmit")
    work(api, cid, "correct_application", corrections_made=["户口簿"], apply_maternity_allowance=True)
    for bpmn_id in FULL_ROUND:
        case = work(api, cid, bpmn_id, "reject" if bpmn_id == "birth_registration" else "approve")
    assert open_tasks(case) == ["return_handling"]
    assert case["data"]["hukou_decision"] == "approve"
    assert case["data"]["birth_registration_decision"] == "reject"
    work(api, cid, "return_handling", "resubmit")
    work(api, cid, "correct_application", corrections_made=["生育登记材料"], apply_maternity_allowance=True)
    case = approve_round(api, cid, ["birth_registration", *FULL_ROUND[:4], "maternity_allowance"])
    assert open_tasks(case) == ["handover"]
    case = work(api, cid, "handover")
    assert case["outcome"] == "办结"
    assert Counter(e["task_name"] for e in case["history"] if e["type"] == "task_completed")["退件处理"] == 2


# -- the newborn's medical-insurance premium, collected by the tax department (brief §2.5) -------------

def test_pending_premium_is_collected_by_tax_before_handover(api, newborn):
    """医保 enrols with the premium pending -> 税务 collects it (sees the insurance number) -> 统一出件."""
    cid = start(api)["id"]
    work(api, cid, "formal_check", "accept")
    approve_round(api, cid, ["birth_cert", "hukou_registration", "sscard_application", "birth_registration",
                             "maternity_allowance"])
    case = work(api, cid, "medins_enrolment", "approve", medins_premium_status="pending",
                medins_number="14040020261101")
    assert open_tasks(case) == ["medins_premium"]
    task = api.find_task("tax1", "medins_premium", cid)
    assert task["group"] == "tax"
    assert case_tasks_for(api, "medins1", cid) == []
    case = work(api, cid, "medins_premium", "approve", premium_amount=380, premium_receipt_number="WS2026110001",
                premium_channel="window")
    assert open_tasks(case) == ["handover"]
    case = work(api, cid, "handover")
    assert case["outcome"] == "办结"
    assert case["data"]["premium_receipt_number"] == "WS2026110001"
    done = [e for e in case["history"] if e["type"] == "task_completed" and e["task_name"] == "城乡居民医保费征收"]
    assert [e["actor"] for e in done] == ["tax1"]


@pytest.mark.parametrize("status", ["paid", "exempt"])
def test_paid_or_exempt_premium_skips_tax(api, newborn, status):
    """Already paid online, or exempt (资助免缴): no tax task, the case goes straight to hand-over."""
    cid = start(api)["id"]
    work(api, cid, "formal_check", "accept")
    approve_round(api, cid, ["birth_cert", "hukou_registration", "sscard_application", "birth_registration",
                             "maternity_allowance"])
    case = work(api, cid, "medins_enrolment", "approve", medins_premium_status=status)
    assert open_tasks(case) == ["handover"]
    assert case_tasks_for(api, "tax1", cid) == []


def test_premium_not_collected_returns_then_exempt_in_round_two_completes(api, newborn):
    """Tax cannot collect -> 退件处理; round 2 医保 grants the exemption, so tax's old refusal is never read."""
    cid = start(api)["id"]
    work(api, cid, "formal_check", "accept")
    approve_round(api, cid, ["birth_cert", "hukou_registration", "sscard_application", "birth_registration",
                             "maternity_allowance"])
    work(api, cid, "medins_enrolment", "approve", medins_premium_status="pending")
    case = work(api, cid, "medins_premium", "reject", premium_opinion="申请人未缴费")
    assert open_tasks(case) == ["return_handling"]
    work(api, cid, "return_handling", "resubmit")
    work(api, cid, "correct_application", corrections_made=["低保证明"], apply_maternity_allowance=True)
    approve_round(api, cid, ["birth_cert", "hukou_registration", "sscard_application", "birth_registration",
                             "maternity_allowance"])
    case = work(api, cid, "medins_enrolment", "approve", medins_premium_status="exempt")
    assert case["data"]["premium_decision"] == "reject"
    assert open_tasks(case) == ["handover"]
    assert work(api, cid, "handover")["outcome"] == "办结"


def test_medins_enrolment_must_state_the_premium_status(api, newborn):
    """The premium status decides whether tax gets a task, so the enrolment form requires it."""
    cid = start(api)["id"]
    work(api, cid, "formal_check", "accept")
    approve_round(api, cid, ["birth_cert", "hukou_registration"])
    task = api.find_task("medins1", "medins_enrolment", cid)
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "medins1").status_code == 200
    data = task_data("medins_enrolment", "approve")
    del data["medins_premium_status"]
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "medins1", json={"data": data})
    assert r.status_code == 422
    assert "data.medins_premium_status" in r.get_json()["errors"]


# -- eligibility check (资格核验) before the formal check ------------------------------------------------

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("birth_date", "issues", "notes"), [
    ("2026-11-20", [], []),
    ("2026-10-26", [], []),  # exactly 30 days: still on time
    ("2026-10-01", [], ["逾期申报出生登记"]),
    ("2025-11-25", [], ["逾期申报出生登记"]),  # 365 days: still within the first year
    ("2025-11-24", ["已满一周岁"], []),
    ("2026-11-26", ["晚于今天"], []),
])
def test_eligibility_check_by_age(api, newborn, clock, birth_date, issues, notes):
    """The script task counts natural days from the birth date to the service centre's today."""
    clock.set_time(datetime(2026, 11, 25, 23, 30, tzinfo=SH))  # 15:30 UTC: the local date is the 25th
    case = start(api, newborn_birth_date=birth_date)
    assert open_tasks(case) == ["formal_check"]
    data = case["data"]
    assert data["eligible"] is (not issues)
    assert len(data["eligibility_issues"]) == len(issues)
    assert all(word in text for word, text in zip(issues, data["eligibility_issues"], strict=True))
    assert all(word in text for word, text in zip(notes, data["eligibility_notes"], strict=True))
    assert len(data["eligibility_notes"]) == len(notes)
    assert data["late_birth_registration"] is bool(notes)


def test_eligibility_flags_non_local_household_and_missing_consent(api, newborn, clock):
    """Both problems are listed at once (一次性告知); a supplement that fixes them clears the list."""
    clock.set_time(datetime(2026, 11, 25, 10, 0, tzinfo=SH))
    case = start(api, newborn_birth_date="2026-11-20", household_local=False, data_sharing_consent=False)
    issues = case["data"]["eligibility_issues"]
    assert len(issues) == 2
    assert "本市户籍" in issues[0] and "授权" in issues[1]
    cid = case["id"]
    work(api, cid, "formal_check", "supplement", missing_materials=["父母身份证", "户口簿"])
    case = work(api, cid, "supplement_materials", household_local=True, data_sharing_consent=True)
    assert open_tasks(case) == ["formal_check"]
    assert case["data"]["eligibility_issues"] == []
    assert case["data"]["eligible"] is True


def test_eligibility_issues_are_shown_read_only_to_the_window(api, newborn, clock):
    """The formal check's form shows the findings; the clerk's submission cannot overwrite them."""
    clock.set_time(datetime(2026, 11, 25, 10, 0, tzinfo=SH))
    cid = start(api, newborn_birth_date="2024-01-01")["id"]
    task = api.find_task("window1", "formal_check", cid)
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "window1").status_code == 200
    data = task_data("formal_check", "refuse", check_opinion="已满一周岁", eligibility_issues=[])
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "window1", json={"data": data})
    assert r.status_code in (200, 422), r.get_json()
    case = api.get(f"/api/v1/cases/{cid}", "supervisor").get_json()
    assert len(case["data"]["eligibility_issues"]) == 1


def test_a_completion_writes_nothing_before_its_final_flush(app, api, newborn):
    """All of a completion's writes come together at its end, right before the commit: SQLite has
    one write lock per database, held from the first write to the commit, so a write sent early
    (say before the new parallel tasks are projected) would make every other writer wait longer.
    (On PostgreSQL the answer's two reads come before the commit too; see below.)"""
    from sqlalchemy import event

    from app.extensions import db
    from app.services import config_cache

    case = start(api)
    item = api.find_task("window1", "formal_check", case["id"])
    assert api.post(f"/api/v1/tasks/{item['id']}/claim", "window1").status_code == 200
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def statement(conn, cursor, text, parameters, context, executemany):
        if text.lstrip()[:6].upper() != "SELECT":
            seen.append("write")
        elif "FROM audit_events" in text or "calendar_overrides" in text:
            seen.append("answer read")
        else:
            seen.append("read")

    def commit(conn):
        seen.append("commit")

    config_cache.clear()  # the overrides are read (not kept from the start of the case)
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        r = api.post(f"/api/v1/tasks/{item['id']}/complete", "window1",
                     json={"data": task_data("formal_check", "accept")})
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    assert r.status_code == 200, r.get_json()
    assert open_tasks(r.get_json()) == ["birth_cert", "birth_registration", "maternity_allowance"]
    first_write = seen.index("write")
    until_commit = seen[first_write:seen.index("commit")]
    # the task, the case, the audit events, three new tasks with their candidates, the KPI rollups
    assert until_commit.count("write") >= 5
    assert "read" not in until_commit, seen
    # The answer's reads: on PostgreSQL in the transaction (no second one for them), on SQLite
    # after the commit (not while the write lock is held).
    answer_reads = 2 if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else 0
    assert until_commit.count("answer read") == answer_reads, seen


def _statements_of(app, request):
    """Run ``request()``; return its response and the statements it sent, with "COMMIT" marks."""
    from sqlalchemy import event

    from app.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def statement(conn, cursor, text, parameters, context, executemany):
        seen.append(" ".join(text.split()))

    def commit(conn):
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        response = request()
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    return response, seen


def test_a_completion_reads_its_task_in_the_statement_that_locks_the_case(app, api, newborn):
    """One statement reads the task with its candidates and holder and the case with its state
    and process version (joined once), and (PostgreSQL) locks the case and the task, in that
    order. The current user's groups, read with the token, are not read again."""
    case = start(api)
    item = api.find_task("window1", "formal_check", case["id"])
    assert api.post(f"/api/v1/tasks/{item['id']}/claim", "window1").status_code == 200
    r, seen = _statements_of(app, lambda: api.post(f"/api/v1/tasks/{item['id']}/complete", "window1",
                                                   json={"data": task_data("formal_check", "accept")}))
    assert r.status_code == 200, r.get_json()
    token, locking = seen[0], seen[1]
    assert "FROM api_tokens" in token
    assert "FROM cases JOIN human_tasks" in locking and "cases.workflow_state" in locking, locking
    assert "task_candidates" in locking and "users" in locking
    assert locking.count("JOIN process_versions") == 1, locking
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert locking.endswith("FOR NO KEY UPDATE OF cases, human_tasks"), locking
    reads_of_cases = [s for s in seen[:seen.index("COMMIT")] if s.startswith("SELECT") and "FROM cases" in s
                      or "JOIN cases" in s]
    assert reads_of_cases == [locking]
    assert not any("group_memberships" in s for s in seen[1:]), seen


def test_a_completion_reads_the_case_tasks_once_for_its_projection_and_its_rollups(app, api, newborn):
    """The projection reads all of the case's tasks (not only the open ones), and the KPI rollups
    of the flush take the case's groups from that read instead of a statement of their own; the
    rollups still count the case for every group of its tasks (a rebuild from the facts agrees)."""
    from app.extensions import db
    from app.services import kpi_rollups

    case = start(api)
    item = api.find_task("window1", "formal_check", case["id"])
    assert api.post(f"/api/v1/tasks/{item['id']}/claim", "window1").status_code == 200
    r, seen = _statements_of(app, lambda: api.post(f"/api/v1/tasks/{item['id']}/complete", "window1",
                                                   json={"data": task_data("formal_check", "accept")}))
    assert r.status_code == 200, r.get_json()
    until_commit = seen[:seen.index("COMMIT")]
    task_reads = [s for s in until_commit if s.startswith("SELECT") and "FROM human_tasks" in s]
    assert len(task_reads) == 1, task_reads
    assert "human_tasks.state IN" not in task_reads[0], task_reads[0]
    with app.app_context():
        kept = [sorted(map(tuple, db.session.execute(db.text(f"SELECT * FROM {table}")).all()))
                for table in ("kpi_case_days", "kpi_group_case_days", "kpi_task_days")]
        assert any(row for row in kept[1])
        kpi_rollups.rebuild(db.session)
        db.session.commit()
        again = [sorted(map(tuple, db.session.execute(db.text(f"SELECT * FROM {table}")).all()))
                 for table in ("kpi_case_days", "kpi_group_case_days", "kpi_task_days")]
    strip = lambda rows: [r for r in rows if any(v for v in r[4:] if isinstance(v, int))]  # noqa: E731
    assert [strip(t) for t in again] == [strip(t) for t in kept]


def test_a_completion_answers_with_the_open_tasks_its_projection_left(app, api, newborn):
    """The answer's open tasks come from the projection the completion just made (not read again
    after the commit), and they are the tasks the case has."""
    case = start(api)
    item = api.find_task("window1", "formal_check", case["id"])
    assert api.post(f"/api/v1/tasks/{item['id']}/claim", "window1").status_code == 200
    r, seen = _statements_of(app, lambda: api.post(f"/api/v1/tasks/{item['id']}/complete", "window1",
                                                   json={"data": task_data("formal_check", "accept")}))
    assert r.status_code == 200, r.get_json()
    after_commit = seen[seen.index("COMMIT") + 1:]
    assert not any("FROM human_tasks" in s for s in after_commit), after_commit
    answered = r.get_json()["tasks"]
    assert [t["bpmn_id"] for t in answered] == ["birth_cert", "birth_registration", "maternity_allowance"]
    stored = api.get(f"/api/v1/cases/{case['id']}", "supervisor").get_json()["tasks"]
    assert answered == stored
    # a claim made since shows in the next answer (that request reads them: it projected nothing)
    birth_cert = next(t for t in answered if t["bpmn_id"] == "birth_cert")
    claimer = WORKER["birth_cert"]
    assert api.post(f"/api/v1/tasks/{birth_cert['id']}/claim", claimer).status_code == 200
    again = api.get(f"/api/v1/cases/{case['id']}", "supervisor").get_json()["tasks"]
    assert next(t for t in again if t["bpmn_id"] == "birth_cert")["assignee"] == claimer


def test_the_projected_open_tasks_are_forgotten_when_the_unit_of_work_rolls_back(app, api, newborn):
    """A unit of work that projected a case and then rolled back (a retry, a failure after the
    projection) must not leave its rows as the case's open tasks."""
    from app import transaction
    from app.extensions import db
    from app.models import Case, User
    from app.services import cases as case_service
    from app.services.projection import live_after_sync

    cid = start(api)["id"]
    with app.test_request_context("/"):
        user = db.session.scalar(db.select(User).where(User.username == "window1"))
        case = db.session.get(Case, cid)
        before = [t.bpmn_id for t in case_service.open_tasks(case)]
        assert before == ["formal_check"]

        def project_then_fail():
            locked = case_service.lock_case(cid)
            workflow = case_service.load_workflow(locked)
            case_service.save_workflow(locked, workflow, user)
            assert live_after_sync(locked) is not None
            raise RuntimeError("after the projection")

        with pytest.raises(RuntimeError):
            transaction.run(project_then_fail)
        assert live_after_sync(db.session.get(Case, cid)) is None
        assert [t.bpmn_id for t in case_service.open_tasks(db.session.get(Case, cid))] == ["formal_check"]
        db.session.remove()


def test_a_transition_reads_its_answer_in_its_own_transaction_on_postgresql(app, api, newborn):
    """On PostgreSQL a completion reads its answer's history and the calendar overrides (for the
    warnings) before its commit, so nothing is read, and no second transaction is opened, after
    it; the history still ends with this completion. On SQLite (no round trips to save, and the
    write lock held until the commit) they are read after the commit. (The overrides are kept in
    memory between requests, see test_config_cache.py; forgotten here, so that they are read.)"""
    from app.services import config_cache

    case = start(api)
    item = api.find_task("window1", "formal_check", case["id"])
    assert api.post(f"/api/v1/tasks/{item['id']}/claim", "window1").status_code == 200
    config_cache.clear()
    r, seen = _statements_of(app, lambda: api.post(f"/api/v1/tasks/{item['id']}/complete", "window1",
                                                   json={"data": task_data("formal_check", "accept")}))
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert [e["type"] for e in answer["history"]][-2:] == ["task_claimed", "task_completed"], answer["history"]
    assert answer["history"] == api.get(f"/api/v1/cases/{case['id']}", "supervisor").get_json()["history"]
    assert answer["warning"] in ("none", "yellow", "red")
    first_commit = seen.index("COMMIT")
    history_reads = [i for i, s in enumerate(seen) if s.startswith("SELECT") and "FROM audit_events" in s]
    calendar_reads = [i for i, s in enumerate(seen) if "calendar_overrides" in s]
    assert len(history_reads) == 1 and len(calendar_reads) == 1, seen
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert seen[first_commit + 1:] == [], seen[first_commit + 1:]
        assert history_reads[0] < first_commit and calendar_reads[0] < first_commit
    else:
        assert history_reads[0] > first_commit and calendar_reads[0] > first_commit


def test_the_answer_read_before_the_commit_is_forgotten_when_the_unit_of_work_rolls_back(app, api, newborn):
    """A unit of work that read its answer and then rolled back (a retry) must not answer with
    that history."""
    from app import transaction
    from app.extensions import db
    from app.models import AuditEvent, Case, User
    from app.services import audit
    from app.services import cases as case_service

    cid = start(api)["id"]
    with app.test_request_context("/"):
        user = db.session.scalar(db.select(User).where(User.username == "window1"))

        def note_then_fail():
            case = case_service.lock_case(cid)
            audit.record(case, "case_viewed", user)
            return case

        def fail(case):
            case_service.read_answer(case)
            raise RuntimeError("before the commit")

        with pytest.raises(RuntimeError):
            transaction.run(note_then_fail, before_commit=fail)
        case = db.session.get(Case, cid)
        assert "case_viewed" not in [e.event_type for e in case_service.history(case)]
        assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).where(
            AuditEvent.case_id == cid, AuditEvent.event_type == "case_viewed")) == 0
        db.session.remove()


def test_a_claim_records_its_audit_event_in_the_claiming_statement_on_postgresql(app, api, newborn):
    """The claim's audit event is the same on both databases; on PostgreSQL the UPDATE that claims
    the task writes it too (a data-modifying WITH), so a claim is three statements: the token,
    the task, the claim."""
    case = start(api)
    item = api.find_task("window1", "formal_check", case["id"])
    r, seen = _statements_of(app, lambda: api.post(f"/api/v1/tasks/{item['id']}/claim", "window1"))
    assert r.status_code == 200 and r.get_json()["state"] == "claimed", r.get_json()
    before_commit = seen[:seen.index("COMMIT")]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert len(before_commit) == 3, before_commit
        assert before_commit[2].startswith("WITH claimed AS (UPDATE human_tasks") and "INSERT INTO audit_events" in \
            before_commit[2]
    else:
        assert [s.split()[0] for s in before_commit[2:]] == ["UPDATE", "INSERT"], before_commit
    # a second claim by the holder changes nothing and records nothing
    assert api.post(f"/api/v1/tasks/{item['id']}/claim", "window1").status_code == 200
    history = api.get(f"/api/v1/cases/{case['id']}", "supervisor").get_json()["history"]
    claims = [e for e in history if e["type"] == "task_claimed"]
    assert len(claims) == 1
    event = claims[0]
    assert (event["actor"], event["task_id"], event["task_name"], event["data"]) == (
        "window1", item["id"], item["name"], None)
    claimed_at = datetime.fromisoformat(r.get_json()["claimed_at"])
    assert abs((datetime.fromisoformat(event["at"]) - claimed_at).total_seconds()) < 1


def test_a_completion_writes_its_kpi_rollups_in_one_statement_on_postgresql(app, api, newborn):
    """The formal check makes three department tasks (new groups for the case) and completes a
    task: the rollups of the case's groups and of the completed task. On PostgreSQL one statement
    writes both tables; on SQLite each table has its own."""
    case = start(api)
    item = api.find_task("window1", "formal_check", case["id"])
    assert api.post(f"/api/v1/tasks/{item['id']}/claim", "window1").status_code == 200
    r, seen = _statements_of(app, lambda: api.post(f"/api/v1/tasks/{item['id']}/complete", "window1",
                                                   json={"data": task_data("formal_check", "accept")}))
    assert r.status_code == 200, r.get_json()
    rollups = [s for s in seen if "INSERT INTO kpi_" in s]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert len(rollups) == 1, rollups
        assert "INSERT INTO kpi_group_case_days" in rollups[0] and "INSERT INTO kpi_task_days" in rollups[0]
    else:
        assert [s.split()[2] for s in rollups] == ["kpi_group_case_days", "kpi_task_days"], rollups
    kpis = api.get("/api/v1/kpis", "supervisor").get_json()
    assert kpis, kpis
