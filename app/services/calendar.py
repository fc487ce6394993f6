"""The working-day calendar and time-limit arithmetic (brief §6).

Rules encoded here:

- A date is a working day per the national calendar published by the State Council:
  Monday–Friday unless a statutory holiday, plus the make-up working days (调休上班) that
  fall on weekends. The published calendars come from the ``chinese_calendar`` library.
- An admin override (``CalendarOverride``, one row per date) wins over the library, for
  local holidays or a schedule published after the installed library version.
- Years the library does not know yet (the next year's schedule appears in November) use a
  *provisional* calendar: weekends plus the fixed-date statutory holidays (New Year Jan 1,
  Labour Day May 1–2, National Day Oct 1–3); lunar holidays and make-up days are unknown.
  A due date whose counting touched such a date (without an override) is flagged
  ``provisional`` and must be recomputed once the calendar is published.
- Counting (Civil Code art. 201/203, Administrative Licensing Law art. 82): the start day is
  excluded; the period ends on the n-th working day after it, at the end of that day
  (24:00 local, returned as 23:59:59.999999 — art. 203 para 2 allows business closing time
  instead: pass ``close``). Dates are calendar dates in the configured ``TIMEZONE``
  (Asia/Shanghai); the result is an aware UTC datetime.
- Acceptance on a non-working day or after hours is counted from that day anyway (the next
  working day is day 1); the local rule (brief Q5) is still open.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar
from flask import current_app, has_app_context, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import bindparam, select

from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..models import CalendarOverride, User
from ..models.types import utcnow
from . import config_cache

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Shanghai"
END_OF_DAY = time(23, 59, 59, 999999)
# The dates a request may name: wide, but clear of years 1 and 9999, where local midnight in UTC, the
# day before or a period after it is out of Python's range.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
# Fixed-date statutory holidays (全国年节及纪念日放假办法, revised 2024) used for unpublished years.
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})
# Years whose official schedule the installed library carries.
KNOWN_YEARS = frozenset(d.year for d in chinese_calendar.holidays) | frozenset(
    d.year for d in chinese_calendar.workdays)
# add_working_days refuses longer periods (no statutory limit comes near; guards the loop).
MAX_WORKING_DAYS = 3650


def closing_time() -> time | None:
    """The business closing time due dates end at (``CLOSING_TIME`` "HH:MM"), or None for 24:00.

    Civil Code art. 203 para 2: where there are business hours, a period ends at closing time.
    """
    text = (current_app.config.get("CLOSING_TIME") or "").strip() if has_app_context() else ""
    if not text:
        return None
    return _parse_closing(text)


_CLOSING_CACHE: dict[str, time] = {}


def _parse_closing(text: str) -> time:
    if text not in _CLOSING_CACHE:
        try:
            parsed = datetime.strptime(text, "%H:%M").time()
        except ValueError:
            raise ValueError(f"CLOSING_TIME must be HH:MM, not {text!r}") from None
        _CLOSING_CACHE[text] = parsed
    return _CLOSING_CACHE[text]


def local_timezone() -> ZoneInfo:
    """The zone whose calendar dates count (``TIMEZONE``, Asia/Shanghai by default)."""
    name = current_app.config.get("TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def national_status(d: date) -> tuple[bool, bool]:
    """(is a working day, provisional) from the national calendar alone, without overrides."""
    if d.year in KNOWN_YEARS:
        return chinese_calendar.is_workday(d), False
    return d.weekday() < 5 and (d.month, d.day) not in FIXED_HOLIDAYS, True


def load_overrides(start: date | None = None, end: date | None = None) -> dict[date, bool]:
    """{day: is_working_day} of the admin overrides between ``start`` and ``end`` (inclusive)."""
    if not has_app_context():
        return {}
    query = _overrides_query(start is not None, end is not None)
    return {day: working for day, working in db.session.execute(query, {"start": start, "end": end})}


@functools.cache
def _overrides_query(from_start: bool, to_end: bool):
    query = select(CalendarOverride.day, CalendarOverride.is_working_day)
    if from_start:
        query = query.where(CalendarOverride.day >= bindparam("start"))
    if to_end:
        query = query.where(CalendarOverride.day <= bindparam("end"))
    return query


def overrides_from(start: date) -> Mapping[date, bool]:
    """The overrides on or after ``start``, read once per web request (a page shows many
    warnings; the table holds a handful of rows a year). Outside a request: read every time.
    Changing an override in a request forgets what it read."""
    if not has_request_context():
        return load_overrides(start)
    # Kept with the request itself (``g`` would outlive it when an app context was already pushed).
    memo = request.environ.setdefault(_REQUEST_OVERRIDES, {})
    if start not in memo:
        memo[start] = _overrides_from_cache_or_database(start)
    return memo[start]


def _overrides_from_cache_or_database(start: date) -> Mapping[date, bool]:
    """Kept in memory while the overrides do not change (services/config_cache.py)."""
    kept = config_cache.lookup("calendar_overrides", start)
    if kept is not config_cache.MISS:
        return kept
    rows = db.session.execute(_overrides_with_token_query(), {"start": start}).all()
    if not rows:  # no version row (a database older than its migration): read them plainly
        return load_overrides(start)
    overrides = MappingProxyType({day: working for _token, day, working in rows if day is not None})
    config_cache.store("calendar_overrides", rows[0][0], start, overrides)
    return overrides


@functools.cache
def _overrides_with_token_query():
    versions = config_cache.CONFIG_VERSIONS
    return (select(versions.c.token, CalendarOverride.day, CalendarOverride.is_working_day)
            .select_from(versions.outerjoin(CalendarOverride.__table__,
                                            CalendarOverride.day >= bindparam("start")))
            .where(versions.c.name == "calendar_overrides"))


_REQUEST_OVERRIDES = "changzhi.calendar_overrides_from"


def _forget_request_overrides() -> None:
    if has_request_context():
        request.environ.pop(_REQUEST_OVERRIDES, None)
    config_cache.forget("calendar_overrides")


def day_status(d: date, overrides: Mapping[date, bool] | None = None) -> tuple[bool, bool]:
    """(is a working day, provisional): an override wins and is never provisional."""
    if overrides is None:
        overrides = load_overrides(d, d)
    if d in overrides:
        return overrides[d], False
    return national_status(d)


def is_working_day(d: date, overrides: Mapping[date, bool] | None = None) -> bool:
    """Whether ``d`` is a working day (overrides read from the database unless given)."""
    return day_status(d, overrides)[0]


def local_date(ts: datetime) -> date:
    """The calendar date of an aware datetime in the local zone."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("naive datetime")
    return ts.astimezone(local_timezone()).date()


def add_working_days(start: datetime, n: int, *, close: time | None = None,
                     overrides: Mapping[date, bool] | None = None) -> tuple[datetime, bool]:
    """The end of the n-th working day after ``start``'s local date (start day excluded).

    Returns (due as an aware UTC datetime, provisional). ``n == 0`` ends with the start day.
    ``close`` replaces the end of the day (24:00) with a business closing time; by default the
    configured ``CLOSING_TIME`` (none: 24:00).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0 or n > MAX_WORKING_DAYS:
        raise ValueError(f"working days must be an integer between 0 and {MAX_WORKING_DAYS}")
    day = local_date(start)
    if overrides is None:
        overrides = overrides_from(day)  # a handful of rows: every later one at once, once a request
    provisional = False
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        working, tentative = day_status(day, overrides)
        provisional = provisional or tentative
        if working:
            counted += 1
    due = datetime.combine(day, close or closing_time() or END_OF_DAY, tzinfo=local_timezone())
    return due.astimezone(UTC), provisional


def working_days_between(start: date, end: date, overrides: Mapping[date, bool] | None = None, *,
                         at_most: int | None = None) -> int:
    """Working days in the half-open range (start, end]: 0 when end <= start.

    With ``at_most``, counting stops past it: the result is exact up to ``at_most`` and
    ``at_most + 1`` means "more" (a warning only asks whether few days are left)."""
    if end <= start:
        return 0
    if overrides is None:
        overrides = load_overrides(start, end)
    count = 0
    day = start
    while day < end and (at_most is None or count <= at_most):
        day += timedelta(days=1)
        count += is_working_day(day, overrides)
    return count


# -- admin overrides --------------------------------------------------------------------------


def parse_day(text: str, field: str = "day") -> date:
    """A YYYY-MM-DD date between FIRST_DAY and LAST_DAY, or 422."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput(_("Enter a date as YYYY-MM-DD."), {field: [_("Enter a date as YYYY-MM-DD.")]}) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        message = _("Enter a date between %(first)s and %(last)s.", first=FIRST_DAY.isoformat(),
                    last=LAST_DAY.isoformat())
        raise InvalidInput(message, {field: [message]})
    return day


def list_overrides(start: date | None = None, end: date | None = None) -> list[CalendarOverride]:
    """The overrides, oldest date first (optionally between two dates, inclusive)."""
    query = select(CalendarOverride).order_by(CalendarOverride.day)
    if start is not None:
        query = query.where(CalendarOverride.day >= start)
    if end is not None:
        query = query.where(CalendarOverride.day <= end)
    return list(db.session.scalars(query))


def set_override(user: User, day: date, is_working_day: bool, note: str = "") -> CalendarOverride:
    """Declare ``day`` a working day or a day off, replacing any earlier override of it."""
    override = db.session.get(CalendarOverride, day)
    if override is None:
        override = CalendarOverride(day=day)
        db.session.add(override)
    override.is_working_day = is_working_day
    override.note = note or ""
    override.updated_by_id = user.id
    override.updated_by = user
    override.updated_at = utcnow()
    db.session.flush()
    _forget_request_overrides()
    log.info("calendar override set: %s working=%s by %s (%s)", day.isoformat(), is_working_day,
             user.username, note or "")
    return override


def delete_override(user: User, day: date) -> None:
    """Remove the override of ``day``: the national calendar applies again."""
    override = db.session.get(CalendarOverride, day)
    if override is None:
        raise NotFound("No calendar override for this date.")
    db.session.delete(override)
    db.session.flush()
    _forget_request_overrides()
    log.info("calendar override removed: %s (was working=%s) by %s", day.isoformat(), override.is_working_day,
             user.username)
