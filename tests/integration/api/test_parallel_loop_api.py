"""The obvious correction-loop diagram behaves obviously over the API (issue: stale joins)."""

import pytest

from support import DATA

LOOP = DATA / "parallel_loop" / "parallel_loop.bpmn"


@pytest.mark.parametrize("round2", [("health1", "police1"), ("police1", "health1")])
@pytest.mark.parametrize("round1", [("health1", "police1"), ("police1", "health1")])
def test_second_round_approvals_complete_the_case(api, round1, round2):
    """Round 1: health approves, police rejects; after correction both approve -> 办结."""
    assert api.deploy(LOOP).status_code == 201
    r = api.start("parallel_loop")
    assert r.status_code == 201, r.get_json()
    case = r.get_json()
    first = {"health1": ("review_a", {"a_ok": True}), "police1": ("review_b", {"b_ok": False})}
    for user in round1:
        api.do(user, *first[user], case_id=case["id"])
    api.do("window1", "fix", {}, case_id=case["id"])
    second = {"health1": ("review_a", {"a_ok": True}), "police1": ("review_b", {"b_ok": True})}
    for user in round2:
        result = api.do(user, *second[user], case_id=case["id"])
    assert result["status"] == "completed"
    assert result["outcome"] == "办结"
    assert result["data"]["a_ok"] is True and result["data"]["b_ok"] is True
