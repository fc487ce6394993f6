"""Start, load, advance and save workflows; list the user tasks waiting for people.

Every call works on an in-memory workflow that the caller loaded from stored state. On
any error the caller must discard it and reload (engine notes, pitfall 7): nothing here
writes anywhere.
"""

from __future__ import annotations

import copy
import re
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import TerminateEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from . import clock as engine_clock
from .errors import ScriptError, TaskNotReady, WorkflowRunError
from .gateways import WRITTEN_KEYS, record_writes
from .sandbox import DEFAULT_MEMORY_LIMIT_MB, DEFAULT_TIME_LIMIT, SandboxEnvironment
from .serializer import SERIALIZER_VERSION, dump_state, load_state
from .specs import HUMAN_TASK_SPECS, CompiledProcess


@dataclass(frozen=True)
class ReadyTask:
    """A READY user task as the service layer sees it."""

    id: str
    bpmn_id: str
    name: str
    lane: str | None
    candidate_groups: tuple[str, ...]
    form: str | None
    documentation: str | None
    # The username the task is for (``camunda:assignee``: a literal, or ``${var}`` read from the
    # task's data, e.g. one signer of a multi-instance 会签), or None.
    assignee: str | None = None
    # For one instance of a multi-instance task: its input item, e.g. {"signer": "health2"} or
    # {"finding": "审批程序：…"}; the task page shows it beside the case data.
    instance: dict | None = None


@dataclass(frozen=True)
class WaitingMessage:
    """A message catch (intermediate event, receive task, boundary event) the case waits for.

    ``sender_groups`` (the element's ``senderGroups`` property) may deliver it from outside.
    """

    name: str
    bpmn_id: str
    element_name: str
    sender_groups: tuple[str, ...]
    variable: str


_VARIABLE = re.compile(r"^\$\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}$")


def _assignee(task) -> str | None:
    """The task's assignee: a literal username, or a ``${var}`` from its data (a string)."""
    raw = ((task.task_spec.extensions or {}).get("assignee") or "").strip()
    if not raw:
        return None
    match = _VARIABLE.match(raw)
    if match is None:
        return raw if "$" not in raw and "{" not in raw else None
    value = task.data.get(match.group(1))
    return value if isinstance(value, str) and value else None


def group_variable(code: str) -> str | None:
    """The variable name of a dynamic candidate group ``${handling_unit}``, or None for a code."""
    match = _VARIABLE.match(code.strip())
    return match.group(1) if match else None


def _candidate_groups(task) -> tuple[str, ...]:
    """The task's candidate group codes: literal codes, and ``${var}`` entries read from its data
    (a code, or a list of codes, e.g. the handling unit a dispatcher chose)."""
    codes = []
    for raw in (task.task_spec.extensions or {}).get("candidateGroups", ()):
        name = group_variable(raw)
        if name is None:
            codes.append(raw)
            continue
        value = task.data.get(name)
        values = value if isinstance(value, list | tuple) else [value]
        codes.extend(v.strip() for v in values if isinstance(v, str) and v.strip())
    return tuple(dict.fromkeys(codes))


def _instance_item(task) -> dict | None:
    """``{input item name: value}`` of a multi-instance task's instance, else None."""
    parent = _multi_instance_parent(task)
    name = getattr(getattr(parent.task_spec, "input_item", None), "bpmn_id", None) if parent is not None else None
    if not name or name not in task.data:
        return None
    return {name: copy.deepcopy(task.data[name])}


def _multi_instance_parent(task):
    """The multi-instance task a READY instance belongs to, or None."""
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, MultiInstanceTask):
        return None
    # The task after a multi-instance task is its child in the tree too: only instances count.
    return parent if parent.task_spec.task_spec == task.task_spec.name else None


class WriteTrackingScriptEngine(PythonScriptEngine):
    """Record which keys each script wrote, for the per-branch join merge."""

    def execute(self, task, script, external_context=None):
        before = dict(task.data)
        result = super().execute(task, script, external_context)
        record_writes(task, [k for k, v in task.data.items() if k not in before or before[k] != v])
        return result


# Pending events name their definition's class: a date, a duration or a cycle timer.
_TIMER_TYPES = frozenset(c.__name__ for c in (TimeDateEventDefinition, DurationTimerEventDefinition,
                                              CycleTimerEventDefinition))


@dataclass(frozen=True)
class _Kinds:
    """Which kinds of element a compiled process (with its subprocesses) has at all. Asking the
    workflow's task tree about a kind the diagram lacks walks every task to find nothing: each such
    walk costs as much as a step of the engine."""

    messages: bool
    timers: bool
    multi_instance: bool
    terminate: bool


# Keyed by the workflow's top process spec: the service compiles a version once and keeps it,
# a spec restored from JSON (the benchmark's ceiling) is new each time and goes with its workflow.
_KINDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _kinds(workflow: BpmnWorkflow) -> _Kinds:
    top = workflow.top_workflow
    kinds = _KINDS.get(top.spec)
    if kinds is None:
        messages = timers = multi_instance = terminate = False
        for process_spec in [top.spec, *top.subprocess_specs.values()]:
            for spec in process_spec.task_specs.values():
                multi_instance = multi_instance or isinstance(spec, MultiInstanceTask)
                definition = getattr(spec, "event_definition", None)
                for item in [definition, *(getattr(definition, "event_definitions", None) or [])]:
                    messages = messages or isinstance(item, MessageEventDefinition)
                    timers = timers or isinstance(item, TimerEventDefinition)
                    terminate = terminate or isinstance(item, TerminateEventDefinition)
        kinds = _KINDS[top.spec] = _Kinds(messages, timers, multi_instance, terminate)
    return kinds


def _working_days_function(count: Callable[[datetime, int], datetime]):
    """``working_days(n)`` for diagrams: the ISO 8601 end of the n-th working day from now.

    Used as a timer date (``<timeDate>working_days(3)</timeDate>``; a ``timeDuration`` that
    calls it is turned into a date when the diagram is compiled).
    """
    def working_days(n):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ScriptError(f"working_days needs a whole number of days (0 or more), not {n!r}")
        return count(engine_clock.now(), n).isoformat()
    return working_days


def _group_members_function(members: Callable[[str], list[str]]):
    """``group_members("health")`` for diagrams: the usernames of a group's active members, sorted
    (e.g. the signers of a 会签)."""
    def group_members(code):
        if not isinstance(code, str) or not code:
            raise ScriptError(f"group_members needs a group code, not {code!r}")
        return list(members(code))
    return group_members


def _date_functions(today: Callable[[], date]) -> dict[str, Callable]:
    """``today()`` and ``days_since("2026-11-01")`` for diagrams: the service centre's local date
    (ISO 8601) and the natural days from a date to it (negative for a future date), e.g. for an
    eligibility check such as "born less than a year ago"."""
    def today_function():
        return today().isoformat()

    def days_since(value):
        if not isinstance(value, str):
            raise ScriptError(f"days_since needs an ISO date such as 2026-11-01, not {value!r}")
        try:
            start = date.fromisoformat(value[:10])
        except ValueError:
            raise ScriptError(f"days_since needs an ISO date such as 2026-11-01, not {value!r}") from None
        return (today() - start).days
    return {"today": today_function, "days_since": days_since}


class Engine:
    """The sandboxed SpiffWorkflow runtime. Holds no per-case state."""

    serializer_version = SERIALIZER_VERSION

    def __init__(self, script_time_limit: float = DEFAULT_TIME_LIMIT, *,
                 clock: Callable[[], datetime] | None = None,
                 working_days: Callable[[datetime, int], datetime] | None = None,
                 group_members: Callable[[str], list[str]] | None = None,
                 today: Callable[[], date] | None = None,
                 script_memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB):
        """``clock`` is the application's ``now`` (aware UTC), which timers then follow;
        ``working_days(start, n)`` returns the end of the n-th working day after ``start`` and
        backs the diagram function ``working_days(n)`` for timers counted in working days;
        ``today()`` is the local date behind the diagram functions ``today()`` and
        ``days_since(d)`` (default: the UTC date of the engine clock)."""
        if clock is not None:
            engine_clock.use(clock)
        functions = {}
        if working_days is not None:
            functions["working_days"] = _working_days_function(working_days)
        if group_members is not None:
            functions["group_members"] = _group_members_function(group_members)
        functions.update(_date_functions(today or (lambda: engine_clock.now().date())))
        self.script_engine = WriteTrackingScriptEngine(
            environment=SandboxEnvironment(script_time_limit, functions=functions,
                                           memory_limit_mb=script_memory_limit_mb))

    # -- lifecycle -------------------------------------------------------------------
    def start(self, process: CompiledProcess, data: dict | None = None) -> BpmnWorkflow:
        """Create a workflow, give the start event ``data`` and run to the first wait."""
        workflow = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=self.script_engine)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.set_data(**copy.deepcopy(data or {}))
            record_writes(task, list(data or {}))
        self._advance(workflow)
        return workflow

    def load(self, process: CompiledProcess, state: str) -> BpmnWorkflow:
        """Restore a stored workflow and re-attach the sandboxed script engine."""
        workflow = load_state(state, process.spec, process.subprocess_specs)
        # The script engine is not serialised: without this the sandbox would vanish.
        # Subprocesses read it from the top workflow.
        workflow.script_engine = self.script_engine
        return workflow

    @staticmethod
    def dump(workflow: BpmnWorkflow) -> str:
        """Serialise the workflow's instance state."""
        return dump_state(workflow)

    # -- user tasks --------------------------------------------------------------------
    @staticmethod
    def ready_user_tasks(workflow: BpmnWorkflow) -> list[ReadyTask]:
        """Return the READY user tasks, oldest first."""
        tasks = workflow.get_tasks(state=TaskState.READY, manual=True)
        result = []
        for task in sorted(tasks, key=lambda t: t.last_state_change):
            spec = task.task_spec
            if not isinstance(spec, HUMAN_TASK_SPECS):
                continue
            ext = spec.extensions or {}
            props = ext.get("properties", {})
            lane = spec.lane.strip() if isinstance(spec.lane, str) and spec.lane.strip() else None
            result.append(ReadyTask(
                id=str(task.id),
                bpmn_id=spec.bpmn_id,
                name=spec.bpmn_name or spec.bpmn_id,
                lane=lane,
                candidate_groups=_candidate_groups(task),
                form=props.get("formJsonSchemaFilename") or ext.get("formKey"),
                documentation=spec.documentation,
                assignee=_assignee(task),
                instance=_instance_item(task),
            ))
        return result

    def complete_user_task(self, workflow: BpmnWorkflow, task_id: str, data: dict) -> None:
        """Complete a READY user task with ``data`` and run the engine to the next wait."""
        try:
            task = workflow.get_task_from_id(uuid.UUID(task_id))
        except (ValueError, KeyError, TypeError, AttributeError, TaskNotFoundException):
            task = None
        # Task.run() does not check state (pitfall 6): refuse anything but a READY user task.
        if task is None or task.state != TaskState.READY or not isinstance(task.task_spec, HUMAN_TASK_SPECS):
            raise TaskNotReady(task_id)
        data = copy.deepcopy(data)
        parent = _multi_instance_parent(task)
        if parent is not None:
            # One instance of a 会签/或签: its submission becomes its record in the output list
            # (with who signed, from the input item), unless the form wrote the item itself. Its
            # data never reaches the case directly: the output collection does, when all is done.
            spec = parent.task_spec
            output = getattr(getattr(spec, "output_item", None), "bpmn_id", None)
            source = getattr(getattr(spec, "input_item", None), "bpmn_id", None)
            if output and output not in data:
                record = dict(data)
                if source and source in task.data:
                    record.setdefault(source, copy.deepcopy(task.data[source]))
                data[output] = record
            task.set_data(**data)
        else:
            task.set_data(**data)
            record_writes(task, list(data))
        try:
            task.run()
        except SpiffWorkflowException as exc:
            raise self._run_error(exc) from None
        self._advance(workflow)

    # -- messages from outside (e.g. utilities reporting a transfer) ---------------------------
    @staticmethod
    def _message_waits(workflow: BpmnWorkflow):
        if not _kinds(workflow).messages:
            return
        for task in workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if not isinstance(definition, MessageEventDefinition):
                continue
            props = (getattr(task.task_spec, "extensions", None) or {}).get("properties", {})
            groups = tuple(g.strip() for g in str(props.get("senderGroups") or "").split(",") if g.strip())
            name = definition.name
            yield task, WaitingMessage(
                name=name, bpmn_id=task.task_spec.bpmn_id, element_name=task.task_spec.bpmn_name or name,
                sender_groups=groups, variable=getattr(definition, "message_var", None) or name)

    def waiting_messages(self, workflow: BpmnWorkflow) -> list[WaitingMessage]:
        """The messages the case waits for now."""
        return [wait for _task, wait in self._message_waits(workflow)]

    def deliver_message(self, workflow: BpmnWorkflow, name: str, payload: dict) -> WaitingMessage:
        """Deliver message ``name`` with ``payload`` (stored under the message's variable, by default
        its name, as a write of the catching element) and run to the next wait."""
        for task, wait in self._message_waits(workflow):
            if wait.name != name:
                continue
            task.set_data(**{wait.variable: copy.deepcopy(payload)})
            record_writes(task, [wait.variable])
            try:
                workflow.send_event(BpmnEvent(task.task_spec.event_definition, copy.deepcopy(payload)))
            except SpiffWorkflowException as exc:
                raise self._run_error(exc) from None
            self._advance(workflow)
            return wait
        raise TaskNotReady(name)

    # -- token moves (退回, 撤回) ---------------------------------------------------------------
    @staticmethod
    def _task(workflow: BpmnWorkflow, task_id: str):
        try:
            return workflow.get_task_from_id(uuid.UUID(task_id))
        except (ValueError, KeyError, TypeError, AttributeError, TaskNotFoundException):
            return None

    def return_targets(self, workflow: BpmnWorkflow, task_id: str) -> list[str]:
        """Engine ids of the completed user tasks on the path that led to READY task ``task_id``,
        nearest first. Moving the token back to one of them withdraws everything after it on
        that path (and every parallel branch forked after it), so nothing runs twice."""
        task = self._task(workflow, task_id)
        if task is None or task.state != TaskState.READY:
            raise TaskNotReady(task_id)
        result = []
        node = task.parent
        while node is not None:
            if node.state == TaskState.COMPLETED and isinstance(node.task_spec, HUMAN_TASK_SPECS):
                result.append(str(node.id))
            node = node.parent
        return result

    def reset_to(self, workflow: BpmnWorkflow, task_id: str) -> None:
        """Make completed user task ``task_id`` READY again; every task after it is withdrawn."""
        task = self._task(workflow, task_id)
        if task is None or task.state != TaskState.COMPLETED or not isinstance(task.task_spec, HUMAN_TASK_SPECS):
            raise TaskNotReady(task_id)
        try:
            workflow.reset_from_task_id(task.id)
        except SpiffWorkflowException as exc:
            raise self._run_error(exc) from None
        self._advance(workflow)

    # -- 加签 / 减签: signers of a running multi-instance task -------------------------------------
    def _running_instance(self, workflow: BpmnWorkflow, task_id: str):
        task = self._task(workflow, task_id)
        parent = _multi_instance_parent(task) if task is not None else None
        if parent is None or parent.state != TaskState.STARTED or task.state != TaskState.READY:
            raise TaskNotReady(task_id)
        return task, parent

    @staticmethod
    def _sequential(parent) -> bool:
        return type(parent.task_spec).__name__ == "SequentialMultiInstanceTask"

    def instance_items(self, workflow: BpmnWorkflow, task_id: str) -> list:
        """The signers (input items) still to sign beside READY instance ``task_id``: the live
        instances, then (sequential) the ones waiting their turn, in order."""
        _task, parent = self._running_instance(workflow, task_id)
        spec = parent.task_spec
        source = getattr(getattr(spec, "input_item", None), "bpmn_id", None)
        items = [c.data.get(source) for c in parent.children
                 if c.task_spec.name == spec.task_spec and c.state == TaskState.READY]
        if self._sequential(parent) and spec.data_input is not None:
            collection = spec.data_input.get(parent)
            items += [collection[i] for i in parent.internal_data.get("remaining", [])
                      if isinstance(collection, list) and isinstance(i, int) and i < len(collection)]
        return items

    def add_instance(self, workflow: BpmnWorkflow, task_id: str, item, position: str = "after") -> None:
        """加签: one more signer (``item``) on the multi-instance task that READY instance ``task_id``
        belongs to. Parallel: signs beside the others. Sequential: ``before`` the current signer
        (who waits for them), right ``after`` them, or at the ``end`` of the queue."""
        task, parent = self._running_instance(workflow, task_id)
        spec = parent.task_spec
        collection = spec.data_input.get(parent) if spec.data_input is not None else None
        if not isinstance(collection, list):
            raise TaskNotReady(task_id)  # only lists of signers can grow
        collection.append(copy.deepcopy(item))
        record_writes(parent, [spec.data_input.bpmn_id])
        index = len(collection) - 1
        try:
            if not self._sequential(parent):
                spec.create_child(parent, copy.deepcopy(item), index)
            else:
                remaining = list(parent.internal_data.get("remaining", []))
                if position == "before":
                    current = task.internal_data.get("key_or_index")
                    self._drop_instance(parent, task)
                    parent.internal_data["remaining"] = [index, current, *remaining]
                    spec.add_next_child(parent)
                elif position == "end":
                    parent.internal_data["remaining"] = [*remaining, index]
                else:
                    parent.internal_data["remaining"] = [index, *remaining]
        except SpiffWorkflowException as exc:
            raise self._run_error(exc) from None
        self._advance(workflow)

    def remove_instance(self, workflow: BpmnWorkflow, task_id: str, item=None) -> None:
        """减签: drop a signer who has not signed. Without ``item`` it is the signer of READY
        instance ``task_id``; with it (sequential), a signer still waiting their turn. The last
        signer left cannot be removed; when the rest have signed, the task completes."""
        task, parent = self._running_instance(workflow, task_id)
        spec = parent.task_spec
        source = getattr(getattr(spec, "input_item", None), "bpmn_id", None)
        instances = [c for c in parent.children if c.task_spec.name == spec.task_spec]
        remaining = list(parent.internal_data.get("remaining", [])) if self._sequential(parent) else []
        collection = spec.data_input.get(parent) if spec.data_input is not None else None
        if item is not None:
            if not self._sequential(parent) or not isinstance(collection, list):
                raise TaskNotReady(task_id)
            waiting = [i for i in remaining if isinstance(i, int) and i < len(collection) and collection[i] == item]
            if not waiting:
                raise TaskNotReady(task_id)
            parent.internal_data["remaining"] = [i for i in remaining if i != waiting[0]]
            self._advance(workflow)
            return
        others = [c for c in instances if c is not task and c.state in (TaskState.READY, TaskState.COMPLETED)]
        if not others and not remaining:
            raise TaskNotReady(task_id)  # the last signer cannot be removed
        if not self._sequential(parent) and isinstance(collection, list) and task.data.get(source) in collection:
            collection.remove(task.data.get(source))
            record_writes(parent, [spec.data_input.bpmn_id])
        self._drop_instance(parent, task)
        if spec.children_complete(parent):
            parent._set_state(TaskState.READY)
        elif self._sequential(parent):
            spec.add_next_child(parent)
        self._advance(workflow)

    @staticmethod
    def _drop_instance(parent, task) -> None:
        """Take an unsigned instance out of the tree (it never ran: nothing to undo)."""
        parent.children = [c for c in parent.children if c is not task]
        task.workflow.tasks.pop(task.id, None)

    @staticmethod
    def cancel(workflow: BpmnWorkflow) -> None:
        """End the workflow where it stands (不予受理, 撤销申请): every waiting task is cancelled."""
        try:
            workflow.cancel()
        except SpiffWorkflowException as exc:
            raise Engine._run_error(exc) from None

    # -- timers --------------------------------------------------------------------------
    def fire_due_timers(self, workflow: BpmnWorkflow) -> list[str]:
        """Fire timers that are due now; return the names of the timer events that fired."""
        before = self._completed_timers(workflow)
        try:
            workflow.refresh_timers()
        except SpiffWorkflowException as exc:
            raise self._run_error(exc) from None
        self._advance(workflow)
        after = self._completed_timers(workflow)
        return [after[task_id] for task_id in after if task_id not in before]

    @staticmethod
    def next_timer_due(workflow: BpmnWorkflow) -> datetime | None:
        """Return when the earliest waiting timer is due (UTC), or None."""
        if not _kinds(workflow).timers:
            return None
        due = []
        for event in workflow.waiting_events():
            if event.event_type not in _TIMER_TYPES or event.value is None:
                continue
            value = event.value.get("next") if isinstance(event.value, dict) else event.value
            try:
                when = datetime.fromisoformat(str(value))
            except ValueError:
                continue
            due.append(when if when.tzinfo else when.replace(tzinfo=UTC))
        # A timer behind an event-based gateway waits on the gateway (a multiple event), whose
        # pending event carries no value: its due time is in the gateway task's internal data.
        for task in workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            inner = getattr(definition, "event_definitions", None) or []
            if not any(isinstance(d, TimerEventDefinition) for d in inner):
                continue
            value = task._get_internal_data("event_value")
            value = value.get("next") if isinstance(value, dict) else value
            try:
                when = datetime.fromisoformat(str(value))
            except ValueError:
                continue
            due.append(when if when.tzinfo else when.replace(tzinfo=UTC))
        return min(due).astimezone(UTC) if due else None

    @staticmethod
    def waiting_timers(workflow: BpmnWorkflow) -> list[dict]:
        """Return ``{"task_id", "bpmn_id", "name", "due"}`` for each waiting timer event."""
        result = []
        for task in workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if not isinstance(definition, TimerEventDefinition):
                continue
            value = task._get_internal_data("event_value")
            due = value.get("next") if isinstance(value, dict) else value
            result.append({"task_id": str(task.id), "bpmn_id": task.task_spec.bpmn_id,
                           "name": task.task_spec.bpmn_name, "due": due})
        return result

    @staticmethod
    def _completed_timers(workflow: BpmnWorkflow) -> dict:
        return {t.id: t.task_spec.bpmn_name or t.task_spec.bpmn_id
                for t in workflow.get_tasks(state=TaskState.COMPLETED)
                if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)}

    # -- status --------------------------------------------------------------------------
    @staticmethod
    def is_completed(workflow: BpmnWorkflow) -> bool:
        """Whether the workflow reached its end."""
        return workflow.is_completed()

    @staticmethod
    def outcome(workflow: BpmnWorkflow) -> str | None:
        """Return the name of the last end event reached, if any."""
        ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if isinstance(t.task_spec, EndEvent)
                and t.workflow is workflow]
        if not ends:
            return None
        last = max(ends, key=lambda t: t.last_state_change)
        return last.task_spec.bpmn_name or last.task_spec.bpmn_id

    @staticmethod
    def completed_element_ids(workflow: BpmnWorkflow) -> list[str]:
        """BPMN ids of every element the case has passed through (for progress markers)."""
        ids = set()
        for task in workflow.get_tasks(state=TaskState.COMPLETED):
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if bpmn_id:
                ids.add(bpmn_id)
        for sub in workflow.subprocesses.values():
            for task in sub.get_tasks(state=TaskState.COMPLETED):
                bpmn_id = getattr(task.task_spec, "bpmn_id", None)
                if bpmn_id:
                    ids.add(bpmn_id)
        return sorted(ids)

    @staticmethod
    def terminated(workflow: BpmnWorkflow) -> bool:
        """Whether the workflow ended at a terminate end event."""
        if not _kinds(workflow).terminate:
            return False
        return any(isinstance(t.task_spec, EndEvent) and isinstance(t.task_spec.event_definition,
                                                                    TerminateEventDefinition)
                   for t in workflow.get_tasks(state=TaskState.COMPLETED))

    @staticmethod
    def case_data(workflow: BpmnWorkflow) -> dict:
        """Return the case's current data: every key as last written by any task, in time order.

        Branch copies are not read: a branch that waited at a join (and whose copy the join
        dropped) still shows its department's decision, and no stale copy hides a newer value.
        """
        if workflow.is_completed():
            merged = {}
            if workflow.last_task is not None:
                merged.update(workflow.last_task.data)
            merged.update(workflow.data)
            return copy.deepcopy(merged)
        merged = {}
        done = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if t.internal_data.get(WRITTEN_KEYS)]
        for task in sorted(done, key=lambda t: t.last_state_change):
            for key in task.internal_data[WRITTEN_KEYS]:
                if key in task.data:
                    merged[key] = task.data[key]
                else:
                    merged.pop(key, None)
        return copy.deepcopy(merged)

    # -- internals -----------------------------------------------------------------------
    def _advance(self, workflow: BpmnWorkflow) -> None:
        try:
            workflow.do_engine_steps()
            if _kinds(workflow).timers:
                # Timers that became due during the steps need a second pass (pitfall 8).
                workflow.refresh_timers()
                workflow.do_engine_steps()
            self._record_multi_instance_outputs(workflow)
        except SpiffWorkflowException as exc:
            raise self._run_error(exc) from None
        except ScriptError as exc:
            raise WorkflowRunError(str(exc), line=exc.line) from None
        except Exception as exc:  # e.g. a NameError from message correlation: never a 500, never saved
            raise WorkflowRunError(f"{type(exc).__name__}: {exc}") from None

    @staticmethod
    def _record_multi_instance_outputs(workflow: BpmnWorkflow) -> None:
        """A finished multi-instance task wrote its output collection (all the signatures)."""
        if not _kinds(workflow).multi_instance:
            return
        for task in workflow.get_tasks(state=TaskState.COMPLETED):
            spec = task.task_spec
            if isinstance(spec, MultiInstanceTask):
                output = getattr(getattr(spec, "data_output", None), "bpmn_id", None)
                if output and output in task.data and output not in task.internal_data.get(WRITTEN_KEYS, []):
                    record_writes(task, [output])

    @staticmethod
    def _run_error(exc: SpiffWorkflowException) -> WorkflowRunError:
        task = getattr(exc, "task", None)
        element = getattr(getattr(task, "task_spec", None), "bpmn_id", None) if task else None
        name = getattr(getattr(task, "task_spec", None), "bpmn_name", None) if task else None
        inner = getattr(exc, "exception", None)
        detail = str(inner) if isinstance(inner, ScriptError) else str(exc)
        prefix = f"{name or element}: " if (name or element) else ""
        return WorkflowRunError(prefix + detail, element=element, line=getattr(exc, "line_number", None))
