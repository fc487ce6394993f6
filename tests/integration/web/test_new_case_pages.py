"""The new-case pages (收件) and attachment downloads through the Flask test client."""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "changzhi2025"
NEWBORN = [ROOT / "bpmn" / "newborn.bpmn", *sorted((ROOT / "forms").glob("newborn_*.json"))]
LOOP = ROOT / "tests" / "data" / "parallel_loop" / "parallel_loop.bpmn"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PDF = b"%PDF-1.4\n%test\n"
APPLICANT = {"applicant.name": "王小明", "applicant.id_number": "140402199001011234",
             "applicant.phone": "13812341234"}
# The newborn start form as the browser posts it (strings; the checkbox sends "true").
APPLICATION = {
    "data.newborn_name": "王小宝", "data.newborn_sex": "female", "data.newborn_birth_date": "2026-11-01",
    "data.birth_place": "山西省长治市潞州区", "data.birth_hospital": "长治市妇幼保健院", "data.mother_name": "李丽",
    "data.mother_id_number": "140402199203045678", "data.father_name": "王明",
    "data.father_id_number": "140402198905061239", "data.marriage_cert_number": "J140402-2020-001234",
    "data.register_with": "mother", "data.household_address": "长治市潞州区英雄中路1号",
    "data.contact_phone": "13900001111", "data.data_sharing_consent": "true", "data.delivery_method": "window",
    "data.bank_card_number": "", "data.bank_name": "", "data.mailing_address": "",
}


def submit_case(browser, fields: dict, files: list[tuple[bytes, str]] = (), process_key: str = "newborn"):
    """Post the intake form (with attachments) as the browser would."""
    data = {"csrf_token": browser.token, "process_key": process_key, **fields}
    data["attachments"] = [(io.BytesIO(content), name) for content, name in files]
    return browser.client.post("/cases/new", data=data, content_type="multipart/form-data")


@pytest.fixture()
def deployed(api, app, tmp_path, monkeypatch):
    """The newborn bundle and the parallel loop deployed; attachments stored under tmp_path."""
    monkeypatch.setitem(app.config, "ATTACHMENT_DIR", str(tmp_path / "attachments"))
    assert api.deploy(*NEWBORN).status_code == 201
    assert api.deploy(LOOP).status_code == 201
    return api


def count(app, model) -> int:
    from app.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def stored_case(app, case_id: int):
    from app.extensions import db
    from app.models import Attachment, AuditEvent, Case

    with app.app_context():
        case = db.session.get(Case, case_id)
        files = db.session.scalars(select(Attachment).where(Attachment.case_id == case_id)
                                   .order_by(Attachment.id)).all()
        kinds = db.session.scalars(select(AuditEvent.event_type).where(AuditEvent.case_id == case_id)
                                   .order_by(AuditEvent.id)).all()
        return {"receipt_no": case.receipt_no, "applicant": (case.applicant_name, case.applicant_id_number,
                                                              case.applicant_phone),
                "data": case.data, "files": [(a.id, a.filename, a.content_type) for a in files],
                "events": list(kinds)}


def test_new_case_is_for_clerks(app, deployed, login, client):
    """Logged out: the login page. Reviewers: 403 and no menu entry. Clerks: the entry in the menu."""
    from app.models import Case

    r = client.get("/cases/new")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    reviewer = login("health1")
    r = reviewer.client.get("/cases/new")
    html = r.get_data(as_text=True)
    assert r.status_code == 403 and "Not allowed" in html and 'href="/cases/new"' not in html
    assert reviewer.client.get("/cases/new?process_key=newborn").status_code == 403
    assert submit_case(reviewer, {**APPLICANT, **APPLICATION}).status_code == 403
    assert count(app, Case) == 0
    assert '<a href="/cases/new" aria-current="page">' in login("window1").html("/cases/new")


def test_pick_lists_bundles_and_filters_without_javascript(deployed, login):
    """Every deployed bundle with name, key and latest version; ?q= narrows by name or key."""
    window = login("window1")
    html = window.html("/cases/new")
    assert "<title>New case: choose a bundle" in html
    assert 'href="/cases/new?process_key=newborn"' in html and "新生儿出生一件事" in html
    assert "<code>newborn</code> · version 1" in html and "parallel_loop" in html
    assert '<label for="bundle-filter">' in html and 'name="q"' in html
    filtered = window.html("/cases/new?q=新生儿")
    assert "process_key=newborn" in filtered and "process_key=parallel_loop" not in filtered
    assert "process_key=parallel_loop" in window.html("/cases/new?q=PARALLEL")
    assert "No bundle matches." in window.html("/cases/new?q=nothing-like-this")


def test_pick_shows_descriptions_and_finds_by_them(app, deployed, login):
    """A version's description, when there is one, is shown and searched."""
    from app.extensions import db
    from app.models import ProcessVersion

    with app.app_context():
        for version in db.session.scalars(select(ProcessVersion)):
            version.description = "并联审批示例" if version.name != "新生儿出生一件事" else None
        db.session.commit()
    window = login("window1")
    assert '<p class="help">并联审批示例</p>' in window.html("/cases/new")
    found = window.html("/cases/new?q=示例")
    assert "process_key=parallel_loop" in found and "process_key=newborn" not in found


def test_bundle_without_a_start_form_needs_only_the_applicant(app, deployed, login):
    """No start form: applicant and files only; the case starts with empty data."""
    window = login("window1")
    html = window.html("/cases/new?process_key=parallel_loop")
    assert 'id="start-form"' not in html and 'name="applicant.name"' in html
    r = submit_case(window, APPLICANT, process_key="parallel_loop")
    assert r.status_code == 302
    assert stored_case(app, int(r.headers["Location"].rsplit("/", 1)[1]))["events"][0] == "case_started"


def test_a_failing_diagram_step_is_explained_on_the_form(app, deployed, login):
    """A script that fails on the data: 422 naming the element; nothing stored."""
    from app.models import Case

    assert deployed.deploy(ROOT / "tests" / "data" / "scripts" / "divide.bpmn").status_code == 201
    r = submit_case(login("window1"), APPLICANT, process_key="divide")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "The process could not continue with this data (divide_script: " in html
    assert 'value="王小明"' in html and count(app, Case) == 0


def test_intake_form_has_applicant_start_form_and_files(deployed, login):
    """Step 2: applicant fields, the start form from its schema (labels, required marks), a file input."""
    html = login("window1").html("/cases/new?process_key=newborn")
    assert "<title>New case · 新生儿出生一件事" in html
    assert 'enctype="multipart/form-data"' in html and 'name="process_key" value="newborn"' in html
    for name in ("name", "id_number", "phone"):
        assert f'<label for="applicant-{name}">' in html and f'name="applicant.{name}"' in html
    assert '<label for="field-newborn_name">新生儿姓名 <span class="required"' in html
    assert '<input type="date" id="field-newborn_birth_date" name="data.newborn_birth_date"' in html
    assert '<option value="">Please choose</option>' in html and '<option value="female">女</option>' in html
    assert ('<input type="checkbox" id="field-data_sharing_consent" name="data.data_sharing_consent" value="true"'
            in html)
    assert '<input type="file" id="attachments" name="attachments" multiple' in html
    assert "at most 5 MB each" in html


def test_unknown_bundle_is_404(deployed, login):
    """A process key nobody deployed: the 404 page."""
    r = login("window1").client.get("/cases/new?process_key=nope")
    assert r.status_code == 404 and "Not found" in r.get_data(as_text=True)


def test_start_case_with_attachments_goes_to_the_case_page(app, deployed, login):
    """One submit: case started with typed data (empty optionals absent), files stored, receipt flashed."""
    window = login("window1")
    r = submit_case(window, {**APPLICANT, **APPLICATION}, files=[(PNG, "出生医学证明.png"), (PDF, "结婚证.pdf")])
    assert r.status_code == 302, r.get_data(as_text=True)
    case_id = int(re.fullmatch(r"/cases/(\d+)", r.headers["Location"]).group(1))
    case = stored_case(app, case_id)
    assert case["applicant"] == ("王小明", "140402199001011234", "13812341234")
    assert case["data"]["data_sharing_consent"] is True and case["data"]["apply_maternity_allowance"] is False
    assert case["data"]["newborn_sex"] == "female" and "mailing_address" not in case["data"]
    assert "bank_card_number" not in case["data"]
    assert [(f[1], f[2]) for f in case["files"]] == [
        ("出生医学证明.png", "image/png"), ("结婚证.pdf", "application/pdf")]
    assert case["events"][:1] == ["case_started"] and case["events"].count("attachment_added") == 2
    html = window.html("/cases/new")
    assert f"Case started. Receipt number: {case['receipt_no']}" in html


def test_refused_intake_keeps_what_was_typed_and_stores_nothing(app, deployed, login):
    """422: each message next to its field (applicant, form, files); inputs kept; files to re-select."""
    from app.models import Attachment, Case

    fields = {**APPLICANT, "applicant.id_number": "12345", **APPLICATION, "data.newborn_name": "",
              "data.newborn_sex": "male"}
    r = submit_case(login("window1"), fields, files=[(b"just text", "说明.txt"), (PNG, "ok.png")])
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert re.search(r'<p class="field-error" id="applicant-id_number-error">Not a valid ID number', html)
    assert 'name="applicant.id_number" value="12345"' in html and 'value="王小明"' in html
    assert '<p class="field-error" id="field-newborn_name-error">This field is required.</p>' in html
    assert '<option value="male" selected>男</option>' in html and 'value="李丽"' in html
    assert "说明.txt is not a PDF, JPEG or PNG file." in html and 'id="attachments-error"' in html
    assert "select them again" in html
    assert count(app, Case) == 0 and count(app, Attachment) == 0


def test_applicant_rules_match_the_api(app, deployed, login):
    """15-digit ID numbers pass, a lower-case x is accepted, a bad phone is refused."""
    window = login("window1")
    r = submit_case(window, {**APPLICANT, "applicant.phone": "call me", **APPLICATION})
    assert r.status_code == 422 and 'id="applicant-phone-error">Not a valid phone number.' in r.get_data(as_text=True)
    r = submit_case(window, {**APPLICANT, "applicant.id_number": "14040219850505678x", "applicant.phone": "",
                       **APPLICATION})
    assert r.status_code == 302
    case = stored_case(app, int(r.headers["Location"].rsplit("/", 1)[1]))
    assert case["applicant"] == ("王小明", "14040219850505678X", None)
    fifteen_digits = {**APPLICANT, "applicant.id_number": "140402850505123", **APPLICATION}
    assert submit_case(window, fifteen_digits).status_code == 302


def test_attachment_download_headers_and_visibility(app, deployed, login):
    """The starter downloads with the stored type, RFC 5987 name, nosniff; others get 404."""
    window = login("window1")
    r = submit_case(window, {**APPLICANT, **APPLICATION}, files=[(PNG, "出生医学证明.png")])
    case_id = int(r.headers["Location"].rsplit("/", 1)[1])
    attachment_id = stored_case(app, case_id)["files"][0][0]
    url = f"/cases/{case_id}/attachments/{attachment_id}"
    r = window.client.get(url)
    assert r.status_code == 200 and r.data == PNG
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    disposition = r.headers["Content-Disposition"]
    assert disposition == (f'attachment; filename="attachment-{attachment_id}.png"; '
                           f"filename*=UTF-8''{quote('出生医学证明.png', safe='')}")
    assert login("medins1").client.get(url).status_code == 404  # no task of theirs in this case
    assert login("supervisor").client.get(url).status_code == 200
    assert window.client.get(f"/cases/{case_id}/attachments/999999").status_code == 404
    other = submit_case(window, {**APPLICANT, **APPLICATION})
    other_id = int(other.headers["Location"].rsplit("/", 1)[1])
    assert window.client.get(f"/cases/{other_id}/attachments/{attachment_id}").status_code == 404
    task_page = window.html(f"/tasks/{_task_id(app, case_id)}")
    assert f'href="{url}"' in task_page and "出生医学证明.png" in task_page


def test_download_names_have_a_safe_ascii_fallback():
    """Old clients get a plain ASCII name; the real one travels in filename* (RFC 5987)."""
    from app.web.attachments import _disposition

    assert _disposition('report "v2".pdf', 7) == (
        "attachment; filename=\"report_v2.pdf\"; filename*=UTF-8''report%20%22v2%22.pdf")
    assert _disposition("结婚证.JPG", 8).startswith('attachment; filename="attachment-8.JPG"; ')


def _task_id(app, case_id: int) -> int:
    from app.extensions import db
    from app.models import HumanTask

    with app.app_context():
        return db.session.scalar(select(HumanTask.id).where(HumanTask.case_id == case_id))


def test_the_bundle_list_leaves_out_processes_a_service_starts(deployed, login):
    """The 12345 order diagram (startedBy=work_orders) is registered through work-order intake only."""
    hotline = ROOT / "bpmn" / "hotline_work_order.bpmn"
    forms = [f for f in sorted((ROOT / "forms").glob("hotline_*.json")) if f.name.encode() in hotline.read_bytes()]
    assert deployed.deploy(hotline, *forms).status_code == 201
    html = login("window1").client.get("/cases/new").get_data(as_text=True)
    assert "process_key=newborn" in html
    assert "hotline_work_order" not in html and "12345热线工单" not in html


def _form_key(html: str) -> str:
    return re.search(r'name="submission_key" value="([0-9a-f]{32})"', html).group(1)


def test_a_form_sent_twice_starts_one_case(app, deployed, login):
    """A double click on 确认受理 (or a form re-sent over a slow line): the second submit of the same
    form returns the case the first one started, with one receipt number and one set of tasks."""
    from app.models import Case, HumanTask

    window = login("window1")
    key = _form_key(window.html("/cases/new?process_key=newborn"))
    assert _form_key(window.html("/cases/new?process_key=newborn")) != key  # every form shown has its own
    first = submit_case(window, {**APPLICANT, **APPLICATION, "submission_key": key}, files=[(PNG, "证明.png")])
    assert first.status_code == 302
    tasks = count(app, HumanTask)
    again = submit_case(window, {**APPLICANT, **APPLICATION, "submission_key": key}, files=[(PNG, "证明.png")])
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    assert count(app, Case) == 1 and count(app, HumanTask) == tasks
    case = stored_case(app, int(first.headers["Location"].rsplit("/", 1)[1]))
    assert len(case["files"]) == 1
    html = window.html(again.headers["Location"])
    assert f"This application was already received (receipt number {case['receipt_no']})" in html
    # Another clerk's form that happens to carry the same key is theirs alone.
    other = submit_case(login("window2"), {**APPLICANT, **APPLICATION, "submission_key": key})
    assert other.status_code == 302 and other.headers["Location"] != first.headers["Location"]
    assert count(app, Case) == 2


def test_a_refused_form_keeps_its_key_and_a_used_form_does_not_start_another_application(app, deployed, login):
    """A refused submit started nothing: its page keeps the key, and the corrected submit starts the
    case. The same form sent again for another applicant (the back button) is refused with the
    input kept and a new key, instead of answering with the first case."""
    from app.models import Case

    window = login("window1")
    key = _form_key(window.html("/cases/new?process_key=newborn"))
    refused = submit_case(window, {**APPLICANT, **APPLICATION, "data.newborn_name": "", "submission_key": key})
    assert refused.status_code == 422 and _form_key(refused.get_data(as_text=True)) == key
    assert count(app, Case) == 0
    started = submit_case(window, {**APPLICANT, **APPLICATION, "submission_key": key})
    assert started.status_code == 302 and count(app, Case) == 1
    receipt = stored_case(app, int(started.headers["Location"].rsplit("/", 1)[1]))["receipt_no"]
    reused = submit_case(window, {**APPLICANT, **APPLICATION, "applicant.name": "赵六",
                                  "applicant.id_number": "140402198802023456", "submission_key": key})
    html = reused.get_data(as_text=True)
    assert reused.status_code == 409 and count(app, Case) == 1
    assert f"This form was already sent for another application (receipt {receipt})" in html
    assert 'value="赵六"' in html and _form_key(html) != key
    assert submit_case(window, {**APPLICANT, **APPLICATION, "applicant.name": "赵六",
                                "applicant.id_number": "140402198802023456",
                                "submission_key": _form_key(html)}).status_code == 302
    assert count(app, Case) == 2


def test_a_malformed_form_key_is_refused_with_a_fresh_one(app, deployed, login):
    from app.models import Case

    r = submit_case(login("window1"), {**APPLICANT, **APPLICATION, "submission_key": "<script>"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "8 to 64 letters, digits" in html and count(app, Case) == 0
    assert re.search(r'name="submission_key" value="[0-9a-f]{32}"', html)


def test_what_the_eligibility_script_computes_is_labelled_on_the_case_page(app, deployed, login):
    """age_days, eligible and late_birth_registration come from a script, not a form: the start
    form's x-dataLabels words them instead of showing the keys."""
    window = login("window1")
    r = submit_case(window, {**APPLICANT, **APPLICATION})
    assert r.status_code == 302
    data = re.search(r'<dl class="kv" id="case-data">(.*?)</dl>', window.html(r.headers["Location"]), re.S).group(1)
    for label in ("出生天数", "资格核验通过", "逾期申报出生登记"):
        assert f"<dt>{label}</dt>" in data, data
    assert not re.search(r"<dt>[a-z_]+</dt>", data), re.findall(r"<dt>[a-z_]+</dt>", data)
