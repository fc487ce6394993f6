"""Working-day arithmetic (brief §6): the §6.4 vectors, make-up days, provisional years, overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from app.services import calendar

CST = timezone(timedelta(hours=8))
END = time(23, 59, 59, 999999)


def due_date(start: date, n: int, overrides=None, at: time = time(10, 0)) -> tuple[date, bool]:
    """The local due date of n working days after ``start`` (10:00 China time by default)."""
    due, provisional = calendar.add_working_days(datetime.combine(start, at, tzinfo=CST), n,
                                                 overrides={} if overrides is None else overrides)
    assert due.tzinfo is UTC
    local = due.astimezone(CST)
    assert local.time() == END
    return local.date(), provisional


# Brief §6.4, every row.
VECTORS = [
    (date(2025, 1, 24), 5, date(2025, 2, 7), False),
    (date(2025, 4, 30), 3, date(2025, 5, 8), False),
    (date(2025, 9, 26), 5, date(2025, 10, 10), False),
    (date(2025, 9, 30), 1, date(2025, 10, 9), False),
    (date(2025, 9, 30), 20, date(2025, 11, 4), False),
    (date(2025, 12, 31), 1, date(2026, 1, 4), False),
    (date(2026, 2, 13), 1, date(2026, 2, 14), False),
    (date(2026, 2, 13), 10, date(2026, 3, 5), False),
    (date(2026, 9, 30), 5, date(2026, 10, 13), False),
    (date(2026, 12, 31), 1, date(2027, 1, 4), True),
]


@pytest.mark.parametrize(("start", "n", "expected", "provisional"), VECTORS, ids=[f"{v[0]}+{v[1]}" for v in VECTORS])
def test_brief_vectors(start, n, expected, provisional):
    assert due_date(start, n) == (expected, provisional)


def test_due_is_end_of_the_local_day_in_utc():
    due, provisional = calendar.add_working_days(datetime(2025, 9, 30, 10, tzinfo=CST), 1, overrides={})
    assert due == datetime(2025, 10, 9, 15, 59, 59, 999999, tzinfo=UTC)
    assert provisional is False


def test_start_is_converted_to_china_time_first():
    """23:30 UTC on 2025-09-30 is already 10-01 in Changzhi: the start day is the holiday 10-01."""
    late_utc = datetime(2025, 9, 30, 23, 30, tzinfo=UTC)
    due, _ = calendar.add_working_days(late_utc, 1, overrides={})
    assert due.astimezone(CST).date() == date(2025, 10, 9)
    early_utc = datetime(2025, 9, 29, 15, 0, tzinfo=UTC)  # 23:00 on 09-29 in China
    due, _ = calendar.add_working_days(early_utc, 1, overrides={})
    assert due.astimezone(CST).date() == date(2025, 9, 30)


def test_zero_days_ends_with_the_start_day():
    assert due_date(date(2025, 3, 3), 0) == (date(2025, 3, 3), False)


def test_close_time_replaces_end_of_day():
    due, _ = calendar.add_working_days(datetime(2025, 3, 3, 9, tzinfo=CST), 1, close=time(17, 30), overrides={})
    assert due == datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def test_make_up_saturday_counts():
    """Sat 2025-10-11 is a make-up working day after the National Day holiday."""
    assert calendar.is_working_day(date(2025, 10, 11), {})
    assert not calendar.is_working_day(date(2025, 10, 12), {})
    assert due_date(date(2025, 10, 10), 1) == (date(2025, 10, 11), False)


def test_holidays_and_weekends():
    assert not calendar.is_working_day(date(2025, 10, 8), {})  # Wednesday in the holiday
    assert not calendar.is_working_day(date(2025, 3, 8), {})  # plain Saturday
    assert calendar.is_working_day(date(2025, 3, 10), {})  # plain Monday


def test_year_boundary():
    """New Year 2026 is Thu–Sat 01-01..01-03 and Sun 01-04 is a make-up day."""
    assert due_date(date(2025, 12, 30), 1) == (date(2025, 12, 31), False)
    assert due_date(date(2025, 12, 30), 2) == (date(2026, 1, 4), False)
    assert due_date(date(2025, 12, 30), 3) == (date(2026, 1, 5), False)


def test_unpublished_year_is_provisional():
    assert max(calendar.KNOWN_YEARS) == 2026
    assert calendar.national_status(date(2027, 1, 1)) == (False, True)  # fixed New Year
    assert calendar.national_status(date(2027, 1, 2)) == (False, True)  # Saturday
    assert calendar.national_status(date(2027, 1, 4)) == (True, True)
    assert calendar.national_status(date(2027, 10, 1)) == (False, True)  # fixed National Day
    assert calendar.national_status(date(2026, 12, 31)) == (True, False)
    # Entirely inside 2026: not provisional; crossing into 2027: provisional.
    assert due_date(date(2026, 12, 29), 2) == (date(2026, 12, 31), False)
    assert due_date(date(2026, 12, 29), 3) == (date(2027, 1, 4), True)
    assert due_date(date(2027, 3, 1), 5) == (date(2027, 3, 8), True)


def test_override_turns_a_weekday_into_a_holiday():
    base = due_date(date(2025, 3, 3), 2)  # Mon -> Wed 03-05
    assert base == (date(2025, 3, 5), False)
    assert due_date(date(2025, 3, 3), 2, {date(2025, 3, 4): False}) == (date(2025, 3, 6), False)


def test_override_turns_a_sunday_into_a_working_day():
    assert due_date(date(2025, 3, 7), 1) == (date(2025, 3, 10), False)  # Fri -> Mon
    assert due_date(date(2025, 3, 7), 1, {date(2025, 3, 9): True}) == (date(2025, 3, 9), False)


def test_override_in_an_unpublished_year_is_not_provisional():
    assert calendar.day_status(date(2027, 1, 4), {date(2027, 1, 4): True}) == (True, False)


def test_working_days_between():
    assert calendar.working_days_between(date(2025, 9, 30), date(2025, 10, 9), {}) == 1
    assert calendar.working_days_between(date(2025, 9, 26), date(2025, 10, 10), {}) == 5
    assert calendar.working_days_between(date(2025, 1, 1), date(2025, 1, 1), {}) == 0
    assert calendar.working_days_between(date(2025, 12, 31), date(2026, 12, 31), {}) == 248
    assert calendar.working_days_between(date(2024, 12, 31), date(2025, 12, 31), {}) == 248


@pytest.mark.parametrize("at_most", [0, 1, 3, 5, 247, 248, 300])
def test_a_bounded_count_is_exact_up_to_its_bound(at_most):
    """``at_most``: exact while the count is at most the bound; bound + 1 means "more"."""
    for start, end in [(date(2025, 9, 26), date(2025, 10, 10)), (date(2025, 12, 31), date(2026, 12, 31)),
                       (date(2025, 9, 30), date(2025, 10, 9)), (date(2025, 1, 1), date(2025, 1, 1))]:
        full = calendar.working_days_between(start, end, {})
        assert calendar.working_days_between(start, end, {}, at_most=at_most) == min(full, at_most + 1)


def test_overrides_are_read_once_a_request_and_again_after_a_change(app, db_clean):
    from sqlalchemy import event, select

    from app.models import User

    statements = []

    def count(conn, cursor, statement, *args):
        if "calendar_overrides" in statement:
            statements.append(statement)

    with app.test_request_context("/"):
        admin = db_clean.session.scalar(select(User).where(User.username == "admin"))
        event.listen(db_clean.engine, "before_cursor_execute", count)
        try:
            first = calendar.overrides_from(date(2025, 3, 1))
            assert calendar.overrides_from(date(2025, 3, 1)) is first and len(statements) == 1
            calendar.set_override(admin, date(2025, 3, 10), False, "local holiday")
            assert calendar.overrides_from(date(2025, 3, 1)) == {date(2025, 3, 10): False}
        finally:
            event.remove(db_clean.engine, "before_cursor_execute", count)
        db_clean.session.rollback()
    with app.test_request_context("/"):  # another request reads again
        assert calendar.overrides_from(date(2025, 3, 1)) == {}


@pytest.mark.parametrize("n", [-1, 1.5, True, calendar.MAX_WORKING_DAYS + 1])
def test_bad_counts_are_refused(n):
    with pytest.raises(ValueError):
        calendar.add_working_days(datetime(2025, 3, 3, tzinfo=CST), n, overrides={})


def test_naive_start_is_refused():
    with pytest.raises(ValueError):
        calendar.add_working_days(datetime(2025, 3, 3, 10), 1, overrides={})


def test_stored_overrides_are_used(app_ctx):
    """Overrides in the database apply when none are passed explicitly."""
    from sqlalchemy import select

    from app.models import User

    admin = app_ctx.session.scalar(select(User).where(User.username == "admin"))
    start = datetime(2025, 3, 7, 10, tzinfo=CST)
    assert calendar.add_working_days(start, 1)[0].astimezone(CST).date() == date(2025, 3, 10)
    calendar.set_override(admin, date(2025, 3, 9), True, "local make-up day")
    calendar.set_override(admin, date(2025, 3, 10), False, "local holiday")
    assert calendar.is_working_day(date(2025, 3, 9))
    assert not calendar.is_working_day(date(2025, 3, 10))
    assert calendar.add_working_days(start, 1)[0].astimezone(CST).date() == date(2025, 3, 9)
    assert calendar.add_working_days(start, 2)[0].astimezone(CST).date() == date(2025, 3, 11)
    assert [o.day for o in calendar.list_overrides()] == [date(2025, 3, 9), date(2025, 3, 10)]
    calendar.delete_override(admin, date(2025, 3, 10))
    assert calendar.add_working_days(start, 2)[0].astimezone(CST).date() == date(2025, 3, 10)


def test_a_bad_closing_time_setting_stops_the_app_at_start():
    from app import create_app
    from config import TestConfig

    with pytest.raises(ValueError, match="CLOSING_TIME must be HH:MM"):
        create_app({**{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}, "CLOSING_TIME": "5pm"})
