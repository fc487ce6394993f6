"""12345 hotline work orders (brief §3): intake, the SLA, and the facts lists and KPIs read.

An order is registered by a hotline agent (or by the hotline system through the API with its own
token, idempotent on that system's order id) and runs as a case of the ``hotline_work_order``
diagram: triage (直办 / 派单 / 无效), dispatch to a handling unit chosen at run time, sign-for or
return, handling and reply, reply review, callback with satisfaction, reopen, final answer. The
caller's name and phone stay on the order (masked in lists, hidden from units when confidential);
the case data carries only the request. After every step :func:`refresh` copies the case's
position onto the order (status, unit, times, satisfaction) so lists and KPIs never read the
workflow.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..extensions import db
from ..models import Case, HumanTask, KnowledgeArticle, User, WorkOrder, WorkOrderExtension
from ..models.hotline import REQUEST_TYPES, URGENCIES
from ..models.types import utcnow
from . import audit, calendar, submissions
from .locks import write_lock
from .privacy import mask_in_text, mask_phone

PROCESS_KEY = "hotline_work_order"
# The applicant of an order's case (the caller stays on the order: caller_view).
CASE_APPLICANT = "12345来电人"
CONFIDENTIAL_APPLICANT = "保密来电人"
AGENT_SOURCE = "agent"
# Who may register orders, and who sees the callers of every order.
INTAKE_GROUPS = ("hotline",)
CENTRE_GROUPS = ("hotline", "dispatch", "callback")
READ_ALL = ("supervisor", "leader", "admin")

# The open task of the order's case -> the order's status (brief §3.2).
TASK_STATES = {
    "triage": "registered",
    "dispatch": "dispatch_pending",
    "sign_for": "dispatched",
    "return_review": "return_requested",
    "handle": "in_progress",
    "reply_review": "replied",
    "callback": "callback_pending",
}
# The end event reached -> the order's final status.
OUTCOME_STATES = {"直办办结": "direct_answered", "无效工单": "invalid", "最终答复办结": "final_answer",
                  "办结": "closed"}
SATISFIED = ("very_satisfied", "satisfied", "basically_satisfied")
FINISHED = ("closed", "direct_answered", "invalid", "final_answer", "merged")


# -- SLA rules (hotline/sla.toml) ----------------------------------------------------------------

@dataclass(frozen=True)
class SlaRule:
    name: str
    request_type: str
    category: str
    urgency: str
    clock: str
    days: int | None
    hours: int | None
    response_minutes: int | None

    def matches(self, request_type: str, category: str, urgency: str) -> bool:
        return (self.request_type in ("*", request_type) and self.category in ("*", category)
                and self.urgency in ("*", urgency))


@lru_cache(maxsize=4)
def _rules(path: str) -> tuple[SlaRule, ...]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    rules = []
    for raw in data.get("rules", []):
        clock = raw.get("clock")
        if clock not in ("natural", "working") or (clock == "natural") != ("hours" in raw):
            raise ValueError(f"{path}: rule {raw.get('name')!r} needs clock=natural with hours, or working with days")
        rules.append(SlaRule(raw["name"], raw.get("request_type", "*"), raw.get("category", "*"),
                             raw.get("urgency", "*"), clock, raw.get("days"), raw.get("hours"),
                             raw.get("response_minutes")))
    if not rules or not rules[-1].matches("?", "?", "?"):
        raise ValueError(f"{path}: the last rule must match everything (request_type, category, urgency \"*\")")
    return tuple(rules)


def sla_rules() -> tuple[SlaRule, ...]:
    return _rules(str(current_app.config["HOTLINE_SLA_FILE"]))


def apply_sla(order: WorkOrder, start: datetime) -> None:
    """Set the order's rule, clock and due times: natural hours 7×24, or working days."""
    rule = next(r for r in sla_rules() if r.matches(order.request_type, order.category, order.urgency))
    order.sla_rule, order.clock = rule.name, rule.clock
    if rule.clock == "natural":
        order.due_at = start + timedelta(hours=rule.hours)
    else:
        order.due_at = calendar.add_working_days(start, rule.days)[0]
    order.response_due_at = start + timedelta(minutes=rule.response_minutes) if rule.response_minutes else None


# -- intake --------------------------------------------------------------------------------------

def may_register(user: User) -> bool:
    return user.has_role("admin") or bool(set(INTAKE_GROUPS) & {g.code for g in user.groups})


def sees_callers(user: User) -> bool:
    """The hotline centre and supervisors see callers (masked unless revealed); units do not."""
    return user.has_role(*READ_ALL) or bool(set(CENTRE_GROUPS) & {g.code for g in user.groups})


PHONE = re.compile(r"^\+?[0-9][0-9-]{4,19}$")


def check(payload: dict) -> dict[str, list[str]]:
    """Field errors of an order (the API's schema says the same; the web form relies on this)."""
    errors: dict[str, list[str]] = {}

    def need(key, value, limit, required=True):
        if not isinstance(value, str) or (required and not value.strip()):
            errors[key] = [_("This field is required.")]
        elif len(value) > limit:
            errors[key] = [_("Enter at most %(n)s characters.", n=limit)]

    if payload.get("request_type") not in REQUEST_TYPES:
        errors["request_type"] = [_("Choose one of the allowed values.")]
    if (payload.get("urgency") or "normal") not in URGENCIES:
        errors["urgency"] = [_("Choose one of the allowed values.")]
    need("category", payload.get("category"), 100)
    need("content", payload.get("content"), 4000)
    need("address", payload.get("address") or "", 300, required=False)
    caller = payload.get("caller") if isinstance(payload.get("caller"), dict) else {}
    need("caller.name", caller.get("name"), 100)
    if not PHONE.match(str(caller.get("phone") or "")):
        errors["caller.phone"] = [_("Not a phone number.")]
    return errors


def intake(user: User, payload: dict) -> tuple[WorkOrder, bool]:
    """Register an order; return (order, created). With an ``external_id`` the same caller-system
    id returns the existing order (created False) instead of a second one."""
    from .cases import next_receipt_no, start_case  # cases refreshes orders: import at call time

    if not may_register(user):
        raise Forbidden(_("Only the 12345 hotline may register work orders."))
    errors = check(payload)
    if errors:
        raise InvalidInput(_("The work order is not valid."), errors)
    external_id = payload.get("external_id") or None
    source = user.username if external_id else AGENT_SOURCE
    if external_id:
        existing = _by_external_id(source, external_id)
        if existing is not None:
            return existing, False
    now = utcnow()
    caller = payload["caller"]
    order_no = "RX" + next_receipt_no(now)[2:]
    data = {
        "order_no": order_no,
        "request_type": payload["request_type"],
        "category": payload["category"],
        "urgency": payload.get("urgency") or "normal",
        "address": payload.get("address") or "",
        "content": payload["content"],
        "confidential": bool(caller.get("confidential")),
        "reopen_count": 0,
    }
    # The case's applicant is nobody identifiable: the caller is kept on the order alone, where
    # caller_view decides who sees them (the centre masked, units not at all). The case is seen by
    # every unit it reaches, and its applicant is shown and revealed like any case's.
    applicant = {"name": CONFIDENTIAL_APPLICANT if data["confidential"] else CASE_APPLICANT,
                 "id_number": "", "phone": None}
    case = start_case(user, PROCESS_KEY, applicant, data, started_by="work_orders")
    order = WorkOrder(
        order_no=order_no, source=source, external_id=external_id, request_type=data["request_type"],
        category=data["category"], urgency=data["urgency"], caller_name=caller["name"],
        caller_phone=caller["phone"], confidential=data["confidential"], address=data["address"],
        content=data["content"], status="registered", case_id=case.id, created_by_id=user.id, created_at=now)
    apply_sla(order, now)
    order.repeat_request = _is_repeat(order, now)
    db.session.add(order)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        # The same caller-system id raced in on another connection: that order wins.
        raise _Duplicate() from None
    refresh(case, order)
    return order, True


def register_once(user: User, key: str | None, payload: dict) -> tuple[WorkOrder, bool]:
    """:func:`intake` for an agent's form that carries a key of its own (``submissions``): the
    same form sent twice (a double click on 登记) registers one order and returns it again."""
    caller = payload.get("caller") if isinstance(payload.get("caller"), dict) else {}
    print_ = submissions.fingerprint(PROCESS_KEY, {"name": caller.get("name"), "phone": caller.get("phone")},
                                     str(payload.get("content")))
    try:
        case, created = submissions.start_once(user, key, print_, _intake_case, payload)
    except Conflict as exc:
        if getattr(exc, "case", None) is None:
            raise
        raise Conflict(_("This form was already sent for another call (work order %(no)s). Open a new form "
                         "to register this one.", no=_order_of(exc.case).order_no), error=exc.error) from None
    return _order_of(case), created


def _order_of(case: Case) -> WorkOrder:
    return db.session.scalar(select(WorkOrder).where(WorkOrder.case_id == case.id))


def _intake_case(user: User, payload: dict) -> Case:
    return intake(user, payload)[0].case


class _Duplicate(Exception):
    """Raised inside the unit of work so the caller retries and finds the winner."""


def intake_once(user: User, payload: dict) -> tuple[WorkOrder, bool]:
    """:func:`intake` that turns a lost idempotency race into the winner's order."""
    try:
        return intake(user, payload)
    except _Duplicate:
        db.session.rollback()
        order = _by_external_id(user.username, payload["external_id"])
        if order is None:  # pragma: no cover - the winner is committed before the loser's flush fails
            raise
        return order, False


def _is_repeat(order: WorkOrder, now: datetime) -> bool:
    """重复诉求: the same phone raised the same category within HOTLINE_REPEAT_DAYS before."""
    since = now - timedelta(days=current_app.config["HOTLINE_REPEAT_DAYS"])
    return db.session.scalar(select(WorkOrder.id).where(
        WorkOrder.caller_phone == order.caller_phone, WorkOrder.category == order.category,
        WorkOrder.created_at >= since).limit(1)) is not None


def _by_external_id(source: str, external_id: str) -> WorkOrder | None:
    return db.session.scalar(select(WorkOrder).where(WorkOrder.source == source,
                                                     WorkOrder.external_id == external_id))


# -- the facts, after every step -----------------------------------------------------------------

def refresh(case: Case, order: WorkOrder | None = None) -> None:
    """Copy the case's position onto its order (called by ``cases.save_workflow``)."""
    order = order or db.session.scalar(select(WorkOrder).where(WorkOrder.case_id == case.id))
    if order is None or order.status == "merged":
        return
    data = case.data or {}
    now = utcnow()
    if case.status != "active":
        order.status = OUTCOME_STATES.get(case.outcome or "", "closed")
        order.closed_at = order.closed_at or case.ended_at or now
        order.closed_within_24h = order.closed_at - order.created_at <= timedelta(hours=24)
    else:
        open_ids = set(db.session.scalars(select(HumanTask.bpmn_id).where(
            HumanTask.case_id == case.id, HumanTask.state.in_(("open", "claimed")))))
        status = next((TASK_STATES[t] for t in TASK_STATES if t in open_ids), order.status)
        if status == "in_progress" and order.status == "dispatched":
            order.signed_at = order.signed_at or now
        if status == "dispatched" and order.status != "dispatched":
            order.dispatched_at = now
            order.signed_at = None
        if status == "replied":
            order.replied_at = now
        if status == "return_requested":
            order.returned = True
        order.status = status
    order.direct = data.get("triage_decision") == "direct"
    order.handling_unit = data.get("handling_unit") or None
    order.reopen_count = int(data.get("reopen_count") or 0)
    order.satisfaction = data.get("callback_result") or order.satisfaction


# -- reading -------------------------------------------------------------------------------------

def _visible(user: User):
    """Which orders ``user`` may read: the centre and supervisors all, a unit those it handles."""
    if sees_callers(user):
        return None
    codes = [g.code for g in user.groups]
    if not codes:
        raise Forbidden(_("You may not see work orders."))
    return WorkOrder.handling_unit.in_(codes)


def get(user: User, order_id: int) -> WorkOrder:
    query = select(WorkOrder).where(WorkOrder.id == order_id)
    condition = _visible(user)
    if condition is not None:
        query = query.where(condition)
    order = db.session.scalar(query)
    if order is None:
        raise NotFound(_("No such work order."))
    return order


# The longest text a search takes (the API's schemas say the same): SQLite refuses LIKE patterns
# over 50,000 bytes, and nobody types more.
SEARCH_TEXT_MAX = 100


def _contains(text: str) -> str:
    """A LIKE pattern for ``text`` anywhere, its own ``%`` and ``_`` taken literally."""
    if len(text) > SEARCH_TEXT_MAX:
        raise InvalidInput(_("The search text is too long."),
                           {"q": [_("At most %(count)d characters.", count=SEARCH_TEXT_MAX)]})
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(user: User, status: str | None = None, q: str | None = None, page: int = 1,
           per_page: int = 50) -> tuple[list[WorkOrder], int]:
    """Orders newest first, filtered by status and by a text in the number, category or content.

    A handling unit's search with a digit in it does not look into the request text: the numbers a
    caller wrote there are masked for the unit, and searching for guessed digits would tell them
    (the complained-about unit must never learn who called). Order numbers still match."""
    query = select(WorkOrder)
    condition = _visible(user)
    if condition is not None:
        query = query.where(condition)
    if status:
        query = query.where(WorkOrder.status == status)
    if q and q.strip():
        like = _contains(q.strip())
        columns = [WorkOrder.order_no, WorkOrder.category]
        if not any(c.isdigit() for c in q) or sees_callers(user):
            columns.append(WorkOrder.content)
        query = query.where(or_(*(column.like(like, escape="\\") for column in columns)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
                              .offset((page - 1) * per_page).limit(per_page))
    return list(rows), int(total)


def caller_view(user: User, order: WorkOrder) -> dict:
    """The caller as ``user`` may see it: masked for the centre, withheld from units."""
    if not sees_callers(user):
        return {"name": None, "phone": None, "confidential": order.confidential}
    if order.confidential and not user.has_role(*READ_ALL):
        return {"name": "保密", "phone": None, "confidential": True}
    return {"name": order.caller_name, "phone": mask_phone(order.caller_phone), "confidential": order.confidential}


def content_view(order: WorkOrder) -> str:
    """The caller's request as everyone reads it: ID numbers, mobile numbers and bank cards
    written in it are masked (a caller often leaves a number to call back); revealing the caller
    (``reveal_caller``) shows it whole."""
    return mask_in_text(order.content)


def overdue(order: WorkOrder, now: datetime | None = None) -> bool:
    now = now or utcnow()
    end = order.closed_at or now
    return end > order.due_at


# -- knowledge base ------------------------------------------------------------------------------

def load_knowledge(path: Path) -> int:
    """Insert or update the articles of a knowledge file (by key); return how many changed."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    changed = 0
    for raw in data.get("articles", []):
        article = db.session.scalar(select(KnowledgeArticle).where(KnowledgeArticle.key == raw["key"]))
        fields = {k: raw.get(k, "") for k in ("title", "category", "keywords", "body")}
        fields["department"] = raw.get("department")
        if article is None:
            db.session.add(KnowledgeArticle(key=raw["key"], updated_at=utcnow(), **fields))
            changed += 1
        elif any(getattr(article, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(article, k, v)
            article.updated_at = utcnow()
            changed += 1
    db.session.flush()
    return changed


def search_knowledge(user: User, q: str, limit: int = 20) -> list[KnowledgeArticle]:
    """Articles whose title, keywords, category or text contain every word of ``q``."""
    if not user.is_authenticated:
        raise Forbidden(_("You may not search the knowledge base."))
    query = select(KnowledgeArticle)
    for word in (q or "").split()[:5]:
        like = _contains(word)
        query = query.where(or_(*(column.like(like, escape="\\") for column in (
            KnowledgeArticle.title, KnowledgeArticle.keywords, KnowledgeArticle.category, KnowledgeArticle.body))))
    return list(db.session.scalars(query.order_by(KnowledgeArticle.uses.desc(), KnowledgeArticle.id).limit(limit)))


# -- moves on orders: merge duplicates, extensions approved by the dispatcher ---------------------

DISPATCH_GROUPS = ("dispatch",)
MAX_EXTENSIONS = 3
MAX_EXTENSION_DAYS = 10


def _member(user: User, codes) -> bool:
    return bool(set(codes) & {g.code for g in user.groups})


def _lock(order_id: int) -> WorkOrder:
    # SQLite ignores FOR UPDATE, and work orders have no version check: take its write lock first.
    write_lock(WorkOrder.__table__, order_id)
    order = db.session.execute(select(WorkOrder).where(WorkOrder.id == order_id).with_for_update()
                               .execution_options(populate_existing=True)).scalar_one_or_none()
    if order is None:
        raise NotFound(_("No such work order."))
    return order


def merge(user: User, order_id: int, into_id: int) -> WorkOrder:
    """重复件合并: a duplicate of an open order ends (its case withdrawn) and counts on the parent."""
    from .case_moves import close_case
    from .cases import lock_case

    if not (user.has_role("admin") or _member(user, ("hotline",) + DISPATCH_GROUPS)):
        raise Forbidden(_("Only the hotline centre may merge work orders."))
    if order_id == into_id:
        raise InvalidInput(_("An order cannot be merged into itself."), {"into": [_("Choose another order.")]})
    duplicate, parent = _lock(order_id), _lock(into_id)
    if duplicate.status in FINISHED or parent.status in FINISHED:
        raise Conflict(_("Only open orders can be merged."), error="order_not_open")
    case = lock_case(duplicate.case_id)
    close_case(user, case, "withdrawn", f"合并至{parent.order_no}", "order_merged",
               {"into": parent.order_no, "into_id": parent.id})
    duplicate.status = "merged"
    duplicate.merged_into_id = parent.id
    duplicate.closed_at = utcnow()
    parent.merged_count = (parent.merged_count or 0) + 1
    audit.record(parent.case, "order_merged_into", user, data={"from": duplicate.order_no, "from_id": duplicate.id})
    db.session.flush()
    return parent


def request_extension(user: User, order_id: int, days: int, reason: str) -> WorkOrderExtension:
    """延期申请 by the handling unit: at most three approved, one waiting at a time."""
    order = _lock(order_id)
    if order.status != "in_progress" or not order.handling_unit or not _member(user, (order.handling_unit,)):
        raise Forbidden(_("Only the handling unit may ask for more time while it handles the order."))
    errors = {}
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXTENSION_DAYS:
        errors["days"] = [_("Must be at most %(n)s.", n=MAX_EXTENSION_DAYS)]
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 1000:
        errors["reason"] = [_("This field is required.")]
    if errors:
        raise InvalidInput(_("The extension request is not valid."), errors)
    pending = db.session.scalar(select(WorkOrderExtension.id).where(
        WorkOrderExtension.order_id == order.id, WorkOrderExtension.status == "pending"))
    if pending is not None:
        raise Conflict(_("An extension request is already waiting for a decision."), error="extension_pending")
    if order.extension_count >= MAX_EXTENSIONS:
        raise Conflict(_("This order has had the most extensions allowed."), error="extension_limit")
    ext = WorkOrderExtension(order_id=order.id, days=days, reason=reason.strip(), status="pending",
                             requested_by_id=user.id, requested_at=utcnow())
    db.session.add(ext)
    audit.record(order.case, "order_extension_requested", user, data={"days": days, "reason": ext.reason})
    db.session.flush()
    return ext


def decide_extension(user: User, order_id: int, extension_id: int, approve: bool, note: str = "") -> WorkOrder:
    """The dispatcher approves (the due time moves: working days, or natural days for natural-clock
    orders) or rejects a pending request."""
    if not (user.has_role("admin") or _member(user, DISPATCH_GROUPS)):
        raise Forbidden(_("Only a dispatcher may decide on extensions."))
    order = _lock(order_id)
    ext = db.session.scalar(select(WorkOrderExtension).where(
        WorkOrderExtension.id == extension_id, WorkOrderExtension.order_id == order.id))
    if ext is None:
        raise NotFound(_("No such extension request."))
    if ext.status != "pending":
        raise Conflict(_("This request has been decided already."), error="extension_decided")
    ext.status = "approved" if approve else "rejected"
    ext.decided_by_id, ext.decided_at, ext.note = user.id, utcnow(), (note or "").strip()[:1000]
    if approve:
        if order.clock == "natural":
            order.due_at = order.due_at + timedelta(days=ext.days)
        else:
            order.due_at = calendar.add_working_days(order.due_at, ext.days)[0]
        order.extension_count += 1
    audit.record(order.case, "order_extension_" + ext.status, user, data={"days": ext.days, "note": ext.note})
    db.session.flush()
    return order


def extensions(order: WorkOrder) -> list[WorkOrderExtension]:
    return list(db.session.scalars(select(WorkOrderExtension).where(WorkOrderExtension.order_id == order.id)
                                   .order_by(WorkOrderExtension.id)))


def reveal_caller(user: User, order_id: int, reason: str) -> dict:
    """The caller's full phone, and the request as the caller gave it (numbers unmasked), for the
    hotline centre (never a handling unit), with a reason; audited as ``pii_revealed`` on the
    order's case. Confidential callers: supervisors only."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 200:
        raise InvalidInput(_("Say why you need to see the personal data."), {"reason": [_("This field is required.")]})
    order = get(user, order_id)
    if not sees_callers(user) or (order.confidential and not user.has_role(*READ_ALL)):
        raise Forbidden(_("You may not see this caller."))
    audit.record(order.case, "pii_revealed", user, data={"fields": ["caller_name", "caller_phone", "content"],
                                                         "order_no": order.order_no, "reason": reason.strip()})
    return {"name": order.caller_name, "phone": order.caller_phone, "content": order.content}
