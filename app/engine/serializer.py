"""Workflow state <-> JSON, without the spec.

Specs are cached per process version in memory (see ``specs.SpecCache``); only the
instance state is stored with each case, which halves the cost of a load (engine notes,
"Cost"). The stored JSON carries ``serializer_version`` so old states can be migrated.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import InclusiveGateway, ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from .errors import EngineError
from .gateways import MergingInclusiveGateway, MergingParallelGateway

SERIALIZER_VERSION = VERSION


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Serialise a workflow without its spec; restore it onto a cached spec."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        if spec is None:
            return super().from_dict(dct)
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _build_serializer() -> BpmnWorkflowSerializer:
    config = copy.copy(SPIFF_CONFIG)  # never mutate the library's module-level dict
    config[MergingParallelGateway] = config[ParallelGateway]
    config[MergingInclusiveGateway] = config[InclusiveGateway]
    registry = BpmnWorkflowSerializer.configure(config)
    # Form data may hold dates and decimals once scripts touch it.
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    StateOnlyWorkflowConverter(BpmnWorkflow, registry)
    return BpmnWorkflowSerializer(registry)


_SERIALIZER = _build_serializer()


def dump_state(workflow: BpmnWorkflow) -> str:
    """Return the workflow's instance state (no spec) as JSON."""
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = _SERIALIZER.to_dict(workflow)
        dct[_SERIALIZER.VERSION_KEY] = SERIALIZER_VERSION
        return json.dumps(dct, cls=_SERIALIZER._encoder_cls, ensure_ascii=False, separators=(",", ":"))
    finally:
        registry._encoder_mode = False


def load_state(state: str, spec, subprocess_specs) -> BpmnWorkflow:
    """Restore a workflow from ``dump_state`` output onto a cached spec.

    A state stored by an older SpiffWorkflow is upgraded step by step to the current format
    (tests/data/migration/README.md). A state from an unknown (newer) format is refused
    rather than misread.
    """
    # Where each library migration lands: the 1.0-1.2 steps call each other up to 1.3, the
    # later ones do one step and do not chain (SpiffWorkflow 3.2), so we walk the chain.
    lands_at = {"1.0": "1.3", "1.1": "1.3", "1.2": "1.3", "1.3": "1.4", "1.4": "1.5"}
    # These steps loop over subprocesses with an undefined name (NameError in 3.2) and would
    # read a subprocess's spec from the state, which keeps only its name: run them once per
    # (sub)workflow instead, each with its own spec.
    per_workflow = {"1.3", "1.4"}

    dct = json.loads(state)
    version = dct.pop(_SERIALIZER.VERSION_KEY, SERIALIZER_VERSION)
    if version != SERIALIZER_VERSION:
        # Migrations expect the full document; give them the spec they need.
        dct["spec"] = _SERIALIZER.to_dict(spec)
        dct["subprocess_specs"] = {k: _SERIALIZER.to_dict(v) for k, v in subprocess_specs.items()}
        while version != SERIALIZER_VERSION:
            if version not in lands_at:
                raise EngineError(f"stored workflow state has serializer version {version!r}, "
                                  f"which this engine ({SERIALIZER_VERSION}) cannot read")
            if version in per_workflow:
                for sub in dct["subprocesses"].values():
                    MIGRATIONS[version]({"tasks": sub["tasks"], "subprocesses": {},
                                         "spec": dct["subprocess_specs"][sub["spec"]]})
                MIGRATIONS[version]({**dct, "subprocesses": {}})
            else:
                MIGRATIONS[version](dct)
            version = lands_at[version]
        for key in ("spec", "subprocess_specs", "VERSION"):
            dct.pop(key, None)
    # Task data is stored as a delta against the parent and restored in the order the tasks are
    # listed, so a child listed before its parent loses its data (silently: SpiffWorkflow then
    # takes the empty "data"). Our own dumps list parents first; older formats stored full data
    # in any order, and the first dump after loading them would break. Put parents first.
    for part in (dct, *dct.get("subprocesses", {}).values()):
        tasks, seen = part["tasks"], set()
        for task_id, task in tasks.items():
            if task["parent"] is not None and task["parent"] not in seen:
                break
            seen.add(task_id)
        else:
            continue  # already parents first
        ordered, stack = {}, [part["root"]]
        while stack:
            task_id = stack.pop()
            if task_id in tasks and task_id not in ordered:
                ordered[task_id] = tasks[task_id]
                stack.extend(reversed(tasks[task_id]["children"]))
        part["tasks"] = {**ordered, **tasks}
    # A multi-instance task learns that a child finished through a handler it connects to the
    # child's spec when it creates a child; SpiffWorkflow's spec deserialiser connects it too,
    # but parsed specs (our cache) do not. A worker whose cached spec never created a child
    # would otherwise leave a restored multi-instance task waiting forever.
    for process_spec in (spec, *subprocess_specs.values()):
        for task_spec in list(process_spec.task_specs.values()):
            if not isinstance(task_spec, LoopTask):
                continue
            child = process_spec.task_specs.get(task_spec.task_spec)
            if child is not None and not child.completed_event.is_connected(task_spec.merge_child):
                child.completed_event.connect(task_spec.merge_child)
    return _SERIALIZER.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)


def dump_full(workflow: BpmnWorkflow) -> str:
    """Serialise the whole workflow, spec included (benchmark ceiling, debugging)."""
    full = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_full_config()))
    return full.serialize_json(workflow)


def load_full(state: str) -> BpmnWorkflow:
    """Restore a workflow serialised by ``dump_full``."""
    full = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_full_config()))
    return full.deserialize_json(state)


def _full_config():
    config = copy.copy(SPIFF_CONFIG)
    config[MergingParallelGateway] = config[ParallelGateway]
    config[MergingInclusiveGateway] = config[InclusiveGateway]
    return config
