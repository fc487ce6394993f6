"""Time-limit warnings (app/services/deadlines.py) with an injected ``now``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from types import SimpleNamespace

import pytest

from app.services import calendar, deadlines

CST = timezone(timedelta(hours=8))


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=CST)


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59, 999999), tzinfo=CST).astimezone(UTC)


# Due at the end of Tue 2025-10-14; Sat 2025-10-11 is a make-up working day (调休), 10-01..08 a holiday.
DUE = end_of(date(2025, 10, 14))


@pytest.mark.parametrize(("now", "expected"), [
    (at(date(2025, 10, 10)), "none"),            # Fri: 10-11 (make-up), 10-13, 10-14 remain
    (at(date(2025, 10, 11)), "none"),            # make-up Sat: 10-13, 10-14 remain
    (at(date(2025, 10, 12)), "none"),            # Sun: still two working days
    (at(date(2025, 10, 13)), "yellow"),          # Mon: one working day left
    (at(date(2025, 10, 14), 23), "yellow"),      # the due day itself
    (DUE, "yellow"),                             # the last instant is still on time
    (DUE + timedelta(microseconds=1), "red"),
    (at(date(2025, 11, 1)), "red"),
])
def test_warning_states(now, expected):
    assert deadlines.warning(DUE, now=now, threshold=1) == expected


def test_holidays_do_not_count_as_remaining_time():
    """On 10-01 the due date 10-09 is eight calendar days away but one working day: yellow."""
    assert deadlines.warning(end_of(date(2025, 10, 9)), now=at(date(2025, 10, 1)), threshold=1) == "yellow"
    assert deadlines.warning(end_of(date(2025, 10, 10)), now=at(date(2025, 10, 1)), threshold=1) == "none"


@pytest.mark.parametrize(("threshold", "now", "expected"), [
    (0, at(date(2025, 10, 13)), "none"),
    (0, at(date(2025, 10, 14)), "yellow"),
    (2, at(date(2025, 10, 11)), "yellow"),
    (2, at(date(2025, 10, 10)), "none"),
])
def test_threshold(threshold, now, expected):
    assert deadlines.warning(DUE, now=now, threshold=threshold) == expected


def test_no_due_date_or_finished_is_none():
    late = at(date(2026, 1, 1))
    assert deadlines.warning(None, now=late) == "none"
    assert deadlines.warning(DUE, finished=True, now=late) == "none"


def test_utc_now_is_read_in_china_time():
    """2025-10-12T16:30Z is Monday 10-13 00:30 in Changzhi: one working day left."""
    assert deadlines.warning(DUE, now=datetime(2025, 10, 12, 16, 30, tzinfo=UTC), threshold=1) == "yellow"
    assert deadlines.warning(DUE, now=datetime(2025, 10, 12, 15, 30, tzinfo=UTC), threshold=1) == "none"


def test_case_and_task_warnings_follow_their_state():
    late = at(date(2026, 1, 1))
    active = SimpleNamespace(due_at=DUE, status="active", paused_at=None)
    assert deadlines.case_warning(active, now=late) == "red"
    for status in ("completed", "terminated", "rejected", "withdrawn"):
        assert deadlines.case_warning(SimpleNamespace(due_at=DUE, status=status, paused_at=None), now=late) == "none"
    for state, expected in [("open", "red"), ("claimed", "red"), ("completed", "none"), ("cancelled", "none")]:
        assert deadlines.task_warning(SimpleNamespace(due_at=DUE, state=state, case=active), now=late) == expected
    assert deadlines.case_paused(active) is False
    # A stopped clock shows no warning, on the case and on its tasks.
    paused = SimpleNamespace(due_at=DUE, status="active", paused_at=DUE)
    assert deadlines.case_paused(paused) is True
    assert deadlines.case_warning(paused, now=late) == "none"
    assert deadlines.task_warning(SimpleNamespace(due_at=DUE, state="open", case=paused), now=late) == "none"


def test_due_dates_come_from_the_calendar():
    started = at(date(2025, 9, 30))
    case = SimpleNamespace(started_at=started, due_at=None, statutory_due_at=None, due_provisional=None)
    deadlines.set_case_due_dates(case, {"promised_days": 5, "statutory_days": 20})
    assert case.due_at == DUE == calendar.add_working_days(started, 5)[0]
    assert case.statutory_due_at == end_of(date(2025, 11, 4))
    deadlines.set_case_due_dates(case, {"promised_days": None, "statutory_days": None})
    assert (case.due_at, case.statutory_due_at) == (None, None)
    deadlines.set_case_due_dates(case, None)
    assert case.due_at is None


def test_threshold_comes_from_the_config(app, app_ctx, monkeypatch):
    assert deadlines.warning_working_days() == deadlines.DEFAULT_WARNING_WORKING_DAYS == 1
    monkeypatch.setitem(app.config, "WARNING_WORKING_DAYS", 2)
    assert deadlines.warning_working_days() == 2
    assert deadlines.warning(DUE, now=at(date(2025, 10, 11))) == "yellow"
