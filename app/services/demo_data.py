"""Demo history for the dashboard (``flask demo generate``): cases, 12345 orders and reviews made
through the real services — start, claim, complete, timers, intake, reviews — each step its own
transaction, with the application clock moved back so the history spreads over past days.

Nothing is inserted behind the engine's back: every figure the dashboard shows afterwards comes
from the same code paths real users take.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from .. import clock, transaction
from ..errors import AppError
from ..extensions import db
from ..models import Case, HumanTask, ProcessDefinition, User
from . import calendar, cases, org, processes, reviews, tasks, timers, work_orders

# Bundles whose first choices (accept, approve …) lead to the end without outside messages.
BUNDLES = {"taxi_driver_licence": 4, "newborn": 3, "business_startup": 3, "enterprise_change": 2,
           "flexible_employment": 2, "retirement": 1}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
CATEGORIES = [("咨询", "政务服务"), ("咨询", "社会保障"), ("投诉", "道路破损"), ("投诉", "夜间施工噪音"),
              ("求助", "供水"), ("投诉", "供热"), ("建议", "公共交通"), ("举报", "占道经营")]
UNITS = ("urban_management", "market_regulation", "utilities", "hr_social_security")


def _id_number(rng: random.Random) -> str:
    body = f"140402{rng.randint(1960, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(100, 999)}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def _phone(rng: random.Random) -> str:
    return f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"


def _value(name: str, prop: dict, rng: random.Random):
    """A valid value for a form field: first choice, sample text, numbers, dates; None to leave out."""
    if "const" in prop:
        return prop["const"]
    for keyword in ("oneOf", "anyOf"):
        if isinstance(prop.get(keyword), list) and prop[keyword]:
            return _value(name, prop[keyword][0], rng)
    if isinstance(prop.get("enum"), list) and prop["enum"]:
        return prop["enum"][0]
    if prop.get("x-optionsFrom") == "groups":
        return "window"
    kind = prop.get("type", "string")
    if kind == "boolean":
        return bool(prop.get("default", True))
    if kind == "integer":
        return max(int(prop.get("minimum", 1)), 1)
    if kind == "number":
        return float(prop.get("minimum", 0)) + 100
    if kind == "array":
        item = _value(name, prop.get("items") or {"type": "string"}, rng)
        return None if item is None else [item] * max(1, int(prop.get("minItems", 1)))
    if kind != "string":
        return None
    today = calendar.local_date(clock.now())
    if prop.get("format") == "date":
        return today.isoformat()
    if prop.get("format") == "date-time":
        return clock.now().astimezone(calendar.local_timezone()).replace(microsecond=0).isoformat()
    if "pattern" in prop:
        for candidate in (_id_number(rng), _phone(rng), "91140400MA0L0XXX1T", "6222020000000000000"):
            if re.search(prop["pattern"], candidate):
                return candidate
        return None
    text = "示例" + str(prop.get("title") or name)
    return text[: prop.get("maxLength", len(text))].ljust(prop.get("minLength", 0), "一")


def sample(schema: dict | None, rng: random.Random) -> dict:
    """Data for a form: every writable field it can fill (read-only fields come from the case)."""
    data = {}
    for name, prop in ((schema or {}).get("properties") or {}).items():
        if not isinstance(prop, dict) or prop.get("readOnly") is True:
            continue
        value = _value(name, prop, rng)
        if value is not None:
            data[name] = value
    return data


def _at(day, rng: random.Random) -> datetime:
    """A working-hours moment of a local day (weekends move to Friday)."""
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    local = datetime.combine(day, time(rng.randint(9, 16), rng.choice((0, 15, 30, 45))),
                             tzinfo=calendar.local_timezone())
    return local


def _worker_for(task: HumanTask) -> User | None:
    if task.candidate_user_id is not None:
        return db.session.get(User, task.candidate_user_id)
    for code in task.group_codes or []:
        names = org.member_usernames(code)
        if names:
            return db.session.scalar(select(User).where(User.username == names[0]))
    return None


def _step(case_id: int, rng: random.Random, end: datetime) -> bool:
    """Do the case's next open task (or fire its due timer); False when nothing is left to do."""
    task = db.session.scalar(select(HumanTask).where(HumanTask.case_id == case_id,
                                                     HumanTask.state.in_(("open", "claimed"))).order_by(HumanTask.id))
    if task is None:
        case = db.session.get(Case, case_id)
        if case.status != "active" or case.next_timer_at is None or case.next_timer_at > end:
            return False
        clock.set_time(case.next_timer_at + timedelta(seconds=1))
        transaction.run(timers.fire_next_due)
        return True
    user = _worker_for(task)
    if user is None:
        return False
    clock.set_time(min(clock.now() + timedelta(hours=rng.uniform(0.2, 20)), end))
    data = sample(tasks.task_form(task), rng)
    if task.state == "open":
        transaction.run(tasks.claim, user, task.id)
    transaction.run(tasks.complete, user, task.id, data)
    return True


def _deployed(keys) -> list[str]:
    found = set(db.session.scalars(select(ProcessDefinition.key).where(ProcessDefinition.key.in_(list(keys)))))
    return [k for k in keys if k in found]


def generate(case_count: int, days: int, seed: int = 2025) -> dict:
    """Make ``case_count`` cases spread over the last ``days`` days (most finished), half as many
    12345 orders, and reviews for some finished cases. Returns what was made."""
    rng = random.Random(seed)
    end = clock.now()
    bundles = _deployed(BUNDLES)
    made = {"cases": 0, "completed": 0, "orders": 0, "reviews": 0, "skipped": 0}
    clerks = [u for u in (db.session.scalar(select(User).where(User.username == n)) for n in ("window1", "window2"))
              if u is not None]
    if not bundles or not clerks:
        return made
    today = calendar.local_date(end)
    try:
        for _ in range(case_count):
            key = rng.choices(bundles, weights=[BUNDLES[k] for k in bundles])[0]
            started = _at(today - timedelta(days=rng.randint(0, max(days - 1, 0))), rng)
            clock.set_time(min(started, end))
            version = processes.latest_version(key)
            data = sample(processes.form_schema(version, version.meta.get("start_form")), rng)
            applicant = {"name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                         "id_number": _id_number(rng), "phone": _phone(rng)}
            try:
                case = transaction.run(cases.start_case, rng.choice(clerks), key, applicant, data)
            except AppError:
                made["skipped"] += 1
                continue
            made["cases"] += 1
            finish = rng.random() < 0.85
            for _step_no in range(60):
                if not finish and rng.random() < 0.3:
                    break
                try:
                    if not _step(case.id, rng, end):
                        break
                except AppError:
                    made["skipped"] += 1
                    break
            case = db.session.get(Case, case.id)
            if case.status == "completed":
                made["completed"] += 1
                if case.applicant_phone and rng.random() < 0.4:
                    level = rng.choices((5, 4, 3, 2, 1), weights=(70, 20, 6, 3, 1))[0]
                    transaction.run(reviews.submit, case.receipt_no, case.applicant_phone, level, "", "demo")
                    made["reviews"] += 1
        made["orders"] = _orders(case_count // 2, days, rng, end)
    finally:
        clock.reset()
    return made


def _orders(count: int, days: int, rng: random.Random, end: datetime) -> int:
    """12345 orders: about 78% answered directly, the rest dispatched, handled and called back."""
    agent = db.session.scalar(select(User).where(User.username == "hotline1"))
    if agent is None or not _deployed(["hotline_work_order"]):
        return 0
    today = calendar.local_date(end)
    made = 0
    for _ in range(count):
        request_type, category = rng.choice(CATEGORIES)
        clock.set_time(min(_at(today - timedelta(days=rng.randint(0, max(days - 1, 0))), rng), end))
        order, _created = transaction.run(work_orders.intake_once, agent, {
            "request_type": request_type, "category": category, "urgency": "normal", "address": "长治市潞州区",
            "content": f"关于{category}的诉求（演示数据）",
            "caller": {"name": rng.choice(SURNAMES) + "先生", "phone": _phone(rng), "confidential": False}})
        made += 1
        direct = rng.random() < 0.78
        answers = {
            "triage": {"triage_decision": "direct" if direct else "dispatch",
                       "triage_note": "已答复" if direct else "派单"},
            "dispatch": {"handling_unit": rng.choice(UNITS), "dispatch_note": "请按时办理"},
            "sign_for": {"sign_decision": "sign"},
            "handle": {"handling_result": "solved", "reply": "已办理并答复来电人", "contacted_caller": True},
            "reply_review": {"reply_decision": "accept"},
            "callback": {"callback_result": rng.choices(("very_satisfied", "satisfied", "basically_satisfied",
                                                         "unsatisfied", "unreachable"), weights=(50, 30, 10, 5, 5))[0],
                         "unit_at_fault": False},
        }
        for _step_no in range(10):
            task = db.session.scalar(select(HumanTask).where(HumanTask.case_id == order.case_id,
                                                             HumanTask.state == "open").order_by(HumanTask.id))
            if task is None or task.bpmn_id not in answers:
                break
            user = _worker_for(task)
            if user is None:
                break
            clock.set_time(min(clock.now() + timedelta(hours=rng.uniform(0.1, 12)), end))
            transaction.run(tasks.claim, user, task.id)
            transaction.run(tasks.complete, user, task.id, answers[task.bpmn_id])
    return made


def has_history() -> bool:
    return (db.session.scalar(select(func.count(Case.id))) or 0) > 0
