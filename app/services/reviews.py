"""政务服务“好差评”: applicants rate completed cases on the five GB/T 39734 levels; a bad review
(不满意/非常不满意) starts a ``bad_review`` rectification case (verification, rectification by the
responsible unit within its limit, review, callback)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import AppError, Conflict, InvalidInput, TooManyAttempts
from ..extensions import db
from ..models import Case, HumanTask, LoginThrottle, Review
from ..models.types import utcnow
from . import org

PROCESS_KEY = "bad_review"
LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD = (1, 2)


def _digits(text: str) -> str:
    return "".join(ch for ch in str(text or "") if ch.isdigit())


def find_case(receipt_no: str, phone: str) -> Case:
    """The completed case with this receipt number whose applicant phone matches; one message for
    every mismatch, so the page tells nothing about which part was wrong."""
    case = db.session.scalar(select(Case).where(Case.receipt_no == (receipt_no or "").strip().upper()))
    digits = _digits(case.applicant_phone) if case is not None else ""
    # No digits, nothing to match: "-----" passes the phone check at the window.
    if case is None or case.status != "completed" or not digits or digits != _digits(phone):
        raise InvalidInput(_("No completed case matches this receipt number and phone."),
                           {"receipt_no": [_("No completed case matches this receipt number and phone.")]})
    return case


def _throttles(receipt_no: str, client: str | None) -> list[LoginThrottle]:
    """The mismatch counters of this receipt number and of this client (its address), locked. They
    live beside the login counters of unknown names (``login_throttles``, digests only) under
    their own prefixes, and are cleaned up the same way."""
    now = utcnow()
    keys = ["review-receipt:" + (receipt_no or "").strip().upper()]
    if client:
        keys.append("review-client:" + client)
    return [org.throttle_of(key, now) for key in keys]


def _locked(rows: list[LoginThrottle]) -> TooManyAttempts | None:
    now = utcnow()
    until = max((r.locked_until for r in rows if r.locked_until is not None and r.locked_until > now), default=None)
    if until is None:
        return None
    return TooManyAttempts(_("Too many receipt numbers or phones that matched no case. Try again later."),
                           {"locked_until": until.isoformat()}, error="too_many_attempts")


def _count_mismatch(rows: list[LoginThrottle]) -> None:
    """``REVIEW_MAX_MISMATCHES`` in a row for a receipt number, or from one client, lock it for
    ``REVIEW_LOCK_MINUTES``: a phone number cannot be guessed, nor a known phone's cases found by
    trying receipt numbers (and reviewed before their applicant can)."""
    now = utcnow()
    for row in rows:
        row.failed_logins = (row.failed_logins or 0) + 1
        if row.failed_logins >= current_app.config["REVIEW_MAX_MISMATCHES"]:
            row.locked_until = now + timedelta(minutes=current_app.config["REVIEW_LOCK_MINUTES"])
            row.failed_logins = 0
    db.session.flush()


def submit(receipt_no: str, phone: str, level: int, comment: str = "", channel: str = "web",
           client: str | None = None) -> Review | AppError:
    """Record the applicant's review (once per case); a bad one starts its rectification.

    A receipt number and phone that match no completed case are counted (per receipt number, and
    per ``client`` address when given) and answered with the returned error, to be raised after
    the commit (like a failed login); too many lock further tries for a while."""
    from .cases import start_case
    from .demo import system_user

    if level not in LEVELS:
        raise InvalidInput(_("Choose one of the five levels."), {"level": [_("Choose one of the allowed values.")]})
    if len(comment or "") > 1000:
        raise InvalidInput(_("The review is too long."), {"comment": [_("Enter at most %(n)s characters.", n=1000)]})
    throttles = _throttles(receipt_no, client) if channel != "demo" else []
    locked = _locked(throttles)
    if locked is not None:
        return locked
    try:
        case = find_case(receipt_no, phone)
    except InvalidInput as mismatch:
        _count_mismatch(throttles)
        return mismatch
    for row in throttles:  # a match ends the run of mismatches
        row.failed_logins = 0
    if db.session.scalar(select(Review.id).where(Review.case_id == case.id)) is not None:
        raise Conflict(_("This case has been reviewed already."), error="already_reviewed")
    review = Review(case_id=case.id, level=level, comment=(comment or "").strip(), channel=channel,
                    created_at=utcnow())
    db.session.add(review)
    db.session.flush()
    if level in BAD:
        rectification = start_case(system_user(), PROCESS_KEY, {"name": case.applicant_name, "id_number": "",
                                                                 "phone": case.applicant_phone}, {
            "subject_case_id": case.id, "subject_receipt_no": case.receipt_no,
            "subject_process": case.process_version.name, "review_id": review.id, "review_level": level,
            "review_comment": review.comment}, started_by="reviews")
        review.rectification_case_id = rectification.id
        refresh(rectification, review)
    return review


def refresh(case: Case, review: Review | None = None) -> None:
    """Copy a rectification case's facts onto its review (called by ``cases.save_workflow``)."""
    review = review or db.session.scalar(select(Review).where(Review.rectification_case_id == case.id))
    if review is None:
        return
    data = case.data or {}
    if "needs_rectification" in data:
        review.requires_rectification = bool(data["needs_rectification"])
    first_rectify = db.session.scalar(select(HumanTask).where(
        HumanTask.case_id == case.id, HumanTask.bpmn_id == "rectify").order_by(HumanTask.id).limit(1))
    if first_rectify is not None:
        review.rectify_due_at = first_rectify.due_at
    waiting_callback = db.session.scalar(select(HumanTask.id).where(
        HumanTask.case_id == case.id, HumanTask.bpmn_id == "callback")) is not None
    if review.requires_rectification and review.rectified_at is None and (
            waiting_callback or case.outcome == "整改完成"):
        # Verified: the last rectification report is when the unit reported back.
        last = db.session.scalar(select(HumanTask.completed_at).where(
            HumanTask.case_id == case.id, HumanTask.bpmn_id == "rectify", HumanTask.state == "completed")
            .order_by(HumanTask.completed_at.desc()).limit(1))
        review.rectified_at = last
