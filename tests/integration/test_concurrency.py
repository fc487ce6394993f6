"""Races against a real gunicorn (4 sync workers): requests released together by a barrier.

Setup (deploy, users, cases) goes through the in-process API on the same database; the racing
requests go over HTTP to the server, so they really run in different worker processes.
"""

from __future__ import annotations

import threading
import time

import pytest

import httpjson as http
from support import PASSWORD, ROOT

pytestmark = pytest.mark.server


NEWBORN = ROOT / "bpmn" / "newborn.bpmn"
NEWBORN_FORMS = sorted((ROOT / "forms").glob("newborn_*.json"))

APPLICATION = {
    "newborn_name": "李小宝",
    "newborn_sex": "female",
    "newborn_birth_date": "2025-11-20",
    "birth_place": "山西省长治市潞州区",
    "birth_hospital": "长治市妇幼保健院",
    "mother_name": "张丽",
    "mother_id_number": "14040219920202222X",
    "father_name": "李强",
    "father_id_number": "140402199001011234",
    "marriage_cert_number": "J140402-2020-001234",
    "register_with": "father",
    "household_address": "山西省长治市潞州区英雄中路1号",
    "contact_phone": "13812341234",
    "data_sharing_consent": True,
    "apply_maternity_allowance": True,
    "bank_card_number": "6217000000000000000",
    "bank_name": "中国建设银行长治分行",
    "delivery_method": "mail",
    "mailing_address": "张丽 13812341234 山西省长治市潞州区英雄中路1号",
}

# The department tasks that are open together once the police registered the birth:
# branch A's fork (医保参保, 社保卡) plus branches B (生育登记) and C (生育津贴) from the main fork.
DEPARTMENT_TASKS = {  # task -> the department user who claims and completes it
    "medins_enrolment": "medins1",
    "sscard_application": "hrss1",
    "birth_registration": "health1",
    "maternity_allowance": "medins1",
}


def task_data(bpmn_id: str, n: int = 0) -> dict:
    """Valid form data for one step of case number ``n``; opinions name the case, to catch stale data."""
    data = {
        "formal_check": {"check_decision": "accept", "check_opinion": f"材料齐全，予以受理（{n}）"},
        "birth_cert": {
            "birth_cert_decision": "approve",
            "birth_cert_opinion": f"卫健同意签发（{n}）",
            "birth_cert_number": "T140000001",
            "birth_cert_issue_date": "2025-11-22",
        },
        "hukou_registration": {
            "hukou_decision": "approve",
            "hukou_opinion": f"公安同意登记（{n}）",
            "newborn_id_number": "140402202511200021",
            "household_number": "001234567",
            "police_station": "潞州区英雄路派出所",
        },
        "medins_enrolment": {
            "medins_enrol_decision": "approve",
            "medins_enrol_opinion": f"医保同意参保（{n}）",
            "medins_number": "14040000000123",
            "medins_premium_status": "paid",
        },
        "sscard_application": {
            "sscard_decision": "approve",
            "sscard_opinion": f"人社同意申领（{n}）",
            "sscard_application_number": "SB2025112000123",
            "sscard_expected_date": "2025-12-20",
        },
        "birth_registration": {
            "birth_registration_decision": "approve",
            "birth_registration_opinion": f"卫健同意生育登记（{n}）",
            "birth_registration_number": "SY2025-000123",
            "parenting_guidance_center": "英雄中路社区卫生服务中心",
        },
        "maternity_allowance": {
            "allowance_decision": "approve",
            "allowance_opinion": f"医保同意拨付津贴（{n}）",
            "medical_reimbursement_amount": 3500,
            "maternity_allowance_amount": 12800.5,
            "allowance_payment_date": "2025-12-15",
        },
        "handover": {
            "handover_method": "mail",
            "handed_over_items": ["出生医学证明", "户口簿新生儿页"],
            "handover_date": "2025-11-28",
            "recipient_name": "张丽",
            "tracking_number": "SF1234567890",
        },
    }
    return data[bpmn_id]


def together(calls: list) -> list:
    """Run each call in its own thread, all released at the same moment; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = []

    def run(i, call):
        try:
            barrier.wait(timeout=30)
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, call), daemon=True) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert not any(t.is_alive() for t in threads), "a request did not return within 90 s"
    if errors:
        raise errors[0]
    return results


def deploy_newborn(api) -> None:
    r = api.deploy(NEWBORN, *NEWBORN_FORMS)
    assert r.status_code == 201, r.get_json()


def accepted_case(api, n: int = 0) -> dict:
    """A newborn case that passed the formal check: 出生医学证明 and 生育登记 etc. are open."""
    r = api.start("newborn", APPLICATION)
    assert r.status_code == 201, r.get_json()
    return api.do("window1", "formal_check", task_data("formal_check", n), r.get_json()["id"])


def case_with_departments_open(api, n: int = 0) -> dict:
    """Drive a case until the four department tasks of DEPARTMENT_TASKS are open at once."""
    case = accepted_case(api, n)
    api.do("health1", "birth_cert", task_data("birth_cert", n), case["id"])
    case = api.do("police1", "hukou_registration", task_data("hukou_registration", n), case["id"])
    assert sorted(t["bpmn_id"] for t in case["tasks"]) == sorted(DEPARTMENT_TASKS)
    assert all(t["state"] == "open" for t in case["tasks"])
    return case


# -- claims ---------------------------------------------------------------------------------------
def test_ten_reviewers_claim_the_same_task_exactly_one_wins(server, api, make_user):
    deploy_newborn(api)
    case = accepted_case(api)
    task = api.find_task("health1", "birth_cert", case["id"])
    names = [f"reviewer{i:02d}" for i in range(10)]
    for name in names:
        make_user(name, ["reviewer"], ["health"])
    tokens = {}
    for name in names:
        r = http.post(f"{server}/api/v1/auth/token", {"username": name, "password": PASSWORD})
        assert r.status == 200, r.body
        tokens[name] = r.body["token"]

    url = f"{server}/api/v1/tasks/{task['id']}/claim"
    results = together([lambda name=name: http.post(url, token=tokens[name]) for name in names])

    statuses = [r.status for r in results]
    assert 500 not in statuses and 503 not in statuses, [r.body for r in results]
    assert sorted(statuses) == [200] + [409] * 9, [(r.status, r.body) for r in results]
    winner = names[statuses.index(200)]
    won = results[statuses.index(200)].body
    assert won["assignee"] == winner and won["state"] == "claimed"
    for r in results:
        if r.status == 409:
            assert r.body["code"] == 409
            assert r.body["error"] == "claimed_by_other", r.body

    stored = http.get(f"{server}/api/v1/tasks/{task['id']}", token=tokens[winner])
    assert stored.status == 200, stored.body
    assert stored.body["state"] == "claimed" and stored.body["assignee"] == winner
    history = http.get(f"{server}/api/v1/cases/{case['id']}", token=tokens[winner]).body["history"]
    claims = [e for e in history if e["type"] == "task_claimed" and e["task_id"] == task["id"]]
    assert [e["actor"] for e in claims] == [winner]


# -- completions ------------------------------------------------------------------------------------
def complete_departments_together(server, api, app, n: int) -> None:
    """Claim every open department task of a fresh case, then complete them all at the same moment."""
    case = case_with_departments_open(api, n)
    case_id = case["id"]
    tasks = {t["bpmn_id"]: t for t in case["tasks"]}
    token = {user: api.token(user) for user in [*DEPARTMENT_TASKS.values(), "window1"]}

    def post(path, user, body=None):
        return lambda: http.post(f"{server}/api/v1{path}", body, token=token[user])

    claims = together([post(f"/tasks/{tasks[b]['id']}/claim", user) for b, user in DEPARTMENT_TASKS.items()])
    assert [r.status for r in claims] == [200] * len(claims), [r.body for r in claims]

    completes = together(
        [
            post(f"/tasks/{tasks[b]['id']}/complete", user, {"data": task_data(b, n)})
            for b, user in DEPARTMENT_TASKS.items()
        ]
    )
    assert [r.status for r in completes] == [200] * len(completes), [(r.status, r.body) for r in completes]

    r = http.get(f"{server}/api/v1/cases/{case_id}", token=token["window1"])
    assert r.status == 200, r.body
    after = r.body
    assert after["status"] == "active"
    # Every department's decision (and the ones before the fork) made it into the case data, as
    # stored (the API shows ID numbers masked).
    from app.extensions import db
    from app.models import Case

    with app.app_context():
        stored = db.session.get(Case, case_id).data
    for bpmn_id in ("formal_check", "birth_cert", "hukou_registration", *DEPARTMENT_TASKS):
        for key, value in task_data(bpmn_id, n).items():
            assert stored.get(key) == value, (bpmn_id, key, stored.get(key))
    assert stored["newborn_name"] == APPLICATION["newborn_name"]
    # Only the window's hand-over is left open.
    assert [(t["bpmn_id"], t["name"], t["state"]) for t in after["tasks"]] == [("handover", "统一出件", "open")]
    assert api.find_task("window1", "handover", case_id)["name"] == "统一出件"
    # Each department task is completed by its holder, and recorded once.
    for bpmn_id, user in DEPARTMENT_TASKS.items():
        detail = http.get(f"{server}/api/v1/tasks/{tasks[bpmn_id]['id']}", token=token[user]).body
        assert (detail["state"], detail["assignee"]) == ("completed", user), detail
    completed = [e["task_id"] for e in after["history"] if e["type"] == "task_completed"]
    assert len(completed) == len(set(completed)), "a task was completed twice"
    for bpmn_id in DEPARTMENT_TASKS:
        assert completed.count(tasks[bpmn_id]["id"]) == 1
    assert len(completed) == 3 + len(DEPARTMENT_TASKS)  # formal check, birth cert, hukou + the four
    assert not [e for e in after["history"] if e["type"] == "task_cancelled"]

    # The stored workflow is sound: the case finishes normally.
    done = api.do("window1", "handover", task_data("handover", n), case_id)
    assert (done["status"], done["outcome"], done["tasks"]) == ("completed", "办结", [])


def test_simultaneous_department_completions(server, api, app):
    deploy_newborn(api)
    complete_departments_together(server, api, app, 0)


def test_simultaneous_department_completions_repeated(server, api, app):
    deploy_newborn(api)
    for n in range(1, 6):
        complete_departments_together(server, api, app, n)


def _wait_for_a_lock_wait(engine, request_thread) -> None:
    """Until a request of ``engine``'s database waits for a row lock (PostgreSQL); on SQLite, which
    has no row locks, give the request a moment to read and reach its first write."""
    from sqlalchemy import text

    if engine.dialect.name != "postgresql":
        time.sleep(1.0)
        return
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while time.monotonic() < deadline and request_thread.is_alive():
            waiting = conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                       "AND datname = current_database()"))
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the completion never waited for the reassignment's lock")


def test_a_completion_meeting_a_reassignment_in_progress_is_refused(server, api, app):
    """转办 while the holder submits: the section chief's reassignment has given the task to a
    colleague but not committed yet. The holder's completion must not complete the task it read
    before (on PostgreSQL it waits for the reassignment's row lock; on SQLite its write waits and
    then finds the task changed) and answers 409; the task stays with the colleague."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User
    from app.services import task_moves

    deploy_newborn(api)
    case = accepted_case(api)
    task = api.find_task("health1", "birth_cert", case["id"])
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "health1").status_code == 200
    token = api.token("health1")

    with app.app_context():
        chief = db.session.scalar(select(User).where(User.username == "admin"))
        colleague = db.session.scalar(select(User.id).where(User.username == "health2"))
        # The reassignment, held open: the task row is locked (PostgreSQL) and changed.
        task_moves.reassign(chief, task["id"], colleague, "请李医生办理")
        answer = {}
        submit = threading.Thread(target=lambda: answer.update(r=http.post(
            f"{server}/api/v1/tasks/{task['id']}/complete", {"data": task_data("birth_cert")}, token=token)),
            daemon=True)
        submit.start()
        _wait_for_a_lock_wait(db.engine, submit)
        db.session.commit()
        db.session.remove()
    submit.join(timeout=60)
    assert not submit.is_alive(), "the completion did not return"

    r = answer["r"]
    assert (r.status, r.body.get("error")) == (409, "not_claimed_by_you"), (r.status, r.body)
    detail = api.get(f"/api/v1/tasks/{task['id']}", "health2").get_json()
    assert (detail["state"], detail["assignee"]) == ("claimed", "health2"), detail
    history = api.get(f"/api/v1/cases/{case['id']}", "window1").get_json()["history"]
    assert [e["type"] for e in history if e["task_id"] == task["id"]][-1] == "task_reassigned"
    # The task goes on with its new holder.
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "health2", json={"data": task_data("birth_cert")})
    assert r.status_code == 200, r.get_json()


# -- the KPI rollups under concurrent commits ---------------------------------------------------------
TAXI = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
        ROOT / "forms" / "taxi_driver_decision.json")


def test_simultaneous_case_endings_all_count_in_the_daily_rollups(server, api, app):
    """Twelve window clerks' cases decided at the same moment: every commit adds to the same
    kpi_case_days and kpi_task_days rows, and none of the twelve is lost."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import KpiCaseDay, KpiTaskDay
    from app.services import kpi_rollups

    assert api.deploy(*TAXI).status_code == 201
    application = {"driving_licence_no": "140402199001011234", "exam_certificate_no": "KS2025-0001",
                   "no_bad_record_pledge": True}
    token = api.token("window1")
    tasks = []
    for _ in range(12):
        case_id = api.start("taxi_driver_licence", application).get_json()["id"]
        task = api.find_task("window1", "window_decision", case_id)
        assert http.post(f"{server}/api/v1/tasks/{task['id']}/claim", token=token).status == 200
        tasks.append(task["id"])
    decision = {"decision": "issue", "licence_no": "CZ-TAXI-0001", "decision_opinion": "当场核发"}
    results = together([lambda t=t: http.post(f"{server}/api/v1/tasks/{t}/complete", {"data": decision},
                                              token=token) for t in tasks])
    assert [r.status for r in results] == [200] * 12, [(r.status, r.body) for r in results]

    with app.app_context():
        days = list(db.session.scalars(select(KpiCaseDay).where(KpiCaseDay.process_key == "taxi_driver_licence")))
        assert sum(d.received for d in days) == 12 and sum(d.completed for d in days) == 12
        window = db.session.scalars(select(KpiTaskDay).where(KpiTaskDay.group_code == "window")).all()
        assert sum(t.completed for t in window) == 12
        kept = [(d.day, d.received, d.completed, d.immediate) for d in days]
        kpi_rollups.rebuild(db.session)
        db.session.commit()
        again = db.session.scalars(select(KpiCaseDay).where(KpiCaseDay.process_key == "taxi_driver_licence"))
        assert [(d.day, d.received, d.completed, d.immediate) for d in again] == kept


# -- starts -----------------------------------------------------------------------------------------
def test_the_same_application_sent_eight_times_at_once_starts_one_case(server, api, app):
    """A client that resends its request (a timeout, a double click) with the same Idempotency-Key:
    of eight simultaneous starts one creates the case (201), the others return it (200); one
    receipt number, one set of tasks."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Case, CaseSubmission, HumanTask

    deploy_newborn(api)
    token = api.token("window1")
    body = {"process_key": "newborn", "applicant": {"name": "王小明", "id_number": "140402199001011234",
                                                      "phone": "13812341234"}, "data": APPLICATION}
    results = together([lambda: http.post(f"{server}/api/v1/cases", body, token=token,
                                          headers={"Idempotency-Key": "intake-2026-000001"})
                        for _ in range(8)])
    statuses = sorted(r.status for r in results)
    assert statuses == [200] * 7 + [201], [(r.status, r.body) for r in results]
    assert len({r.body["id"] for r in results}) == 1 and len({r.body["receipt_no"] for r in results}) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 1
        assert db.session.scalar(select(func.count()).select_from(CaseSubmission)) == 1
        assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 1  # 形式审查 once
