"""The 12345 pages without a browser: who sees them, registration errors, units' view, CSRF."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DIAGRAM = ROOT / "bpmn" / "hotline_work_order.bpmn"
FORM = {"request_type": "投诉", "category": "道路破损", "urgency": "normal", "caller_name": "李女士",
        "caller_phone": "13912345678", "address": "英雄中路88号", "content": "道路塌陷"}


@pytest.fixture()
def hotline(api):
    forms = [f for f in sorted((ROOT / "forms").glob("hotline_*.json")) if f.name.encode() in DIAGRAM.read_bytes()]
    assert api.deploy(DIAGRAM, *forms).status_code == 201
    return api


def test_the_menu_entry_is_for_the_hotline_centre_and_supervisors(hotline, login):
    for user in ("hotline1", "dispatch1", "callback1", "supervisor", "leader1"):
        assert 'href="/hotline"' in login(user).html("/"), user
    for user in ("window1", "health1", "urban_management1"):
        assert 'href="/hotline"' not in login(user).html("/"), user


def test_registration_with_errors_keeps_the_input_and_names_the_fields(hotline, login):
    agent = login("hotline1")
    r = agent.post("/hotline/orders", {**FORM, "caller_phone": "abc", "content": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "Not a phone number." in html and "This field is required." in html
    assert 'value="李女士"' in html and 'value="道路破损"' in html
    assert hotline.get("/api/v1/work-orders", "supervisor").get_json()["total"] == 0


@pytest.mark.parametrize("english", [False, True])
def test_the_error_summary_names_the_fields_as_the_form_labels_them(hotline, login, english):
    """The summary above the form lists each wrong field by its label (in the page's language),
    not by the name the API gives it; a field with no message of its own (the address) too."""
    agent = login("hotline1", english=english)
    r = agent.post("/hotline/orders", {**FORM, "category": "", "caller_name": "", "address": "路" * 301})
    assert r.status_code == 422
    summary = r.get_data(as_text=True).split('id="form-error-summary">', 1)[1].split("</div>", 1)[0]
    labels = ("Category", "Caller", "Address") if english else ("诉求分类", "来电人", "地址")
    for label in labels:
        assert f"<li>{label}: " in summary, (label, summary)
    for code in ("category:", "caller.name:", "address:"):
        assert code not in summary, summary


def test_switching_language_on_a_refused_form_returns_to_a_page_not_a_405(hotline, login):
    """The page showing a refused registration is the answer to a POST: its language link leads
    back to the page the form was on (GET), where it used to lead to the POST-only address."""
    agent = login("hotline1", english=False)
    r = agent.client.post("/hotline/orders", data={**FORM, "content": "", "csrf_token": agent.token},
                          headers={"Referer": "http://localhost/hotline?status=registered"})
    assert r.status_code == 422
    link = re.search(r'<a href="(/lang/en[^"]*)" lang="en">', r.get_data(as_text=True)).group(1)
    switched = agent.get(html.unescape(link))
    assert switched.status_code == 302 and switched.headers["Location"] == "/hotline?status=registered"
    assert agent.get(switched.headers["Location"]).status_code == 200


def test_the_callers_request_is_labelled_as_a_request_not_an_application(hotline, session_for):
    """Chinese pages call what the caller asks 诉求内容; 申请 (an application) is the modeler's
    deployment request and reads wrong on a 12345 order."""
    agent = session_for("hotline1", lang="zh")
    assert '<label for="content">诉求内容</label>' in agent.html("/hotline")
    order = agent.post("/hotline/orders", FORM).get_data(as_text=True)
    assert '<dt>诉求内容</dt><dd id="order-content">' in order


def test_the_order_list_pages_through_every_order(hotline, login, monkeypatch):
    """The list shows a page of orders and links to the others, keeping the filter; it used to
    show the newest page only and say how many there were."""
    from app.web import hotline as hotline_pages

    monkeypatch.setattr(hotline_pages, "PER_PAGE", 2)
    numbers = [hotline.post("/api/v1/work-orders", "hotline1", json={
        "request_type": "投诉", "category": "道路破损", "content": f"道路塌陷{i}",
        "caller": {"name": "李女士", "phone": "13912345678"}}).get_json()["order_no"] for i in range(3)]
    agent = login("hotline1")
    first = agent.html("/hotline?status=registered")
    assert numbers[2] in first and numbers[1] in first and numbers[0] not in first
    link = re.search(r'<a href="([^"]*)" rel="next">', first).group(1)
    second = agent.html(html.unescape(link))
    assert "status=registered" in html.unescape(link)
    assert numbers[0] in second and numbers[2] not in second
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_registration_redirects_to_the_order_and_masks_the_phone(hotline, session_for):
    agent = session_for("hotline1")
    r = agent.post("/hotline/orders", FORM)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Work order RX" in html
    assert "139****5678" in html and "13912345678" not in html
    assert 'id="order-status" data-status="registered"' in html


def test_a_number_written_in_the_request_is_shown_masked(hotline, session_for):
    agent = session_for("hotline1")
    html = agent.post("/hotline/orders", {**FORM, "content": "道路塌陷，另可拨打13700009876"}).get_data(as_text=True)
    assert '<dd id="order-content">道路塌陷，另可拨打137****9876</dd>' in html
    assert "13700009876" not in html


def test_only_the_hotline_registers_and_every_form_needs_its_csrf_token(hotline, login):
    assert login("window1").post("/hotline/orders", FORM).status_code == 403
    assert login("hotline1").post("/hotline/orders", FORM, csrf=False).status_code in (400, 403)
    assert hotline.get("/api/v1/work-orders", "supervisor").get_json()["total"] == 0


def test_a_unit_sees_only_its_orders_and_never_the_caller(hotline, login):
    order = hotline.post("/api/v1/work-orders", "hotline1", json={
        "request_type": "投诉", "category": "道路破损", "content": "道路塌陷",
        "caller": {"name": "李女士", "phone": "13912345678"}}).get_json()
    other = hotline.post("/api/v1/work-orders", "hotline1", json={
        "request_type": "咨询", "category": "社保", "content": "社保卡",
        "caller": {"name": "王先生", "phone": "13800001111"}}).get_json()
    cid = order["case_id"]
    hotline.do("hotline1", "triage", {"triage_decision": "dispatch", "triage_note": "派单"}, cid)
    hotline.do("dispatch1", "dispatch", {"handling_unit": "urban_management", "dispatch_note": "请核实"}, cid)
    unit = login("urban_management1")
    html = unit.html("/hotline")
    assert order["order_no"] in html and other["order_no"] not in html
    assert "李女士" not in html and "139****5678" not in html
    assert unit.get(f"/hotline/orders/{other['id']}").status_code == 404


def test_a_search_text_longer_than_anyone_types_is_refused_readably(hotline, login):
    """Not a database error (SQLite refuses LIKE patterns over 50,000 bytes): a 422 page saying why."""
    page = login("hotline1").client.get("/hotline?q=" + "x" * 100_000)
    assert page.status_code == 422 and "too long" in page.get_data(as_text=True)
    assert login("hotline1").client.get("/hotline?q=" + "x" * 100).status_code == 200



def test_the_unit_holding_the_order_sees_the_number_in_the_request_masked(hotline, login):
    """The handling unit's sign-for task shows the caller's request read-only: a number the caller
    left in it is masked on the page as in the API (units never see the caller)."""
    order = hotline.post("/api/v1/work-orders", "hotline1", json={
        "request_type": "投诉", "category": "道路破损", "content": "道路塌陷，请回电13700009876",
        "caller": {"name": "李女士", "phone": "13912345678"}}).get_json()
    cid = order["case_id"]
    hotline.do("hotline1", "triage", {"triage_decision": "dispatch", "triage_note": "派单"}, cid)
    hotline.do("dispatch1", "dispatch", {"handling_unit": "urban_management", "dispatch_note": "请核实"}, cid)
    task = hotline.find_task("urban_management1", "sign_for", cid)
    assert hotline.post(f"/api/v1/tasks/{task['id']}/claim", "urban_management1").status_code == 200
    html = login("urban_management1").html(f"/tasks/{task['id']}")
    assert "道路塌陷，请回电137****9876" in html
    assert "13700009876" not in html and "13912345678" not in html


def test_the_dispatch_form_offers_no_group_of_the_centre_as_handling_unit(hotline, login):
    """承办单位 lists the departments, not the centre's own groups nor the bureau's leaders."""
    order = hotline.post("/api/v1/work-orders", "hotline1", json={
        "request_type": "投诉", "category": "道路破损", "content": "道路塌陷",
        "caller": {"name": "李女士", "phone": "13912345678"}}).get_json()
    hotline.do("hotline1", "triage", {"triage_decision": "dispatch", "triage_note": "派单"}, order["case_id"])
    task = hotline.find_task("dispatch1", "dispatch", order["case_id"])
    assert hotline.post(f"/api/v1/tasks/{task['id']}/claim", "dispatch1").status_code == 200
    page = login("dispatch1").html(f"/tasks/{task['id']}")
    select = page.split('name="data.handling_unit"')[1].split("</select>")[0]
    offered = set(re.findall(r'<option value="([a-z_]+)"', select))
    assert {"urban_management", "market_regulation", "window"} <= offered, offered
    assert not offered & {"hotline", "dispatch", "callback", "leaders"}, offered


def _form_key(html_text: str) -> str:
    return re.search(r'name="submission_key" value="([0-9a-f]{32})"', html_text).group(1)


def test_a_registration_sent_twice_registers_one_order(hotline, login):
    """A double click on 登记: the same form sent again returns the order it registered; the same
    form reused for another call (the back button) is refused with the input kept and a new key."""
    agent = login("hotline1")
    key = _form_key(agent.html("/hotline"))
    first = agent.post("/hotline/orders", {**FORM, "submission_key": key})
    again = agent.post("/hotline/orders", {**FORM, "submission_key": key})
    assert first.status_code == again.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]
    orders = hotline.get("/api/v1/work-orders", "supervisor").get_json()
    assert orders["total"] == 1
    assert "was already registered as work order " + orders["items"][0]["order_no"] in agent.html(
        again.headers["Location"])
    reused = agent.post("/hotline/orders", {**FORM, "content": "路灯不亮", "submission_key": key})
    page = reused.get_data(as_text=True)
    assert reused.status_code == 409
    assert f"This form was already sent for another call (work order {orders['items'][0]['order_no']})" in page
    assert "路灯不亮" in page and _form_key(page) != key
    assert hotline.get("/api/v1/work-orders", "supervisor").get_json()["total"] == 1
    refused = agent.post("/hotline/orders", {**FORM, "caller_phone": "abc", "submission_key": _form_key(page)})
    assert refused.status_code == 422 and _form_key(refused.get_data(as_text=True)) == _form_key(page)
    assert agent.post("/hotline/orders", {**FORM, "content": "路灯不亮",
                                          "submission_key": _form_key(page)}).status_code == 302
    assert hotline.get("/api/v1/work-orders", "supervisor").get_json()["total"] == 2
