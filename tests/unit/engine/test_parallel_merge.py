"""Parallel and inclusive joins merge what each branch wrote (app/engine/gateways.py).

Every step goes through Engine.dump/Engine.load, as the service does around each task.
"""

from __future__ import annotations

import itertools

import pytest

ROUND_ORDERS = [("review_a", "review_b"), ("review_b", "review_a")]


@pytest.fixture
def parallel_loop(compile_data):
    return compile_data("parallel_loop/parallel_loop.bpmn")


@pytest.fixture
def merge_shared(compile_data):
    return compile_data("merge_shared/merge_shared.bpmn")


@pytest.mark.parametrize("round2", ROUND_ORDERS, ids=lambda o: "-".join(o))
@pytest.mark.parametrize("round1", ROUND_ORDERS, ids=lambda o: "-".join(o))
def test_correction_loop_completes_whatever_the_completion_order(parallel_loop, new_case, round1, round2):
    """Round 1 a approves, b rejects; after the fix both approve: the case ends at 办结."""
    case = new_case(parallel_loop, {"applicant": "张三"})
    assert case.ready_ids() == ["review_a", "review_b"]

    round1_data = {"review_a": {"a_ok": True}, "review_b": {"b_ok": False}}
    for bpmn_id in round1:
        case.complete(bpmn_id, round1_data[bpmn_id])
    assert case.ready_ids() == ["fix"]

    case.complete("fix", {"fixed": True})
    assert case.ready_ids() == ["review_a", "review_b"]

    round2_data = {"review_a": {"a_ok": True}, "review_b": {"b_ok": True}}
    for bpmn_id in round2:
        case.complete(bpmn_id, round2_data[bpmn_id])

    assert case.completed()
    assert case.outcome() == "办结"
    data = case.data()
    assert (data["a_ok"], data["b_ok"]) == (True, True)
    assert data["applicant"] == "张三"
    assert data["fixed"] is True


def test_round_one_rejection_reaches_the_fix_task_with_both_decisions(parallel_loop, new_case):
    """After round 1 the decisions of both departments are merged before the gateway decides."""
    case = new_case(parallel_loop)
    case.complete("review_b", {"b_ok": False})
    case.complete("review_a", {"a_ok": True})
    assert case.ready_ids() == ["fix"]
    data = case.data()
    assert (data["a_ok"], data["b_ok"]) == (True, False)


def test_join_keeps_both_branch_writes_in_a_single_pass(merge_shared, new_case):
    """Each branch's own key survives the join, and the join fires exactly once."""
    case = new_case(merge_shared, {"applicant": "李四"})
    case.complete("left", {"left_note": "from left"})
    assert case.ready_ids() == ["right"]
    case.complete("right", {"right_note": "from right"})

    assert case.ready_ids() == ["after"]
    data = case.data()
    assert data["left_note"] == "from left"
    assert data["right_note"] == "from right"
    assert data["applicant"] == "李四"


@pytest.mark.parametrize("order", [("left", "right"), ("right", "left")], ids=lambda o: "-".join(o))
def test_key_written_by_two_branches_keeps_the_later_write(merge_shared, new_case, order):
    """Both branches write `shared`: the branch that finished last wins."""
    case = new_case(merge_shared, {"shared": "initial"})
    first, last = order
    case.complete(first, {"shared": f"by {first}"})
    case.complete(last, {"shared": f"by {last}"})

    assert case.ready_ids() == ["after"]
    assert case.data()["shared"] == f"by {last}"


def test_later_write_back_to_the_fork_value_wins(merge_shared, new_case):
    """left changes `shared`, right (finishing later) explicitly sets it back: right's write wins."""
    case = new_case(merge_shared, {"shared": "initial"})
    case.complete("left", {"shared": "changed by left"})
    case.complete("right", {"shared": "initial"})
    assert case.data()["shared"] == "initial"


def test_key_untouched_by_any_branch_keeps_its_fork_value(merge_shared, new_case):
    """Start data no branch changed passes the join unchanged."""
    case = new_case(merge_shared, {"shared": "initial", "amount": 120})
    case.complete("left", {"left_note": "l"})
    case.complete("right", {"right_note": "r"})
    data = case.data()
    assert data["shared"] == "initial"
    assert data["amount"] == 120


@pytest.mark.parametrize("order", list(itertools.permutations(["task1", "task2", "task3"])),
                         ids=lambda o: "-".join(o))
def test_nested_fork_keeps_every_branch_write(compile_data, new_case, order):
    """fork A -> (task1, fork B -> (task2, task3) -> join B) -> join A: all three writes survive."""
    process = compile_data("nested_fork/nested_fork.bpmn")
    case = new_case(process, {"case_no": "N-1"})
    assert case.ready_ids() == ["task1", "task2", "task3"]
    for bpmn_id in order:
        case.complete(bpmn_id, {f"{bpmn_id}_result": f"done by {bpmn_id}"})

    assert case.ready_ids() == ["after"]
    data = case.data()
    for bpmn_id in ("task1", "task2", "task3"):
        assert data[f"{bpmn_id}_result"] == f"done by {bpmn_id}"
    assert data["case_no"] == "N-1"


@pytest.mark.parametrize("order", [("task_x", "task_z"), ("task_z", "task_x")], ids=lambda o: "-".join(o))
def test_inclusive_join_keeps_writes_of_both_taken_branches(compile_data, new_case, order):
    """Two of three conditional branches are taken; both writes survive the inclusive join."""
    process = compile_data("inclusive/inclusive.bpmn")
    case = new_case(process, {"need_x": True, "need_y": False, "need_z": True})
    assert case.ready_ids() == ["task_x", "task_z"]

    case.complete(order[0], {f"{order[0]}_opinion": "ok"})
    assert case.ready_ids() == [order[1]]
    case.complete(order[1], {f"{order[1]}_opinion": "ok"})

    assert case.ready_ids() == ["after"]
    data = case.data()
    assert data["task_x_opinion"] == "ok"
    assert data["task_z_opinion"] == "ok"
    assert "task_y_opinion" not in data
    case.complete("after")
    assert case.completed()
    assert case.outcome() == "Done"
