"""The case clock panel, printable notices, task notes and the overdue page (Flask test client)."""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from support import DATA

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture()
def case_id(api, clock):
    clock.set_time(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    assert api.deploy(DATA / "moves" / "moves.bpmn").status_code == 201
    return api.start("moves").get_json()["id"]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_correction_notice_from_the_case_page_prints_every_item(session_for, case_id):
    window = session_for("window1")
    page = window.html(f"/cases/{case_id}")
    assert 'id="correction-form"' in page and 'id="reject-form"' in page
    r = window.post(f"/cases/{case_id}/notices", {
        "action": "correction", "material": ["出生医学证明", "户口簿", ""],
        "problem": ["缺少复印件", "照片页不清晰", ""], "note": "请于五个工作日内补齐"})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "Correction notice issued" in page
    assert 'data-paused="true"' in page
    link = re.search(r'href="(/notices/\d+)" id="notice-\d+"', page).group(1)
    notice = window.html(link)
    assert "Notice to supplement materials" in notice
    text = _text(notice)
    assert "出生医学证明 缺少复印件" in text and "户口簿 照片页不清晰" in text
    assert "请于五个工作日内补齐" in text and "王小明" in text
    assert 'id="print"' in notice

    # Chinese: the notice's title is the one applicants know.
    assert "补正材料通知书" in session_for("window2", "zh_CN").html(link)

    r = window.post(link + "/received")
    page = r.get_data(as_text=True)
    assert "Materials recorded" in page and 'data-paused="false"' in page


def test_a_refused_move_says_why_on_the_page(session_for, case_id):
    window = session_for("window1")
    r = window.post(f"/cases/{case_id}/notices", {"action": "correction", "material": [""], "problem": [""]})
    assert r.status_code == 200
    assert "List at least one material" in r.get_data(as_text=True)
    r = window.post(f"/cases/{case_id}/clock", {"action": "resume"})
    assert "The clock of this case is running" in r.get_data(as_text=True)


def test_refusal_from_the_case_page(session_for, case_id):
    window = session_for("window1")
    r = window.post(f"/cases/{case_id}/notices", {"action": "reject", "reason": "不属于本机关职权范围",
                                                   "legal_basis": "《行政许可法》第三十二条"})
    page = r.get_data(as_text=True)
    assert 'id="case-status">Not accepted' in page
    link = re.search(r'href="(/notices/\d+)"', page).group(1)
    text = _text(window.html(link))
    assert "Notice of non-acceptance" in text and "不属于本机关职权范围" in text and "第三十二条" in text
    assert 'id="reject-form"' not in page  # a closed case offers no moves


def test_pause_extension_and_approval_on_the_case_page(session_for, case_id):
    window = session_for("window1")
    window.post(f"/cases/{case_id}/clock", {"action": "pause", "kind": "inspection", "reason": "现场核查"})
    page = window.html(f"/cases/{case_id}")
    assert 'data-paused="true"' in page and "Site inspection: 现场核查" in _text(page)
    window.post(f"/cases/{case_id}/clock", {"action": "resume"})
    r = window.post(f"/cases/{case_id}/clock", {"action": "extend", "working_days": "3", "reason": "材料复杂"})
    assert "sent to the section chief" in r.get_data(as_text=True)
    assert 'id="approve-extension-' not in r.get_data(as_text=True)  # not for the requester

    chief = session_for("chief1")
    page = chief.html(f"/cases/{case_id}")
    ext_id = re.search(r'id="approve-extension-(\d+)"', page).group(1)
    r = chief.post(f"/extensions/{ext_id}/decide", {"decision": "approve", "note": "同意"})
    page = r.get_data(as_text=True)
    assert "Extension approved" in page and 'data-status="approved"' in page


def test_task_notes_reminders_and_hand_over(session_for, api, case_id):
    task = api.find_task("window1", "formal_check", case_id)
    window = session_for("window1")
    window.post(f"/tasks/{task['id']}", {"action": "claim"})
    page = window.html(f"/tasks/{task['id']}")
    assert 'id="delegate-form"' in page and 'id="reassign-form"' not in page and 'id="urge-form"' not in page
    session_for("supervisor").post(f"/tasks/{task['id']}/moves", {"action": "urge", "message": "请今日办结"})
    r = window.post(f"/tasks/{task['id']}/moves", {"action": "comment", "body": "已电话联系申请人"})
    page = r.get_data(as_text=True)
    assert 'data-kind="urge"' in page and "请今日办结" in page and "已电话联系申请人" in page

    window2_id = re.search(r'<option value="(\d+)">综窗受理员二', page).group(1)
    r = window.post(f"/tasks/{task['id']}/moves", {"action": "delegate", "user_id": window2_id, "note": "请协办"})
    assert "The task was handed over" in r.get_data(as_text=True)
    page = session_for("window2").html(f"/tasks/{task['id']}")
    assert 'id="submit"' in page  # window2 now holds it

    chief = session_for("chief1")
    assert 'id="reassign-form"' in chief.html(f"/tasks/{task['id']}")


def test_overdue_page_for_supervisors(session_for, case_id, clock):
    assert session_for("window1").get("/supervision/overdue").status_code == 403
    supervisor = session_for("supervisor")
    assert 'href="/supervision/overdue"' in supervisor.html("/")
    assert 'id="overdue-empty"' in supervisor.html("/supervision/overdue")
    clock.set_time(datetime(2026, 12, 2, 9, 0, tzinfo=SH))
    page = supervisor.html("/supervision/overdue?level=red")
    row = re.search(r'<tr data-warning="red">(.*?)</tr>', page, re.S).group(1)
    assert "联办测试" in row and "Overdue" in row and "形式审查" in row
    assert 'id="overdue-empty"' in supervisor.html("/supervision/overdue?level=yellow")


def test_the_overdue_page_names_the_group_holding_an_unclaimed_task(session_for, case_id, clock):
    """An unclaimed step shows the group that holds it by its name (综合窗口), not its code (window)."""
    clock.set_time(datetime(2026, 12, 2, 9, 0, tzinfo=SH))
    page = session_for("supervisor", lang="zh").html("/supervision/overdue?level=red")
    row = re.search(r'<tr data-warning="red">(.*?)</tr>', page, re.S).group(1)
    holder = re.search(r'形式审查</a>\s*<span class="muted">(.*?)</span>', row).group(1)
    assert holder == "综合窗口"


def test_the_overdue_list_pages_through_every_case(session_for, api, case_id, clock, monkeypatch):
    """More overdue cases than a page holds: the list links to the next page, keeping the level."""
    from app.web import moves as moves_pages

    monkeypatch.setattr(moves_pages, "OVERDUE_PER_PAGE", 1)
    second_id = api.start("moves").get_json()["id"]
    clock.set_time(datetime(2026, 12, 2, 9, 0, tzinfo=SH))
    supervisor = session_for("supervisor")
    first = supervisor.html("/supervision/overdue?level=red")
    assert first.count('<tr data-warning="red">') == 1
    link = html.unescape(re.search(r'<a href="([^"]*)" rel="next">', first).group(1))
    assert "level=red" in link
    second = supervisor.html(link)
    assert second.count('<tr data-warning="red">') == 1 and 'rel="prev"' in second
    shown = {int(re.search(r'href="/cases/(\d+)"', page).group(1)) for page in (first, second)}
    assert shown == {case_id, second_id}


def test_send_back_recall_copy_and_priority_on_the_task_page(session_for, api, case_id):
    formal = api.find_task("window1", "formal_check", case_id)["id"]
    window = session_for("window1")
    window.post(f"/tasks/{formal}", {"action": "claim"})
    r = window.post(f"/tasks/{formal}/moves", {"action": "priority", "priority": "2", "follow_up_on": "2026-11-25"})
    assert "Priority saved" in r.get_data(as_text=True)
    inbox = window.html("/?tab=mine")
    assert 'data-priority="2"' in inbox and "Urgent" in inbox
    fund_id = re.search(r'<option value="(\d+)">[^<]*\(fund1\)', window.html(f"/tasks/{formal}")).group(1)
    r = window.post(f"/tasks/{formal}/moves", {"action": "copy", "user_ids": [fund_id], "note": "请知悉"})
    assert "Copies sent" in r.get_data(as_text=True)
    fund = session_for("fund1")
    assert f'id="task-{formal}"' in fund.html("/?tab=copied")
    fund.html(f"/tasks/{formal}")  # opening it marks the copy read

    window.post(f"/tasks/{formal}", {"action": "submit"})
    page = window.html(f"/tasks/{formal}")
    assert 'id="recall"' in page
    r = window.post(f"/tasks/{formal}/moves", {"action": "recall"})
    assert "The step is back with you" in r.get_data(as_text=True)
    mine = window.html("/?tab=mine")  # the reopened step is claimed by window1 again
    new_id = re.search(r'id="task-(\d+)"', mine).group(1)
    assert new_id != str(formal)
    window.post(f"/tasks/{new_id}", {"action": "submit"})

    tax = api.find_task("tax1", "tax_review", case_id)["id"]
    taxer = session_for("tax1")
    taxer.post(f"/tasks/{tax}", {"action": "claim"})
    page = taxer.html(f"/tasks/{tax}")
    assert 'id="return-form"' in page
    target = re.search(r'<select name="target_task_id"><option value="(\d+)">', page).group(1)
    r = taxer.post(f"/tasks/{tax}/moves", {"action": "return", "target_task_id": target, "opinion": ""})
    assert "Write something first" in r.get_data(as_text=True)
    r = taxer.post(f"/tasks/{tax}/moves", {"action": "return", "target_task_id": target, "opinion": "请核对税号"})
    assert "The case was sent back" in r.get_data(as_text=True)
    page = window.html("/?tab=mine")
    back = re.search(r'id="task-(\d+)"', page).group(1)
    task_page = window.html(f"/tasks/{back}")
    assert 'data-kind="return"' in task_page and "请核对税号" in task_page


def test_countersign_add_and_remove_signer_buttons(session_for, api, make_user):
    files = (DATA / "countersign" / "countersign.bpmn", DATA / "countersign" / "sign_form.json")
    assert api.deploy(*files).status_code == 201
    case = api.start("countersign").get_json()
    make_user("health3", ["reviewer"], ["health"])
    mine = next(t for t in api.available("health1") if t["case_id"] == case["id"])
    health = session_for("health1")
    health.post(f"/tasks/{mine['id']}", {"action": "claim"})
    page = health.html(f"/tasks/{mine['id']}")
    assert 'id="add-signer-form"' in page and 'id="remove-signer-form"' not in page
    health3_id = re.search(r'<option value="(\d+)">health3 \(health3\)', page).group(1)
    r = health.post(f"/tasks/{mine['id']}/moves", {"action": "add_signer", "user_id": health3_id})
    assert "Signer added" in r.get_data(as_text=True)
    added = next(t for t in api.available("health3") if t["case_id"] == case["id"])
    chief = session_for("healthchief")
    assert 'id="remove-signer-form"' in chief.html(f"/tasks/{added['id']}")
    r = chief.post(f"/tasks/{added['id']}/moves", {"action": "remove_signer", "note": "回避"})
    assert "Signer removed" in r.get_data(as_text=True)
    assert not any(t["case_id"] == case["id"] for t in api.available("health3"))


def test_files_uploaded_on_the_task_page(session_for, api, case_id):
    import io

    formal = api.find_task("window1", "formal_check", case_id)["id"]
    window = session_for("window1")
    window.post(f"/tasks/{formal}", {"action": "claim"})
    assert 'id="attach-form"' in window.html(f"/tasks/{formal}")
    assert 'id="attach-form"' not in session_for("supervisor").html(f"/tasks/{formal}")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    r = window.client.post(f"/tasks/{formal}/attachments", data={
        "csrf_token": window.token, "file": (io.BytesIO(pdf), "核查照片.pdf")},
        content_type="multipart/form-data", follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "Files added" in page and "核查照片.pdf" in page and "形式审查" in page
    r = window.client.post(f"/tasks/{formal}/attachments", data={
        "csrf_token": window.token, "file": (io.BytesIO(b"hello"), "x.txt")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "Only PDF, JPEG and PNG files are accepted" in r.get_data(as_text=True)
