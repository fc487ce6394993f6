"""What changed between two versions of a process: elements, sequence flows, forms and files.

SpiffWorkflow's ``SpecDiff`` aligns the task specs of two versions (by BPMN id first, then by
position in the graph, so a renamed id still lines up) and names the serialised attributes that
differ. This module turns that into what a designer reads: tasks, gateways and events added,
removed or changed (name, lane, candidate groups, form, scripts, timers, default flow), sequence
flows read from the XML (specs keep no flow ids, and the condition lives on the flow), and
JSON-level changes of the forms. No Flask, no database: services hand in compiled processes and
file contents.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import InclusiveGateway, ParallelGateway
from SpiffWorkflow.bpmn.util.diff import SpecDiff
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from .gateways import MergingInclusiveGateway, MergingParallelGateway
from .parser import BPMN_NS, parse_xml
from .specs import FORM_PROPERTY, CompiledProcess

ELEMENT_KINDS = ("task", "gateway", "event", "flow")
STATUSES = ("added", "removed", "changed")

# Serialised task-spec attributes that say nothing a designer changed on the element itself:
# the graph wiring (reported as sequence flows), conditions (reported on their flows) and
# engine bookkeeping.
_STRUCTURAL = frozenset({
    "name", "bpmn_id", "typename", "description", "manual", "lookahead", "inputs", "outputs",
    "cond_task_specs", "choice", "split_task", "threshold", "cancel", "task_spec",
})
_FIELD_NAMES = {
    "bpmn_name": "name",
    "default_task_spec": "default",
    "cancel_activity": "interrupting",
    "spec": "called_element",
}
_TYPE_NAMES = {
    "NoneTask": "task",
    "SubWorkflowTask": "subProcess",
    "TransactionSubprocess": "transaction",
    "EventSubprocess": "eventSubProcess",
    "AdHocSubprocess": "adHocSubProcess",
    "MergingParallelGateway": "parallelGateway",
    "MergingInclusiveGateway": "inclusiveGateway",
}


@dataclass(frozen=True)
class Change:
    """One attribute that differs: ``field`` went from ``old`` to ``new``."""

    field: str
    old: Any = None
    new: Any = None

    def as_dict(self) -> dict:
        """Return ``{"field", "old", "new"}``."""
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class ElementDiff:
    """A task, gateway, event or sequence flow that was added, removed or changed."""

    kind: str  # task | gateway | event | flow
    status: str  # added | removed | changed
    id: str
    name: str | None
    type: str  # BPMN element type: userTask, exclusiveGateway, boundaryEvent, sequenceFlow ...
    process: str
    changes: tuple[Change, ...] = ()
    source: str | None = None  # flows only: the ids of the elements they connect
    target: str | None = None

    def as_dict(self) -> dict:
        """Return the element as the API shows it (flows also name their source and target)."""
        body = {"id": self.id, "name": self.name, "type": self.type, "process": self.process,
                "changes": [c.as_dict() for c in self.changes]}
        if self.kind == "flow":
            body.update(source=self.source, target=self.target)
        return body


@dataclass(frozen=True)
class PropertyDiff:
    """A form field (dotted path, ``[]`` for array items) whose schema keywords changed."""

    path: str
    changes: tuple[Change, ...]

    def as_dict(self) -> dict:
        """Return ``{"property", "changes"}``."""
        return {"property": self.path, "changes": [c.as_dict() for c in self.changes]}


@dataclass(frozen=True)
class FormDiff:
    """A JSON Schema form file that was added, removed or changed, at the level of its fields."""

    file: str
    status: str
    changes: tuple[Change, ...] = ()  # top-level keywords (title, description, allOf ...)
    properties_added: tuple[str, ...] = ()
    properties_removed: tuple[str, ...] = ()
    properties_changed: tuple[PropertyDiff, ...] = ()
    required_added: tuple[str, ...] = ()
    required_removed: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """Return the form change as the API shows it."""
        return {
            "file": self.file,
            "changes": [c.as_dict() for c in self.changes],
            "properties_added": list(self.properties_added),
            "properties_removed": list(self.properties_removed),
            "properties_changed": [p.as_dict() for p in self.properties_changed],
            "required_added": list(self.required_added),
            "required_removed": list(self.required_removed),
        }


@dataclass
class ProcessDiff:
    """Everything that differs between an old and a new version of one process."""

    key: str
    name: Change | None = None
    elements: list[ElementDiff] = field(default_factory=list)
    forms: list[FormDiff] = field(default_factory=list)
    files: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in STATUSES})

    def of(self, kind: str, status: str) -> list[ElementDiff]:
        """Elements of one kind (task, gateway, event, flow) with one status."""
        return [e for e in self.elements if e.kind == kind and e.status == status]

    def forms_with(self, status: str) -> list[FormDiff]:
        """Form changes with one status."""
        return [f for f in self.forms if f.status == status]

    @property
    def identical(self) -> bool:
        """Whether the two versions have the same files (then nothing else can differ)."""
        return not any(self.files.values()) and self.name is None

    @property
    def behaviour_unchanged(self) -> bool:
        """Whether only layout or comments changed: no element, flow or form differs."""
        return not self.elements and not self.forms and self.name is None

    def as_dict(self) -> dict:
        """Return the diff as JSON-ready data, grouped by kind and status."""
        body: dict[str, Any] = {
            "key": self.key,
            "identical": self.identical,
            "name": self.name.as_dict() if self.name else None,
        }
        for kind in ELEMENT_KINDS:
            body[f"{kind}s"] = {s: [e.as_dict() for e in self.of(kind, s)] for s in STATUSES}
        body["forms"] = {s: [f.as_dict() for f in self.forms_with(s)] for s in STATUSES}
        body["files"] = {s: list(self.files[s]) for s in STATUSES}
        return body

    def summary_lines(self) -> list[str]:
        """A plain-text report, one change per line (for the command line and logs)."""
        if self.identical:
            return ["The two versions are identical."]
        lines = []
        if self.name:
            lines.append(f"Process name: {self.name.old!r} -> {self.name.new!r}")
        marks = {"added": "+", "removed": "-", "changed": "~"}
        for kind in ELEMENT_KINDS:
            counts = {s: len(self.of(kind, s)) for s in STATUSES}
            if not any(counts.values()):
                continue
            lines.append(f"{kind.capitalize()}s: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
            for status in STATUSES:
                for e in self.of(kind, status):
                    label = f"{e.id} ({e.type})" + (f" {e.name}" if e.name else "")
                    if e.kind == "flow":
                        label += f" {e.source} -> {e.target}"
                    lines.append(f"  {marks[status]} {label}")
                    lines.extend(f"      {_change_text(c)}" for c in e.changes)
        if self.forms:
            counts = {s: len(self.forms_with(s)) for s in STATUSES}
            lines.append("Forms: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
            for form in self.forms:
                lines.append(f"  {marks[form.status]} {form.file}")
                if form.status != "changed":
                    continue
                lines.extend(f"      {_change_text(c)}" for c in form.changes)
                lines.extend(f"      field added: {p}" for p in form.properties_added)
                lines.extend(f"      field removed: {p}" for p in form.properties_removed)
                for prop in form.properties_changed:
                    lines.extend(f"      field {prop.path}: {_change_text(c)}" for c in prop.changes)
                lines.extend(f"      now required: {p}" for p in form.required_added)
                lines.extend(f"      no longer required: {p}" for p in form.required_removed)
        if self.behaviour_unchanged:
            lines.append("Only the layout or comments changed: " + ", ".join(self.files["changed"]))
        return lines


def _change_text(change: Change) -> str:
    return f"{change.field}: {change.old!r} -> {change.new!r}"


# -- tasks, gateways and events (SpiffWorkflow's SpecDiff) -----------------------------------------


@lru_cache(maxsize=1)
def _registry():
    """A spec converter registry that knows our merging joins (SpecDiff compares serialised specs)."""
    config = copy.copy(SPIFF_CONFIG)  # never mutate the library's module-level dict
    config[MergingParallelGateway] = config[ParallelGateway]
    config[MergingInclusiveGateway] = config[InclusiveGateway]
    return BpmnWorkflowSerializer.configure(config)


def _bpmn_type(typename: str) -> str:
    name = _TYPE_NAMES.get(typename, typename)
    return name[:1].lower() + name[1:]


def _kind(bpmn_type: str) -> str:
    if bpmn_type.endswith("Gateway"):
        return "gateway"
    if bpmn_type.endswith("Event"):
        return "event"
    return "task"


def _is_element(task_spec) -> bool:
    """Whether a task spec is a BPMN element (not Start/End/EndJoin or boundary-event plumbing)."""
    return bool(getattr(task_spec, "bpmn_id", None))


def _form_of(extensions: dict) -> str | None:
    return (extensions.get("properties") or {}).get(FORM_PROPERTY) or extensions.get("formKey")


def _extension_changes(old: dict | None, new: dict | None) -> list[Change]:
    old, new = old or {}, new or {}
    changes = []
    if tuple(old.get("candidateGroups") or ()) != tuple(new.get("candidateGroups") or ()):
        changes.append(Change("candidate_groups", list(old.get("candidateGroups") or []),
                              list(new.get("candidateGroups") or [])))
    if _form_of(old) != _form_of(new):
        changes.append(Change("form", _form_of(old), _form_of(new)))
    if old.get("assignee") != new.get("assignee"):
        changes.append(Change("assignee", old.get("assignee"), new.get("assignee")))
    props = [{k: v for k, v in (d.get("properties") or {}).items() if k != FORM_PROPERTY} for d in (old, new)]
    if props[0] != props[1]:
        changes.append(Change("properties", props[0], props[1]))
    handled = {"candidateGroups", "formKey", "assignee", "properties"}
    for key in sorted((set(old) | set(new)) - handled):
        if old.get(key) != new.get(key):
            changes.append(Change(key, old.get(key), new.get(key)))
    return changes


def _event_changes(old: dict | None, new: dict | None) -> list[Change]:
    old, new = old or {}, new or {}
    changes = []
    old_type, new_type = old.get("typename"), new.get("typename")
    if old_type != new_type:
        changes.append(Change("event_type", old_type, new_type))
    timer = "Timer" in (new_type or "") or "Timer" in (old_type or "")
    for key in sorted((set(old) | set(new)) - {"typename", "description"}):
        if old.get(key) != new.get(key):
            name = "timer" if timer and key == "expression" else f"event_{key}"
            changes.append(Change(name, old.get(key), new.get(key)))
    return changes


def _spec_changes(old_spec, new_spec) -> list[Change]:
    """Readable changes between two aligned task specs, from their serialised forms."""
    registry = _registry()
    old, new = registry.convert(old_spec), registry.convert(new_spec)
    changes = []
    if old_spec.bpmn_id != new_spec.bpmn_id:
        changes.append(Change("id", old_spec.bpmn_id, new_spec.bpmn_id))
    if old.get("typename") != new.get("typename"):
        changes.append(Change("type", _bpmn_type(old["typename"]), _bpmn_type(new["typename"])))
    for key in sorted(set(old) | set(new)):
        if key in _STRUCTURAL or old.get(key) == new.get(key):
            continue
        if key == "extensions":
            changes.extend(_extension_changes(old.get(key), new.get(key)))
        elif key == "event_definition":
            changes.extend(_event_changes(old.get(key), new.get(key)))
        else:
            changes.append(Change(_FIELD_NAMES.get(key, key), old.get(key), new.get(key)))
    return changes


def _element(task_spec, status: str, process: str, changes=()) -> ElementDiff:
    bpmn_type = _bpmn_type(type(task_spec).__name__)
    return ElementDiff(_kind(bpmn_type), status, task_spec.bpmn_id, task_spec.bpmn_name, bpmn_type, process,
                       tuple(changes))


def _diff_spec(process: str, old_spec, new_spec) -> list[ElementDiff]:
    """Align two process specs with SpecDiff and report their BPMN elements."""
    if old_spec is None or new_spec is None:
        status, spec = ("added", new_spec) if old_spec is None else ("removed", old_spec)
        return [_element(ts, status, process) for ts in spec.task_specs.values() if _is_element(ts)]
    try:
        alignment = dict(SpecDiff(_registry(), old_spec, new_spec).alignment)
    except RecursionError:  # SpecDiff recurses once per element on a path: align a huge diagram by id
        alignment = {}
    # SpecDiff walks from the start event; anything it never reached is aligned by id.
    for task_spec in old_spec.task_specs.values():
        if task_spec not in alignment:
            alignment[task_spec] = new_spec.task_specs.get(task_spec.name)
    found: dict[str, ElementDiff] = {}
    for old_ts, new_ts in alignment.items():
        if old_ts is None or not _is_element(old_ts) or old_ts.bpmn_id in found:
            continue  # a multi-instance body shares its parent's id; the parent speaks for both
        if new_ts is None:
            found[old_ts.bpmn_id] = _element(old_ts, "removed", process)
        elif changes := _spec_changes(old_ts, new_ts):
            found[old_ts.bpmn_id] = _element(new_ts, "changed", process, changes)
    matched = {ts for ts in alignment.values() if ts is not None}
    added = {}
    for new_ts in new_spec.task_specs.values():
        if _is_element(new_ts) and new_ts not in matched and new_ts.bpmn_id not in added:
            added[new_ts.bpmn_id] = _element(new_ts, "added", process)
    return [*found.values(), *added.values()]


def _process_specs(process: CompiledProcess) -> dict[str, object]:
    return {process.key: process.spec, **process.subprocess_specs}


# -- sequence flows (from the XML) -----------------------------------------------------------------


@dataclass(frozen=True)
class _Flow:
    id: str
    process: str
    name: str | None
    source: str | None
    target: str | None
    condition: str | None
    default: bool

    def values(self) -> dict:
        return {"name": self.name, "source": self.source, "target": self.target,
                "condition": self.condition, "default": self.default}


def _flows(files: Mapping[str, bytes]) -> dict[tuple[str, str], _Flow]:
    """Every sequence flow of the BPMN files, keyed by (process or sub-process id, flow id)."""
    containers = [f"{{{BPMN_NS}}}{tag}" for tag in ("process", "subProcess", "transaction", "adHocSubProcess")]
    flows = {}
    for filename, content in files.items():
        if PurePosixPath(filename).suffix.lower() not in (".bpmn", ".xml"):
            continue
        try:
            root = parse_xml(content)
        except (etree.XMLSyntaxError, ValueError):
            continue  # deployed versions parsed once already; a broken file has no flows to show
        for container in root.iter(*containers):
            defaults = {el.get("default") for el in container if isinstance(el.tag, str) and el.get("default")}
            for flow in container.iterfind(f"{{{BPMN_NS}}}sequenceFlow"):
                flow_id = flow.get("id")
                if not flow_id:
                    continue
                condition = flow.find(f"{{{BPMN_NS}}}conditionExpression")
                text = condition.text.strip() if condition is not None and condition.text else None
                flows[(container.get("id") or "", flow_id)] = _Flow(
                    flow_id, container.get("id") or "", flow.get("name") or None, flow.get("sourceRef"),
                    flow.get("targetRef"), text or None, flow_id in defaults)
    return flows


def _flow_element(flow: _Flow, status: str, changes=()) -> ElementDiff:
    return ElementDiff("flow", status, flow.id, flow.name, "sequenceFlow", flow.process, tuple(changes),
                       source=flow.source, target=flow.target)


def _flow_changes(old: _Flow, new: _Flow) -> list[Change]:
    changes = [Change("id", old.id, new.id)] if old.id != new.id else []
    old_values, new_values = old.values(), new.values()
    changes += [Change(k, old_values[k], new_values[k]) for k in old_values if old_values[k] != new_values[k]]
    return changes


def _diff_flows(old_files: Mapping[str, bytes], new_files: Mapping[str, bytes]) -> list[ElementDiff]:
    old, new = _flows(old_files), _flows(new_files)
    result = []
    for key in old.keys() & new.keys():
        if changes := _flow_changes(old[key], new[key]):
            result.append(_flow_element(new[key], "changed", changes))
    removed = [old[k] for k in old.keys() - new.keys()]
    added = {k: new[k] for k in new.keys() - old.keys()}
    # A flow redrawn between the same two elements (a modeller gave it a new id) is a change.
    for flow in sorted(removed, key=lambda f: f.id):
        twin = next((k for k, f in sorted(added.items())
                     if (f.process, f.source, f.target) == (flow.process, flow.source, flow.target)), None)
        if twin is None:
            result.append(_flow_element(flow, "removed"))
        else:
            result.append(_flow_element(added[twin], "changed", _flow_changes(flow, added.pop(twin))))
    result += [_flow_element(f, "added") for f in added.values()]
    return sorted(result, key=lambda e: (e.process, e.id))


# -- forms -----------------------------------------------------------------------------------------


def _walk_schema(schema, prefix: str, props: dict, required: set) -> None:
    if not isinstance(schema, dict):
        return
    for name in schema.get("required") or ():
        if isinstance(name, str):
            required.add(prefix + name)
    for name, sub in (schema.get("properties") or {}).items():
        path = prefix + name
        if not isinstance(sub, dict):
            props[path] = sub
            continue
        own = {k: v for k, v in sub.items() if k not in ("properties", "required")}
        items = sub.get("items")
        if isinstance(items, dict) and "properties" in items:
            own["items"] = {k: v for k, v in items.items() if k not in ("properties", "required")}
            _walk_schema(items, path + "[].", props, required)
        props[path] = own
        _walk_schema(sub, path + ".", props, required)


def _schema_fields(schema) -> tuple[dict, set]:
    props: dict = {}
    required: set = set()
    _walk_schema(schema, "", props, required)
    return props, required


def _load_json(content: bytes | None):
    if content is None:
        return None
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None


def diff_forms(name: str, old_content: bytes | None, new_content: bytes | None) -> FormDiff | None:
    """Compare two versions of a JSON Schema form file; None when they are byte-identical."""
    if old_content == new_content:
        return None
    status = "added" if old_content is None else "removed" if new_content is None else "changed"
    old, new = _load_json(old_content), _load_json(new_content)
    if (old is None and old_content is not None) or (new is None and new_content is not None):
        return FormDiff(name, status, (Change("content", "not JSON" if old is None else None,
                                              "not JSON" if new is None else None),))
    old_props, old_required = _schema_fields(old)
    new_props, new_required = _schema_fields(new)
    changed = []
    for path in sorted(old_props.keys() & new_props.keys()):
        before, after = old_props[path], new_props[path]
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            keys = sorted(set(before) | set(after), key=str)
            changed.append(PropertyDiff(path, tuple(Change(k, before.get(k), after.get(k))
                                                    for k in keys if before.get(k) != after.get(k))))
        else:
            changed.append(PropertyDiff(path, (Change("schema", before, after),)))
    top = []
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted((set(old) | set(new)) - {"properties", "required"}, key=str):
            if old.get(key) != new.get(key):
                top.append(Change(key, old.get(key), new.get(key)))
    return FormDiff(
        name, status, tuple(top),
        properties_added=tuple(sorted(new_props.keys() - old_props.keys())),
        properties_removed=tuple(sorted(old_props.keys() - new_props.keys())),
        properties_changed=tuple(changed),
        required_added=tuple(sorted(new_required - old_required)),
        required_removed=tuple(sorted(old_required - new_required)),
    )


def _is_form(filename: str) -> bool:
    return PurePosixPath(filename).suffix.lower() == ".json"


# -- the whole version -----------------------------------------------------------------------------


def _file_changes(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> dict[str, list[str]]:
    return {
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
        "changed": sorted(n for n in old.keys() & new.keys() if old[n] != new[n]),
    }


def _sorted_elements(elements: Iterable[ElementDiff]) -> list[ElementDiff]:
    order = {s: i for i, s in enumerate(STATUSES)}
    return sorted(elements, key=lambda e: (ELEMENT_KINDS.index(e.kind), order[e.status], e.process, e.id))


def diff_processes(old: CompiledProcess, new: CompiledProcess, old_files: Mapping[str, bytes],
                   new_files: Mapping[str, bytes]) -> ProcessDiff:
    """Compare two compiled versions and their files (diagrams and JSON Schema forms)."""
    result = ProcessDiff(key=new.key)
    if old.name != new.name:
        result.name = Change("name", old.name, new.name)
    result.files = _file_changes(old_files, new_files)
    if result.identical:
        return result
    old_specs, new_specs = _process_specs(old), _process_specs(new)
    if old.key != new.key:  # two different keys: still compare their entry processes with each other
        old_specs[new.key] = old_specs.pop(old.key)
    elements: list[ElementDiff] = []
    for process in sorted(old_specs.keys() | new_specs.keys()):
        elements += _diff_spec(process, old_specs.get(process), new_specs.get(process))
    elements += _diff_flows(old_files, new_files)
    result.elements = _sorted_elements(elements)
    form_names = sorted(n for n in old_files.keys() | new_files.keys() if _is_form(n))
    result.forms = [d for n in form_names if (d := diff_forms(n, old_files.get(n), new_files.get(n)))]
    return result
