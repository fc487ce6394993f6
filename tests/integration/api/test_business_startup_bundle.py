"""企业开办一件事 end to end with the demo users: standard registration at the window, the
non-standard path through the registration authority (refused), and the 补正 loop."""

from __future__ import annotations

from support import ROOT

BPMN = ROOT / "bpmn" / "business_startup.bpmn"
FORMS = sorted((ROOT / "forms").glob("business_startup_*.json"))
APPLICATION = {
    "company_name": "长治市示范餐饮管理有限公司", "company_type": "llc", "registered_capital": 50,
    "business_address": "长治市潞州区英雄中路1号", "legal_representative": "王小明", "standard_articles": True,
    "seal_count": 4, "need_invoices": True, "employee_count": 5, "bank": "中国工商银行", "delivery": "window",
}
USCC = "91140400MA0L0XXX1T"
DEPARTMENTS = [
    ("police1", "seal_filing", {"seal_done": True, "seal_opinion": "已备案", "seal_filing_no": "YZ2026-001"}),
    ("tax1", "new_taxpayer", {"tax_done": True, "tax_opinion": "已核定", "invoice_types": ["数电普票"],
                              "ukey_issued": True}),
    ("hrss1", "social_insurance", {"social_done": True, "social_opinion": "已登记", "social_unit_no": "SB001"}),
    ("medins1", "medical_insurance", {"medical_done": True, "medical_opinion": "已登记"}),
    ("fund1", "housing_fund", {"fund_done": True, "fund_opinion": "已登记", "fund_account_no": "GJJ001"}),
]


def _start(api, **changes):
    assert api.deploy(BPMN, *FORMS).status_code == 201
    r = api.start("business_startup", {**APPLICATION, **changes})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _waiting(api, case_id):
    return sorted(t["bpmn_id"] for t in api.get(f"/api/v1/cases/{case_id}", "window1").get_json()["tasks"])


def test_standard_startup_is_registered_at_the_window_and_handed_over_at_once(api):
    case = _start(api)
    api.do("window1", "formal_check", {"check_decision": "accept", "check_opinion": "材料齐全"}, case["id"])
    assert _waiting(api, case["id"]) == ["window_registration"]  # on the spot, no back office
    api.do("window1", "window_registration", {"registration_decision": "approve", "uscc": USCC,
                                              "registration_opinion": "标准化登记"}, case["id"])
    assert _waiting(api, case["id"]) == ["housing_fund", "medical_insurance", "new_taxpayer", "seal_filing",
                                         "social_insurance"]
    for user, task, data in DEPARTMENTS:
        api.do(user, task, data, case["id"])
    done = api.do("window1", "handover", {"handover_method": "window",
                                          "handed_over_items": ["营业执照", "印章4枚", "税务UKey"]}, case["id"])
    assert (done["status"], done["outcome"]) == ("completed", "办结")
    data = done["data"]
    assert (data["uscc"], data["seal_filing_no"], data["fund_account_no"]) == (USCC, "YZ2026-001", "GJJ001")
    completed = [e["task_name"] for e in done["history"] if e["type"] == "task_completed"]
    assert completed[:2] == ["形式审查/受理", "窗口即时登记"] and completed[-1] == "统一出件"
    assert len(completed) == 8


def test_non_standard_startup_goes_to_the_registration_authority_which_may_refuse(api):
    case = _start(api, standard_articles=False)
    api.do("window1", "formal_check", {"check_decision": "accept", "check_opinion": "受理"}, case["id"])
    assert _waiting(api, case["id"]) == ["registration_review"]
    task = api.find_task("market1", "registration_review", case["id"])
    assert task["due_at"] is not None
    done = api.do("market1", "registration_review", {"registration_decision": "reject",
                                                     "registration_opinion": "经营范围含前置许可事项"}, case["id"])
    assert (done["status"], done["outcome"], done["tasks"]) == ("completed", "不予登记", [])


def test_supplement_loop_returns_to_the_formal_check(api):
    case = _start(api)
    api.do("window1", "formal_check", {"check_decision": "supplement", "missing_materials": ["住所使用证明"],
                                       "check_opinion": "缺住所使用证明"}, case["id"])
    assert _waiting(api, case["id"]) == ["supplement_materials"]
    api.do("window1", "supplement_materials", {"supplied_materials": ["住所承诺书"]}, case["id"])
    assert _waiting(api, case["id"]) == ["formal_check"]
    refused = api.do("window1", "formal_check", {"check_decision": "refuse", "check_opinion": "不属于受理范围"},
                     case["id"])
    assert (refused["status"], refused["outcome"]) == ("completed", "不予受理")
