"""Compile uploaded BPMN/DMN files into a deployable, cacheable process spec.

``compile_process`` does every check that needs the engine: well-formed and
schema-valid XML, dangling sequence flows, one executable entry process, and every
script, condition and timer expression compiled under the sandbox. Checks that need the
organisation (groups) or the uploaded forms are the service layer's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.defaults import ScriptTask, UserTask

from .errors import DiagramError, Finding, ScriptError
from .parser import BPMN_NS, SPIFF_NS, ApprovalParser, foreign_attribute, parse_xml
from .sandbox import compile_expression, compile_script

FORM_PROPERTY = "formJsonSchemaFilename"
APPLICANT_LANES = frozenset({"initiator", "申请人"})


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

    def forms(self) -> set[str]:
        """Return every form file name the process references."""
        names = {t.form for t in self.user_tasks if t.form}
        if self.start_form:
            names.add(self.start_form)
        return names


def _element_lines(roots: Mapping[str, etree._Element]) -> dict[str, tuple[str, int]]:
    lines = {}
    for filename, root in roots.items():
        for el in root.iter():
            el_id = el.get("id") if isinstance(el.tag, str) else None
            if el_id and el_id not in lines:
                lines[el_id] = (filename, el.sourceline)
    return lines


def _check_flows(filename: str, root) -> list[Finding]:
    findings = []
    for process in root.iter(f"{{{BPMN_NS}}}process", f"{{{BPMN_NS}}}subProcess"):
        ids = {el.get("id") for el in process if isinstance(el.tag, str) and el.get("id")}
        for flow in process.iterfind(f"{{{BPMN_NS}}}sequenceFlow"):
            flow_id = flow.get("id")
            if not flow_id:
                findings.append(Finding("sequence flow has no id", filename, flow.sourceline))
                continue
            for end in ("sourceRef", "targetRef"):
                ref = flow.get(end)
                if not ref or ref not in ids:
                    findings.append(Finding(
                        f"sequence flow {flow_id} points to a missing element ({end}={ref!r})",
                        filename, flow.sourceline, flow_id))
    return findings


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
    process = root.find(f".//{{{BPMN_NS}}}process[@id='{process_id}']")
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


def _called_elements(roots) -> set[str]:
    called = set()
    for root in roots.values():
        for call in root.iter(f"{{{BPMN_NS}}}callActivity"):
            if call.get("calledElement"):
                called.add(call.get("calledElement"))
    return called


def _iter_specs(spec, subprocess_specs):
    for process_spec in [spec, *subprocess_specs.values()]:
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
    if isinstance(task_spec, CatchingEvent) and isinstance(task_spec.event_definition, TimerEventDefinition):
        yield "timer", task_spec.event_definition.expression, compile_expression
    for attr in ("loop_cardinality", "collection", "condition", "completion_condition"):
        source = getattr(task_spec, attr, None)
        if isinstance(source, str) and source and attr != "collection":
            yield attr, source, compile_expression


def _lane(task_spec) -> str | None:
    lane = getattr(task_spec, "lane", None)
    return lane.strip() if isinstance(lane, str) and lane.strip() else None


def compile_process(files: Mapping[str, bytes]) -> CompiledProcess:
    """Parse and check BPMN (and DMN) files; return the entry process or raise DiagramError."""
    findings: list[Finding] = []
    roots: dict[str, etree._Element] = {}
    parser = ApprovalParser()
    for filename, content in files.items():
        try:
            root = parse_xml(content)
        except etree.XMLSyntaxError as exc:
            findings.append(Finding(f"XML is not well-formed: {exc.msg}", filename, exc.lineno))
            continue
        except ValueError as exc:
            findings.append(Finding(str(exc), filename))
            continue
        roots[filename] = root
        findings.extend(_check_flows(filename, root))
    if findings:
        raise DiagramError(findings)

    try:
        for filename, root in roots.items():
            if filename.lower().endswith(".dmn"):
                parser.add_dmn_xml(root, filename=filename)
            else:
                parser.add_bpmn_xml(root, filename=filename)
    except ValidationException as exc:
        raise DiagramError([_finding_from_validation(exc)]) from None

    called = _called_elements(roots)
    candidates = [pid for pid in parser.get_process_ids() if pid not in called]
    if len(candidates) != 1:
        message = ("no executable process found (set isExecutable=\"true\")" if not candidates
                   else f"several executable entry processes: {', '.join(sorted(candidates))}; "
                        "upload one bundle at a time")
        raise DiagramError([Finding(message, next(iter(files), None))])
    key = candidates[0]

    try:
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        raise DiagramError([_finding_from_validation(exc)]) from None
    except SpiffWorkflowException as exc:
        raise DiagramError([Finding(str(exc))]) from None

    lines = _element_lines(roots)
    conditions = _condition_flows(roots)
    user_tasks = []
    end_events = {}
    for process_spec, task_spec in _iter_specs(spec, subprocess_specs):
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        where = lines.get(bpmn_id, (None, None))
        for kind, source, compile_fn in _expressions(task_spec):
            try:
                compile_fn(source)
            except ScriptError as exc:
                element, file, line = bpmn_id, where[0], where[1]
                flow = conditions.get((bpmn_id, source.strip())) if kind == "condition" else None
                if flow:
                    element, file, line = flow
                    label = f"condition on sequence flow {element}"
                else:
                    label = f"{kind} of {task_spec.bpmn_name or bpmn_id}"
                findings.append(Finding(f"{label} is refused: {exc}", file, line, element))
        if type(task_spec).__name__ == "EndEvent" and bpmn_id:
            end_events[bpmn_id] = task_spec.bpmn_name or bpmn_id
        if isinstance(task_spec, UserTask):
            ext = task_spec.extensions or {}
            props = ext.get("properties", {})
            user_tasks.append(UserTaskInfo(
                bpmn_id=bpmn_id,
                name=task_spec.bpmn_name or bpmn_id,
                process_id=process_spec.name,
                lane=_lane(task_spec),
                candidate_groups=tuple(ext.get("candidateGroups", ())),
                form=props.get(FORM_PROPERTY) or ext.get("formKey"),
                documentation=task_spec.documentation,
                file=where[0],
                line=where[1],
            ))
    if findings:
        raise DiagramError(findings)

    main_root = next(r for f, r in roots.items()
                     if r.find(f".//{{{BPMN_NS}}}process[@id='{key}']") is not None)
    process_el = main_root.find(f".//{{{BPMN_NS}}}process[@id='{key}']")
    return CompiledProcess(
        key=key,
        name=process_el.get("name") or key,
        spec=spec,
        subprocess_specs=subprocess_specs,
        user_tasks=user_tasks,
        start_form=_start_form(main_root, key),
        end_events=end_events,
    )


def _finding_from_validation(exc: ValidationException) -> Finding:
    message = exc.args[0] if exc.args else str(exc)
    element = getattr(exc, "id", None) or None
    if "perhaps a form has the same ID" in str(message):
        message = f"a sequence flow or reference points to an element that does not exist ({element})"
    return Finding(str(message), getattr(exc, "file_name", None), getattr(exc, "line_number", None) or None,
                   element)


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
