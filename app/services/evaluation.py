"""行政审批行为后评价: a weekly, reproducible random sample of completed approval cases, each
evaluated by a legal reviewer on the ``post_evaluation`` diagram (brief §7).

The population of a week (Monday ``week_start``) is the cases completed in the week before it of
mid/high-frequency items (at least ``EVALUATION_FREQUENT_CASES`` completed in the
``EVALUATION_FREQUENCY_DAYS`` before the week) and of window-authorised items (即办件), ordered by
id. ``random.Random(seed).sample`` picks ``size`` of them. The seed and the resolved query are
stored with the sample, so :func:`redraw` gets the same cases from the same data. The timer worker
draws each week's sample once (``ensure_weekly``); supervisors and legal reviewers may draw one
by hand with a seed of their choice.
"""

from __future__ import annotations

import random
import secrets
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..extensions import db
from ..models import Case, EvaluationSample, ProcessDefinition, ProcessVersion, User
from ..models.types import utcnow
from . import calendar

PROCESS_KEY = "post_evaluation"
MANAGERS = ("supervisor", "admin")
LEGAL_GROUPS = ("legal_affairs",)
MAX_SIZE = 200


def may_manage(user: User) -> bool:
    return user.has_role(*MANAGERS) or bool(set(LEGAL_GROUPS) & {g.code for g in user.groups})


def week_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def _bounds(first: date, last_exclusive: date) -> tuple[datetime, datetime]:
    zone = calendar.local_timezone()
    return (datetime.combine(first, time(0), tzinfo=zone), datetime.combine(last_exclusive, time(0), tzinfo=zone))


def _service_processes() -> set[str]:
    """Keys of diagrams a service starts (work orders, evaluations …): never in the population."""
    rows = db.session.execute(select(ProcessDefinition.key, ProcessVersion.meta).join(
        ProcessVersion, (ProcessVersion.definition_id == ProcessDefinition.id)
        & (ProcessVersion.version == ProcessDefinition.latest_version)))
    return {key for key, meta in rows if ((meta or {}).get("time_limits") or {}).get("started_by")}


def population_query(week_start: date, size: int) -> dict:
    """The query of a week's population, with the frequent items resolved now."""
    config = current_app.config
    days = config["EVALUATION_FREQUENCY_DAYS"]
    minimum = config["EVALUATION_FREQUENT_CASES"]
    first, end = _bounds(week_start - timedelta(days=days), week_start)
    excluded = _service_processes()
    counts = db.session.execute(
        select(Case.process_key, func.count(Case.id))
        .where(Case.status == "completed", Case.ended_at >= first, Case.ended_at < end)
        .group_by(Case.process_key))
    frequent = sorted(key for key, n in counts if n >= minimum and key not in excluded)
    return {"ended_from": (week_start - timedelta(days=7)).isoformat(), "ended_to": week_start.isoformat(),
            "frequent_keys": frequent, "window_items": True, "excluded_keys": sorted(excluded),
            "frequency_days": days, "frequent_min_cases": minimum, "size": size}


def population(query: dict) -> list[int]:
    """The case ids a stored query selects, in id order."""
    first, end = _bounds(date.fromisoformat(query["ended_from"]), date.fromisoformat(query["ended_to"]))
    rows = db.session.scalars(
        select(Case.id).where(
            Case.status == "completed", Case.ended_at >= first, Case.ended_at < end,
            or_(Case.process_key.in_(query["frequent_keys"] or [""]),
                Case.immediate.is_(True) if query.get("window_items") else False),
            Case.process_key.not_in(query["excluded_keys"] or [""]))
        .order_by(Case.id))
    return list(rows)


def pick(ids: list[int], seed: int, size: int) -> list[int]:
    """The sample of ``ids`` that ``seed`` draws (sorted)."""
    return sorted(random.Random(seed).sample(ids, min(size, len(ids))))


def draw(user: User | None, week_start: date, seed: int | None = None, size: int | None = None,
         note: str = "") -> EvaluationSample:
    """Draw and store the sample of the week starting ``week_start`` and start one evaluation per
    case. ``user`` None is the timer worker."""
    from .cases import start_case  # cases imports services that import this module
    from .demo import system_user

    if user is not None and not may_manage(user):
        raise Forbidden(_("You may not draw evaluation samples."))
    if week_start.weekday() != 0:
        raise InvalidInput(_("The sample is drawn per week."), {"week": [_("Give the Monday of the week.")]})
    size = current_app.config["EVALUATION_SAMPLE_SIZE"] if size is None else size
    if not 1 <= size <= MAX_SIZE:
        raise InvalidInput(_("The sample is drawn per week."), {"size": [_("Must be at most %(n)s.", n=MAX_SIZE)]})
    if db.session.scalar(select(EvaluationSample.id).where(EvaluationSample.week_start == week_start)):
        raise Conflict(_("This week's sample was drawn already."), error="sample_exists")
    seed = secrets.randbits(31) if seed is None else seed
    query = population_query(week_start, size)
    ids = population(query)
    chosen = pick(ids, seed, size)
    actor = user or system_user()
    sample = EvaluationSample(week_start=week_start, seed=seed, population_query=query, population_count=len(ids),
                              case_ids=chosen, created_at=utcnow(), created_by_id=actor.id if actor else None,
                              note=note)
    db.session.add(sample)
    db.session.flush()
    subjects = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(chosen or [0])))}
    for case_id in chosen:
        subject = subjects[case_id]
        start_case(actor, PROCESS_KEY, {"name": "行政审批行为后评价", "id_number": "", "phone": None}, {
            "subject_case_id": subject.id, "subject_receipt_no": subject.receipt_no,
            "subject_process": subject.process_version.name, "subject_outcome": subject.outcome or "",
            "sample_id": sample.id}, started_by="evaluation")
    return sample


def redraw(sample: EvaluationSample) -> list[int]:
    """Draw the stored sample again from its stored query and seed (the reproducibility check)."""
    return pick(population(sample.population_query), sample.seed, sample.population_query["size"])


def ensure_weekly(now: datetime | None = None) -> EvaluationSample | None:
    """The timer worker's weekly draw: this week's sample, once, when the diagram is deployed."""
    if not current_app.config["EVALUATION_AUTO"]:
        return None
    week = week_of(calendar.local_date(now or utcnow()))
    if db.session.scalar(select(EvaluationSample.id).where(EvaluationSample.week_start == week)):
        return None
    if db.session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == PROCESS_KEY)) is None:
        return None
    return draw(None, week, note="weekly")


def samples(user: User) -> list[EvaluationSample]:
    if not may_manage(user):
        raise Forbidden(_("You may not see evaluation samples."))
    return list(db.session.scalars(select(EvaluationSample).order_by(EvaluationSample.week_start.desc())))


def get(user: User, sample_id: int) -> EvaluationSample:
    if not may_manage(user):
        raise Forbidden(_("You may not see evaluation samples."))
    sample = db.session.get(EvaluationSample, sample_id)
    if sample is None:
        raise NotFound(_("No such sample."))
    return sample
