"""督办, 预警函 with 整改报告, 重大行政执法决定法制审核 and 企业诉求三张清单 (issue 7): each is started
by the people allowed to, and walks its own small lifecycle through the inboxes of the groups involved."""

from __future__ import annotations

import pytest

from support import ROOT

KEYS = ("supervision_notice", "warning_letter", "legality_review", "enterprise_demand")


@pytest.fixture()
def deployed(api):
    for key in KEYS:
        path = ROOT / "bpmn" / f"{key}.bpmn"
        forms = [f for f in sorted((ROOT / "forms").glob("*.json")) if f.name.encode() in path.read_bytes()]
        r = api.deploy(path, *forms)
        assert r.status_code == 201, r.get_json()
    return api


def start(api, kind, user, data, status=201):
    r = api.post(f"/api/v1/oversight/{kind}", user, json={"data": data})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def open_ids(case):
    return [(t["bpmn_id"], t["group"]) for t in case["tasks"]]


def test_supervision_notice_is_answered_returned_and_closed(deployed):
    api = deployed
    case = start(api, "supervision", "supervisor", {
        "unit": "health", "subject_receipt_no": "CZ20261126000001", "reason": "新生儿出生一件事超期2个工作日",
        "requirement": "3个工作日内办结并说明原因", "due_date": "2026-12-01"})
    assert open_ids(case) == [("respond", "health")]
    cid = case["id"]
    api.do("health1", "respond", {"response_measures": "已安排专人", "response_result": "已办结"}, cid)
    api.do("supervisor", "verify", {"verify_decision": "return", "verify_note": "未说明超期原因"}, cid)
    api.do("health1", "respond", {"response_measures": "补充说明", "response_result": "系统故障导致超期，已修复"}, cid)
    done = api.do("supervisor", "verify", {"verify_decision": "accept"}, cid)
    assert done["outcome"] == "督办办结"


def test_warning_letter_needs_a_leader_then_the_unit_reports(deployed):
    api = deployed
    letter = {"unit": "market_regulation", "title": "关于企业开办办理迟缓的预警函", "facts": "11月超期12件",
              "requirement": "查找原因，10个工作日内提交整改报告", "report_required": True}
    case = start(api, "warning-letter", "supervisor", letter)
    assert open_ids(case) == [("approve", "leaders")]
    cid = case["id"]
    api.do("leader1", "approve", {"approval_decision": "approve", "approval_note": "同意"}, cid)
    api.do("market1", "acknowledge", {"acknowledged_by": "张科长"}, cid)
    report = {"report_cause": "人员不足", "report_measures": "增派人员", "report_result": "已清零"}
    api.do("market1", "report", report, cid)
    api.do("supervisor", "review", {"review_decision": "return", "review_note": "缺长效机制"}, cid)
    case = api.do("market1", "report", {"report_cause": "人员不足", "report_measures": "增派人员",
                                         "report_result": "已清零", "report_mechanism": "每日调度"}, cid)
    done = api.do("supervisor", "review", {"review_decision": "accept"}, cid)
    assert done["outcome"] == "预警函办结"
    refused = start(api, "warning-letter", "supervisor", {**letter, "report_required": False})
    assert api.do("leader1", "approve", {"approval_decision": "reject"}, refused["id"])["outcome"] == "不予签发"


def test_legality_review_agrees_only_after_revision_and_an_advisers_opinion(deployed):
    api = deployed
    decision = {"unit": "market_regulation", "title": "吊销某公司食品经营许可证", "category": "major_rights",
                "facts": "多次抽检不合格", "draft_decision": "拟吊销许可证",
                "legal_basis": "《食品安全法》第一百二十四条"}
    assert start(api, "legality-review", "health1", decision, status=403)  # not the deciding unit
    case = start(api, "legality-review", "market1", decision)
    cid = case["id"]
    assert open_ids(case) == [("legal_review", "legal_affairs")]
    case = api.do("legal1", "legal_review", {"legal_decision": "ask_adviser", "legal_opinion": "请出具意见"}, cid)
    assert open_ids(case) == [("adviser", "legal_adviser")]
    api.do("adviser1", "adviser", {"adviser_opinion": "事实清楚，但告知程序需补正"}, cid)
    api.do("legal1", "legal_review", {"legal_decision": "revise", "legal_opinion": "补充听证告知"}, cid)
    case = api.do("market1", "revise", {"draft_decision": "拟吊销（已告知听证权利）", "revision_note": "已补充"}, cid)
    assert open_ids(case) == [("legal_review", "legal_affairs")]
    case = api.do("legal1", "legal_review", {"legal_decision": "agree", "legal_opinion": "同意"}, cid)
    assert open_ids(case) == [("issue", "market_regulation")]
    done = api.do("market1", "issue", {"decision_no": "长市监罚〔2026〕12号", "decision_date": "2026-11-30"}, cid)
    assert done["outcome"] == "审核通过并作出决定"
    steps = [e["task_name"] for e in done["history"] if e["type"] == "task_completed"]
    assert steps.index("作出决定") > steps.index("法制审核")


def test_a_disagreed_decision_is_never_issued(deployed):
    api = deployed
    case = start(api, "legality-review", "market1", {
        "unit": "market_regulation", "title": "责令停业", "category": "public_interest", "facts": "x",
        "draft_decision": "责令停业整顿", "legal_basis": "无"})
    done = api.do("legal1", "legal_review", {"legal_decision": "disagree", "legal_opinion": "缺乏法律依据"}, case["id"])
    assert (done["status"], done["outcome"], done["tasks"]) == ("completed", "审核不同意", [])


def test_enterprise_demand_moves_through_the_three_lists(deployed):
    api = deployed
    case = start(api, "enterprise-demand", "bizenv1", {"enterprise_name": "长治市示范科技有限公司", "source": "forum",
                                                      "demand": "厂区门前道路破损影响货车通行"})
    cid = case["id"]
    api.do("bizenv1", "assign", {"responsible_unit": "urban_management", "measure": "修复道路",
                                 "deadline": "2026-12-15"}, cid)
    api.do("urban_management1", "handle", {"handling_result": "已修复"}, cid)
    case = api.do("bizenv1", "confirm", {"enterprise_confirmed": False, "confirm_note": "仍有坑洼"}, cid)
    assert open_ids(case) == [("handle", "urban_management")]
    api.do("urban_management1", "handle", {"handling_result": "已全面修复"}, cid)
    assert api.do("bizenv1", "confirm", {"enterprise_confirmed": True}, cid)["outcome"] == "销号"


def test_who_may_start_and_bad_data(deployed):
    api = deployed
    assert api.post("/api/v1/oversight/supervision", "window1", json={"data": {}}).status_code == 403
    assert api.post("/api/v1/oversight/nonsense", "supervisor", json={"data": {}}).status_code == 404
    r = api.post("/api/v1/oversight/supervision", "supervisor", json={"data": {"unit": "health"}})
    assert r.status_code == 422 and "data.reason" in r.get_json()["errors"]
    r = api.post("/api/v1/oversight/supervision", "supervisor", json={"data": {
        "unit": "nope", "reason": "x", "requirement": "y", "due_date": "2026-12-01"}})
    assert r.status_code == 422 and "data.unit" in r.get_json()["errors"]
    assert api.start("supervision_notice", {"unit": "health"}).status_code == 422  # never as a case
