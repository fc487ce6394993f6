"""Every bundle in bpmn/: validates, deploys with the forms it names, routes every user task to a
group (or the applicant) with a form, and carries a diagram (BPMN DI) for every element."""

from __future__ import annotations

import pytest
from lxml import etree

from support import ROOT

BUNDLES = sorted((ROOT / "bpmn").glob("*.bpmn"))
FORMS = ROOT / "forms"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"


def _uploads(path):
    content = path.read_bytes()
    forms = [f for f in sorted(FORMS.glob("*.json")) if f.name.encode() in content]
    return [path, *forms]


def test_the_library_has_the_bundles():
    assert {p.stem for p in BUNDLES} >= {"newborn", "business_startup", "taxi_driver_licence"}


@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_bundle_deploys_and_every_task_has_a_group_and_a_form(api, app, path):
    r = api.deploy(*_uploads(path))
    assert r.status_code == 201, r.get_json()
    assert [w for w in r.get_json().get("warnings", []) if w.get("severity") == "error"] == []
    from app.extensions import db
    from app.models import ProcessVersion

    with app.app_context():
        version = db.session.query(ProcessVersion).order_by(ProcessVersion.id.desc()).first()
        assert version.key == path.stem
        files = {f.filename for f in version.files}
        for bpmn_id, route in version.meta["user_tasks"].items():
            assert route["groups"] or route["initiator"] or route.get("group_variables"), bpmn_id
            assert route["form"] and route["form"] in files, bpmn_id
        start_form = version.meta.get("start_form")
        assert start_form is None or start_form in files


@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_bundle_has_a_diagram_for_every_element(path):
    root = etree.parse(str(path)).getroot()
    drawn = {el.get("bpmnElement") for el in root.iter(f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge")}
    process = root.find(f"{{{BPMN}}}process")
    elements = {el.get("id") for el in process.iter() if isinstance(el.tag, str) and el.get("id")
                and etree.QName(el).localname not in ("laneSet", "extensionElements", "documentation",
                                                      "conditionExpression", "timerEventDefinition",
                                                      "messageEventDefinition", "multiInstanceLoopCharacteristics",
                                                      "inputDataItem", "outputDataItem")}
    missing = elements - drawn - {process.get("id")}
    assert missing == set(), f"{path.name}: no shape or edge for {sorted(missing)}"


@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_every_task_has_a_chinese_name(path):
    root = etree.parse(str(path)).getroot()
    for task in root.iter(f"{{{BPMN}}}userTask"):
        name = task.get("name") or ""
        assert any("\u4e00" <= ch <= "\u9fff" for ch in name), task.get("id")


@pytest.mark.parametrize("path", BUNDLES, ids=[p.stem for p in BUNDLES])
def test_every_task_is_documented_for_the_people_who_do_it(path):
    """Each user and script task says in Chinese what to check and decide (shown on the task page)."""
    root = etree.parse(str(path)).getroot()
    for task in [*root.iter(f"{{{BPMN}}}userTask"), *root.iter(f"{{{BPMN}}}scriptTask")]:
        doc = task.find(f"{{{BPMN}}}documentation")
        text = (doc.text or "") if doc is not None else ""
        assert len(text) >= 20 and any("\u4e00" <= ch <= "\u9fff" for ch in text), task.get("id")
