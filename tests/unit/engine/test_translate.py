"""Import translation (app/engine/translate.py): JUEL, ISO timers, vendor attributes, encodings."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from lxml import etree

from app.engine import compile_process
from app.engine.parser import BPMN_NS, parse_xml
from app.engine.sandbox import SandboxEnvironment
from app.engine.translate import JuelError, juel_to_python, parse_timer_value, translate_document
from app.engine.validation import validate_process

DATA = Path(__file__).resolve().parents[2] / "data" / "validation"


def _b(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def document(body: str, extra_ns: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="{BPMN_NS}" '
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'{extra_ns} id="d" targetNamespace="http://example.invalid">\n'
            f'<bpmn:process id="p" isExecutable="true">\n{body}\n</bpmn:process>\n</bpmn:definitions>\n').encode()


def translated(body: str):
    root = parse_xml(document(body))
    return root, translate_document(root, "t.bpmn")


# -- JUEL -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("juel", "python"), [
    ("${x == 'a'}", "x == 'a'"),
    ("${approved}", "approved"),
    ("${!approved}", "not approved"),
    ("${a && b}", "a and b"),
    ("${a || b}", "a or b"),
    ("${x > 3}", "x > 3"),
    ("${x eq 'a'}", "x == 'a'"),
    ("${x ne 'a'}", "x != 'a'"),
    ("${a and b}", "a and b"),
    ("${a or b}", "a or b"),
    ("${not a}", "not a"),
    ("${x lt 1 or x ge 10}", "(x < 1) or (x >= 10)"),
    ("#{approved}", "approved"),
    ("${day>3}", "day > 3"),
    ("${5-2}", "5 - 2"),
    ("${vacationApproved == \"Approve\"}", "vacationApproved == 'Approve'"),
    ("${a && (b || c)}", "a and (b or c)"),
    ("${!a == b}", "(not a) == b"),
    ("${x > 3 ? 'big' : 'small'}", "'big' if (x > 3) else 'small'"),
    ("${items[0] == null}", "items[0] == None"),
    ("${true}", "True"),
    ("${n mod 2 == 0}", "(n % 2) == 0"),
    ("  ${ approved }  ", "approved"),
])
def test_juel_translates_to_python(juel, python):
    """Each JUEL form listed in the issue has one Python equivalent."""
    assert juel_to_python(juel) == python


@pytest.mark.parametrize(("juel", "data", "expected"), [
    ("${!a == b}", {"a": False, "b": True}, True),        # JUEL: (!a) == b; Python 'not a == b' would differ
    ("${!a == b}", {"a": True, "b": True}, False),
    ("${a || b && c}", {"a": True, "b": False, "c": False}, True),
    ("${x gt 3 and y eq 'yes'}", {"x": 4, "y": "yes"}, True),
    ("${x gt 3 and y eq 'yes'}", {"x": 2, "y": "yes"}, False),
    ("${-x + 2 * 3}", {"x": 1}, 5),
    ("${x ge 3 ? 'long' : 'short'}", {"x": 3}, "long"),
])
def test_translated_expressions_keep_juel_precedence(juel, data, expected):
    """The translation evaluates in the sandbox as JUEL would."""
    assert SandboxEnvironment().evaluate(juel_to_python(juel), data) == expected


@pytest.mark.parametrize(("juel", "kind", "text"), [
    ("${order.isApproved()}", "method_call", "order.isApproved()"),
    ("${order.total > 3}", "property_access", "order.total"),
    ("${execution.getVariable('x')}", "engine_variable", "execution"),
    ("${nrOfCompletedInstances/nrOfInstances >= 0.6}", "engine_variable", "nrOfCompletedInstances"),
    ("${loopCounter}", "engine_variable", "loopCounter"),
    ("${empty list}", "operator", "empty"),
    ("${size(list) > 2}", "method_call", "size()"),
    ("Hello ${name}", "template", "${…}"),
    ("${a} and ${b}", "template", "${…}"),
    ("${class}", "name", "class"),
    ("${a +}", "syntax", "unexpected end"),
    ("${a == 'unclosed}", "syntax", "unexpected character \"'\""),
    ("${}", "syntax", "empty expression"),
    ("${a ; b}", "syntax", "unexpected character ';'"),
])
def test_untranslatable_juel_names_the_construct(juel, kind, text):
    """Beans, method calls and engine variables are refused with what they are, never a crash."""
    with pytest.raises(JuelError) as info:
        juel_to_python(juel)
    assert info.value.kind == kind
    assert info.value.text == text


@pytest.mark.parametrize("garbage", ["${", "${(((", "${a[}", "${a ? b}", "${'\\'}", "#{]}", "${a..b}", "${1e}"])
def test_broken_juel_never_crashes(garbage):
    """Any text either translates or raises JuelError."""
    with contextlib.suppress(JuelError):
        juel_to_python(garbage)


def test_conditions_in_a_document_are_translated_in_place():
    """The flows of a Camunda gateway get Python conditions the spec compiles."""
    process = compile_process({"j.bpmn": (DATA / "juel_conditions.bpmn").read_bytes()})
    conditions = [c.args[0] for c, _ in process.spec.task_specs["decide"].cond_task_specs]
    assert conditions == ["approved and (days <= 3)", "not approved", "approved and (days > 3)"]


def test_untranslatable_condition_is_a_finding_on_the_flow():
    """${order.isApproved()} is reported on its flow with the expression and the construct."""
    root, findings = translated(
        '<bpmn:exclusiveGateway id="g" /><bpmn:sequenceFlow id="f" sourceRef="g" targetRef="g">'
        '<bpmn:conditionExpression>${order.isApproved()}</bpmn:conditionExpression></bpmn:sequenceFlow>')
    (finding,) = findings
    assert (finding.code, finding.element, finding.line) == ("unsupported_expression", "f", 4)
    assert finding.params["construct_kind"] == "method_call"
    assert "order.isApproved()" in finding.message


def test_condition_in_another_language_is_refused():
    """conditionExpression language="javascript" is named, not evaluated as Python."""
    _root, findings = translated(
        '<bpmn:sequenceFlow id="f" sourceRef="a" targetRef="b">'
        '<bpmn:conditionExpression language="javascript">a === 1</bpmn:conditionExpression></bpmn:sequenceFlow>')
    assert [(f.code, f.params["language"]) for f in findings] == [("unsupported_language", "javascript")]


def test_script_format_other_than_python_is_refused():
    """A groovy script task is reported with its language."""
    report = validate_process({"s.bpmn": (DATA / "script_language.bpmn").read_bytes()})
    assert [(f.code, f.element, f.params["language"]) for f in report.errors] == [
        ("unsupported_language", "calc", "groovy")]


def test_documentation_only_processes_are_not_reported():
    """Nothing in a process marked isExecutable="false" is reported: it never runs."""
    root = parse_xml(document("").replace(b'isExecutable="true"', b'isExecutable="false"').replace(
        b"\n</bpmn:process>", b'<bpmn:serviceTask id="s" camunda:class="x.Y" /></bpmn:process>'))
    assert translate_document(root, "doc.bpmn") == []


# -- timers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "text", "python"), [
    ("timeDuration", "PT2H", "'PT2H'"),
    ("timeDuration", "P1D", "'P1D'"),
    ("timeDuration", "P1DT12H", "'P1DT12H'"),
    ("timeDate", "2026-12-01T10:00:00+08:00", "'2026-12-01T10:00:00+08:00'"),
    ("timeCycle", "R3/PT1H", "'R3/PT1H'"),
    ("timeDuration", '"PT2H"', '"PT2H"'),                 # already Python: unchanged
    ("timeDuration", "timedelta_hours", "timedelta_hours"),  # an expression over case data: unchanged
    ("timeDuration", "${reminder}", "reminder"),
])
def test_literal_iso_timers_become_python_strings(kind, text, python):
    """SpiffWorkflow evaluates timer text as Python: literal ISO 8601 gets quoted."""
    root, findings = translated(
        f'<bpmn:intermediateCatchEvent id="t"><bpmn:timerEventDefinition><bpmn:{kind}>{text}</bpmn:{kind}>'
        '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
    assert findings == []
    assert root.find(f".//{_b(kind)}").text == python


def test_translated_timer_compiles_and_is_the_spec_expression():
    """The quoted PT2H reaches the boundary timer's spec."""
    process = compile_process({"t.bpmn": (DATA / "timer_literal_iso.bpmn").read_bytes()})
    assert process.spec.task_specs["late"].event_definition.expression == "'PT2H'"


@pytest.mark.parametrize(("name", "code"), [
    ("timer_cron.bpmn", "unsupported_timer"),
    ("timer_invalid_literal.bpmn", "timer_invalid"),
    ("timer_invalid_duration.bpmn", "timer_invalid"),
    ("timer_missing.bpmn", "timer_missing"),
])
def test_timers_that_do_not_parse_are_findings(name, code):
    """Cron, impossible dates, bad durations and empty timers are named on their event."""
    report = validate_process({name: (DATA / name).read_bytes()})
    assert [(f.code, f.element) for f in report.errors] == [(code, "late" if "missing" not in name else "wait")]


@pytest.mark.parametrize(("kind", "value"), [
    ("timeDuration", "PT2H"), ("timeDuration", "P1Y2M"), ("timeDate", "2026-12-01T10:00:00+08:00"),
    ("timeDate", "2026-12-01"), ("timeCycle", "R3/PT1H"), ("timeCycle", "R/2026-12-01T10:00:00Z/P1D"),
])
def test_parse_timer_value_accepts_iso_8601(kind, value):
    """SpiffWorkflow's own parsing helpers accept these."""
    parse_timer_value(kind, value)


@pytest.mark.parametrize(("kind", "value"), [
    ("timeDuration", "PT2X"), ("timeDuration", "2 hours"), ("timeDate", "next monday"), ("timeCycle", "R3"),
    ("timeDuration", 7200),
])
def test_parse_timer_value_refuses_the_rest(kind, value):
    with pytest.raises(ValueError):
        parse_timer_value(kind, value)


# -- vendor attributes and structure ---------------------------------------------------------------


def test_flows_without_id_get_one_instead_of_being_dropped():
    """Id-less sequence flows (allowed by the schema) are wired with generated ids, with a warning."""
    report = validate_process({"f.bpmn": (DATA / "flow_without_id.bpmn").read_bytes()})
    assert report.valid
    assert [f.code for f in report.warnings] == ["flow_id_added", "flow_id_added"]
    assert {f.element for f in report.warnings} == {"flow_start_review", "flow_review_end"}
    assert [t.bpmn_id for t in report.process.user_tasks] == ["review"]


def test_generated_flow_ids_do_not_clash():
    root, _ = translated('<bpmn:task id="flow_a_b" /><bpmn:sequenceFlow sourceRef="a" targetRef="b" />')
    flow = root.find(f".//{_b('sequenceFlow')}")
    assert flow.get("id") == "flow_a_b_2"


def test_potential_owner_groups_become_candidate_groups():
    """The standard potentialOwner 'management' / group(hr) routes like camunda:candidateGroups."""
    root, findings = translated(
        '<bpmn:userTask id="t"><bpmn:potentialOwner><bpmn:resourceAssignmentExpression>'
        '<bpmn:formalExpression>management, group(hr)</bpmn:formalExpression></bpmn:resourceAssignmentExpression>'
        '</bpmn:potentialOwner></bpmn:userTask>')
    assert findings == []
    assert root.find(f".//{_b('userTask')}").get("{http://camunda.org/schema/1.0/bpmn}candidateGroups") == \
        "management,hr"


def test_assignee_expressions_beyond_a_variable_are_a_warning():
    """A username or ${var} routes the task to that person; anything else cannot be evaluated."""
    for value in ("${boss}", "kermit", "zhang.san@example.org"):
        assert translated(f'<bpmn:userTask id="t" camunda:assignee="{value}" />')[1] == []
    for value in ("#{approver}", "$INITIATOR", "kermit_${loopCounter}", "${a.b}"):
        _root, findings = translated(f'<bpmn:userTask id="t" camunda:assignee="{value}" />')
        assert [(f.code, f.severity, f.params["value"]) for f in findings] == [("assignee_ignored", "warning", value)]


def test_decision_ref_becomes_the_spiff_decision_id():
    """camunda:decisionRef is copied to spiffworkflow:calledDecisionId, which SpiffWorkflow reads."""
    root, findings = translated('<bpmn:businessRuleTask id="r" camunda:decisionRef="fees" />')
    assert findings == []
    called = root.find(".//{http://spiffworkflow.org/bpmn/schema/1.0/core}calledDecisionId")
    assert called is not None and called.text == "fees"


@pytest.mark.parametrize(("body", "code", "construct"), [
    ('<bpmn:serviceTask id="s" camunda:class="org.example.Mailer" />', "unsupported_implementation",
     "camunda:class"),
    ('<bpmn:serviceTask id="s" camunda:type="external" camunda:topic="x" />', "unsupported_implementation",
     "camunda:type"),
    ('<bpmn:userTask id="u"><bpmn:extensionElements><camunda:taskListener event="create" '
     'class="x.Y" /></bpmn:extensionElements></bpmn:userTask>', "unsupported_listener", "camunda:taskListener"),
    ('<bpmn:callActivity id="c" calledElement="p2"><bpmn:extensionElements><camunda:in source="a" target="b" />'
     '</bpmn:extensionElements></bpmn:callActivity>', "unsupported_extension", "camunda:in"),
])
def test_vendor_behaviour_that_cannot_run_is_named(body, code, construct):
    _root, findings = translated(body)
    assert [(f.code, f.params["construct"]) for f in findings] == [(code, construct)]


# -- encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "key"), [("encoding_gbk.bpmn", "encoded_gbk"),
                                           ("encoding_utf16.bpmn", "encoded_utf16")])
def test_declared_encodings_are_read_from_bytes(name, key):
    """GBK (declared in the prolog) and UTF-16 with BOM deploy with their Chinese names intact."""
    content = (DATA / name).read_bytes()
    process = compile_process({name: content})
    assert process.key == key
    assert process.name == "出生医学证明办理"
    assert [t.name for t in process.user_tasks] == ["卫健审查"]


def test_gbk_file_is_not_utf8():
    content = (DATA / "encoding_gbk.bpmn").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    assert etree.fromstring(content).get("id") == "defs_enc"
