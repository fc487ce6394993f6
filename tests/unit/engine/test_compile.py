"""Deploy-time checks of compile_process (app/engine/specs.py, app/engine/parser.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.engine import DiagramError, compile_process

DATA = Path(__file__).resolve().parents[2] / "data"

FINDING_KEYS = {"file", "line", "element", "message", "severity", "code"}


def read_data(relpath: str) -> bytes:
    return (DATA / relpath).read_bytes()


def _refused(files: dict[str, bytes]) -> DiagramError:
    with pytest.raises(DiagramError) as info:
        compile_process(files)
    for finding in info.value.findings:
        assert set(finding.as_dict()) == FINDING_KEYS
    return info.value


def _refused_file(relpath: str) -> DiagramError:
    return _refused({relpath.rsplit("/", 1)[-1]: read_data(relpath)})


def test_valid_diagram_gives_key_name_and_user_tasks_with_lanes(compile_data):
    """The parallel loop compiles to its process id, name and three laned user tasks."""
    process = compile_data("parallel_loop/parallel_loop.bpmn")
    assert process.key == "parallel_loop"
    assert process.name == "并联审批与补正循环"
    lanes = {t.bpmn_id: t.lane for t in process.user_tasks}
    assert lanes == {"review_a": "health", "review_b": "public_security", "fix": "申请人"}
    names = {t.bpmn_id: t.name for t in process.user_tasks}
    assert names["review_a"] == "卫健审查"
    assert process.end_events == {"done": "办结"}


def test_user_task_info_records_file_and_line(compile_data):
    """Each user task says where it is defined."""
    process = compile_data("parallel_loop/parallel_loop.bpmn")
    review_a = next(t for t in process.user_tasks if t.bpmn_id == "review_a")
    source = read_data("parallel_loop/parallel_loop.bpmn").decode().splitlines()
    expected = next(n for n, text in enumerate(source, 1) if 'userTask id="review_a"' in text)
    assert review_a.file == "parallel_loop.bpmn"
    assert review_a.line == expected


def test_applicant_lane_task_goes_to_the_initiator(compile_data):
    """A task in the 申请人 lane without groups is the initiator's; a department lane is not."""
    tasks = {t.bpmn_id: t for t in compile_data("parallel_loop/parallel_loop.bpmn").user_tasks}
    assert tasks["fix"].for_initiator is True
    assert tasks["review_a"].for_initiator is False


def test_camunda_candidate_groups_and_form_key_are_kept(compile_data):
    """camunda:candidateGroups="health,tax" and camunda:formKey="x.json" reach the task info."""
    process = compile_data("camunda_groups/camunda_groups.bpmn")
    (task,) = process.user_tasks
    assert task.bpmn_id == "joint_review"
    assert task.candidate_groups == ("health", "tax")
    assert task.form == "x.json"
    assert task.lane == "review"
    assert task.for_initiator is False


def test_camunda_start_event_form_key_is_the_start_form(compile_data):
    """camunda:formKey on the start event becomes the start form."""
    process = compile_data("camunda_groups/camunda_groups.bpmn")
    assert process.start_form == "apply.json"
    assert process.forms() == {"apply.json", "x.json"}


def test_malformed_xml_gives_a_finding_with_a_line():
    """An unclosed tag is a DiagramError whose finding has file and line."""
    error = _refused_file("compile_errors/malformed.bpmn")
    (finding,) = error.findings
    assert finding.file == "malformed.bpmn"
    assert isinstance(finding.line, int) and finding.line >= 7
    assert "well-formed" in finding.message


def test_empty_file_is_refused():
    """A zero-byte upload is refused, not crashed on."""
    error = _refused({"empty.bpmn": b""})
    assert error.findings[0].file == "empty.bpmn"


def test_flow_to_a_missing_element_names_the_flow():
    """A sequence flow whose target does not exist is named, with its line."""
    error = _refused_file("compile_errors/dangling_flow.bpmn")
    (finding,) = error.findings
    assert finding.element == "flow_to_nowhere"
    assert "flow_to_nowhere" in finding.message
    assert "does_not_exist" in finding.message
    assert finding.line == 8


def test_script_with_import_names_the_element_and_line():
    """A script task importing os is refused at deploy with its id and line."""
    error = _refused_file("compile_errors/script_import.bpmn")
    (finding,) = error.findings
    assert finding.element == "evil_script"
    assert finding.line == 9
    assert finding.file == "script_import.bpmn"
    assert "import" in finding.message


def test_gateway_condition_with_dunder_is_refused():
    """A condition walking __class__/__subclasses__ is refused, naming the flow that carries it."""
    error = _refused_file("compile_errors/condition_dunder.bpmn")
    (finding,) = error.findings
    assert finding.element == "flow_escape"
    assert finding.line == 9
    assert "__subclasses__" in finding.message


def test_external_entity_is_refused_without_reading_the_file():
    """XXE to file:///etc/passwd is refused and nothing of the file shows up."""
    started = time.monotonic()
    error = _refused_file("hostile/xxe_file_passwd.bpmn")
    assert time.monotonic() - started < 2.0
    assert "root:" not in str(error)
    assert error.findings[0].file == "xxe_file_passwd.bpmn"


def test_billion_laughs_is_refused_quickly():
    """The nested-entity bomb is refused within a couple of seconds."""
    started = time.monotonic()
    error = _refused_file("hostile/billion_laughs.bpmn")
    assert time.monotonic() - started < 2.0
    assert error.findings[0].file == "billion_laughs.bpmn"


def test_content_over_five_megabytes_is_refused():
    """A file larger than 5 MB is refused before parsing."""
    valid = read_data("merge_shared/merge_shared.bpmn")
    declaration, rest = valid.split(b"\n", 1)
    padded = declaration + b"\n<!--" + b"x" * (5 * 1024 * 1024) + b"-->\n" + rest
    error = _refused({"big.bpmn": padded})
    assert "5 MB" in error.findings[0].message


def test_two_executable_entry_processes_are_refused():
    """A file with two uncalled executable processes is ambiguous and refused."""
    error = _refused_file("compile_errors/two_entries.bpmn")
    message = error.findings[0].message
    assert "first_entry" in message and "second_entry" in message


@pytest.mark.parametrize("order", [("main.bpmn", "sub.bpmn"), ("sub.bpmn", "main.bpmn")])
def test_call_activity_bundle_key_is_the_caller(order):
    """main calls sub_review: the bundle's key is main_process, whatever the file order."""
    files = {name: read_data(f"call_activity/{name}") for name in order}
    process = compile_process(files)
    assert process.key == "main_process"
    assert set(process.subprocess_specs) == {"sub_review"}
    assert {(t.bpmn_id, t.process_id) for t in process.user_tasks} == {
        ("intake", "main_process"), ("sub_task", "sub_review")}


def test_call_activity_without_its_callee_is_refused():
    """Uploading only the caller of a call activity is refused."""
    _refused({"main.bpmn": read_data("call_activity/main.bpmn")})
