"""Parallel and inclusive joins that merge what each branch wrote, not whole copies.

SpiffWorkflow's join copies each branch's complete data over the others, last arrival
wins (engine notes, pitfall 5). When a case loops back to a fork, every branch carries
a copy of the previous round's values, so an early-arriving department's fresh approval
is overwritten by another branch's stale copy. Here each branch contributes only the
keys it changed since the fork it came from, applied in the order the branches
finished; a key written by two branches keeps the later write.

The same rule decides which arrivals belong to the current round: an instance of this
join that an earlier firing on our own path already consumed is ignored, so a loop
never counts last round's tokens (stock SpiffWorkflow can fire a looped join early).
"""

from __future__ import annotations

import copy

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.defaults import InclusiveGateway, ParallelGateway
from SpiffWorkflow.util.task import TaskState


def _ancestors(task) -> list:
    chain = []
    node = task.parent
    while node is not None:
        chain.append(node)
        node = node.parent
    return chain


def _lowest_common_ancestor(task, my_ancestor_ids: dict):
    node = task.parent
    while node is not None:
        if node.id in my_ancestor_ids:
            return node
        node = node.parent
    return None


def current_round_arrivals(spec, my_task) -> list[tuple]:
    """Return ``(join_instance, fork_task)`` for other branches of this round that arrived."""
    ancestors = _ancestors(my_task)
    depth = {t.id: i for i, t in enumerate(ancestors)}  # 0 = my parent
    # Earlier firings of this join on my own path, by depth.
    fired_depths = [depth[t.id] for t in ancestors if t.task_spec == spec and t.state == TaskState.COMPLETED]
    result = []
    for task in my_task.workflow.tasks.values():
        if task is my_task or task.task_spec != spec or task.id in depth:
            continue
        if not task.has_state(TaskState.FINISHED_MASK | TaskState.WAITING):
            continue
        if task.is_descendant_of(my_task):
            continue
        fork = _lowest_common_ancestor(task, depth)
        if fork is None:
            continue
        # A firing of this join between the fork and me consumed that branch already.
        if any(d < depth[fork.id] for d in fired_depths):
            continue
        result.append((task, fork))
    return result


WRITTEN_KEYS = "written_keys"


def record_writes(task, keys) -> None:
    """Remember that ``task`` wrote ``keys`` (a user's submission or a script's assignments)."""
    if keys:
        written = task.internal_data.setdefault(WRITTEN_KEYS, [])
        written.extend(k for k in keys if k not in written)


def _branch_operations(end_task, fork, base: dict, arrival: float) -> list[tuple]:
    """Return ``(time, key, value, deleted)`` for what one branch did between ``fork`` and ``end_task``.

    Keys a task explicitly wrote count at that task's completion time, even when the value
    equals the fork's (a second-round approval of an unchanged value is still a decision).
    Other changes (in-place edits, tasks we do not track) count at the branch's arrival.
    """
    data = end_task.data
    write_time: dict[str, float] = {}
    node = end_task
    while node is not None and node is not fork:
        for key in node.internal_data.get(WRITTEN_KEYS, ()):
            if key not in write_time:  # walking backwards: the first seen is the latest write
                write_time[key] = node.last_state_change
        node = node.parent
    ops = []
    for key, value in data.items():
        if key in write_time:
            ops.append((write_time[key], key, value, False))
        elif key not in base or base[key] != value:
            ops.append((arrival, key, value, False))
    for key in base:
        if key not in data:
            ops.append((write_time.get(key, arrival), key, None, True))
    return ops


class BranchMergeMixin:
    """Replace the join's data merge with a per-branch, per-key merge of what was written."""

    def _merge_branches(self, my_task) -> None:
        arrivals = [(t, fork) for t, fork in current_round_arrivals(self, my_task)
                    if t.has_state(TaskState.FINISHED_MASK)]
        for task, _fork in arrivals:
            # Mirror the stock join: a completed sibling only exists after a branch reset.
            if task.has_state(TaskState.COMPLETED):
                task._drop_children(force=True)
        if not arrivals:
            my_task._inherit_data()
            return

        depth = {t.id: i for i, t in enumerate(_ancestors(my_task))}
        outer_fork = max((fork for _, fork in arrivals), key=lambda f: depth[f.id])
        merged = copy.deepcopy(outer_fork.data)

        operations = []
        branches = [(t.parent, fork) for t, fork in arrivals] + [(my_task.parent, outer_fork)]
        for order, (end_task, fork) in enumerate(sorted(branches[:-1], key=lambda b: b[0].last_state_change)
                                                 + branches[-1:]):
            arrival = end_task.last_state_change
            for when, key, value, deleted in _branch_operations(end_task, fork, fork.data, arrival):
                operations.append((when, order, key, value, deleted))
        # Later writes win; ties go to the branch that arrived later.
        for _when, _order, key, value, deleted in sorted(operations, key=lambda op: (op[0], op[1])):
            if deleted:
                merged.pop(key, None)
            else:
                merged[key] = copy.deepcopy(value)
        my_task.data = merged

    def _run_hook(self, my_task):
        self._merge_branches(my_task)
        return True


class MergingParallelGateway(BranchMergeMixin, ParallelGateway):
    """bpmn:parallelGateway with per-branch delta merge and loop-safe arrival counting."""

    def _check_threshold_unstructured(self, my_task):
        inputs = set(self.inputs)
        waiting_inputs = set(inputs)

        def arrived(task):
            # Trace back from a join instance to the incoming spec it came through.
            node = task.parent
            while node is not None and node.task_spec not in inputs:
                node = node.parent
            if node is not None:
                waiting_inputs.discard(node.task_spec)

        # The workflow's own tasks (as current_round_arrivals reads them): the instances of this
        # join are there, and walking the tree for them cost more than the rest of the check.
        for task in my_task.workflow.tasks.values():
            if task.task_spec is self and task.is_descendant_of(my_task):
                # First pass of a loop through this gateway: that input comes later.
                arrived(task)
        arrived(my_task)
        for task, _fork in current_round_arrivals(self, my_task):
            if task.parent is not None and task.parent.state == TaskState.COMPLETED:
                arrived(task)
        return not waiting_inputs


class MergingInclusiveGateway(BranchMergeMixin, InclusiveGateway):
    """bpmn:inclusiveGateway whose join side merges per-branch deltas."""

    def _run_hook(self, my_task):
        self._merge_branches(my_task)
        # The split side, as in InclusiveGateway._run_hook.
        matches, defaults = self._get_matching_outputs(my_task)
        if not matches and not defaults:
            raise WorkflowTaskException("No conditions satisfied on gateway", task=my_task)
        my_task._sync_children(matches or defaults, TaskState.FUTURE)
        for child in my_task.children:
            child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
        return True
