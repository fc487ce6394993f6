"""办件回访 and the 廉政监督反馈卡: a reproducible sample (or all) of the cases completed in a period
is called back by the callback clerks on the ``case_callback`` diagram; answers that report a
problem go to supervision."""

from __future__ import annotations

import random
import secrets
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import Forbidden, InvalidInput
from ..extensions import db
from ..models import Case, OversightLink, User
from . import calendar
from .evaluation import _service_processes

PROCESS_KEY = "case_callback"
KIND = "callback"
MANAGERS = ("supervisor", "admin")
CALLBACK_GROUPS = ("callback",)
SATISFIED = ("very_satisfied", "satisfied", "basically_satisfied")


def may_manage(user: User) -> bool:
    return user.has_role(*MANAGERS) or bool(set(CALLBACK_GROUPS) & {g.code for g in user.groups})


def draw(user: User, start: date, end: date, rate: float = 1.0, seed: int | None = None) -> dict:
    """Start a callback for ``rate`` (0–1] of the cases completed from ``start`` to ``end``
    (local dates, both included) that were not called back yet; return the batch."""
    from .cases import start_case

    if not may_manage(user):
        raise Forbidden(_("You may not start callbacks."))
    if end < start or (end - start).days > 366:
        raise InvalidInput(_("The period or a filter is not valid."),
                           {"to": [_("The end date is before the start date.")]})
    if not 0 < rate <= 1:
        raise InvalidInput(_("The period or a filter is not valid."), {"rate": [_("Must be at most %(n)s.", n=1)]})
    zone = calendar.local_timezone()
    first = datetime.combine(start, time(0), tzinfo=zone)
    after = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone)
    called = select(OversightLink.subject_case_id).where(OversightLink.kind == KIND)
    excluded = _service_processes() or {""}
    ids = list(db.session.scalars(select(Case.id).where(
        Case.status == "completed", Case.ended_at >= first, Case.ended_at < after,
        Case.applicant_phone.is_not(None), Case.process_key.not_in(excluded), Case.id.not_in(called))
        .order_by(Case.id)))
    seed = secrets.randbits(31) if seed is None else seed
    chosen = sorted(random.Random(seed).sample(ids, round(len(ids) * rate))) if rate < 1 else ids
    batch = f"{start.isoformat()}~{end.isoformat()}#{seed}"
    subjects = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(chosen or [0])))}
    for case_id in chosen:
        subject = subjects[case_id]
        callback = start_case(user, PROCESS_KEY, {"name": subject.applicant_name, "id_number": "",
                                                  "phone": subject.applicant_phone}, {
            "subject_case_id": subject.id, "subject_receipt_no": subject.receipt_no,
            "subject_process": subject.process_version.name, "batch": batch}, started_by="callbacks")
        db.session.add(OversightLink(kind=KIND, subject_case_id=subject.id, oversight_case_id=callback.id,
                                     batch=batch, created_at=callback.started_at))
    db.session.flush()
    return {"batch": batch, "seed": seed, "population": len(ids), "case_ids": chosen}


def refresh(case: Case) -> None:
    """Copy the callback's result onto its link when it ends (called by ``cases.save_workflow``)."""
    link = db.session.scalar(select(OversightLink).where(OversightLink.oversight_case_id == case.id))
    if link is None or case.status == "active" or link.ended_at is not None:
        return
    data = case.data or {}
    link.ended_at = case.ended_at
    link.result = data.get("callback_result")
    link.problem = bool(data.get("problem_reported"))
