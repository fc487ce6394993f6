"""Compile uploaded BPMN/DMN files into a deployable, cacheable process spec.

``compile_process`` does every check that needs the engine: well-formed and
schema-valid XML, translation of other tools' expressions and timers (``translate.py``),
dangling references, one executable entry process (or one collaboration of pools), and
every script, condition, timer expression and decision-table entry compiled under the
sandbox. Checks that need the organisation (groups) or the uploaded forms are the service
layer's; the deploy-time lint (gateways, deadlocks, reachability) is ``validation.py``'s.

``build_process`` does the same work but returns every finding instead of raising, for
the validation report. Findings carry a ``code`` and ``params`` so the service layer can
word them in the reader's language; ``message`` is the English fallback.
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask, ManualTask, NoneTask, ScriptTask, UserTask

from .errors import ERROR, WARNING, DiagramError, Finding, ScriptError
from .parser import (
    BPMN_NS,
    SPIFF_NS,
    ApprovalParser,
    ApprovalUserTaskParser,
    foreign_attribute,
    foreign_properties,
    parse_xml,
)
from .sandbox import compile_expression, compile_script
from .translate import translate_document

FORM_PROPERTY = "formJsonSchemaFilename"
# Time-limit properties (spiff or camunda ``properties``): promised (承诺时限) and statutory
# (法定时限) working days on the process, promised working days on a user task.
PROMISED_DAYS = "promisedDays"
IMMEDIATE = "immediate"
# A process only a service starts (e.g. "work_orders" for the 12345 order diagram), never the new-case page.
STARTED_BY = "startedBy"
STATUTORY_DAYS = "statutoryDays"
# Natural time (7×24, hotline-style SLAs): a user task's limit in hours instead of working days.
PROMISED_HOURS = "promisedHours"
MAX_TIME_LIMIT_HOURS = 8760
MAX_TIME_LIMIT_DAYS = 3650
APPLICANT_LANES = frozenset({"initiator", "申请人"})
DMN_NAMESPACES = frozenset(DMN_SCHEMAS)
# SpiffWorkflow parses and predicts recursively along sequence flows: a few hundred
# elements in a row exhaust Python's stack (observed ~490). Real approval diagrams have
# dozens; refuse anything near the limit with a clear message instead.
MAX_FLOW_ELEMENTS = 300
HARD_MAX_FLOW_ELEMENTS = 1000
MAX_SCHEMA_FINDINGS = 20

_DMN_VALIDATORS: dict[str, BpmnValidator] = {}


# Task specs a person completes. SpiffWorkflow marks ``manualTask`` and ``task`` (no type)
# as manual, like user tasks: someone must complete them, so they reach an inbox too and
# are routed like user tasks (candidate groups, lane, or the applicant).
HUMAN_TASK_SPECS = (UserTask, ManualTask, NoneTask)


class HumanTaskParser(ApprovalUserTaskParser):
    """Reads assignment attributes like a user task but keeps the element's own spec class."""

    def create_task(self):
        return SpiffTaskParser.create_task(self)


class DeployParser(ApprovalParser):
    """Our parser, with manual and untyped tasks carrying their assignment attributes."""

    OVERRIDE_PARSER_CLASSES = {
        **ApprovalParser.OVERRIDE_PARSER_CLASSES,
        full_tag("manualTask"): (HumanTaskParser, ManualTask),
        full_tag("task"): (HumanTaskParser, NoneTask),
    }


@dataclass(frozen=True)
class UserTaskInfo:
    """What a deployed user task needs for routing and forms."""

    bpmn_id: str
    name: str
    process_id: str
    lane: str | None
    candidate_groups: tuple[str, ...]
    form: str | None
    documentation: str | None
    file: str | None = None
    line: int | None = None
    # Working days this task may take (its ``promisedDays`` property), or None.
    promised_days: int | None = None
    # What happens when the task's time runs out (``timeoutPolicy`` + ``timeoutData``), and when
    # none of its groups has an active member (``emptyGroupPolicy``); see parse_task_policies.
    timeout_policy: str | None = None
    timeout_data: dict | None = None
    empty_group_policy: str | None = None
    # One instance per item of a multi-instance task (会签/或签: one signer each).
    multi_instance: bool = False
    # Hours this task may take in natural time (its ``promisedHours`` property), or None.
    promised_hours: int | None = None
    # The data key of a case whose handlers may not take this task (``excludeHandlersOf``).
    exclude_handlers_of: str | None = None

    @property
    def for_initiator(self) -> bool:
        """Whether the task goes to the user who started the case."""
        if self.candidate_groups:
            return False
        return self.lane is None or self.lane.strip() in APPLICANT_LANES


@dataclass
class CompiledProcess:
    """A parsed, checked process: the spec plus the metadata services need."""

    key: str
    name: str
    spec: object
    subprocess_specs: dict
    user_tasks: list[UserTaskInfo] = field(default_factory=list)
    start_form: str | None = None
    end_events: dict[str, str] = field(default_factory=dict)
    # {"promised_days": int | None, "statutory_days": int | None} from the process properties.
    time_limits: dict = field(default_factory=lambda: {"promised_days": None, "statutory_days": None,
                                                       "immediate": False})

    def forms(self) -> set[str]:
        """Return every form file name the process references."""
        names = {t.form for t in self.user_tasks if t.form}
        if self.start_form:
            names.add(self.start_form)
        return names


@dataclass
class Build:
    """Everything ``build_process`` learned: the process (when it could be built), the
    translated XML trees by file name, and the findings."""

    process: CompiledProcess | None
    roots: dict = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    lines: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]


def finding(code: str, message: str, file=None, line=None, element_id=None, severity: str = ERROR,
            **params) -> Finding:
    """Shorthand for a coded finding (``params`` feed the service layer's wording)."""
    return Finding(message, file, line, element_id, severity, code, params)


def _element_lines(roots: Mapping[str, etree._Element]) -> dict[str, tuple[str, int]]:
    lines = {}
    for filename, root in roots.items():
        for el in root.iter():
            el_id = el.get("id") if isinstance(el.tag, str) else None
            if el_id and el_id not in lines:
                lines[el_id] = (filename, el.sourceline)
    return lines


def _short_ns(text: str) -> str:
    text = text.replace(f"{{{BPMN_NS}}}", "bpmn:").replace(f"{{{SPIFF_NS}}}", "spiffworkflow:")
    return re.sub(r"\{[^}]*\}", "", text)


# -- reading ----------------------------------------------------------------------------------


def _is_dmn(filename: str, root) -> bool:
    return filename.lower().endswith(".dmn") or etree.QName(root).namespace in DMN_NAMESPACES


def read_documents(files: Mapping[str, bytes]) -> tuple[dict, list[Finding]]:
    """Parse, schema-check and translate each file; return the trees and the findings."""
    findings: list[Finding] = []
    roots: dict[str, etree._Element] = {}
    for filename, content in files.items():
        if not content or not content.strip():
            findings.append(finding("empty_file", "the file is empty", filename))
            continue
        try:
            root = parse_xml(content)
        except etree.XMLSyntaxError as exc:
            findings.append(finding("xml_syntax", f"XML is not well-formed: {exc.msg}", filename, exc.lineno,
                                    detail=exc.msg))
            continue
        except ValueError as exc:
            code = "doctype" if "DOCTYPE" in str(exc) else "too_large" if "larger" in str(exc) else "xml_syntax"
            findings.append(finding(code, str(exc), filename, detail=str(exc)))
            continue
        qname = etree.QName(root)
        if _is_dmn(filename, root):
            if qname.localname != "definitions" or qname.namespace not in DMN_NAMESPACES:
                findings.append(finding("not_dmn", "not a DMN decision file (root element must be DMN "
                                        "<definitions>)", filename, root.sourceline))
                continue
            schema_findings = _schema_findings(filename, root, _dmn_validator(qname.namespace))
        else:
            if qname.localname != "definitions" or qname.namespace != BPMN_NS:
                findings.append(finding("not_bpmn", "not a BPMN 2.0 document (the root element must be "
                                        f"<definitions> in namespace {BPMN_NS})", filename, root.sourceline,
                                        namespace=qname.namespace or ""))
                continue
            count = _element_count(root)
            if count > MAX_FLOW_ELEMENTS:
                findings.append(finding("too_complex", f"the diagram has more than {MAX_FLOW_ELEMENTS} elements; "
                                        "split it into call activities", filename, limit=MAX_FLOW_ELEMENTS))
                if count > HARD_MAX_FLOW_ELEMENTS:
                    continue  # never hand this to the recursive parser
            VALIDATOR.preprocess(root)  # what SpiffWorkflow's validator does before parsing
            schema_findings = _schema_findings(filename, root, VALIDATOR)
        findings.extend(schema_findings)
        if any(f.is_error for f in schema_findings):
            continue
        if not _is_dmn(filename, root):
            findings.extend(translate_document(root, filename))
            findings.extend(_check_references(filename, root))
        roots[filename] = root
    return roots, findings


def _dmn_validator(namespace: str) -> BpmnValidator:
    if namespace not in _DMN_VALIDATORS:
        _DMN_VALIDATORS[namespace] = BpmnValidator(DMN_SCHEMAS[namespace])
    return _DMN_VALIDATORS[namespace]


def _schema_findings(filename: str, root, validator: BpmnValidator) -> list[Finding]:
    schema = validator.validator
    if schema.validate(root):
        return []
    by_line = {}
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("id") and el.sourceline not in by_line:
            by_line[el.sourceline] = el.get("id")
    result = []
    for error in list(schema.error_log)[:MAX_SCHEMA_FINDINGS]:
        detail = _short_ns(error.message).split(" Expected is one of", 1)[0].split(" Expected is (", 1)[0]
        result.append(finding("schema", f"not valid BPMN (XML schema): {detail}", filename, error.line,
                              by_line.get(error.line), detail=detail))
    return result


def _check_references(filename: str, root) -> list[Finding]:
    """Sequence flows and boundary events must point at elements of their own process."""
    findings = []
    for process in root.iter(f"{{{BPMN_NS}}}process", f"{{{BPMN_NS}}}subProcess", f"{{{BPMN_NS}}}transaction",
                             f"{{{BPMN_NS}}}adHocSubProcess"):
        ids = {el.get("id") for el in process if isinstance(el.tag, str) and el.get("id")}
        for flow in process.iterfind(f"{{{BPMN_NS}}}sequenceFlow"):
            flow_id = flow.get("id")
            for end in ("sourceRef", "targetRef"):
                ref = flow.get(end)
                if not ref or ref not in ids:
                    findings.append(finding(
                        "dangling_flow", f"sequence flow {flow_id} points to a missing element ({end}={ref!r})",
                        filename, flow.sourceline, flow_id, flow=flow_id, end=end, ref=ref or ""))
        for event in process.iterfind(f"{{{BPMN_NS}}}boundaryEvent"):
            ref = event.get("attachedToRef")
            if ref and ref not in ids:
                findings.append(finding(
                    "dangling_attachment", f"boundary event {event.get('id')} is attached to a missing element "
                    f"(attachedToRef={ref!r})", filename, event.sourceline, event.get("id"),
                    event=event.get("id"), ref=ref))
        for gateway in process:
            default = gateway.get("default") if isinstance(gateway.tag, str) else None
            if default and default not in ids:
                findings.append(finding(
                    "dangling_default", f"{etree.QName(gateway).localname} {gateway.get('id')} names a default "
                    f"flow that does not exist (default={default!r})", filename, gateway.sourceline,
                    gateway.get("id"), gateway=gateway.get("id"), ref=default))
    return findings


# -- building ---------------------------------------------------------------------------------


def _condition_flows(roots) -> dict[tuple[str, str], tuple[str, str, int]]:
    """Map (gateway id, condition text) to (flow id, file, line) so findings name the flow."""
    flows = {}
    for filename, root in roots.items():
        for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            condition = flow.find(f"{{{BPMN_NS}}}conditionExpression")
            if condition is not None and condition.text and flow.get("id"):
                flows[(flow.get("sourceRef"), condition.text.strip())] = (flow.get("id"), filename,
                                                                        condition.sourceline)
    return flows


def _start_form(root, process_id: str) -> str | None:
    process = _process_element(root, process_id)
    if process is None:
        return None
    for start in process.iterfind(f"{{{BPMN_NS}}}startEvent"):
        for prop in start.iterfind(f"./{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/"
                                   f"{{{SPIFF_NS}}}property"):
            if prop.get("name") == FORM_PROPERTY:
                return prop.get("value")
        form_key = foreign_attribute(start, "formKey")
        if form_key:
            return form_key
    return None


def element_properties(node) -> dict[str, str]:
    """Spiff and camunda (activiti, flowable) ``properties`` of an element; spiff wins."""
    props = dict(foreign_properties(node))
    for prop in node.iterfind(f"./{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"):
        if prop.get("name"):
            props[prop.get("name")] = prop.get("value", "")
    return props


def parse_time_limit(value, name: str, findings: list[Finding], file=None, line=None, element_id=None,
                     maximum: int = MAX_TIME_LIMIT_DAYS, unit: str = "working days") -> int | None:
    """A time-limit property as working days (0..3650) or hours, or None (a finding when malformed)."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if text.isdigit() and int(text) <= maximum:
        return int(text)
    findings.append(finding("invalid_time_limit", f"{name}={text!r} on {element_id} is not a number of {unit} "
                            f"between 0 and {maximum}", file, line, element_id, property=name,
                            value=text, element=element_id or "", limit=maximum))
    return None


TIMEOUT_POLICIES = ("remind", "escalate", "auto_approve", "auto_reject")
EMPTY_GROUP_POLICIES = ("skip", "admin")


def parse_task_policies(props: dict, findings: list[Finding], file=None, line=None, element_id=None) -> dict:
    """A user task's ``timeoutPolicy`` (remind | escalate | auto_approve | auto_reject; the last two
    complete the task with ``timeoutData``, a JSON object) and ``emptyGroupPolicy`` (skip | admin)."""
    result = {"timeout_policy": None, "timeout_data": None, "empty_group_policy": None}
    policy = (props.get("timeoutPolicy") or "").strip() or None
    if policy is not None and policy not in TIMEOUT_POLICIES:
        findings.append(finding("invalid_task_policy", f"timeoutPolicy={policy!r} on {element_id}: use one of "
                                f"{', '.join(TIMEOUT_POLICIES)}", file, line, element_id, property="timeoutPolicy",
                                value=policy, element=element_id or "", allowed=", ".join(TIMEOUT_POLICIES)))
        policy = None
    result["timeout_policy"] = policy
    if policy in ("auto_approve", "auto_reject"):
        try:
            data = json.loads(props.get("timeoutData") or "")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            findings.append(finding("invalid_task_policy", f"timeoutData on {element_id} must be a JSON object "
                                    f"(the form data {policy} submits)", file, line, element_id,
                                    property="timeoutData", value=props.get("timeoutData") or "",
                                    element=element_id or "", allowed="{...}"))
        result["timeout_data"] = data if isinstance(data, dict) else None
    empty = (props.get("emptyGroupPolicy") or "").strip() or None
    if empty is not None and empty not in EMPTY_GROUP_POLICIES:
        findings.append(finding("invalid_task_policy", f"emptyGroupPolicy={empty!r} on {element_id}: use one of "
                                f"{', '.join(EMPTY_GROUP_POLICIES)}", file, line, element_id,
                                property="emptyGroupPolicy", value=empty, element=element_id or "",
                                allowed=", ".join(EMPTY_GROUP_POLICIES)))
        empty = None
    result["empty_group_policy"] = empty
    # ``excludeHandlersOf``: the data key holding the id of a case this task reviews; whoever
    # handled that case may not take the task (回避, e.g. post-approval evaluation).
    exclude = (props.get("excludeHandlersOf") or "").strip() or None
    result["exclude_handlers_of"] = exclude
    return result


def _time_limits(roots, key: str, collaboration: str | None, findings: list[Finding]) -> dict:
    """Process-level promisedDays/statutoryDays: the entry process's (or the collaboration's,
    then its pools' in order), first declaration wins."""
    elements = []
    for filename, root in roots.items():
        if collaboration:
            for collab in root.iter(f"{{{BPMN_NS}}}collaboration"):
                if collab.get("id") == collaboration:
                    elements.append((filename, collab))
                    refs = [p.get("processRef") for p in collab.iter(f"{{{BPMN_NS}}}participant")]
                    for ref in refs:
                        for r_name, r_root in roots.items():
                            process = _process_element(r_root, ref)
                            if process is not None:
                                elements.append((r_name, process))
        else:
            process = _process_element(root, key)
            if process is not None:
                elements.append((filename, process))
    limits = {"promised_days": None, "statutory_days": None, "immediate": False}
    for _file, element in elements:
        props = element_properties(element)
        if str(props.get(STARTED_BY) or "").strip():
            limits["started_by"] = str(props[STARTED_BY]).strip()
            break
    for _file, element in elements:
        props = element_properties(element)
        if IMMEDIATE in props:  # 即办件: the window completes it alone, in one sitting
            limits["immediate"] = str(props[IMMEDIATE]).strip().lower() in ("true", "1", "yes")
            break
    for field_name, prop in (("promised_days", PROMISED_DAYS), ("statutory_days", STATUTORY_DAYS)):
        for filename, element in elements:
            props = element_properties(element)
            if prop in props:
                limits[field_name] = parse_time_limit(props[prop], prop, findings, filename, element.sourceline,
                                                      element.get("id"))
                break
    return limits


def _process_element(root, process_id: str):
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") == process_id:
            return process
    return None


def _called_elements(roots) -> set[str]:
    called = set()
    for root in roots.values():
        for call in root.iter(f"{{{BPMN_NS}}}callActivity"):
            if call.get("calledElement"):
                called.add(call.get("calledElement"))
    return called


def _iter_specs(spec, subprocess_specs):
    for process_spec in [spec, *(s for s in subprocess_specs.values() if s is not None)]:
        for task_spec in process_spec.task_specs.values():
            yield process_spec, task_spec


def _expressions(task_spec):
    """Yield (kind, source, compile) for each piece of code a task spec carries."""
    if isinstance(task_spec, ScriptTask) and task_spec.script:
        yield "script", task_spec.script, compile_script
    for attr in ("prescript", "postscript"):
        source = getattr(task_spec, attr, None)
        if source:
            yield attr, source, compile_script
    for condition, _target in getattr(task_spec, "cond_task_specs", []) or []:
        source = condition.args[0] if hasattr(condition, "args") and condition.args else condition
        if isinstance(source, str) and source:
            yield "condition", source, compile_expression
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(task_spec, CatchingEvent) and isinstance(definition, TimerEventDefinition) \
            and isinstance(definition.expression, str):
        yield "timer", definition.expression, compile_expression
    if isinstance(task_spec, CatchingEvent) and type(definition).__name__ == "ConditionalEventDefinition" \
            and isinstance(getattr(definition, "expression", None), str):
        yield "condition", definition.expression, compile_expression
    for attr in ("cardinality", "condition", "completion_condition"):
        source = getattr(task_spec, attr, None)
        if isinstance(source, str) and source:
            yield attr, source, compile_expression


def _decision_expressions(task_spec):
    """Yield (decision, rule number, expression) for every cell of a business rule task's
    decision table, built the way SpiffWorkflow's DMN engine builds them at run time."""
    engine = getattr(task_spec, "dmnEngine", None)
    table = getattr(engine, "decision_table", None)
    if table is None:
        return
    for rule in table.rules:
        for entry in rule.inputEntries:
            input_expr = entry.input.expression or repr(entry.input.label)
            for lhs in entry.lhs:
                if not lhs or not lhs.strip() or lhs.strip() == "-":
                    continue
                label = (table.name or table.id, rule.row_number)
                if "?" in lhs:
                    yield *label, input_expr
                    yield *label, re.sub(r"\?", "dmninputexpr", lhs)
                    continue
                try:
                    compile(lhs, "<dmn>", "eval")
                    expr = f"({input_expr}) == ({lhs})"
                except SyntaxError:
                    expr = input_expr + lhs
                yield *label, expr
        for entry in rule.outputEntries:
            text = (entry.text or "").strip()
            if text:
                yield table.name or table.id, rule.row_number, text


def _lane(task_spec) -> str | None:
    lane = getattr(task_spec, "lane", None)
    return lane.strip() if isinstance(lane, str) and lane.strip() else None


def _element_count(root) -> int:
    skip = {"sequenceFlow", "laneSet", "lane", "flowNodeRef", "incoming", "outgoing", "extensionElements"}
    count = 0
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        for el in process.iter():
            if isinstance(el.tag, str) and etree.QName(el).namespace == BPMN_NS \
                    and etree.QName(el).localname not in skip and el.get("id"):
                count += 1
    return count


def _no_entry(processes, first_file) -> list[Finding]:
    if not processes:
        return [finding("no_process", "the upload contains no process", first_file)]
    names = ", ".join(sorted(p.get("id") or "?" for p in processes))
    return [finding("not_executable", f"no executable process: {names} marked isExecutable=\"false\" "
                    "(documentation models); set isExecutable=\"true\" to run one", first_file, processes=names)]


def _choose_entry(parser, roots, files) -> tuple[str | None, str | None, list[Finding]]:
    """Return (key, collaboration id or None, findings)."""
    first_file = next(iter(files), None)
    called = _called_elements(roots)
    executable = parser.get_process_ids()
    candidates = [pid for pid in executable if pid not in called]
    if len(candidates) == 1:
        return candidates[0], None, []
    if not candidates:
        processes = [p for root in roots.values() for p in root.iter(f"{{{BPMN_NS}}}process")]
        return None, None, _no_entry(processes, first_file)
    # Several pools of one collaboration run together.
    for root in roots.values():
        for collaboration in root.iter(f"{{{BPMN_NS}}}collaboration"):
            refs = {p.get("processRef") for p in collaboration.iter(f"{{{BPMN_NS}}}participant")}
            if set(candidates) <= refs and collaboration.get("id"):
                return collaboration.get("id"), collaboration.get("id"), []
    names = ", ".join(sorted(candidates))
    return None, None, [finding("several_entries", f"several executable entry processes: {names}; upload one "
                                "bundle at a time", first_file, processes=names)]


def build_process(files: Mapping[str, bytes]) -> Build:
    """Parse, translate and check BPMN/DMN files; never raises for problems in the files."""
    with warnings.catch_warnings(record=True) as caught:
        # SpiffWorkflow warns (DeprecationWarning) about outdated spiff extensions it still reads.
        warnings.simplefilter("always")
        build = _build(files)
    for warning in caught:
        if issubclass(warning.category, DeprecationWarning) and "SpiffWorkflow" in (warning.filename or ""):
            build.findings.append(finding("engine_deprecation", f"outdated SpiffWorkflow extension: "
                                          f"{warning.message}", severity=WARNING, detail=str(warning.message)))
    return build


def _build(files: Mapping[str, bytes]) -> Build:
    roots, findings = read_documents(files)
    build = Build(None, roots, findings)
    if any(f.is_error and f.code not in DEPLOY_ONLY for f in findings) or len(roots) < len(files):
        return build  # (a file over the hard element limit has no tree)
    build.lines = lines = _element_lines(roots)

    seen: dict[str, str] = {}
    for filename, root in roots.items():
        if _is_dmn(filename, root):
            continue
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            pid = process.get("id")
            if pid in seen:
                findings.append(finding("duplicate_process", f"process id {pid} is defined in both {seen[pid]} "
                                        f"and {filename}", filename, process.sourceline, pid, process=pid,
                                        other=seen[pid]))
            seen.setdefault(pid, filename)
    if any(f.is_error and f.code not in DEPLOY_ONLY for f in findings):
        return build

    processes = [p for root in roots.values() for p in root.iter(f"{{{BPMN_NS}}}process")]
    if not any(p.get("isExecutable") != "false" for p in processes):
        findings.extend(_no_entry(processes, next(iter(files), None)))
        return build

    parser = DeployParser(validate=False)
    try:
        for filename, root in roots.items():
            if _is_dmn(filename, root):
                parser.add_dmn_xml(root, filename=filename)
            else:
                parser.add_bpmn_xml(root, filename=filename)
    except ValidationException as exc:
        findings.append(_finding_from_validation(exc, lines))
        return build

    key, collaboration, entry_findings = _choose_entry(parser, roots, files)
    findings.extend(entry_findings)
    if key is None:
        return build
    try:
        if collaboration:
            spec, subprocess_specs = parser.get_collaboration(collaboration)
        else:
            spec = parser.get_spec(key)
            subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        findings.append(_finding_from_validation(exc, lines))
        return build
    except RecursionError:
        findings.append(finding("too_complex", "the diagram is nested or chained too deeply to be parsed; "
                                "split it into call activities", next(iter(files), None),
                                limit=MAX_FLOW_ELEMENTS))
        return build
    except SpiffWorkflowException as exc:
        findings.append(finding("engine", str(exc), detail=str(exc)))
        return build

    conditions = _condition_flows(roots)
    # Expressions the translation already reported (untranslatable JUEL, cron …) are not compiled again.
    untranslated = {f.element for f in findings if f.code in (
        "unsupported_expression", "unsupported_timer", "timer_invalid", "unsupported_language")}
    user_tasks = []
    # Names of the task specs that are the instances of a multi-instance task (会签/或签).
    instance_specs = {getattr(ts, "task_spec", None) for _p, ts in _iter_specs(spec, subprocess_specs)
                      if isinstance(ts, MultiInstanceTask)}
    end_events = {}
    for process_spec, task_spec in _iter_specs(spec, subprocess_specs):
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        where = lines.get(bpmn_id, (None, None))
        label_name = getattr(task_spec, "bpmn_name", None) or bpmn_id
        for kind, source, compile_fn in _expressions(task_spec):
            try:
                compile_fn(source)
            except ScriptError as exc:
                flow = conditions.get((bpmn_id, source.strip())) if kind == "condition" else None
                if (flow[0] if flow else bpmn_id) in untranslated:
                    continue
                if flow:
                    findings.append(finding("refused_condition", f"condition on sequence flow {flow[0]} is "
                                            f"refused: {exc}", flow[1], flow[2], flow[0], flow=flow[0],
                                            detail=str(exc)))
                else:
                    findings.append(finding("refused_code", f"{kind} of {label_name} is refused: {exc}", where[0],
                                            where[1], bpmn_id, kind=kind, name=label_name, detail=str(exc)))
        if isinstance(task_spec, ScriptTask) and not (task_spec.script or "").strip():
            findings.append(finding("empty_script", f"script task {label_name} has no script", where[0],
                                    where[1], bpmn_id, task=label_name))
        if isinstance(task_spec, BusinessRuleTask):
            for decision, rule, source in _decision_expressions(task_spec):
                try:
                    compile_expression(source)
                except ScriptError as exc:
                    findings.append(finding(
                        "refused_decision", f"decision {decision}, rule {rule}: expression {source!r} is refused: "
                        f"{exc}", where[0], where[1], bpmn_id, decision=decision, rule=rule, expression=source,
                        detail=str(exc)))
        if type(task_spec).__name__ == "EndEvent" and bpmn_id and process_spec is spec:
            end_events[bpmn_id] = label_name
        if isinstance(task_spec, HUMAN_TASK_SPECS):
            ext = task_spec.extensions or {}
            props = ext.get("properties", {})
            user_tasks.append(UserTaskInfo(
                bpmn_id=bpmn_id,
                name=label_name,
                process_id=process_spec.name,
                lane=_lane(task_spec),
                candidate_groups=tuple(ext.get("candidateGroups", ())),
                form=props.get(FORM_PROPERTY) or ext.get("formKey"),
                documentation=task_spec.documentation,
                file=where[0],
                line=where[1],
                promised_days=parse_time_limit(props.get(PROMISED_DAYS), PROMISED_DAYS, findings, where[0],
                                               where[1], bpmn_id),
                **parse_task_policies(props, findings, where[0], where[1], bpmn_id),
                multi_instance=task_spec.name in instance_specs,
                promised_hours=parse_time_limit(props.get(PROMISED_HOURS), PROMISED_HOURS, findings, where[0],
                                                where[1], bpmn_id, maximum=MAX_TIME_LIMIT_HOURS, unit="hours"),
            ))

    if collaboration:
        name, start_form = collaboration, None
        for root in roots.values():
            for collab in root.iter(f"{{{BPMN_NS}}}collaboration"):
                if collab.get("id") == collaboration:
                    name = collab.get("name") or collaboration
    else:
        main_root = next(r for r in roots.values() if _process_element(r, key) is not None)
        process_el = _process_element(main_root, key)
        name, start_form = process_el.get("name") or key, _start_form(main_root, key)
    build.process = CompiledProcess(
        key=key,
        name=name,
        spec=spec,
        subprocess_specs=subprocess_specs,
        user_tasks=user_tasks,
        start_form=start_form,
        end_events=end_events,
        time_limits=_time_limits(roots, key, collaboration, findings),
    )
    return build


# Rules a deploy enforces that an already stored version must not fail to load on (they
# were added after versions were deployed, and a loaded spec runs without them).
DEPLOY_ONLY = frozenset({
    "too_complex", "empty_script", "refused_decision", "timer_invalid", "unsupported_timer",
    "unsupported_listener", "unsupported_extension", "unsupported_implementation", "unsupported_language",
    "dangling_default", "invalid_task_policy", "invalid_time_limit",
})


def compile_process(files: Mapping[str, bytes]) -> CompiledProcess:
    """Parse and check BPMN (and DMN) files; return the entry process or raise DiagramError.

    Used to load stored versions and by callers that need the spec: it raises on what makes
    a spec unusable, not on the deploy-only rules (``DEPLOY_ONLY``, and the lint in
    ``validation.py``); deploys go through ``validation.validate_process``.
    """
    build = build_process(files)
    fatal = [f for f in build.errors if f.code not in DEPLOY_ONLY]
    if fatal or build.process is None:
        raise DiagramError(fatal or build.errors or build.findings)
    return build.process


_VALIDATION_CODES = (
    ("perhaps a form has the same ID", "dangling_reference"),
    ("Multiple outgoing flows are not supported", "implicit_split"),
    ("Data Store with name", "unsupported_data_store"),
    ("There is no support implemented for this task type", "unsupported_element"),
    ("A Service Task must have an operator", "unsupported_service_task"),
    ("Non-default exclusive outgoing sequence flow without condition", "gateway_flow_without_condition"),
    ("multiinstance task must specify exactly one", "multi_instance_invalid"),
    ("No DMN Diagram available", "missing_decision"),
    ("was not found", "missing_called_process"),
    ("Time Specification", "timer_invalid"),
)


def _finding_from_validation(exc: ValidationException, lines: Mapping | None = None) -> Finding:
    message = str(exc.args[0] if exc.args else exc).strip()
    element = getattr(exc, "id", None) or None
    file = getattr(exc, "file_name", None) or None
    line = getattr(exc, "line_number", None) or None
    if element and lines and element in lines:
        file, line = file or lines[element][0], line or lines[element][1]
    code = next((c for marker, c in _VALIDATION_CODES if marker in message), "engine")
    tag = getattr(exc, "tag", "") or ""
    if code == "dangling_reference":
        message = f"a sequence flow or reference points to an element that does not exist ({element})"
    elif code == "unsupported_element":
        message = f"{tag or 'this element'} {element or ''} is not supported by the engine".replace("  ", " ")
    elif code == "implicit_split":
        message = (f"{tag or 'the task'} {element or ''} has several outgoing flows without a gateway; add a "
                   "parallel or exclusive gateway after it").replace("  ", " ")
    elif code == "unsupported_service_task":
        message = f"service task {element} is not supported: this engine does not call external services"
    return finding(code, _short_ns(message), file, line, element, tag=tag, detail=_short_ns(message), source="spiff")


class SpecCache:
    """A bounded, thread-safe LRU of compiled processes keyed by process version id."""

    def __init__(self, maxsize: int = 128):
        self.maxsize = maxsize
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, loader: Callable[[], CompiledProcess]) -> CompiledProcess:
        """Return the cached process for ``key``, compiling it with ``loader`` on a miss."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        compiled = loader()
        with self._lock:
            self._items[key] = compiled
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return compiled

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget every cached spec (tests)."""
        with self._lock:
            self._items.clear()
