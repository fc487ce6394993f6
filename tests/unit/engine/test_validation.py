"""The validation report (app/engine/validation.py): one small broken diagram per rule.

The diagrams are in tests/data/validation/; each says in a comment which rule it breaks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine import DiagramError, compile_process
from app.engine.errors import Finding
from app.engine.validation import validate_process

DATA = Path(__file__).resolve().parents[2] / "data" / "validation"


def report_of(*names: str):
    return validate_process({name: (DATA / name).read_bytes() for name in names})


def only_errors(report) -> list[tuple[str, str | None]]:
    return [(f.code, f.element) for f in report.errors]


@pytest.mark.parametrize(("name", "code", "element", "line"), [
    ("malformed.bpmn", "xml_syntax", None, 6),
    ("not_bpmn.bpmn", "not_bpmn", None, 3),
    ("schema_invalid.bpmn", "schema", "review", 10),
    ("dangling_flow.bpmn", "dangling_flow", "f2", 13),
    ("dangling_default.bpmn", "dangling_default", "decide", 10),
    ("dangling_attachment.bpmn", "dangling_attachment", "late", 11),
    ("gateway_without_condition.bpmn", "gateway_flow_without_condition", "f_no", 19),
    ("condition_refused.bpmn", "refused_condition", "f_yes", 15),
    ("script_refused.bpmn", "refused_code", "calc", 10),
    ("empty_script.bpmn", "empty_script", "calc", 10),
    ("timer_invalid_duration.bpmn", "timer_invalid", "late", 12),
    ("timer_invalid_literal.bpmn", "timer_invalid", "late", 12),
    ("timer_cron.bpmn", "unsupported_timer", "late", 12),
    ("timer_missing.bpmn", "timer_missing", "wait", 11),
    ("boundary_deadlock.bpmn", "boundary_deadlock", "late", 14),
    ("boundary_join_waits.bpmn", "boundary_join_waits", "remind", 11),
    ("parallel_loop_entry.bpmn", "parallel_loop_entry", "fork", 10),
    ("never_ends.bpmn", "never_ends", "draft", 10),
    ("loop_without_wait.bpmn", "loop_without_wait", "inc", 10),
    ("implicit_split.bpmn", "implicit_split", "review", 10),
    ("unsupported_element.bpmn", "unsupported_element", "complex", 10),
    ("message_start.bpmn", "unsupported_start", "message_start", 9),
    ("juel_unsupported.bpmn", "unsupported_expression", "f_ok", 17),
    ("script_language.bpmn", "unsupported_language", "calc", 10),
    ("listener.bpmn", "unsupported_listener", "review", 12),
])
def test_each_rule_refuses_its_diagram_with_one_located_error(name, code, element, line):
    """Exactly one error, with the rule's code, the element and the line, in the file."""
    report = report_of(name)
    assert not report.valid
    (error,) = report.errors
    assert (error.code, error.element, error.line, error.file) == (code, element, line, name)
    assert error.severity == "error"
    assert error.message


@pytest.mark.parametrize("name", [
    "valid.bpmn", "gateway_with_default.bpmn", "boundary_merged.bpmn", "juel_conditions.bpmn",
    "timer_literal_iso.bpmn", "encoding_gbk.bpmn", "encoding_utf16.bpmn", "unknown_lane.bpmn", "missing_form.bpmn",
])
def test_valid_diagrams_have_no_findings(name):
    """The counterparts of the broken diagrams pass (groups and forms are the service's checks)."""
    report = report_of(name)
    assert report.valid, [f.message for f in report.findings]
    assert report.findings == []
    assert report.key == name.removesuffix(".bpmn").replace("encoding_", "encoded_")


def test_inclusive_gateway_needs_conditions_on_every_flow():
    """Both unconditioned flows of an inclusive split are named."""
    report = report_of("inclusive_without_conditions.bpmn")
    assert only_errors(report) == [("gateway_flow_without_condition", "f_a"),
                                   ("gateway_flow_without_condition", "f_b")]
    assert all("which" in f.params["gateway"] or "哪些部门" in f.params["gateway"] for f in report.errors)


def test_unreachable_element_is_a_warning_only():
    """An orphan task does not refuse the diagram; it is reported as a warning."""
    report = report_of("unreachable.bpmn")
    assert report.valid
    assert [(f.code, f.element, f.severity) for f in report.warnings] == [("unreachable", "orphan", "warning")]


def test_boundary_deadlock_names_event_join_and_activity():
    (error,) = report_of("boundary_deadlock.bpmn").errors
    assert error.params == {"name": "超时", "join": "join", "activity": "卫健审查"}
    assert "join" in error.message and "超时" in error.message


def test_parallel_loop_entry_names_the_loop_flow():
    (error,) = report_of("parallel_loop_entry.bpmn").errors
    assert error.params["flows"] == "f_back"
    assert "exclusive gateway" in error.message


def test_loop_with_a_user_task_is_not_a_spin():
    """The stock correction loop (parallel loop test diagram) passes every structural rule."""
    data = Path(__file__).resolve().parents[2] / "data"
    for relpath in ("parallel_loop/parallel_loop.bpmn", "nested_fork/nested_fork.bpmn",
                    "merge_shared/merge_shared.bpmn", "timer_escalation/timer_escalation.bpmn"):
        report = validate_process({Path(relpath).name: (data / relpath).read_bytes()})
        assert report.findings == [], relpath


def test_schema_error_names_the_element_on_that_line():
    """XSD errors carry a line; the report adds the element id found on that line."""
    (error,) = report_of("schema_invalid.bpmn").errors
    assert "priority" in error.message


def test_dangling_flow_reports_unreachable_end_as_warning_too():
    report = report_of("dangling_flow.bpmn")
    assert [(f.code, f.element) for f in report.warnings] == [("unreachable", "end")]


def test_duplicate_process_ids_across_files_are_refused():
    """Two files of one upload that define the same process id."""
    report = validate_process({"a.bpmn": (DATA / "valid.bpmn").read_bytes(),
                               "b.bpmn": (DATA / "valid.bpmn").read_bytes()})
    assert [(f.code, f.element, f.file) for f in report.errors] == [("duplicate_process", "valid", "b.bpmn")]


def test_several_errors_are_all_reported():
    """Findings of different files and rules come back together, errors first."""
    report = validate_process({"a.bpmn": (DATA / "malformed.bpmn").read_bytes(),
                               "b.bpmn": (DATA / "not_bpmn.bpmn").read_bytes()})
    assert {(f.code, f.file) for f in report.errors} == {("xml_syntax", "a.bpmn"), ("not_bpmn", "b.bpmn")}


def test_engine_parser_messages_are_superseded_by_the_lint():
    """SpiffWorkflow's own complaint about an unconditioned flow is not repeated after ours."""
    report = report_of("gateway_without_condition.bpmn")
    assert [f.code for f in report.findings] == ["gateway_flow_without_condition"]


def test_findings_carry_params_for_wording():
    """The engine returns codes and parameters; the service words them (no Flask here)."""
    (error,) = report_of("juel_unsupported.bpmn").errors
    assert error.params["expression"] == "${order.isApproved()}"
    assert error.params["construct_kind"] == "method_call"
    assert set(error.as_dict()) == {"file", "line", "element", "message", "severity", "code"}


def test_finding_defaults_to_an_error_without_code():
    finding = Finding("x")
    assert finding.severity == "error" and finding.code is None and finding.is_error
    assert finding.as_dict() == {"file": None, "line": None, "element": None, "message": "x",
                                 "severity": "error", "code": None}


def test_compile_process_still_raises_for_unusable_specs():
    """compile_process (loading versions) refuses what cannot run at all ..."""
    with pytest.raises(DiagramError) as info:
        compile_process({"s.bpmn": (DATA / "script_refused.bpmn").read_bytes()})
    assert [f.code for f in info.value.findings] == ["refused_code"]


@pytest.mark.parametrize("name", ["empty_script.bpmn", "boundary_deadlock.bpmn", "unreachable.bpmn"])
def test_compile_process_loads_versions_despite_deploy_only_rules(name):
    """... but a stored version must load even if a later deploy-time rule would refuse it."""
    assert compile_process({name: (DATA / name).read_bytes()}).key == name.removesuffix(".bpmn")


def test_manual_and_untyped_tasks_are_human_tasks():
    """manualTask and task (no type) reach an inbox like user tasks, routed by lane or to the applicant."""
    body = (DATA / "valid.bpmn").read_bytes().replace(
        b'<bpmn:userTask id="review" name="\xe5\xae\xa1\xe6\x9f\xa5" />',
        b'<bpmn:manualTask id="review" name="m" camunda:candidateGroups="health" />')
    process = compile_process({"m.bpmn": body})
    (task,) = process.user_tasks
    assert (task.bpmn_id, task.candidate_groups) == ("review", ("health",))


def test_too_many_elements_is_refused_before_parsing():
    """A huge chain is refused with the documented limit, not a RecursionError."""
    tasks = "".join(f'<bpmn:task id="t{i}"/><bpmn:sequenceFlow id="f{i}" sourceRef="{"start" if i == 0 else f"t{i-1}"}"'
                    f' targetRef="t{i}"/>' for i in range(2000))
    content = ('<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
               'id="d" targetNamespace="x"><bpmn:process id="long" isExecutable="true"><bpmn:startEvent id="start"/>'
               f'{tasks}</bpmn:process></bpmn:definitions>').encode()
    report = validate_process({"long.bpmn": content})
    assert [(f.code, f.params["limit"]) for f in report.errors] == [("too_complex", 300)]


def test_hostile_inputs_are_findings_not_crashes():
    """Empty files, DOCTYPEs and binary junk are findings with the file name."""
    report = validate_process({"empty.bpmn": b"", "junk.bpmn": bytes(range(256)),
                               "xxe.bpmn": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                           b'<d>&x;</d>'})
    codes = {f.file: f.code for f in report.errors}
    assert codes["empty.bpmn"] == "empty_file"
    assert codes["junk.bpmn"] == "xml_syntax"
    assert codes["xxe.bpmn"] in ("doctype", "xml_syntax")
    assert "root:" not in str([f.message for f in report.findings])


def test_scripts_may_read_globals_as_a_data_snapshot():
    """SpiffWorkflow examples use globals().get(...) (the corpus countersign does): a snapshot of the
    case data, without the sandbox's guards or builtins."""
    from app.engine.sandbox import SandboxEnvironment

    data = {"vote": "approve"}
    SandboxEnvironment().execute('votes = globals().get("votes", [vote])\nseen = sorted(globals())', data)
    assert data["votes"] == ["approve"]
    assert data["seen"] == ["vote", "votes"]
