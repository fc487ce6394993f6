"""Differences between two versions of a process (app/engine/diff.py); no Flask, no database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.engine import compile_process
from app.engine.diff import diff_forms, diff_processes

DATA = Path(__file__).resolve().parents[2] / "data"
ROOT = Path(__file__).resolve().parents[3]
V1 = (DATA / "api_checks" / "versioned_v1.bpmn").read_bytes()
V2 = (DATA / "api_checks" / "versioned_v2.bpmn").read_bytes()
NEWBORN = (ROOT / "bpmn" / "newborn.bpmn").read_bytes()
JOINT = (DATA / "api_checks" / "joint_review.bpmn").read_bytes()
JOINT_FORM = (DATA / "api_checks" / "joint_review_form.json").read_bytes()
TIMER = (DATA / "timer_escalation" / "timer_escalation.bpmn").read_bytes()
MAIN = (DATA / "call_activity" / "main.bpmn").read_bytes()
SUB = (DATA / "call_activity" / "sub.bpmn").read_bytes()


def diff(old: dict[str, bytes], new: dict[str, bytes]):
    """Compile both file sets (diagrams only) and compare them with all their files."""
    def compiled(files):
        return compile_process({n: c for n, c in files.items() if not n.endswith(".json")})

    return diff_processes(compiled(old), compiled(new), old, new)


def one(elements, element_id):
    found = [e for e in elements if e.id == element_id]
    assert len(found) == 1, [e.id for e in elements]
    return found[0]


def fields(element) -> dict:
    return {c.field: (c.old, c.new) for c in element.changes}


def test_identical_versions_have_no_differences():
    """The same files: identical, no element, flow, form or file listed."""
    result = diff({"v.bpmn": V1}, {"v.bpmn": V1})
    assert result.identical
    assert result.elements == [] and result.forms == []
    assert result.summary_lines() == ["The two versions are identical."]


def test_added_task_and_renamed_task_and_event():
    """v1 -> v2 of the test process: 复核 added, 审查 and 办结 renamed, f3 added, f2 re-targeted."""
    result = diff({"versioned.bpmn": V1}, {"versioned.bpmn": V2})
    assert [e.id for e in result.of("task", "added")] == ["recheck"]
    assert result.of("task", "added")[0].type == "userTask"
    assert result.of("task", "removed") == []
    review = one(result.of("task", "changed"), "review")
    assert fields(review) == {"name": ("审查 v1", "审查 v2")}
    end = one(result.of("event", "changed"), "end")
    assert end.type == "endEvent"
    assert fields(end) == {"name": ("办结 v1", "办结 v2")}
    assert [(f.id, f.source, f.target) for f in result.of("flow", "added")] == [("f3", "recheck", "end")]
    assert fields(one(result.of("flow", "changed"), "f2")) == {"target": ("end", "recheck")}
    assert result.files == {"added": [], "removed": [], "changed": ["versioned.bpmn"]}
    assert not result.identical


def test_reverse_direction_reports_removals():
    """v2 -> v1: 复核 and its flow f3 are removed."""
    result = diff({"versioned.bpmn": V2}, {"versioned.bpmn": V1})
    assert [e.id for e in result.of("task", "removed")] == ["recheck"]
    assert [e.id for e in result.of("flow", "removed")] == ["f3"]
    assert result.of("task", "added") == []


def test_as_dict_groups_by_kind_and_status():
    """The JSON shape: tasks/gateways/events/flows/forms each with added/removed/changed, flows with ends."""
    body = diff({"versioned.bpmn": V1}, {"versioned.bpmn": V2}).as_dict()
    json.dumps(body)  # JSON-ready
    for group in ("tasks", "gateways", "events", "flows", "forms", "files"):
        assert set(body[group]) == {"added", "removed", "changed"}
    assert body["tasks"]["changed"][0] == {
        "id": "review", "name": "审查 v2", "type": "userTask", "process": "versioned",
        "changes": [{"field": "name", "old": "审查 v1", "new": "审查 v2"}]}
    assert body["flows"]["added"][0]["source"] == "recheck"
    assert "source" not in body["tasks"]["added"][0]


def test_lane_change_is_reported():
    """Moving 生育登记 from the health lane to the public security lane changes its lane."""
    line = b"        <bpmn:flowNodeRef>birth_registration</bpmn:flowNodeRef>\n"
    moved = NEWBORN.replace(line, b"").replace(
        b"<bpmn:flowNodeRef>hukou_registration</bpmn:flowNodeRef>\n",
        b"<bpmn:flowNodeRef>hukou_registration</bpmn:flowNodeRef>\n" + line)
    result = diff({"newborn.bpmn": NEWBORN}, {"newborn.bpmn": moved})
    assert [e.id for e in result.elements] == ["birth_registration"]
    assert fields(result.elements[0]) == {"lane": ("health", "public_security")}


def test_condition_change_is_reported_on_the_flow_not_the_gateway():
    """A changed condition is a change of its sequence flow; the gateway itself is unchanged."""
    changed = NEWBORN.replace(b'check_decision == "accept"', b'check_decision in ("accept", "ok")')
    result = diff({"newborn.bpmn": NEWBORN}, {"newborn.bpmn": changed})
    assert result.of("gateway", "changed") == []
    flow = one(result.of("flow", "changed"), result.of("flow", "changed")[0].id)
    assert fields(flow) == {"condition": ('check_decision == "accept"', 'check_decision in ("accept", "ok")')}
    assert flow.source == "gw_check_decision"


def test_default_flow_change_is_reported_on_gateway_and_flows():
    """Another default flow: the gateway's default target changes, and both flows' default flag."""
    old = (DATA / "api_checks" / "versioned_v1.bpmn").read_text(encoding="utf-8")
    gateway = old.replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />',
        '<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="gw" />\n'
        '    <bpmn:exclusiveGateway id="gw" name="通过？" default="{default}" />\n'
        '    <bpmn:sequenceFlow id="yes" sourceRef="gw" targetRef="end">'
        '<bpmn:conditionExpression>ok</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
        '    <bpmn:sequenceFlow id="no" sourceRef="gw" targetRef="end2" />\n'
        '    <bpmn:endEvent id="end2" name="退回" />')
    with_no = gateway.replace("{default}", "no").encode()
    with_yes = gateway.replace("{default}", "yes").replace(
        '<bpmn:conditionExpression>ok</bpmn:conditionExpression></bpmn:sequenceFlow>', '</bpmn:sequenceFlow>').replace(
        '<bpmn:sequenceFlow id="no" sourceRef="gw" targetRef="end2" />',
        '<bpmn:sequenceFlow id="no" sourceRef="gw" targetRef="end2">'
        '<bpmn:conditionExpression>not ok</bpmn:conditionExpression></bpmn:sequenceFlow>').encode()
    result = diff({"v.bpmn": with_no}, {"v.bpmn": with_yes})
    gw = one(result.of("gateway", "changed"), "gw")
    assert gw.type == "exclusiveGateway"
    assert fields(gw) == {"default": ("end2", "end")}
    assert fields(one(result.of("flow", "changed"), "yes")) == {"condition": ("ok", None), "default": (False, True)}
    assert fields(one(result.of("flow", "changed"), "no")) == {"condition": (None, "not ok"),
                                                               "default": (True, False)}

    # And from v1 (no gateway): the gateway, its end event and flows are added.
    added = diff({"v.bpmn": V1}, {"v.bpmn": with_no})
    assert [e.id for e in added.of("gateway", "added")] == ["gw"]
    assert [e.id for e in added.of("event", "added")] == ["end2"]
    assert sorted(e.id for e in added.of("flow", "added")) == ["no", "yes"]


def test_candidate_groups_and_form_key_changes():
    """camunda:candidateGroups and camunda:formKey changes are named as such; the new form is listed."""
    changed = JOINT.replace(b"health,public_security", b"health").replace(
        b'camunda:formKey="joint_review_form.json"', b'camunda:formKey="joint_v2.json"')
    result = diff({"joint_review.bpmn": JOINT, "joint_review_form.json": JOINT_FORM},
                  {"joint_review.bpmn": changed, "joint_v2.json": JOINT_FORM})
    joint = one(result.of("task", "changed"), "joint")
    assert fields(joint) == {"candidate_groups": (["health", "public_security"], ["health"]),
                             "form": ("joint_review_form.json", "joint_v2.json")}
    assert [f.file for f in result.forms_with("added")] == ["joint_v2.json"]
    assert [f.file for f in result.forms_with("removed")] == ["joint_review_form.json"]
    assert result.forms_with("added")[0].properties_added == ("joint_ok",)
    assert result.forms_with("added")[0].required_added == ("joint_ok",)


def test_spiff_form_property_change():
    """The spiff formJsonSchemaFilename property of a task is its form."""
    changed = NEWBORN.replace(b'value="newborn_handover.json"', b'value="newborn_handover_v2.json"')
    result = diff({"newborn.bpmn": NEWBORN}, {"newborn.bpmn": changed})
    assert fields(one(result.of("task", "changed"), "handover")) == {
        "form": ("newborn_handover.json", "newborn_handover_v2.json")}


def test_timer_change_on_a_boundary_event():
    """A new timer duration is reported on the boundary event as 'timer'."""
    changed = TIMER.replace(b'"PT1S"', b'"PT48H"')
    result = diff({"t.bpmn": TIMER}, {"t.bpmn": changed})
    overdue = one(result.of("event", "changed"), "overdue")
    assert overdue.type == "boundaryEvent"
    assert fields(overdue) == {"timer": ('"PT1S"', '"PT48H"')}
    assert result.of("task", "changed") == []


def test_renamed_task_id_is_aligned_as_a_change():
    """SpecDiff lines a task whose id changed up with the old one by position: one change, no add/remove."""
    renamed = V1.replace(b'id="review"', b'id="review_2"').replace(b'Ref="review"', b'Ref="review_2"').replace(
        b"<bpmn:flowNodeRef>review</bpmn:flowNodeRef>", b"<bpmn:flowNodeRef>review_2</bpmn:flowNodeRef>")
    result = diff({"v.bpmn": V1}, {"v.bpmn": renamed})
    assert result.of("task", "added") == [] and result.of("task", "removed") == []
    review = one(result.of("task", "changed"), "review_2")
    assert fields(review) == {"id": ("review", "review_2")}


def test_flow_with_a_new_id_between_the_same_elements_is_a_change():
    """A modeller re-drawing a flow gives it a new id: reported as the id of one flow changing."""
    redrawn = V1.replace(b'id="f2"', b'id="Flow_0abc"')
    result = diff({"v.bpmn": V1}, {"v.bpmn": redrawn})
    assert result.of("flow", "added") == [] and result.of("flow", "removed") == []
    assert fields(one(result.of("flow", "changed"), "Flow_0abc")) == {"id": ("f2", "Flow_0abc")}


def test_task_type_change():
    """A user task turned into a manual task changes its type."""
    changed = V1.replace(b'<bpmn:userTask id="review"', b'<bpmn:manualTask id="review"')
    result = diff({"v.bpmn": V1}, {"v.bpmn": changed})
    review = one(result.of("task", "changed"), "review")
    assert fields(review)["type"] == ("userTask", "manualTask")


def test_called_process_changes_are_reported_with_their_process():
    """A change inside a called process (call activity) names that process."""
    changed = SUB.replace(b'name="Sub task"', b'name="Sub task v2"')
    result = diff({"main.bpmn": MAIN, "sub.bpmn": SUB}, {"main.bpmn": MAIN, "sub.bpmn": changed})
    task = one(result.of("task", "changed"), "sub_task")
    assert task.process == "sub_review"
    assert fields(task) == {"name": ("Sub task", "Sub task v2")}


def test_layout_only_change_lists_the_file():
    """Only a comment changed: no element differs, the file is listed as changed."""
    result = diff({"v.bpmn": V1}, {"v.bpmn": V1.replace(b"version 1", b"version one")})
    assert not result.identical
    assert result.behaviour_unchanged
    assert result.files["changed"] == ["v.bpmn"]
    assert "Only the layout or comments changed" in result.summary_lines()[-1]


def test_process_name_change():
    """The process's display name is reported."""
    renamed = V1.replace('name="版本测试"'.encode(), 'name="版本测试二"'.encode())
    result = diff({"v.bpmn": V1}, {"v.bpmn": renamed})
    assert (result.name.old, result.name.new) == ("版本测试", "版本测试二")
    assert result.as_dict()["name"] == {"field": "name", "old": "版本测试", "new": "版本测试二"}


def test_summary_lines_read_like_a_report():
    """The text report counts and lists every change."""
    lines = diff({"versioned.bpmn": V1}, {"versioned.bpmn": V2}).summary_lines()
    assert "Tasks: 1 added, 0 removed, 1 changed" in lines
    assert "  + recheck (userTask) 复核 v2" in lines
    assert "      name: '审查 v1' -> '审查 v2'" in lines
    assert "  + f3 (sequenceFlow) recheck -> end" in lines


# -- forms -----------------------------------------------------------------------------------------

FORM_V1 = {
    "title": "出件",
    "type": "object",
    "required": ["name", "address"],
    "properties": {
        "name": {"type": "string", "title": "姓名"},
        "age": {"type": "integer", "title": "年龄"},
        "address": {"type": "object", "required": ["city"],
                    "properties": {"city": {"type": "string"}, "street": {"type": "string"}}},
        "items": {"type": "array", "items": {"type": "object", "properties": {"what": {"type": "string"}}}},
    },
}


def form_bytes(schema) -> bytes:
    return json.dumps(schema, ensure_ascii=False).encode()


def changed_form(**changes) -> dict:
    schema = json.loads(json.dumps(FORM_V1))
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = schema
        for p in parents:
            node = node[p]
        if value is None:
            node.pop(last)
        else:
            node[last] = value
    return schema


def test_identical_forms_are_no_change():
    assert diff_forms("f.json", form_bytes(FORM_V1), form_bytes(FORM_V1)) is None


def test_form_fields_added_removed_and_changed():
    """Fields added/removed (nested with dots, array items with []), keyword changes per field."""
    new = changed_form(properties__age=None, properties__phone={"type": "string"},
                       properties__name={"type": "string", "title": "申请人姓名", "maxLength": 50})
    new["properties"]["items"]["items"]["properties"]["count"] = {"type": "integer"}
    new["properties"]["address"]["properties"].pop("street")
    result = diff_forms("f.json", form_bytes(FORM_V1), form_bytes(new))
    assert result.status == "changed"
    assert result.properties_added == ("items[].count", "phone")
    assert result.properties_removed == ("address.street", "age")
    assert len(result.properties_changed) == 1
    name = result.properties_changed[0]
    assert name.path == "name"
    assert {c.field: (c.old, c.new) for c in name.changes} == {"maxLength": (None, 50), "title": ("姓名", "申请人姓名")}


def test_form_required_changes_and_title():
    """Required added/removed (nested paths too) and top-level keyword changes."""
    new = changed_form(required=["name", "age"], title="统一出件")
    new["properties"]["address"]["required"] = []
    result = diff_forms("f.json", form_bytes(FORM_V1), form_bytes(new))
    assert result.required_added == ("age",)
    assert result.required_removed == ("address", "address.city")
    assert [(c.field, c.old, c.new) for c in result.changes] == [("title", "出件", "统一出件")]
    assert result.properties_changed == ()


def test_added_and_removed_forms_list_their_fields():
    """A new form lists all its fields as added; a removed one as removed."""
    added = diff_forms("f.json", None, form_bytes(FORM_V1))
    assert added.status == "added"
    assert added.properties_added == ("address", "address.city", "address.street", "age", "items", "items[].what",
                                      "name")
    assert added.required_added == ("address", "address.city", "name")
    removed = diff_forms("f.json", form_bytes(FORM_V1), None)
    assert removed.status == "removed" and "name" in removed.properties_removed


def test_form_that_is_not_json_is_a_content_change():
    """A broken form file (never deployable, but stored files are data) is a content change, not a crash."""
    result = diff_forms("f.json", form_bytes(FORM_V1), b"{ nope")
    assert [(c.field, c.new) for c in result.changes] == [("content", "not JSON")]


@pytest.mark.parametrize("name", ["newborn_handover.json", "newborn_application.json"])
def test_form_diff_in_a_process_diff(name):
    """A changed form file of a version shows up in the process diff with its field changes."""
    form = (ROOT / "forms" / name).read_bytes()
    schema = json.loads(form)
    schema["properties"]["remark_new"] = {"type": "string", "title": "备注"}
    files = {"newborn.bpmn": NEWBORN, name: form}
    result = diff(files, {**files, name: form_bytes(schema)})
    assert result.elements == []
    assert [f.file for f in result.forms_with("changed")] == [name]
    assert result.forms_with("changed")[0].properties_added == ("remark_new",)
    assert result.as_dict()["forms"]["changed"][0]["properties_added"] == ["remark_new"]


def test_a_diagram_too_long_for_specdiff_is_aligned_by_id(monkeypatch):
    """SpecDiff recurses along paths; if that runs out of stack, elements are still aligned by id."""
    import app.engine.diff as diff_module

    def boom(*_args, **_kwargs):
        raise RecursionError

    monkeypatch.setattr(diff_module, "SpecDiff", boom)
    result = diff({"versioned.bpmn": V1}, {"versioned.bpmn": V2})
    assert [e.id for e in result.of("task", "added")] == ["recheck"]
    assert fields(one(result.of("task", "changed"), "review")) == {"name": ("审查 v1", "审查 v2")}
