"""肩并肩 pages: helper1 prepares and hands over, window1 accepts from the queue."""

from __future__ import annotations

import re

import pytest

from support import ROOT


@pytest.fixture()
def ready(api, app):
    from app import transaction
    from app.services import catalogue

    bundle = ROOT / "bpmn" / "business_startup.bpmn"
    assert api.deploy(bundle, *sorted((ROOT / "forms").glob("business_startup_*.json"))).status_code == 201
    with app.app_context():
        transaction.run(catalogue.import_dir, None, ROOT / "catalogue")


def test_helper_hands_over_and_the_window_accepts(session_for, ready):
    helper = session_for("helper1")
    assert 'href="/assist"' in helper.html("/")
    page = helper.html("/assist/new?process_key=business_startup")
    assert 'id="pre-review"' in page and 'name="review.M1"' in page
    form = {"process_key": "business_startup", "applicant.name": "王小明", "applicant.id_number": "140402199001011234",
            "applicant.phone": "13812341234", "data.company_name": "长治市示范科技有限公司", "data.company_type": "llc",
            "data.registered_capital": "10", "data.business_address": "长治市潞州区",
            "data.legal_representative": "王小明", "data.standard_articles": "true", "data.seal_count": "4",
            "data.need_invoices": "true", "data.employee_count": "3", "data.delivery": "window",
            "scenario.articles": "standard", "scenario.premises": "pledge", "scenario.agent": "no"}
    r = helper.post("/assist/save", {**form, "action": "submit"})
    assert r.status_code == 422 and "Pre-review every material" in r.get_data(as_text=True)
    reviews = {"review.M1": "ok", "review.M2": "ok", "review.M4": "missing", "remark.M4": "监事身份证未带",
               "review.M6": "ok", "draft_id": re.search(r'name="draft_id" value="(\d+)"',
                                                      r.get_data(as_text=True)).group(1)}
    r = helper.post("/assist/save", {**form, **reviews, "action": "submit"})
    assert "The application is in the window&#39;s queue" in r.get_data(as_text=True)

    window = session_for("window1")
    queue = window.html("/assist/queue")
    assert "<td>企业开办一件事</td>" in queue and "<td>business_startup</td>" not in queue
    draft_id = re.search(r'href="/assist/(\d+)"', queue).group(1)
    page = window.html(f"/assist/{draft_id}")
    assert 'data-review="missing"' in page and "监事身份证未带" in page
    assert "140402199001011234" not in page and "1404**********1234" in page
    # The helper's edit page (full numbers in its inputs) is the helper's alone.
    r = window.get(f"/assist/{draft_id}/edit")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/assist/{draft_id}")
    assert "140402199001011234" in helper.html(f"/assist/{draft_id}/edit")
    r = window.post(f"/assist/{draft_id}/decide", {"decision": "accept"})
    page = r.get_data(as_text=True)
    assert "Case started" in page and 'id="missing-materials"' in page
    assert 'id="assist-queue-empty"' in window.html("/assist/queue")


def test_the_lists_name_the_bundle_not_its_key(session_for, ready):
    """The helper's list and the window's queue say 企业开办一件事 (the bundle's name), not business_startup."""
    helper = session_for("helper1", lang="zh")
    r = helper.post("/assist/save", {"process_key": "business_startup", "applicant.name": "王小明", "action": "save"})
    assert r.status_code == 200
    row = re.search(r'<tr data-status="draft">(.*?)</tr>', helper.html("/assist"), re.S).group(1)
    assert "<td>business_startup</td>" not in row and "企业开办" in row
