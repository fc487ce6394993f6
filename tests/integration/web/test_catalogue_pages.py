"""The service catalogue: import from catalogue/*.toml (revisions, 六减), the public 办事指南 pages,
and the intake checklist whose missing materials start the correction notice."""

from __future__ import annotations

import io
import re

import pytest

from support import ROOT

CATALOGUE = ROOT / "catalogue"
BUNDLE = ROOT / "bpmn" / "business_startup.bpmn"
FORMS = sorted((ROOT / "forms").glob("business_startup_*.json"))


@pytest.fixture()
def imported(app, db_clean):
    from app import transaction
    from app.services import catalogue

    with app.app_context():
        results = transaction.run(catalogue.import_dir, None, CATALOGUE)
        return {e.key: e.revision for e, _created in results}


def test_every_bundle_in_bpmn_has_a_catalogue_entry(imported):
    """Every diagram the window starts; the 12345 order diagram (startedBy) is not a bundle."""
    bundles = {p.stem for p in (ROOT / "bpmn").glob("*.bpmn") if b'name="startedBy"' not in p.read_bytes()}
    assert "hotline_work_order" not in bundles and "newborn" in bundles
    assert set(imported) >= bundles


def test_reimport_keeps_the_revision_and_a_change_makes_a_new_one(api, imported):
    text = (CATALOGUE / "business_startup.toml").read_text(encoding="utf-8")
    upload = [(io.BytesIO(text.encode()), "business_startup.toml")]
    r = api.client.post("/api/v1/catalogue", headers=api.headers("designer"), data={"file": upload},
                        content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json() == [{"key": "business_startup", "revision": 1, "created": False}]
    leaner = text.replace('promised_days = 1\nstatutory_days = 6', 'promised_days = 0\nstatutory_days = 6', 1)
    leaner = leaner[:leaner.index("[[materials]]\ncode = \"M7\"")]  # one material fewer
    r = api.client.post("/api/v1/catalogue", headers=api.headers("designer"),
                        data={"file": [(io.BytesIO(leaner.encode()), "business_startup.toml")]},
                        content_type="multipart/form-data")
    assert r.get_json() == [{"key": "business_startup", "revision": 2, "created": True}]
    figures = api.client.get("/api/v1/catalogue/business_startup/reductions?from=1&to=2").get_json()
    assert (figures["materials_removed"], figures["promised_days_reduced"], figures["items_removed"]) == (1, 1, 0)
    again = [(io.BytesIO(text.encode()), "business_startup.toml")]
    assert api.client.post("/api/v1/catalogue", headers=api.headers("window1"), data={"file": again},
                           content_type="multipart/form-data").status_code == 403


def test_a_bad_catalogue_file_is_refused_with_reasons(api, imported):
    bad = (CATALOGUE / "retirement.toml").read_text(encoding="utf-8").replace(
        'lead_department = "hr_social_security"', 'lead_department = "ministry_of_magic"')
    r = api.client.post("/api/v1/catalogue", headers=api.headers("designer"),
                        data={"file": [(io.BytesIO(bad.encode()), "retirement.toml")]},
                        content_type="multipart/form-data")
    assert r.status_code == 422
    assert any("ministry_of_magic" in m for m in r.get_json()["errors"]["retirement.toml"])
    r = api.client.post("/api/v1/catalogue", headers=api.headers("designer"),
                        data={"file": [(io.BytesIO(b"key = [unclosed"), "x.toml")]}, content_type="multipart/form-data")
    assert r.status_code == 422 and "x.toml" in r.get_json()["errors"]


def test_public_guide_and_checklist(client, imported):
    assert client.get("/api/v1/catalogue").status_code == 200  # public
    listed = client.post("/api/v1/catalogue/business_startup/checklist",
                         json={"answers": {"articles": "standard", "premises": "pledge", "agent": "no"}}).get_json()
    codes = [m["code"] for m in listed]
    assert "M6" in codes and "M5" not in codes and "M7" not in codes
    page = client.get("/guide/business_startup").get_data(as_text=True)
    assert "企业开办一件事" in page and "住所承诺书" in page and "市场监管" in page
    narrowed = client.get("/guide/business_startup?premises=certificate&agent=no").get_data(as_text=True)
    assert "住所使用证明" in narrowed and "住所承诺书" not in narrowed
    assert client.get("/guide/no_such_bundle").status_code == 404


def test_every_bundle_checklist_and_entry_answer_over_the_api(client, imported):
    """Materials without sub-items (the newborn's M1–M4) once made the API answer 500."""
    for key in imported:
        r = client.post(f"/api/v1/catalogue/{key}/checklist", json={"answers": {}})
        assert r.status_code == 200, (key, r.get_json())
        assert r.get_json() and all("code" in m for m in r.get_json())
        assert client.get(f"/api/v1/catalogue/{key}").status_code == 200, key


def test_intake_checklist_feeds_the_correction_notice(session_for, api, imported):
    assert api.deploy(BUNDLE, *FORMS).status_code == 201
    window = session_for("window1")
    page = window.html("/cases/new?process_key=business_startup")
    assert 'id="checklist"' in page and 'name="scenario.premises"' in page
    form = {"applicant.name": "王小明", "applicant.id_number": "140402199001011234",
            "applicant.phone": "13812341234", "process_key": "business_startup",
            "data.company_name": "长治市示范科技有限公司", "data.company_type": "llc", "data.registered_capital": "10",
            "data.business_address": "长治市潞州区", "data.legal_representative": "王小明",
            "data.standard_articles": "true", "data.seal_count": "4", "data.need_invoices": "true",
            "data.employee_count": "3", "data.delivery": "window"}
    r = window.post("/cases/new", {**form, "material": ["M1"]})
    assert r.status_code == 422 and "Answer every question" in r.get_data(as_text=True)
    r = window.post("/cases/new", {**form, "scenario.articles": "standard", "scenario.premises": "pledge",
                                   "scenario.agent": "no", "material": ["M1", "M2"]})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="missing-materials"' in page
    assert re.search(r'id="missing-materials">[^<]*法定代表人、董事、监事和经理的任职文件及身份证件、住所承诺书', page)
    assert 'value="住所承诺书"' in page  # the correction notice is pre-filled
