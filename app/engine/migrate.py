"""Move a running workflow onto a newer version of its process, when that is safe.

``check`` says whether a workflow can move and, if not, why (reason codes with parameters the
service words for designers); ``migrate`` moves it. Both use SpiffWorkflow's ``SpecDiff`` /
``WorkflowDiff`` to align the old version's task specs with the new ones.

When a case may move
  * Every task the case is at (READY, WAITING or STARTED) still exists under the same id and
    changed only in ways that do not affect it: its name, documentation, scripts or what comes
    after it. A changed lane, candidate groups, assignee or form of a waiting user task, a
    changed event of a waiting event, a changed element type or data inputs is not safe; nor
    are boundary events added to the task the case waits at (their join would look for a split
    the case never passed). Boundary events removed from it simply stop waiting.
  * A parallel or inclusive join whose incoming flows changed is not one the case is inside of
    (a branch waiting at it, or several tokens running towards it): a new branch would never
    arrive, a removed one would be waited for.
  * Every step the case already passed still exists, or SpiffWorkflow aligns it with a renamed
    element, or it wrote no data (gateways, events, splits): the stored state names each task's
    spec, so such a step is taken out of the history; one that recorded data cannot be.
  * Running call activities call processes the new version still has.
  * Or the designer gave an explicit mapping ``{old_bpmn_id: new_bpmn_id}`` (elements of the
    same type) for the tasks that are not: a mapped waiting task starts afresh on its new
    element (pre-script, timers and routing of the new element), a mapped passed step is
    re-labelled. ``{id: id}`` accepts an incompatible change of the same element.

How it moves
  ``SpiffWorkflow.bpmn.util.diff.migrate_workflow`` resets every READY and WAITING branch. That
  restarts waiting timers from "now", re-runs pre-scripts and drops the input item of READY
  multi-instance children (their data is re-copied from the parent). So tasks that stay on the
  same element keep their state, data and internal data (timer due dates, written keys) and
  only what comes after them is predicted again from the new spec; only mapped tasks (and
  events whose definition changed) are reset the way ``migrate_workflow`` does it. Engine task
  ids of kept tasks do not change, so the service can keep their human-task rows and claims.
  Engine tasks that become READY (a join whose last branch now counts) are run at the end.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins import (
    BoundaryEventMixin,
    InclusiveGatewayMixin,
    ParallelGatewayMixin,
    UserTaskMixin,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from .errors import EngineError, ScriptError, WorkflowRunError
from .gateways import WRITTEN_KEYS
from .serializer import _SERIALIZER, dump_state, load_state
from .specs import FORM_PROPERTY, CompiledProcess

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
PREDICTED = TaskState.PREDICTED_MASK | TaskState.FUTURE

# Serialised task-spec attributes whose change does not matter to a task the case is at:
# labels, wiring (what follows is predicted again) and scripts that already ran or run later.
_HARMLESS = frozenset({
    "name", "bpmn_id", "bpmn_name", "documentation", "description", "lookahead", "inputs", "outputs",
    "prescript", "postscript", "data_output_associations",
})
# ... except for a task that runs a sub-process or multi-instance children: its children are
# definite and are not predicted again, so what follows it must stay the same.
_HARMLESS_STARTED = _HARMLESS - {"outputs"}
_ROUTING_EXTENSIONS = ("candidateGroups", "assignee")

REASON_CODES = (
    "process_mismatch", "task_removed", "task_replaced", "routing_changed", "form_changed", "type_changed",
    "event_changed", "task_changed", "join_changed", "boundary_added", "history_removed", "subprocess_removed",
    "mapping_unknown_source", "mapping_unknown_target", "mapping_type_mismatch", "migration_failed",
)


@dataclass(frozen=True)
class Reason:
    """Why a workflow cannot move: a stable code and what the message needs (task ids, names)."""

    code: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TaskMove:
    """What happens to one task the case is at."""

    task_id: str
    bpmn_id: str
    new_bpmn_id: str | None
    state: str
    mapped: bool = False
    changed: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """Return the move as plain JSON-able data."""
        return {**asdict(self), "changed": list(self.changed)}


@dataclass(frozen=True)
class MigrationCheck:
    """The verdict for one workflow: ``ok``, the ``reasons`` if not, and the tasks that move."""

    ok: bool
    reasons: tuple[Reason, ...] = ()
    changes: tuple[TaskMove, ...] = ()


class MigrationRefused(EngineError):
    """``migrate`` was asked to move a workflow that ``check`` does not allow to move."""

    def __init__(self, result: MigrationCheck):
        self.check = result
        super().__init__(", ".join(r.code for r in result.reasons))


@dataclass
class _Part:
    """The top workflow or one running sub-process, with where each of its tasks goes."""

    workflow: object
    new_spec: object
    targets: dict = field(default_factory=dict)  # task id -> new task spec (or None: no counterpart)
    reset: set = field(default_factory=set)  # ids of tasks that start afresh on their new spec
    splice: list = field(default_factory=list)  # passed steps without counterpart that wrote nothing
    drop: list = field(default_factory=list)  # waiting boundary events removed with their element


def _label(spec) -> tuple[str, str]:
    """The BPMN id and display name a designer knows a spec by (engine-made specs: their element's)."""
    bpmn_id = getattr(spec, "bpmn_id", None)
    if not bpmn_id:
        bpmn_id = spec.name.split(".")[0].split(" [")[0]
    return bpmn_id, getattr(spec, "bpmn_name", None) or bpmn_id


def _params(spec, **extra) -> dict:
    bpmn_id, name = _label(spec)
    return {"task": bpmn_id, "name": name, **extra}


def _form(spec) -> str | None:
    ext = getattr(spec, "extensions", None) or {}
    return (ext.get("properties") or {}).get(FORM_PROPERTY) or ext.get("formKey")


def _routing(spec) -> tuple:
    ext = getattr(spec, "extensions", None) or {}
    lane = spec.lane.strip() if isinstance(getattr(spec, "lane", None), str) else None
    return (lane or None, *(ext.get(k) for k in _ROUTING_EXTENSIONS))


def _derived_names(name: str, specs: Mapping) -> list[str]:
    """Spec names the engine derives from a BPMN id: boundary-event split/join, multi-instance child."""
    return [n for n in specs if n.startswith(name + ".") or n.startswith(name + " [")]


def _expand_mapping(mapping: Mapping[str, str], old_specs: Mapping, new_specs: Mapping) -> dict[str, str]:
    """The designer's ``{old id: new id}`` plus the engine-made specs that hang off those ids."""
    expanded = {}
    for old, new in mapping.items():
        if old not in old_specs or new not in new_specs:
            continue
        expanded[old] = new
        for derived in _derived_names(old, old_specs):
            candidate = new + derived[len(old):]
            if candidate in new_specs:
                expanded[derived] = candidate
    return expanded


def _compare(registry, old, new) -> list[str]:
    """Attributes of the serialised specs that differ (as ``SpecDiff`` compares them)."""
    s1, s2 = registry.convert(old), registry.convert(new)
    if s1.get("typename") != s2.get("typename"):
        return ["typename"]
    return [key for key, value in s1.items() if s2.get(key) != value]


def _active_reasons(task, new, changed: list[str], changed_forms: Collection[str]) -> list[Reason]:
    """Reasons a task the case is at cannot stay on its (same-id) element in the new version."""
    old = task.task_spec
    if "typename" in changed:
        return [Reason("type_changed", _params(old, old_type=type(old).__name__, new_type=type(new).__name__))]
    reasons = []
    rest = set(changed) - (_HARMLESS_STARTED if task.state == TaskState.STARTED else _HARMLESS)
    if isinstance(old, UserTaskMixin) and task.state == TaskState.READY:
        if _routing(old) != _routing(new):
            reasons.append(Reason("routing_changed", _params(old)))
        if _form(old) != _form(new) or (_form(new) and _form(new) in changed_forms):
            reasons.append(Reason("form_changed", _params(old, form=_form(new) or "")))
        rest -= {"lane", "extensions"}
    elif isinstance(old, CatchingEvent) and task.state == TaskState.WAITING:
        if "event_definition" in rest:
            reasons.append(Reason("event_changed", _params(old)))
        rest -= {"event_definition", "lane", "extensions"}
    else:
        rest -= {"lane", "extensions"}
    if isinstance(old, (ParallelGatewayMixin, InclusiveGatewayMixin)):
        rest.discard("inputs")  # the join rule decides
    if rest:
        reasons.append(Reason("task_changed", _params(old, attributes=sorted(rest))))
    return reasons


def _join_reasons(part: _Part, spec_diff: SpecDiff) -> list[Reason]:
    """A join whose incoming flows changed must not be one the case is inside of."""
    tasks = part.workflow.get_tasks(skip_subprocesses=True)
    tokens = sum(1 for t in tasks if t.has_state(ACTIVE) and not isinstance(t.task_spec, BoundaryEventMixin))
    reasons = []
    for old, new in spec_diff.alignment.items():
        if not isinstance(old, (ParallelGatewayMixin, InclusiveGatewayMixin)) or len(old.inputs) < 2:
            continue
        if new is not None and {s.name for s in old.inputs} == {s.name for s in new.inputs}:
            continue
        instances = [t for t in tasks if t.task_spec is old]
        waiting = any(t.state == TaskState.WAITING for t in instances)
        ahead = tokens > 1 and any(t.has_state(PREDICTED) for t in instances)
        if (waiting and new is not None) or ahead:  # a removed waiting join is reported as task_removed
            reasons.append(Reason("join_changed", _params(old)))
    return reasons


def _is_neutral(task) -> bool:
    """A passed step that wrote nothing: taking it out of the tree loses no data."""
    parent = task.parent
    return parent is not None and not task.internal_data.get(WRITTEN_KEYS) and task.data == parent.data


def _main_sibling(task):
    """For a boundary event: the task it is attached to (its split's other child)."""
    parent = task.parent
    if parent is None:
        return None
    return next((t for t in parent.children if not isinstance(t.task_spec, BoundaryEventMixin)), None)


def _enters_new_boundary(part: _Part, task, new) -> bool:
    """Whether the new element has boundary events whose split this task never went through.

    Its boundary join would look for that split when the task completes, and fail.
    """
    splits = [s for s in new.inputs if isinstance(s, BoundaryEventSplit)]
    parent = task.parent
    return bool(splits) and (parent is None or part.targets.get(parent.id) not in splits)


def _plan_part(workflow, old_spec, new_spec, mapping: Mapping[str, str], changed_forms: Collection[str],
               reasons: list[Reason], moves: list[TaskMove]) -> _Part:
    registry = _SERIALIZER.registry
    spec_diff = SpecDiff(registry, old_spec, new_spec)
    workflow_diff = WorkflowDiff(workflow, spec_diff)
    expanded = _expand_mapping(mapping, old_spec.task_specs, new_spec.task_specs)
    part = _Part(workflow, new_spec)
    tasks = workflow.get_tasks(skip_subprocesses=True)
    for task in tasks:
        name = task.task_spec.name
        part.targets[task.id] = new_spec.task_specs[expanded[name]] if name in expanded \
            else workflow_diff.alignment.get(task)

    for task in tasks:
        old, new = task.task_spec, part.targets[task.id]
        if task.has_state(PREDICTED):
            continue  # predicted again from the new spec
        if not task.has_state(ACTIVE):
            if new is None:
                if task.state == TaskState.CANCELLED:
                    part.drop.append(task.id)  # never ran (e.g. a boundary event its task outlived)
                elif _is_neutral(task):
                    part.splice.append(task.id)
                else:
                    reasons.append(Reason("history_removed", _params(old)))
            continue
        state = TaskState.get_name(task.state)
        mapped = old.name in expanded
        if new is None and isinstance(old, BoundaryEventMixin) and task.state == TaskState.WAITING:
            main = _main_sibling(task)
            if main is not None and main.has_state(ACTIVE) and part.targets.get(main.id) is not None:
                part.drop.append(task.id)  # the event went with its task; the task itself moves
                continue
        if new is None:
            reasons.append(Reason("task_removed", _params(old, state=state)))
            continue
        new_id = _label(new)[0]
        if mapped and type(old) is not type(new):
            continue  # reported with the mapping
        if not mapped and new.name != old.name:
            reasons.append(Reason("task_replaced", _params(old, candidate=new_id, state=state)))
            continue
        if task.state == TaskState.READY and _enters_new_boundary(part, task, new):
            reasons.append(Reason("boundary_added", _params(old)))
            continue
        changed = _compare(registry, old, new) if mapped else spec_diff.comparisons.get(old, [])
        if mapped:
            if new.name != old.name or changed:
                part.reset.add(task.id)
        else:
            problems = _active_reasons(task, new, changed, changed_forms)
            reasons.extend(problems)
            if "event_definition" in changed and not problems:
                part.reset.add(task.id)
        moves.append(TaskMove(str(task.id), _label(old)[0], new_id, state, mapped, tuple(changed)))
    reasons.extend(_join_reasons(part, spec_diff))
    return part


def _mapping_reasons(mapping: Mapping[str, str], workflow, new: CompiledProcess) -> list[Reason]:
    old_specs = [workflow.spec, *workflow.subprocess_specs.values()]
    new_specs = [new.spec, *new.subprocess_specs.values()]
    reasons = []
    for source, target in mapping.items():
        holder = next((s for s in old_specs if source in s.task_specs), None)
        if holder is None:
            reasons.append(Reason("mapping_unknown_source", {"task": source, "target": target}))
            continue
        counterpart = next((s for s in new_specs if s.name == holder.name), None)
        if counterpart is None or target not in counterpart.task_specs:
            reasons.append(Reason("mapping_unknown_target", {"task": source, "target": target}))
            continue
        old_spec, new_spec = holder.task_specs[source], counterpart.task_specs[target]
        if type(old_spec) is not type(new_spec):
            reasons.append(Reason("mapping_type_mismatch", {
                "task": source, "target": target, "old_type": type(old_spec).__name__,
                "new_type": type(new_spec).__name__}))
    return reasons


def _plan(workflow, new: CompiledProcess, mapping: Mapping[str, str], changed_forms: Collection[str]):
    reasons: list[Reason] = []
    moves: list[TaskMove] = []
    parts: list[_Part] = []
    if workflow.spec.name != new.spec.name:
        reasons.append(Reason("process_mismatch", {"old": workflow.spec.name, "new": new.spec.name}))
        return reasons, moves, parts
    reasons.extend(_mapping_reasons(mapping, workflow, new))
    try:
        parts.append(_plan_part(workflow, workflow.spec, new.spec, mapping, changed_forms, reasons, moves))
        for sub in workflow.subprocesses.values():
            new_sub = new.subprocess_specs.get(sub.spec.name)
            if new_sub is None:
                reasons.append(Reason("subprocess_removed", {"process": sub.spec.name}))
                continue
            parts.append(_plan_part(sub, sub.spec, new_sub, mapping, changed_forms, reasons, moves))
    except (KeyError, AttributeError, SpiffWorkflowException) as exc:  # a tree SpecDiff cannot align
        reasons.append(Reason("migration_failed", {"error": f"{type(exc).__name__}: {exc}"}))
    return reasons, moves, parts


def _drop_predicted_children(task) -> None:
    for child in list(task.children):
        if child.has_state(PREDICTED) and not child.triggered:
            task.workflow._remove_task(child.id)


def _predict_again(part: _Part) -> None:
    """Re-predict what follows each task the case is at from the new spec, keeping the task itself."""
    workflow = part.workflow
    for task in list(workflow.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)):
        if task.id not in workflow.tasks or task.id in part.reset:
            continue
        _drop_predicted_children(task)
        if isinstance(task.task_spec, BoundaryEventMixin):
            # As the boundary-event split predicts them: they happen only if the event fires.
            task._sync_children(task.task_spec.outputs, TaskState.MAYBE)
        else:
            task.task_spec._predict_hook(task)
        for child in task.children:
            if child.has_state(PREDICTED):
                child.task_spec._predict(child, mask=PREDICTED)
    # A sub-process or multi-instance parent keeps its definite children; its outputs are unchanged
    # (checked), so only the predictions below its next step are renewed.
    for task in list(workflow.get_tasks(state=TaskState.STARTED, skip_subprocesses=True)):
        for child in task.children:
            if child.has_state(PREDICTED) and not child.triggered:
                _drop_predicted_children(child)
                child.task_spec._predict(child, mask=PREDICTED)


def _splice(workflow, task) -> None:
    """Take a passed step out of the tree; its children hang from its parent (same data)."""
    parent = task.parent
    at = parent._children.index(task.id)
    parent._children[at:at + 1] = list(task._children)
    for child in task.children:
        child._parent = parent.id
    del workflow.tasks[task.id]


def _apply(workflow, new: CompiledProcess, parts: list[_Part]) -> None:
    for part in parts:
        part.workflow.spec = part.new_spec
        for task in part.workflow.tasks.values():
            target = part.targets.get(task.id)
            if target is not None:
                task.task_spec = target
    workflow.subprocess_specs = new.subprocess_specs
    for part in parts:
        for task_id in part.drop:
            if task_id in part.workflow.tasks:  # not already gone with a dropped ancestor
                part.workflow.top_workflow.event_manager.remove_task(part.workflow.tasks[task_id])
                part.workflow._remove_task(task_id)
        for task_id in part.splice:
            _splice(part.workflow, part.workflow.tasks[task_id])
        for task_id in part.reset:
            if task_id in part.workflow.tasks:
                part.workflow.tasks[task_id].reset_branch(None)
        _predict_again(part)
        if part.workflow.last_task is not None and part.workflow.last_task.id not in part.workflow.tasks:
            part.workflow.last_task = None
    for part in parts:
        spec = part.workflow.spec
        stale = [t.task_spec.name for t in part.workflow.tasks.values()
                 if spec.task_specs.get(t.task_spec.name) is not t.task_spec]
        if stale:
            raise EngineError(f"tasks left on elements of the old version: {', '.join(sorted(set(stale)))}")


def _settle(workflow) -> None:
    """Run engine tasks that became READY (a join whose last branch now counts, a mapped task)."""
    if not any(not t.task_spec.manual for t in workflow.get_tasks(state=TaskState.READY)):
        return
    try:
        workflow.do_engine_steps()
    except SpiffWorkflowException as exc:
        task = getattr(exc, "task", None)
        raise WorkflowRunError(str(exc), element=getattr(task.task_spec, "bpmn_id", None) if task else None) from None
    except ScriptError as exc:
        raise WorkflowRunError(str(exc), line=exc.line) from None


def check(workflow, old_process: CompiledProcess, new_process: CompiledProcess,
          mapping: Mapping[str, str] | None = None, changed_forms: Collection[str] = ()) -> MigrationCheck:
    """Say whether ``workflow`` (loaded on ``old_process``) can move to ``new_process``, and why not.

    ``changed_forms``: form files whose content differs between the versions (the service knows
    the files; a waiting task whose form changed is not moved unless mapped). When the analysis
    finds nothing, the move is tried on a copy, so a case reported eligible does move.
    """
    if old_process.spec is not workflow.spec:
        raise ValueError("the workflow was not loaded on old_process")
    mapping = dict(mapping or {})
    reasons, moves, _parts = _plan(workflow, new_process, mapping, changed_forms)
    if not reasons:
        trial = load_state(dump_state(workflow), workflow.spec, workflow.subprocess_specs)
        trial.script_engine = workflow.script_engine
        try:
            migrate(trial, new_process, mapping, changed_forms)
            load_state(dump_state(trial), new_process.spec, new_process.subprocess_specs)
        except Exception as exc:  # whatever stops the trial keeps the case where it is
            reasons = [Reason("migration_failed", {"error": f"{type(exc).__name__}: {exc}"})]
    return MigrationCheck(not reasons, tuple(reasons), tuple(moves))


def migrate(workflow, new_process: CompiledProcess, mapping: Mapping[str, str] | None = None,
            changed_forms: Collection[str] = ()):
    """Move ``workflow`` onto ``new_process`` in place and return it; raise MigrationRefused if unsafe.

    On any error the workflow is half-changed: discard it and reload the stored state.
    """
    mapping = dict(mapping or {})
    reasons, moves, parts = _plan(workflow, new_process, mapping, changed_forms)
    if reasons:
        raise MigrationRefused(MigrationCheck(False, tuple(reasons), tuple(moves)))
    _apply(workflow, new_process, parts)
    _settle(workflow)
    return workflow

