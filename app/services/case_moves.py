"""Moves on a whole case at the window: 补正 (one-time notice of every missing material, the
clock stopped until they arrive), 不予受理 (refusal to accept, with a notice) and 撤销申请
(the applicant withdraws). Each is one transaction on the locked case, audited.

- A correction notice lists each material and what is wrong with it (一次性告知: all at
  once), stops the case clock (a ``correction`` pause) and is printable. Recording that the
  materials arrived closes the notice and restarts the clock. One open notice at a time.
- Refusal and withdrawal end the workflow where it stands: open tasks are cancelled, timers
  dropped, and the case closes as ``rejected`` or ``withdrawn`` with the reason.
- Notices are numbered after the receipt: ``BZ`` (补正) / ``BY`` (不予受理) + the receipt's
  date and sequence + ``-n``.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..extensions import db
from ..models import Case, CaseNotice, User
from ..models.types import utcnow
from . import audit, case_clock
from .cases import load_workflow, lock_visible_case, save_workflow
from .runtime import engine

NOTICE_PREFIX = {"correction": "BZ", "rejection": "BY"}
MAX_ITEMS = 50
MAX_TEXT = 2000
WINDOW_ROLES = ("clerk",)


def _text(value, field: str, errors: dict, required: bool = True) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        errors.setdefault(field, []).append(_("Required."))
    elif len(text) > MAX_TEXT:
        errors.setdefault(field, []).append(_("At most %(n)s characters.", n=MAX_TEXT))
    return text


def _number(case: Case, kind: str) -> str:
    issued = db.session.scalar(select(func.count()).select_from(CaseNotice).where(
        CaseNotice.case_id == case.id, CaseNotice.kind == kind))
    return f"{NOTICE_PREFIX[kind]}{case.receipt_no[2:]}-{issued + 1}"


def _require_window(user: User, case: Case, action: str) -> None:
    if not user.has_role(*WINDOW_ROLES):
        raise Forbidden(_("Only window clerks may %(action)s.", action=action))
    case_clock.require_handler(user, case, action)


def open_correction(case: Case) -> CaseNotice | None:
    """The correction notice the case is waiting on, if any."""
    return db.session.scalar(select(CaseNotice).where(
        CaseNotice.case_id == case.id, CaseNotice.kind == "correction", CaseNotice.resolved_at.is_(None)))


def issue_correction(user: User, case_id: int, items, note: str = "") -> CaseNotice:
    """Tell the applicant every missing or defective material at once and stop the clock."""
    case = lock_visible_case(user, case_id)
    case_clock.require_active(case)
    case_clock.require_handler(user, case, _("issue a correction notice"))
    errors: dict = {}
    clean = []
    if not isinstance(items, list) or not items:
        errors["items"] = [_("List at least one material.")]
    elif len(items) > MAX_ITEMS:
        errors["items"] = [_("At most %(n)s materials.", n=MAX_ITEMS)]
    else:
        for i, item in enumerate(items):
            item = item if isinstance(item, dict) else {}
            material = _text(item.get("material"), f"items.{i}.material", errors)
            problem = _text(item.get("problem"), f"items.{i}.problem", errors)
            clean.append({"material": material, "problem": problem})
    note = _text(note, "note", errors, required=False)
    if errors:
        raise InvalidInput(_("The correction notice is incomplete."), errors)
    if open_correction(case) is not None:
        raise Conflict(_("A correction notice for this case is still waiting for the materials."),
                       error="correction_open")
    pause = case_clock.pause(user, case, "correction", note or _("Waiting for the applicant's materials (补正)."))
    notice = CaseNotice(case_id=case.id, kind="correction", number=_number(case, "correction"), items=clean,
                        reason=note, issued_by_id=user.id, issued_at=utcnow(), pause_id=pause.id)
    db.session.add(notice)
    db.session.flush()
    audit.record(case, "correction_notice_issued", user, data={
        "notice_id": notice.id, "number": notice.number, "items": clean, "note": note})
    return notice


def materials_received(user: User, notice_id: int) -> CaseNotice:
    """Record that the materials of a correction notice arrived; the clock runs again."""
    notice = get_notice(notice_id)
    case = lock_visible_case(user, notice.case_id)
    db.session.refresh(notice)
    case_clock.require_active(case)
    case_clock.require_handler(user, case, _("record the materials"))
    if notice.kind != "correction":
        raise Conflict(_("Only a correction notice waits for materials."), error="not_a_correction")
    if notice.resolved_at is not None:
        raise Conflict(_("The materials of this notice were already recorded."), error="correction_closed")
    notice.resolved_at = utcnow()
    notice.resolved_by_id = user.id
    audit.record(case, "correction_received", user, data={"notice_id": notice.id, "number": notice.number})
    pause = case_clock.open_pause(case)
    if pause is not None and pause.id == notice.pause_id:
        case_clock.resume(user, case)
    db.session.flush()
    return notice


def _close(user: User, case: Case, status: str, outcome: str, event: str, data: dict) -> None:
    workflow = load_workflow(case)
    engine().cancel(workflow)
    pause = case_clock.open_pause(case)
    now = utcnow()
    if pause is not None:  # a closed case has no running or stopped clock
        pause.ended_at = now
        pause.ended_by_id = user.id
        pause.working_days = 0
        case.paused_at = None
    for notice in db.session.scalars(select(CaseNotice).where(
            CaseNotice.case_id == case.id, CaseNotice.resolved_at.is_(None))):
        notice.resolved_at = now
        notice.resolved_by_id = user.id
    case.status = status
    case.outcome = outcome
    case.ended_at = now
    audit.record(case, event, user, data=data)
    save_workflow(case, workflow, user)


def close_case(user: User, case: Case, status: str, outcome: str, event: str, data: dict) -> None:
    """End a locked, running case for another service (e.g. a merged duplicate work order)."""
    case_clock.require_active(case)
    _close(user, case, status, outcome, event, data)


def reject(user: User, case_id: int, reason: str, legal_basis: str = "") -> CaseNotice:
    """不予受理: refuse the application with a reason (and its legal basis); the case ends."""
    case = lock_visible_case(user, case_id)
    case_clock.require_active(case)
    _require_window(user, case, _("refuse an application"))
    errors: dict = {}
    reason = _text(reason, "reason", errors)
    legal_basis = _text(legal_basis, "legal_basis", errors, required=False)
    if errors:
        raise InvalidInput(_("Give the reason for refusing the application."), errors)
    notice = CaseNotice(case_id=case.id, kind="rejection", number=_number(case, "rejection"),
                        items=[{"legal_basis": legal_basis}] if legal_basis else [], reason=reason,
                        issued_by_id=user.id, issued_at=utcnow())
    db.session.add(notice)
    db.session.flush()
    _close(user, case, "rejected", "不予受理", "case_rejected",
           {"reason": reason, "legal_basis": legal_basis, "notice_id": notice.id, "number": notice.number})
    notice.resolved_at = notice.issued_at
    return notice


def withdraw(user: User, case_id: int, reason: str) -> Case:
    """撤销申请: record the applicant's withdrawal; the case ends cleanly."""
    case = lock_visible_case(user, case_id)
    case_clock.require_active(case)
    _require_window(user, case, _("record a withdrawal"))
    errors: dict = {}
    reason = _text(reason, "reason", errors)
    if errors:
        raise InvalidInput(_("Give the applicant's reason for withdrawing."), errors)
    _close(user, case, "withdrawn", "撤销申请", "case_withdrawn", {"reason": reason})
    return case


def get_notice(notice_id: int) -> CaseNotice:
    """A notice, or NotFound."""
    notice = db.session.get(CaseNotice, notice_id)
    if notice is None:
        raise NotFound(_("No such notice."))
    return notice


def notices(case: Case) -> list[CaseNotice]:
    """The case's notices, oldest first."""
    return list(db.session.scalars(select(CaseNotice).where(CaseNotice.case_id == case.id)
                                   .order_by(CaseNotice.issued_at, CaseNotice.id)))
