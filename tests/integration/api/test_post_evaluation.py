"""行政审批行为后评价 (issue 7): the weekly sample is reproducible from its stored seed and query,
the population is the right one, a legal reviewer evaluates each case (never one they handled),
findings go to the approving section for rectification and verification, and the KPIs count them."""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from support import ROOT

SH = ZoneInfo("Asia/Shanghai")
TAXI = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
        ROOT / "forms" / "taxi_driver_decision.json")
MOVES = ROOT / "tests" / "data" / "moves" / "moves.bpmn"
APPLICATION = {"driving_licence_no": "140402199001011234", "exam_certificate_no": "KS2025-0001",
               "no_bad_record_pledge": True}
ISSUE = {"decision": "issue", "licence_no": "CZ-TAXI-0001", "decision_opinion": "当场核发"}
OK = dict.fromkeys(("check_subject", "check_procedure", "check_authority", "check_law", "check_materials",
                    "check_documents"), "ok")


def at(day, hour=10, month=11):
    return datetime(2026, month, day, hour, 0, tzinfo=SH)


@pytest.fixture()
def history(api, clock):
    """Week of 16–20 Nov: six 即办 taxi licences (window1, then window2 for the last two) and two
    non-immediate ``moves`` cases; one taxi case ends on Mon 23 Nov (the next week) and one runs."""
    diagram = ROOT / "bpmn" / "post_evaluation.bpmn"
    forms = [f for f in sorted((ROOT / "forms").glob("post_evaluation_*.json"))]
    for files in (TAXI, (MOVES,), (diagram, *forms)):
        r = api.deploy(*files)
        assert r.status_code == 201, r.get_json()
    ids = {"taxi": [], "moves": []}
    for i in range(6):
        clock.set_time(at(16 + i % 5))
        clerk = "window1" if i < 4 else "window2"
        case = api.start("taxi_driver_licence", APPLICATION, user=clerk).get_json()
        api.do(clerk, "window_decision", ISSUE, case["id"])
        ids["taxi"].append(case["id"])
    for day in (17, 18):
        clock.set_time(at(day))
        case = api.start("moves", {}).get_json()
        api.do("window1", "formal_check", {}, case["id"])
        api.do("health1", "health_review", {}, case["id"])
        api.do("tax1", "tax_review", {}, case["id"])
        ids["moves"].append(case["id"])
    clock.set_time(at(23, 9))
    late = api.start("taxi_driver_licence", APPLICATION).get_json()
    api.do("window1", "window_decision", ISSUE, late["id"])
    ids["next_week"] = late["id"]
    ids["running"] = api.start("taxi_driver_licence", APPLICATION).get_json()["id"]
    return ids


def draw(api, week="2026-11-23", user="supervisor", **extra):
    r = api.post("/api/v1/evaluation-samples", user, json={"week": week, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_the_sample_is_reproducible_from_its_stored_seed_and_query(api, history):
    sample = draw(api, seed=20261123, size=3)
    population = sorted(history["taxi"])  # 即办 items; moves has 2 cases < 10 in 90 days: not frequent
    assert sample["population_count"] == 6
    assert sample["case_ids"] == sorted(random.Random(20261123).sample(population, 3))
    assert sample["population_query"]["frequent_keys"] == []
    assert "post_evaluation" in sample["population_query"]["excluded_keys"]
    checked = api.get(f"/api/v1/evaluation-samples/{sample['id']}", "legal1").get_json()
    assert checked["reproduced"] is True and checked["redrawn_case_ids"] == sample["case_ids"]
    again = api.post("/api/v1/evaluation-samples", "supervisor", json={"week": "2026-11-23", "seed": 1})
    assert again.status_code == 409
    evaluations = [t for t in api.available("legal1") if t["bpmn_id"] == "evaluate"]
    assert len(evaluations) == 3 and all(t["group"] == "legal_affairs" for t in evaluations)


def test_frequent_items_join_the_population(api, app, history):
    app.config["EVALUATION_FREQUENT_CASES"] = 2
    sample = draw(api, seed=7, size=8)
    assert sample["population_query"]["frequent_keys"] == ["moves", "taxi_driver_licence"]
    assert sample["population_count"] == 8
    assert sorted(sample["case_ids"]) == sorted(history["taxi"] + history["moves"])


def test_only_mondays_and_managers(api, history):
    bad = api.post("/api/v1/evaluation-samples", "supervisor", json={"week": "2026-11-24"})
    assert bad.status_code == 422 and "week" in bad.get_json()["errors"]
    assert api.post("/api/v1/evaluation-samples", "window1", json={"week": "2026-11-23"}).status_code == 403
    assert api.get("/api/v1/evaluation-samples", "health1").status_code == 403


def test_findings_go_to_the_section_for_rectification_until_verified(api, history):
    sample = draw(api, seed=3, size=2)
    first, second = sample["case_ids"]
    tasks = {t["case_id"]: t for t in api.available("legal1") if t["bpmn_id"] == "evaluate"}
    evaluations = {}
    for t in tasks.values():
        case = api.get(f"/api/v1/cases/{t['case_id']}", "legal1").get_json()
        evaluations[case["data"]["subject_case_id"]] = t["case_id"]
    clean = api.do("legal1", "evaluate", {**OK, "responsible_unit": "window", "evaluation_opinion": "合规"},
                   evaluations[first])
    assert clean["outcome"] == "评价无问题"
    found = {**OK, "check_procedure": "problem", "finding_procedure": "未当场送达决定书",
             "check_documents": "problem", "finding_documents": "决定书缺少救济途径告知",
             "responsible_unit": "window", "evaluation_opinion": "程序和文书瑕疵"}
    case = api.do("legal1", "evaluate", found, evaluations[second])
    assert case["data"]["findings_list"] == ["审批程序：未当场送达决定书", "审批文书：决定书缺少救济途径告知"]
    # Each finding is a rectification task of the section, showing its own finding.
    assert [(t["bpmn_id"], t["group"]) for t in case["tasks"]] == [("rectify", "window"), ("rectify", "window")]
    shown = sorted(api.get(f"/api/v1/tasks/{t['id']}", "window2").get_json()["data"]["finding"] for t in case["tasks"])
    assert shown == sorted(case["data"]["findings_list"])
    rectify = {"rectify_cause": "窗口未打印送达回证", "rectify_measures": "已补送达并完善流程", "rectify_done": True}
    for _ in range(2):
        api.do("window2", "rectify", rectify, evaluations[second])
    case = api.do("legal1", "verify", {"verify_decision": "return", "verify_note": "缺送达回证扫描件"},
                  evaluations[second])
    for _ in range(2):
        api.do("window2", "rectify", {**rectify, "rectify_measures": "已上传送达回证"}, evaluations[second])
    done = api.do("legal1", "verify", {"verify_decision": "accept"}, evaluations[second])
    assert done["outcome"] == "整改完成"
    assert {r["finding"] for r in done["data"]["rectifications"]} == set(done["data"]["findings_list"])
    k = api.get("/api/v1/kpis?from=2026-11-23&to=2026-11-29", "leader1").get_json()
    assert (k["post_eval_evaluated"], k["post_eval_problem_rate"], k["post_eval_rectification_rate"]) == (2, 0.5, 1.0)


def test_a_reviewer_never_evaluates_a_case_they_handled(api, app, history, make_user):
    """A legal reviewer who also worked the window (dual) may not take the evaluation of their case."""
    make_user("dual", ("clerk", "reviewer"), ("window", "legal_affairs"))
    case = api.start("taxi_driver_licence", APPLICATION, user="dual").get_json()
    api.do("dual", "window_decision", ISSUE, case["id"])
    sample = draw(api, week="2026-11-30", seed=11, size=10)
    assert case["id"] in sample["case_ids"]
    mine = other = None
    for t in api.available("dual"):
        if t["bpmn_id"] != "evaluate":
            continue
        subject = api.get(f"/api/v1/cases/{t['case_id']}", "legal1").get_json()["data"]["subject_case_id"]
        if subject == case["id"]:
            mine = t
        else:
            other = t
    assert mine is not None and other is not None
    r = api.post(f"/api/v1/tasks/{mine['id']}/claim", "dual")
    assert r.status_code == 403
    assert api.post(f"/api/v1/tasks/{other['id']}/claim", "dual").status_code == 200
    assert api.post(f"/api/v1/tasks/{mine['id']}/claim", "legal1").status_code == 200


def test_the_timer_worker_draws_each_week_once(api, app, history, clock):
    clock.set_time(at(23, 9))
    out = app.test_cli_runner().invoke(args=["worker", "--once"]).output
    assert "drew evaluation sample of week 2026-11-23" in out
    assert "drew evaluation sample" not in app.test_cli_runner().invoke(args=["worker", "--once"]).output
    samples = api.get("/api/v1/evaluation-samples", "supervisor").get_json()
    assert [s["week_start"] for s in samples] == ["2026-11-23"] and samples[0]["note"] == "weekly"
