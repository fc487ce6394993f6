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
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

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
    """Restore a workflow from ``dump_state`` output onto a cached spec."""
    dct = json.loads(state)
    version = dct.pop(_SERIALIZER.VERSION_KEY, SERIALIZER_VERSION)
    if version != SERIALIZER_VERSION and version in MIGRATIONS:
        # Migrations expect the full document; give them the spec they need.
        dct["spec"] = _SERIALIZER.to_dict(spec)
        dct["subprocess_specs"] = {k: _SERIALIZER.to_dict(v) for k, v in subprocess_specs.items()}
        MIGRATIONS[version](dct)
        dct.pop("spec")
        dct.pop("subprocess_specs")
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
