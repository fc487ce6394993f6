"""12345 work orders (issue 7) over the API with the demo users: intake (agents and the hotline
system's token, idempotent, validated), the SLA clocks, and the work-order diagram end to end —
直办, 派单 to a unit chosen at run time, 退单, first-handler timer, 退回重办, 回访 and 重办, 最终答复."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from support import ROOT

SH = ZoneInfo("Asia/Shanghai")
KEY = "hotline_work_order"
ORDER = {"request_type": "投诉", "category": "道路破损", "urgency": "normal",
         "caller": {"name": "李女士", "phone": "13912345678", "confidential": False},
         "address": "长治市潞州区英雄中路88号", "content": "小区门口道路塌陷，存在安全隐患，请尽快修复。"}


@pytest.fixture()
def hotline(api):
    path = ROOT / "bpmn" / f"{KEY}.bpmn"
    content = path.read_bytes()
    forms = [f for f in sorted((ROOT / "forms").glob("hotline_*.json")) if f.name.encode() in content]
    r = api.deploy(path, *forms)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def register(api, user="hotline1", **overrides):
    r = api.post("/api/v1/work-orders", user, json={**ORDER, **overrides})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def order_of(api, order_id, user="dispatch1"):
    r = api.get(f"/api/v1/work-orders/{order_id}", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def dispatch(api, order, unit="urban_management"):
    cid = order["case_id"]
    api.do("hotline1", "triage", {"triage_decision": "dispatch", "triage_note": "需现场处置"}, cid)
    api.do("dispatch1", "dispatch", {"handling_unit": unit, "dispatch_note": "请尽快核实处置"}, cid)
    return cid


def test_agent_registers_an_order_and_answers_it_directly(api, app, hotline):
    out = app.test_cli_runner().invoke(args=["hotline", "knowledge", str(ROOT / "hotline" / "knowledge.toml")])
    assert "5 article(s)" in out.output
    order = register(api, category="政务服务", request_type="咨询", content="新生儿落户怎么办理？")
    assert order["order_no"].startswith("RX") and order["status"] == "registered"
    assert order["caller"] == {"name": "李女士", "phone": "139****5678", "confidential": False}
    assert (order["sla_rule"], order["clock"]) == ("咨询", "working")
    kb = api.get("/api/v1/knowledge?q=新生儿 落户", "hotline1").get_json()
    assert [a["key"] for a in kb] == ["newborn-bundle"]
    assert [a["key"] for a in api.get("/api/v1/knowledge?q=噪音", "hotline1").get_json()] == ["night-noise"]
    case = api.do("hotline1", "triage", {"triage_decision": "direct", "triage_note": "已告知办理流程和材料",
                                         "kb_article": "newborn-bundle"}, order["case_id"])
    assert (case["status"], case["outcome"]) == ("completed", "直办办结")
    done = order_of(api, order["id"])
    assert (done["status"], done["direct"]) == ("direct_answered", True)
    assert done["closed_at"] is not None and done["overdue"] is False
    # The case carries the request, never the caller.
    assert "13912345678" not in str(case) and "李女士" not in str(case)


def test_dispatched_order_goes_to_the_unit_chosen_at_run_time(api, hotline):
    order = register(api)
    cid = dispatch(api, order)
    assert order_of(api, order["id"])["status"] == "dispatched"
    task = api.find_task("urban_management1", "sign_for", cid)
    assert task["group"] == "urban_management"
    assert [t for t in api.available("market1") if t["case_id"] == cid] == []
    api.do("urban_management1", "sign_for", {"sign_decision": "sign"}, cid)
    signed = order_of(api, order["id"])
    assert signed["status"] == "in_progress" and signed["signed_at"] is not None
    assert signed["handling_unit"] == "urban_management"
    # The unit sees its order, but not who called.
    unit_view = order_of(api, order["id"], "urban_management1")
    assert unit_view["caller"] == {"name": None, "phone": None, "confidential": False}
    assert api.get(f"/api/v1/work-orders/{order['id']}", "market1").status_code == 404
    api.do("urban_management1", "handle", {"handling_result": "solved", "reply": "已组织抢修，道路已恢复通行。",
                                           "contacted_caller": True}, cid)
    assert order_of(api, order["id"])["status"] == "replied"
    api.do("dispatch1", "reply_review", {"reply_decision": "accept"}, cid)
    assert order_of(api, order["id"])["status"] == "callback_pending"
    case = api.do("callback1", "callback", {"callback_result": "satisfied", "unit_at_fault": False}, cid)
    assert (case["status"], case["outcome"]) == ("completed", "办结")
    closed = order_of(api, order["id"])
    assert (closed["status"], closed["satisfaction"], closed["reopen_count"]) == ("closed", "satisfied", 0)
    actors = [e["actor"] for e in case["history"] if e["type"] == "task_completed"]
    assert actors == ["hotline1", "dispatch1", "urban_management1", "urban_management1", "dispatch1", "callback1"]


def test_an_unknown_handling_unit_is_refused_at_dispatch(api, hotline):
    order = register(api)
    cid = order["case_id"]
    api.do("hotline1", "triage", {"triage_decision": "dispatch", "triage_note": "派单"}, cid)
    task = api.find_task("dispatch1", "dispatch", cid)
    api.post(f"/api/v1/tasks/{task['id']}/claim", "dispatch1")
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "dispatch1",
                 json={"data": {"handling_unit": "no_such_unit", "dispatch_note": "x"}})
    assert r.status_code == 422
    assert "data.handling_unit" in r.get_json()["errors"]


def test_the_hotline_centre_itself_is_no_handling_unit(api, hotline):
    """The dispatch form's 承办单位 leaves out the centre's own groups and the bureau's leaders
    (x-optionsExclude): offered nowhere, refused when sent."""
    order = register(api)
    cid = order["case_id"]
    api.do("hotline1", "triage", {"triage_decision": "dispatch", "triage_note": "派单"}, cid)
    task = api.find_task("dispatch1", "dispatch", cid)
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "dispatch1").status_code == 200
    for unit in ("hotline", "dispatch", "callback", "leaders"):
        r = api.post(f"/api/v1/tasks/{task['id']}/complete", "dispatch1",
                     json={"data": {"handling_unit": unit, "dispatch_note": "x"}})
        assert r.status_code == 422 and "data.handling_unit" in r.get_json()["errors"], (unit, r.get_json())
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "dispatch1",
                 json={"data": {"handling_unit": "market_regulation", "dispatch_note": "x"}})
    assert r.status_code == 200, r.get_json()


def test_a_return_needs_its_reason_and_basis(api, hotline):
    """申请退单 without saying why or on what basis (the dispatcher decides on them) is refused,
    field by field; signing needs neither."""
    order = register(api, category="占道经营")
    cid = dispatch(api, order, unit="market_regulation")
    task = api.find_task("market1", "sign_for", cid)
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "market1").status_code == 200
    for data, missing in (({"sign_decision": "return"}, {"data.return_reason", "data.return_basis"}),
                          ({"sign_decision": "return", "return_reason": "占道经营属城管职责"}, {"data.return_basis"}),
                          ({"sign_decision": "return", "return_reason": "  ", "return_basis": "三定方案"},
                           {"data.return_reason"})):
        r = api.post(f"/api/v1/tasks/{task['id']}/complete", "market1", json={"data": data})
        assert r.status_code == 422, r.get_json()
        assert set(r.get_json()["errors"]) == missing, r.get_json()
    assert order_of(api, order["id"])["status"] != "return_requested"
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "market1", json={"data": {"sign_decision": "sign"}})
    assert r.status_code == 200, r.get_json()


def test_a_return_approved_goes_back_to_dispatch_and_a_refused_one_stays(api, hotline):
    order = register(api, category="占道经营")
    cid = dispatch(api, order, unit="market_regulation")
    api.do("market1", "sign_for", {"sign_decision": "return", "return_reason": "占道经营属城管职责",
                                   "return_basis": "市城市管理局三定方案"}, cid)
    assert order_of(api, order["id"])["status"] == "return_requested"
    api.do("dispatch1", "return_review", {"return_approved": True, "return_review_note": "同意，改派城管"}, cid)
    assert order_of(api, order["id"])["status"] == "dispatch_pending"
    api.do("dispatch1", "dispatch", {"handling_unit": "urban_management", "dispatch_note": "改派"}, cid)
    api.do("urban_management1", "sign_for", {"sign_decision": "return", "return_reason": "不是我们",
                                             "return_basis": "无"}, cid)
    api.do("dispatch1", "return_review", {"return_approved": False, "return_review_note": "属于城管职责，驳回"}, cid)
    assert api.find_task("urban_management1", "handle", cid)
    after = order_of(api, order["id"])
    assert (after["status"], after["returned"], after["handling_unit"]) == ("in_progress", True, "urban_management")


def test_a_unit_that_neither_signs_nor_returns_in_one_working_day_becomes_the_first_handler(api, app, hotline, clock):
    clock.set_time(datetime(2026, 11, 27, 16, 0, tzinfo=SH))  # Friday afternoon
    order = register(api)
    cid = dispatch(api, order)
    clock.set_time(datetime(2026, 11, 30, 23, 0, tzinfo=SH))  # Monday evening: still within the day
    assert "fired" not in app.test_cli_runner().invoke(args=["worker", "--once"]).output
    clock.set_time(datetime(2026, 12, 1, 0, 0, 1, tzinfo=SH))
    assert "fired 1 timer" in app.test_cli_runner().invoke(args=["worker", "--once"]).output
    assert api.find_task("urban_management1", "handle", cid)
    assert [t for t in api.available("urban_management1") if t["bpmn_id"] == "sign_for"] == []
    assert order_of(api, order["id"])["status"] == "in_progress"


def test_reply_sent_back_then_unsatisfied_callback_reopens_until_the_limit(api, hotline):
    order = register(api)
    cid = dispatch(api, order)
    api.do("urban_management1", "sign_for", {"sign_decision": "sign"}, cid)
    reply = {"handling_result": "solved", "reply": "已处理", "contacted_caller": True}
    api.do("urban_management1", "handle", reply, cid)
    api.do("dispatch1", "reply_review", {"reply_decision": "send_back", "review_note": "未写明处置措施"}, cid)
    assert order_of(api, order["id"])["status"] == "in_progress"
    unsatisfied = {"callback_result": "unsatisfied", "unit_at_fault": True, "callback_note": "道路仍未修复"}
    for round_no in (1, 2):
        api.do("urban_management1", "handle", {**reply, "reply": f"第{round_no}次处置"}, cid)
        api.do("dispatch1", "reply_review", {"reply_decision": "accept"}, cid)
        case = api.do("callback1", "callback", unsatisfied, cid)
        assert case["status"] == "active" and case["data"]["reopen_count"] == round_no
        assert order_of(api, order["id"])["reopen_count"] == round_no
    api.do("urban_management1", "handle", {**reply, "reply": "第3次处置"}, cid)
    api.do("dispatch1", "reply_review", {"reply_decision": "accept"}, cid)
    case = api.do("callback1", "callback", unsatisfied, cid)  # two reopens at most: now it closes
    assert (case["status"], case["outcome"]) == ("completed", "办结")
    assert order_of(api, order["id"])["satisfaction"] == "unsatisfied"


def test_a_final_answer_closes_without_a_callback(api, hotline):
    order = register(api)
    cid = dispatch(api, order)
    api.do("urban_management1", "sign_for", {"sign_decision": "sign"}, cid)
    api.do("urban_management1", "handle", {"handling_result": "final_answer", "reply": "已依法答复，附红头文件"}, cid)
    case = api.do("dispatch1", "reply_review", {"reply_decision": "accept"}, cid)
    assert case["outcome"] == "最终答复办结"
    assert order_of(api, order["id"])["status"] == "final_answer"


def test_invalid_order(api, hotline):
    order = register(api, request_type="咨询", category="其他", content="无实际诉求")
    case = api.do("hotline1", "triage", {"triage_decision": "invalid", "triage_note": "骚扰电话"}, order["case_id"])
    assert case["outcome"] == "无效工单"
    assert order_of(api, order["id"])["status"] == "invalid"


# -- SLAs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "rule", "clock_kind", "due", "response"), [
    ({"category": "夜间施工噪音", "request_type": "投诉"}, "夜间施工噪音", "natural",
     datetime(2026, 11, 28, 23, 0, tzinfo=SH), datetime(2026, 11, 27, 23, 30, tzinfo=SH)),
    ({"urgency": "urgent"}, "紧急诉求", "natural", datetime(2026, 11, 28, 23, 0, tzinfo=SH),
     datetime(2026, 11, 27, 23, 30, tzinfo=SH)),
    ({"category": "供热"}, "供热投诉", "working", datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=SH), None),
    ({"request_type": "咨询", "category": "社保"}, "咨询", "working",
     datetime(2026, 12, 2, 23, 59, 59, 999999, tzinfo=SH), None),
    ({}, "一般诉求", "working", datetime(2026, 12, 4, 23, 59, 59, 999999, tzinfo=SH), None),
])
def test_sla_by_request_type_category_and_urgency(api, hotline, clock, overrides, rule, clock_kind, due, response):
    """Friday 23:00: natural hours run through the weekend, working days skip it."""
    clock.set_time(datetime(2026, 11, 27, 23, 0, tzinfo=SH))
    order = register(api, **overrides)
    assert (order["sla_rule"], order["clock"]) == (rule, clock_kind)
    got = datetime.fromisoformat(order["due_at"]).astimezone(SH)
    assert abs(got - due) < timedelta(seconds=1)
    if response is None:
        assert order["response_due_at"] is None
    else:
        assert datetime.fromisoformat(order["response_due_at"]).astimezone(SH) == response


def test_overdue_orders_are_flagged(api, hotline, clock):
    clock.set_time(datetime(2026, 11, 27, 23, 0, tzinfo=SH))
    order = register(api, category="夜间施工噪音")
    clock.set_time(datetime(2026, 11, 28, 23, 0, 1, tzinfo=SH))
    assert order_of(api, order["id"])["overdue"] is True
    listed = api.get("/api/v1/work-orders?status=registered", "supervisor").get_json()
    assert listed["total"] == 1 and listed["items"][0]["overdue"] is True


# -- intake API: auth, idempotency, validation ----------------------------------------------------

def test_the_hotline_system_token_is_idempotent_on_its_order_id(api, app, client, hotline):
    out = app.test_cli_runner().invoke(args=["tokens", "create", "--user", "hotline1", "--name", "12345-system"])
    assert out.exit_code == 0, out.output
    token = out.stdout.strip().splitlines()[0]
    headers = {"Authorization": f"Bearer {token}"}
    body = {**ORDER, "external_id": "HX-2026-000123"}
    first = client.post("/api/v1/work-orders", json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    again = client.post("/api/v1/work-orders", json=body, headers=headers)
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["order_no"] == first.get_json()["order_no"]
    other = client.post("/api/v1/work-orders", json={**body, "external_id": "HX-2026-000124"}, headers=headers)
    assert other.status_code == 201 and other.get_json()["id"] != first.get_json()["id"]
    listed = api.get("/api/v1/work-orders", "supervisor").get_json()
    assert listed["total"] == 2


def test_intake_needs_a_token_of_the_hotline(api, client, hotline):
    assert client.post("/api/v1/work-orders", json=ORDER).status_code == 401
    assert api.post("/api/v1/work-orders", "window1", json=ORDER).status_code == 403
    assert api.post("/api/v1/work-orders", "health1", json=ORDER).status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({**ORDER, "request_type": "闲聊"}, "request_type"),
    ({**ORDER, "caller": {"name": "李女士", "phone": "not a phone"}}, "caller"),
    ({k: v for k, v in ORDER.items() if k != "content"}, "content"),
    ({**ORDER, "urgency": "asap"}, "urgency"),
    ({**ORDER, "external_id": "x" * 65}, "external_id"),
])
def test_invalid_orders_get_field_errors_and_nothing_is_stored(api, hotline, body, field):
    r = api.post("/api/v1/work-orders", "hotline1", json=body)
    assert r.status_code == 422
    assert any(field in key for key in r.get_json()["errors"]), r.get_json()
    assert api.get("/api/v1/work-orders", "supervisor").get_json()["total"] == 0


def test_confidential_callers_are_hidden_from_the_centre_but_not_from_supervisors(api, hotline):
    order = register(api, caller={"name": "张先生", "phone": "13700001111", "confidential": True})
    assert order["caller"] == {"name": "保密", "phone": None, "confidential": True}
    assert order_of(api, order["id"], "supervisor")["caller"]["name"] == "张先生"
    case = api.get(f"/api/v1/cases/{order['case_id']}", "supervisor").get_json()
    assert "张先生" not in str(case) and "13700001111" not in str(case)


def test_a_handling_unit_sees_no_caller_through_the_orders_case(api, hotline):
    """Units are refused the caller on the order; the order's case (which they may open, as their
    group had a task in it) names no caller either, and revealing its applicant reveals nobody."""
    order = register(api)
    cid = dispatch(api, order)
    assert order_of(api, order["id"], "urban_management1")["caller"] == {
        "name": None, "phone": None, "confidential": False}
    case = api.get(f"/api/v1/cases/{cid}", "urban_management1")
    assert case.status_code == 200
    assert "李女士" not in str(case.get_json()) and "5678" not in str(case.get_json()["applicant"])
    revealed = api.post(f"/api/v1/cases/{cid}/reveal", "urban_management1", json={"reason": "核实"}).get_json()
    assert revealed == {"name": "12345来电人", "id_number": "", "phone": None}
    # The centre still reaches the caller through the order (masked, reveal audited).
    assert order_of(api, order["id"], "hotline1")["caller"]["name"] == "李女士"


def test_the_order_diagram_is_started_only_through_work_order_intake(api, hotline):
    """startedBy=work_orders: the window cannot start it as a case, nor see it among the bundles."""
    r = api.start(KEY, {"order_no": "RX1", "request_type": "咨询", "category": "x", "urgency": "normal",
                        "content": "x", "reopen_count": 0})
    assert r.status_code == 422
    assert "process_key" in r.get_json()["errors"]
    assert api.get("/api/v1/work-orders", "supervisor").get_json()["total"] == 0


# -- 12345 KPIs (issue 8 reads the order facts) ---------------------------------------------------

def test_hotline_kpis_of_a_week_match_the_hand_computation(api, hotline, clock):
    """O1 直办 at once; O2 dispatched, returned, re-dispatched, closed Wed, satisfied; O3 invalid;
    O4 same phone and category as O2 the next day (a repeat), still open; O5 night noise, closed
    after its 24 natural hours, unsatisfied."""
    def at(day, hour, minute=0):
        return datetime(2026, 11, day, hour, minute, tzinfo=SH)

    def close(cid, result):
        api.do("urban_management1", "sign_for", {"sign_decision": "sign"}, cid)
        api.do("urban_management1", "handle", {"handling_result": "solved", "reply": "已处理"}, cid)
        api.do("dispatch1", "reply_review", {"reply_decision": "accept"}, cid)
        api.do("callback1", "callback", {"callback_result": result, "unit_at_fault": False}, cid)

    clock.set_time(at(23, 10))
    o1 = register(api, request_type="咨询", category="政务服务")
    clock.set_time(at(23, 10, 5))
    api.do("hotline1", "triage", {"triage_decision": "direct", "triage_note": "已答复"}, o1["case_id"])
    o2 = register(api)
    cid2 = dispatch(api, o2, unit="market_regulation")
    api.do("market1", "sign_for", {"sign_decision": "return", "return_reason": "城管职责", "return_basis": "三定"},
           cid2)
    api.do("dispatch1", "return_review", {"return_approved": True, "return_review_note": "改派"}, cid2)
    api.do("dispatch1", "dispatch", {"handling_unit": "urban_management", "dispatch_note": "改派"}, cid2)
    o3 = register(api, request_type="咨询", category="其他")
    api.do("hotline1", "triage", {"triage_decision": "invalid", "triage_note": "无实际诉求"}, o3["case_id"])
    clock.set_time(at(23, 23))
    o5 = register(api, category="夜间施工噪音")
    cid5 = dispatch(api, o5)
    clock.set_time(at(24, 9))
    o4 = register(api)
    assert o4["id"] and order_of(api, o4["id"])["status"] == "registered"
    clock.set_time(at(25, 15))
    close(cid2, "satisfied")
    close(cid5, "unsatisfied")

    k = api.get("/api/v1/kpis?from=2026-11-23&to=2026-11-27", "leader1").get_json()
    assert k["orders_received"] == 5 and k["orders_closed"] == 3        # O1 O2 O5 (invalid is not 办结)
    assert k["cases_received"] == 0 and k["departments"] == []          # orders are not approval cases
    assert k["direct_handling_rate"] == 0.25                          # O1 / 4 accepted
    assert k["closure_24h_rate"] == 0.25                              # O1 / 4 accepted
    assert k["order_on_time_rate"] == pytest.approx(0.6667)           # O1 O2 / 3 closed (O5 late)
    assert k["order_satisfaction_rate"] == 0.5                        # O2 / (O2 O5) rated
    assert k["return_rate"] == 0.5                                    # O2 / (O2 O5) dispatched
    assert k["repeat_request_rate"] == 0.2                            # O4 / 5
    unit = api.get("/api/v1/kpis?from=2026-11-23&to=2026-11-27&group=urban_management", "leader1").get_json()
    assert (unit["orders_received"], unit["orders_closed"]) == (2, 2)  # O2 O5 ended with the city management


# -- merging duplicates, extensions ----------------------------------------------------------------

def test_a_duplicate_is_merged_into_the_open_order(api, hotline):
    parent = register(api)
    duplicate = register(api, content="同一处道路塌陷，邻居也反映过")
    r = api.post(f"/api/v1/work-orders/{duplicate['id']}/merge", "hotline1", json={"into": parent["id"]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["merged_count"] == 1
    merged = order_of(api, duplicate["id"])
    assert merged["status"] == "merged" and merged["merged_into_id"] == parent["id"]
    case = api.get(f"/api/v1/cases/{duplicate['case_id']}", "supervisor").get_json()
    assert case["status"] == "withdrawn" and case["tasks"] == [] and case["outcome"].startswith("合并至RX")
    again = api.post(f"/api/v1/work-orders/{duplicate['id']}/merge", "hotline1", json={"into": parent["id"]})
    assert again.status_code == 409
    assert api.post(f"/api/v1/work-orders/{parent['id']}/merge", "hotline1",
                    json={"into": parent["id"]}).status_code == 422
    assert api.post(f"/api/v1/work-orders/{parent['id']}/merge", "urban_management1",
                    json={"into": duplicate["id"]}).status_code == 403


def test_the_dispatcher_decides_extensions_of_the_handling_unit(api, hotline, clock):
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    order = register(api)  # 一般诉求: 5 working days, due Mon 30 Nov
    cid = dispatch(api, order)
    path = f"/api/v1/work-orders/{order['id']}/extensions"
    assert api.post(path, "urban_management1", json={"days": 3, "reason": "需协调施工单位"}).status_code == 403
    api.do("urban_management1", "sign_for", {"sign_decision": "sign"}, cid)
    assert api.post(path, "market1", json={"days": 3, "reason": "x"}).status_code == 403
    first = api.post(path, "urban_management1", json={"days": 3, "reason": "需协调施工单位"})
    assert first.status_code == 201, first.get_json()
    assert api.post(path, "urban_management1", json={"days": 1, "reason": "再等"}).status_code == 409
    decision = f"{path}/{first.get_json()['id']}/decision"
    assert api.post(decision, "urban_management1", json={"approve": True}).status_code == 403
    r = api.post(decision, "dispatch1", json={"approve": True, "note": "同意延期3个工作日"})
    assert r.status_code == 200
    due = datetime.fromisoformat(r.get_json()["due_at"]).astimezone(SH)
    assert (due.date().isoformat(), r.get_json()["extension_count"]) == ("2026-12-03", 1)
    assert api.post(decision, "dispatch1", json={"approve": True}).status_code == 409
    for _ in range(2):
        ext = api.post(path, "urban_management1", json={"days": 1, "reason": "继续协调"}).get_json()
        api.post(f"{path}/{ext['id']}/decision", "dispatch1", json={"approve": True})
    limit = api.post(path, "urban_management1", json={"days": 1, "reason": "第四次"})
    assert limit.status_code == 409 and limit.get_json()["error"] == "extension_limit"
    listed = api.get(path, "dispatch1").get_json()
    assert [e["status"] for e in listed] == ["approved"] * 3
    history = [e["type"] for e in api.get(f"/api/v1/cases/{cid}", "supervisor").get_json()["history"]]
    assert history.count("order_extension_approved") == 3


def test_numbers_in_extension_reasons_and_notes_are_masked(api, hotline):
    """An extension reason or the dispatcher's note may name the caller's number: the order's
    extension list shows it masked, as the history that records the same texts does."""
    order = register(api)
    cid = dispatch(api, order)
    api.do("urban_management1", "sign_for", {"sign_decision": "sign"}, cid)
    path = f"/api/v1/work-orders/{order['id']}/extensions"
    ext = api.post(path, "urban_management1", json={"days": 3, "reason": "来电人13700009876要求现场见面"})
    assert ext.status_code == 201 and ext.get_json()["reason"] == "来电人137****9876要求现场见面"
    api.post(f"{path}/{ext.get_json()['id']}/decision", "dispatch1",
             json={"approve": False, "note": "请先电话联系13700009876"})
    for user in ("urban_management1", "dispatch1"):
        listed = api.get(path, user).get_json()
        assert [(e["reason"], e["note"]) for e in listed] == [
            ("来电人137****9876要求现场见面", "请先电话联系137****9876")]


def test_the_worker_warns_once_as_an_order_nears_and_passes_its_due_time(api, app, hotline, clock):
    """Night noise (24 natural hours): yellow in the last quarter, red once past; a 5-working-day
    order turns yellow on its last working day."""
    clock.set_time(datetime(2026, 11, 23, 22, 0, tzinfo=SH))
    noise = register(api, category="夜间施工噪音")
    general = register(api)

    def warnings(order):
        case = api.get(f"/api/v1/cases/{order['case_id']}", "supervisor").get_json()
        return [e["data"]["level"] for e in case["history"] if e["type"] == "order_deadline_warning"]

    def run(when):
        clock.set_time(when)
        return app.test_cli_runner().invoke(args=["worker", "--once"]).output

    run(datetime(2026, 11, 24, 15, 0, tzinfo=SH))  # 17 of 24 hours gone
    assert warnings(noise) == []
    assert "announced" in run(datetime(2026, 11, 24, 16, 30, tzinfo=SH))  # 18.5 hours: last quarter
    assert warnings(noise) == ["yellow"]
    run(datetime(2026, 11, 24, 17, 0, tzinfo=SH))
    assert warnings(noise) == ["yellow"]  # once
    run(datetime(2026, 11, 24, 22, 0, 1, tzinfo=SH))
    assert warnings(noise) == ["yellow", "red"]
    assert warnings(general) == []
    run(datetime(2026, 11, 30, 9, 0, tzinfo=SH))  # due Mon 30 Nov 23:59: its last working day
    assert warnings(general) == ["yellow"]


def test_revealing_a_callers_phone_is_for_the_centre_and_audited(api, hotline):
    order = register(api)
    path = f"/api/v1/work-orders/{order['id']}/reveal"
    r = api.post(path, "callback1", json={"reason": "回访需拨打电话"})
    assert r.status_code == 200 and r.get_json()["phone"] == "13912345678"
    assert api.post(path, "callback1", json={}).status_code == 422
    cid = dispatch(api, order)
    assert api.post(path, "urban_management1", json={"reason": "x"}).status_code == 403
    secret = register(api, caller={"name": "张先生", "phone": "13700001111", "confidential": True})
    assert api.post(f"/api/v1/work-orders/{secret['id']}/reveal", "callback1",
                    json={"reason": "x"}).status_code == 403
    history = api.get(f"/api/v1/cases/{cid}", "supervisor").get_json()["history"]
    assert [e["actor"] for e in history if e["type"] == "pii_revealed"] == ["callback1"]


def test_numbers_in_the_callers_request_are_masked_until_revealed(api, hotline):
    """A caller often leaves a number in the request itself: the order, its case and the unit's
    task show it masked; the centre's audited reveal shows the request as given."""
    text = "路灯不亮，请联系我的另一个号码13700009876，身份证140402199001011234"
    order = register(api, content=text)
    assert order["content"] == "路灯不亮，请联系我的另一个号码137****9876，身份证1404**********1234"
    cid = dispatch(api, order)
    for user in ("hotline1", "urban_management1", "supervisor"):
        shown = str(order_of(api, order["id"], user)) + str(api.get(f"/api/v1/cases/{cid}", user).get_json())
        assert "13700009876" not in shown and "140402199001011234" not in shown, user
        assert "137****9876" in shown, user
    tasks = api.get("/api/v1/tasks?view=available", "urban_management1").get_json()["items"]
    assert tasks and "13700009876" not in str(tasks)
    path = f"/api/v1/work-orders/{order['id']}/reveal"
    assert api.post(path, "urban_management1", json={"reason": "核实"}).status_code == 403
    revealed = api.post(path, "callback1", json={"reason": "回访需拨打电话"}).get_json()
    assert revealed["content"] == text
    history = api.get(f"/api/v1/cases/{cid}", "supervisor").get_json()["history"]
    assert [e["data"]["fields"] for e in history if e["type"] == "pii_revealed"] == [
        ["caller_name", "caller_phone", "content"]]


def test_a_unit_cannot_find_the_callers_number_by_searching_for_it(api, hotline):
    """The request text shows the caller's number masked to the unit; a search for its digits must
    not confirm a guess either. The unit still finds the order by its number, and by words of the
    request; the centre searches the text as it is."""
    order = register(api, content="井盖丢失，请回电13700009876")
    dispatch(api, order)
    found = lambda user, q: [o["id"] for o in api.get(  # noqa: E731
        f"/api/v1/work-orders?q={q}", user).get_json()["items"]]
    assert found("urban_management1", "9876") == [] and found("urban_management1", "0000987") == []
    assert found("urban_management1", "井盖") == [order["id"]]
    assert found("urban_management1", order["order_no"][2:]) == [order["id"]]
    assert found("hotline1", "0000987") == [order["id"]]


def test_a_scoped_token_reaches_only_its_part_of_the_api(api, app, client, hotline):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["tokens", "create", "--user", "hotline1", "--name", "12345-system",
                              "--scope", "work-orders"])
    assert out.exit_code == 0, out.output
    headers = {"Authorization": f"Bearer {out.stdout.strip().splitlines()[0]}"}
    assert client.post("/api/v1/work-orders", json=ORDER, headers=headers).status_code == 201
    assert client.get("/api/v1/knowledge?q=噪音", headers=headers).status_code == 200
    refused = client.get("/api/v1/tasks?view=available", headers=headers)
    assert refused.status_code == 403 and refused.get_json()["error"] == "token_scope"
    assert client.get("/api/v1/work-ordersx", headers=headers).status_code in (403, 404)
    # Outside the API a scoped token is no login at all: the pages of its user stay closed.
    order_id = client.get("/api/v1/work-orders", headers=headers).get_json()["items"][0]["id"]
    for page in ("/", "/hotline", f"/hotline/orders/{order_id}", "/cases"):
        r = client.get(page, headers=headers)
        assert r.status_code in (302, 401) and b"12345" not in r.data, page
    hotline1 = api.token("hotline1")  # an unscoped token of the same user opens them
    assert client.get(f"/hotline/orders/{order_id}", headers={"Authorization": f"Bearer {hotline1}"}).status_code == 200
    bad = runner.invoke(args=["tokens", "create", "--user", "hotline1", "--name", "x", "--scope", "everything"])
    assert bad.exit_code != 0 and "unknown token scope" in bad.output


def test_search_text_is_taken_literally_and_bounded(api, hotline):
    """% and _ in a search are characters, not wildcards; a text longer than anyone types is a 422
    instead of a pattern the database refuses."""
    register(api, category="夜间施工噪音", content="楼下工地 100%_噪音")
    register(api, category="政务服务", content="新生儿落户怎么办理？")
    search = lambda q: api.get(f"/api/v1/work-orders?q={q}", "supervisor").get_json()["total"]  # noqa: E731
    assert search("%25") == 1 and search("_") == 1 and search("100%25_") == 1
    assert search("%25%25") == 0 and search("新生儿") == 1
    assert api.get("/api/v1/knowledge?q=%25", "hotline1").get_json() == []
    assert api.get("/api/v1/work-orders?q=" + "x" * 101, "supervisor").status_code == 422
