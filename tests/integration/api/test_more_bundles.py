"""企业信息变更, 退休 and 灵活就业 bundles end to end with the demo users (happy path and an
alternative path each); the retirement public notice runs on the working-day calendar."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from support import ROOT

SH = ZoneInfo("Asia/Shanghai")
ACCEPT = {"check_decision": "accept", "check_opinion": "材料齐全，予以受理"}


def _deploy(api, key):
    path = ROOT / "bpmn" / f"{key}.bpmn"
    content = path.read_bytes()
    forms = [f for f in sorted((ROOT / "forms").glob("*.json")) if f.name.encode() in content]
    r = api.deploy(path, *forms)
    assert r.status_code == 201, r.get_json()


def _start(api, key, data):
    _deploy(api, key)
    r = api.start(key, data)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _waiting(api, case_id):
    return sorted(t["bpmn_id"] for t in api.get(f"/api/v1/cases/{case_id}", "window1").get_json()["tasks"])


def _done(prefix, **extra):
    return {f"{prefix}_done": True, f"{prefix}_opinion": "已办结", **extra}


# -- 企业信息变更一件事 ---------------------------------------------------------------------------

CHANGE = {"company_name": "长治市示范餐饮管理有限公司", "uscc": "91140400MA0L0XXX1T", "change_types": ["名称"],
          "new_company_name": "长治市上党餐饮管理有限公司", "sync_tax": True, "sync_social": False,
          "sync_medical": False, "sync_fund": True, "new_seal": True, "licence_change": False}


def test_enterprise_change_runs_only_the_ticked_linked_changes(api):
    case_id = _start(api, "enterprise_change", CHANGE)
    api.do("window1", "formal_check", ACCEPT, case_id)
    api.do("market1", "change_registration", {"change_decision": "approve", "change_opinion": "准予变更"}, case_id)
    assert _waiting(api, case_id) == ["fund_sync", "new_seal", "tax_sync"]  # the inclusive gateway's ticks
    api.do("tax1", "tax_sync", _done("tax_sync"), case_id)
    api.do("fund1", "fund_sync", _done("fund_sync"), case_id)
    assert _waiting(api, case_id) == ["new_seal"]  # the join waits for every ticked branch
    api.do("police1", "new_seal", _done("new_seal", new_seal_filing_no="YZ2026-009"), case_id)
    done = api.do("window1", "handover", {"handover_method": "online", "handed_over_items": ["电子营业执照"]}, case_id)
    assert (done["status"], done["outcome"]) == ("completed", "办结")
    assert done["data"]["new_seal_filing_no"] == "YZ2026-009"


def test_enterprise_change_ticked_customs_filing_goes_to_customs(api):
    """An importer ticks the customs filing: customs updates it alongside tax; others are not involved."""
    case_id = _start(api, "enterprise_change", {**CHANGE, "sync_fund": False, "new_seal": False, "sync_customs": True})
    api.do("window1", "formal_check", ACCEPT, case_id)
    api.do("market1", "change_registration", {"change_decision": "approve", "change_opinion": "准予变更"}, case_id)
    assert _waiting(api, case_id) == ["customs_sync", "tax_sync"]
    assert [t["group"] for t in api.available("customs1") if t["case_id"] == case_id] == ["customs"]
    api.do("customs1", "customs_sync", _done("customs_sync"), case_id)
    api.do("tax1", "tax_sync", _done("tax_sync"), case_id)
    done = api.do("window1", "handover", {"handover_method": "online", "handed_over_items": ["电子营业执照"]}, case_id)
    assert (done["status"], done["outcome"]) == ("completed", "办结")
    assert done["data"]["customs_sync_done"] is True


def test_enterprise_change_without_ticks_goes_straight_to_handover(api):
    case_id = _start(api, "enterprise_change", {**CHANGE, "sync_tax": False, "sync_fund": False, "new_seal": False})
    api.do("window1", "formal_check", ACCEPT, case_id)
    api.do("market1", "change_registration", {"change_decision": "approve", "change_opinion": "准予变更"}, case_id)
    assert _waiting(api, case_id) == ["handover"]


def test_enterprise_change_refused_registration_ends_the_case(api):
    case_id = _start(api, "enterprise_change", CHANGE)
    api.do("window1", "formal_check", ACCEPT, case_id)
    done = api.do("market1", "change_registration", {"change_decision": "reject", "change_opinion": "名称重复"},
                  case_id)
    assert (done["status"], done["outcome"], done["tasks"]) == ("completed", "不予变更登记", [])


# -- 退休一件事 ------------------------------------------------------------------------------------

RETIREE = {"retiree_name": "李师傅", "retiree_id_number": "140402196511201234", "applicant_kind": "employer",
           "contribution_years": 32, "needs_archive_review": True, "fund_withdrawal": True,
           "bank_card": "6222020200112233445"}


def test_retirement_with_archive_review_waits_five_working_days_of_public_notice(api, app, clock):
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))  # Monday
    case_id = _start(api, "retirement", RETIREE)
    api.do("window1", "formal_check", ACCEPT, case_id)
    api.do("hrss1", "archive_review", {"archive_decision": "approve", "archive_opinion": "档案审核通过"}, case_id)
    assert _waiting(api, case_id) == []  # the public notice runs
    clock.set_time(datetime(2026, 11, 30, 12, 0, tzinfo=SH))  # five working days end Monday 24:00
    app.test_cli_runner().invoke(args=["worker", "--once"])
    assert _waiting(api, case_id) == []
    clock.set_time(datetime(2026, 12, 1, 8, 0, tzinfo=SH))
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert "fired 1 timer" in result.output
    assert _waiting(api, case_id) == ["entitlement"]
    api.do("hrss1", "entitlement", {"pension_decision": "approve", "pension_opinion": "核定", "monthly_pension": 4200,
                                    "pension_start": "2027-01-01"}, case_id)
    assert _waiting(api, case_id) == ["fund_seal", "medical_switch"]
    api.do("medins1", "medical_switch", _done("medical_switch"), case_id)
    api.do("fund1", "fund_seal", _done("fund_seal"), case_id)
    assert _waiting(api, case_id) == ["fund_withdrawal"]  # sealed first, then withdrawn
    api.do("fund1", "fund_withdrawal", _done("fund_withdrawal", withdrawn_amount=86000), case_id)
    done = api.do("window1", "handover", {"handover_method": "window", "handed_over_items": ["待遇核定通知"]}, case_id)
    assert (done["status"], done["data"]["monthly_pension"]) == ("completed", 4200)


def test_retirement_archive_rejection_ends_without_entitlement(api):
    case_id = _start(api, "retirement", RETIREE)
    api.do("window1", "formal_check", ACCEPT, case_id)
    done = api.do("hrss1", "archive_review", {"archive_decision": "reject", "archive_opinion": "档案出生时间不一致"},
                  case_id)
    assert (done["status"], done["outcome"]) == ("completed", "不予核定")


# -- 灵活就业一件事 --------------------------------------------------------------------------------

WORKER = {"worker_name": "赵小红", "worker_id_number": "140402199203151234", "pension_level": "60",
          "join_fund": False, "hard_to_employ": True, "bank_card": "6222020200112233445"}


def test_flexible_employment_enrols_in_parallel_then_signs_the_payment_agreement(api):
    case_id = _start(api, "flexible_employment", WORKER)
    api.do("window1", "formal_check", ACCEPT, case_id)
    api.do("hrss1", "employment_registration", _done("employment_registration"), case_id)
    assert _waiting(api, case_id) == ["medical_enrolment", "pension_enrolment"]  # no voluntary fund
    api.do("hrss1", "pension_enrolment", _done("pension_enrol"), case_id)
    api.do("medins1", "medical_enrolment", _done("medical_enrol"), case_id)
    api.do("tax1", "payment_agreement", _done("payment_agreement"), case_id)
    assert _waiting(api, case_id) == ["subsidy"]
    done = api.do("hrss1", "subsidy", {"subsidy_decision": "approve", "subsidy_opinion": "认定为就业困难人员",
                                       "subsidy_monthly": 300}, case_id)
    assert (done["status"], done["outcome"]) == ("completed", "办结")


def test_flexible_employment_supplement_then_refusal(api):
    case_id = _start(api, "flexible_employment", {**WORKER, "join_fund": True})
    api.do("window1", "formal_check", {"check_decision": "supplement", "missing_materials": ["居住证"],
                                       "check_opinion": "缺居住证"}, case_id)
    api.do("window1", "supplement_materials", {"supplied_materials": ["居住证"]}, case_id)
    done = api.do("window1", "formal_check", {"check_decision": "refuse", "check_opinion": "已在单位参保"}, case_id)
    assert (done["status"], done["outcome"]) == ("completed", "不予受理")


# -- 企业注销一件事 --------------------------------------------------------------------------------

DEREG = {"company_name": "长治市示范餐饮管理有限公司", "uscc": "91140400MA0L0XXX1T", "path": "simple",
         "all_investors_pledge": True, "reason": "经营期满"}


def _cancel_all(api, case_id):
    assert _waiting(api, case_id) == ["deregistration", "seal_cancel", "social_cancel"]
    api.do("market1", "deregistration", {"deregistration_decision": "approve", "deregistration_opinion": "准予注销"},
           case_id)
    api.do("hrss1", "social_cancel", _done("social_cancel"), case_id)
    api.do("police1", "seal_cancel", _done("seal_cancel"), case_id)
    return api.do("window1", "handover", {"handover_method": "window", "handed_over_items": ["准予注销登记通知书"]},
                  case_id)


def test_simple_deregistration_waits_twenty_calendar_days(api, app, clock):
    clock.set_time(datetime(2026, 9, 25, 10, 0, tzinfo=SH))  # the notice runs through the National Day holiday
    case_id = _start(api, "enterprise_deregistration", DEREG)
    api.do("window1", "formal_check", ACCEPT, case_id)
    assert _waiting(api, case_id) == ["objection_window"]
    clock.set_time(datetime(2026, 10, 15, 9, 0, tzinfo=SH))  # 19 days 23 hours: not yet
    assert "fired" not in app.test_cli_runner().invoke(args=["worker", "--once"]).output
    clock.set_time(datetime(2026, 10, 15, 10, 0, 1, tzinfo=SH))  # 20 natural days, holidays included
    assert "fired 1 timer" in app.test_cli_runner().invoke(args=["worker", "--once"]).output
    done = _cancel_all(api, case_id)
    assert (done["status"], done["outcome"]) == ("completed", "办结")


def test_a_customs_registered_company_also_cancels_its_customs_filing(api, app, clock):
    """customs_filing adds 报关单位备案注销 to the parallel cancellations; the hand-over waits for it."""
    clock.set_time(datetime(2026, 11, 2, 10, 0, tzinfo=SH))
    case_id = _start(api, "enterprise_deregistration", {**DEREG, "customs_filing": True})
    api.do("window1", "formal_check", ACCEPT, case_id)
    clock.set_time(datetime(2026, 11, 22, 10, 0, 1, tzinfo=SH))
    assert "fired 1 timer" in app.test_cli_runner().invoke(args=["worker", "--once"]).output
    assert _waiting(api, case_id) == ["customs_cancel", "deregistration", "seal_cancel", "social_cancel"]
    api.do("market1", "deregistration", {"deregistration_decision": "approve", "deregistration_opinion": "准予注销"},
           case_id)
    api.do("hrss1", "social_cancel", _done("social_cancel"), case_id)
    api.do("police1", "seal_cancel", _done("seal_cancel"), case_id)
    assert _waiting(api, case_id) == ["customs_cancel"]
    api.do("customs1", "customs_cancel", _done("customs_cancel"), case_id)
    done = api.do("window1", "handover", {"handover_method": "window", "handed_over_items": ["准予注销登记通知书"]},
                  case_id)
    assert (done["status"], done["outcome"]) == ("completed", "办结")


def test_an_objection_switches_to_general_deregistration_with_a_45_day_creditor_notice(api, app, clock):
    clock.set_time(datetime(2026, 11, 2, 10, 0, tzinfo=SH))
    case_id = _start(api, "enterprise_deregistration", DEREG)
    api.do("window1", "formal_check", ACCEPT, case_id)
    api.do("window1", "objection_window", {"objection_party": "某供应商", "objection_reason": "尚有货款未结清"},
           case_id)
    assert _waiting(api, case_id) == ["liquidation_filing"]
    api.do("window1", "liquidation_filing", {"liquidation_leader": "王小明", "liquidation_filed_on": "2026-11-02"},
           case_id)
    clock.set_time(datetime(2026, 12, 17, 10, 0, 1, tzinfo=SH))  # 45 days later
    assert "fired 1 timer" in app.test_cli_runner().invoke(args=["worker", "--once"]).output
    assert _waiting(api, case_id) == ["tax_clearance"]
    api.do("tax1", "tax_clearance", {"tax_clearance_decision": "approve", "tax_clearance_opinion": "清税完毕"}, case_id)
    done = _cancel_all(api, case_id)
    assert done["status"] == "completed"
    history = [e["type"] for e in done["history"]]
    assert history.count("timer_fired") == 1


def test_general_deregistration_stops_when_taxes_are_not_cleared(api, app, clock):
    clock.set_time(datetime(2026, 11, 2, 10, 0, tzinfo=SH))
    case_id = _start(api, "enterprise_deregistration", {**DEREG, "path": "general"})
    api.do("window1", "formal_check", ACCEPT, case_id)
    api.do("window1", "liquidation_filing", {"liquidation_leader": "王小明", "liquidation_filed_on": "2026-11-02"},
           case_id)
    clock.set_time(datetime(2026, 12, 18, 10, 0, tzinfo=SH))
    app.test_cli_runner().invoke(args=["worker", "--once"])
    done = api.do("tax1", "tax_clearance", {"tax_clearance_decision": "reject", "tax_clearance_opinion": "有欠税"},
                  case_id)
    assert (done["status"], done["outcome"]) == ("completed", "未清税")


# -- 开办餐饮店一件事 -----------------------------------------------------------------------------

SHOP = {"shop_name": "长治市上党小吃店", "uscc": "91140400MA0L0XXX1T", "address": "长治市潞州区太行东街9号",
        "area_m2": 36, "seats": 12, "food_categories": ["热食类"], "signboard": "none", "fire_pledge": True,
        "staff_count": 3}


def _inspect_day(api, app, clock, case_id, when):
    api.do("window1", "schedule", {"inspection_at": when.isoformat(), "inspection_note": "一同勘验"}, case_id)
    assert _waiting(api, case_id) == []
    clock.set_time(when + timedelta(seconds=1))
    assert "fired 1 timer" in app.test_cli_runner().invoke(args=["worker", "--once"]).output


def test_a_small_shop_without_a_signboard_needs_no_fire_or_signboard_steps(api, app, clock):
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    case_id = _start(api, "restaurant_opening", SHOP)
    api.do("window1", "formal_check", ACCEPT, case_id)
    assert _waiting(api, case_id) == ["food_review", "health_check"]
    api.do("market1", "food_review", _done("food_review"), case_id)
    api.do("health1", "health_check", _done("health_check"), case_id)
    _inspect_day(api, app, clock, case_id, datetime(2026, 11, 25, 9, 30, tzinfo=SH))
    assert _waiting(api, case_id) == ["food_inspection"]
    api.do("market1", "food_inspection", {"food_inspection_decision": "approve", "food_inspection_opinion": "符合",
                                          "food_licence_no": "JY11404000000001"}, case_id)
    done = api.do("window1", "handover", {"handover_method": "window", "handed_over_items": ["食品经营许可证"]},
                  case_id)
    assert (done["status"], done["outcome"]) == ("completed", "办结")


def test_a_large_shop_is_inspected_jointly_and_refused_when_fire_safety_fails(api, app, clock):
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    case_id = _start(api, "restaurant_opening", {**SHOP, "area_m2": 180, "signboard": "large"})
    api.do("window1", "formal_check", ACCEPT, case_id)
    assert _waiting(api, case_id) == ["fire_review", "food_review", "health_check", "signboard_review"]
    api.do("market1", "food_review", _done("food_review"), case_id)
    api.do("health1", "health_check", _done("health_check"), case_id)
    api.do("fire_rescue1", "fire_review", _done("fire_review"), case_id)
    api.do("urban_management1", "signboard_review", _done("signboard_review"), case_id)
    _inspect_day(api, app, clock, case_id, datetime(2026, 11, 26, 14, 0, tzinfo=SH))
    assert _waiting(api, case_id) == ["fire_inspection", "food_inspection", "signboard_inspection"]
    api.do("market1", "food_inspection", {"food_inspection_decision": "approve", "food_inspection_opinion": "符合"},
           case_id)
    api.do("urban_management1", "signboard_inspection", {"signboard_inspection_decision": "approve",
                                                          "signboard_inspection_opinion": "符合"}, case_id)
    done = api.do("fire_rescue1", "fire_inspection", {"fire_inspection_decision": "reject",
                                                      "fire_inspection_opinion": "疏散通道堵塞"}, case_id)
    assert (done["status"], done["outcome"]) == ("completed", "不予许可")


def test_a_shop_applying_for_tobacco_retail_gets_the_tobacco_review_and_a_refusal_does_not_block_it(api, app, clock):
    """The tobacco licence is an optional sub-item: reviewed in parallel; refused, the shop still opens."""
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    case_id = _start(api, "restaurant_opening", {**SHOP, "tobacco_retail": True})
    api.do("window1", "formal_check", ACCEPT, case_id)
    assert _waiting(api, case_id) == ["food_review", "health_check", "tobacco_review"]
    assert [t["group"] for t in api.available("tobacco1") if t["case_id"] == case_id] == ["tobacco"]
    api.do("market1", "food_review", _done("food_review"), case_id)
    api.do("health1", "health_check", _done("health_check"), case_id)
    assert _waiting(api, case_id) == ["tobacco_review"]  # the joint inspection waits for every review
    api.do("tobacco1", "tobacco_review", {"tobacco_decision": "reject", "tobacco_opinion": "距离学校不足50米"},
           case_id)
    _inspect_day(api, app, clock, case_id, datetime(2026, 11, 25, 9, 30, tzinfo=SH))
    api.do("market1", "food_inspection", {"food_inspection_decision": "approve", "food_inspection_opinion": "符合"},
           case_id)
    done = api.do("window1", "handover", {"handover_method": "window", "handed_over_items": ["食品经营许可证"]},
                  case_id)
    assert (done["status"], done["outcome"]) == ("completed", "办结")
    assert done["data"]["tobacco_decision"] == "reject"
