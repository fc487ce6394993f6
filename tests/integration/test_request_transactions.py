"""How a request's session ends: a transaction that only read is committed (so psycopg keeps its
server-side prepared statements, which a ROLLBACK drops), anything that wrote without its unit
of work committing is rolled back, and so is everything of a request that failed."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, select, update

from support import Api


@pytest.fixture()
def endings(app):
    """The COMMITs and ROLLBACKs the app's engine sees, in order."""
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def commit(conn):
        seen.append("commit")

    def rollback(conn):
        seen.append("rollback")

    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)
    yield seen
    event.remove(engine, "commit", commit)
    event.remove(engine, "rollback", rollback)


def _override_count(app, day: date) -> int:
    from app.extensions import db
    from app.models import CalendarOverride

    with app.app_context():
        count = len(db.session.scalars(select(CalendarOverride).where(CalendarOverride.day == day)).all())
        db.session.remove()
        return count


def test_a_request_that_only_read_commits_instead_of_rolling_back(client, endings):
    api = Api(client)
    api.token("health1")
    endings.clear()
    for _ in range(3):
        r = api.get("/api/v1/tasks?view=available", "health1")
        assert r.status_code == 200, r.get_json()
    assert "rollback" not in endings
    assert endings.count("commit") == 3


def test_a_unit_of_work_commits_once_and_the_reads_after_it_commit_too(client, endings):
    api = Api(client)
    headers = api.headers("admin")
    endings.clear()
    r = client.put("/api/v1/calendar/overrides/2031-05-06", headers=headers,
                   json={"is_working_day": False, "note": "test"})
    assert r.status_code == 200, r.get_json()
    assert "rollback" not in endings
    assert endings.count("commit") >= 1
    assert _override_count(client.application, date(2031, 5, 6)) == 1


def test_a_flushed_change_left_uncommitted_by_a_request_is_rolled_back(app, db_clean, endings):
    from app.extensions import db
    from app.models import CalendarOverride

    day = date(2031, 5, 7)
    with app.test_request_context("/api/v1/tasks"):
        db.session.add(CalendarOverride(day=day, is_working_day=False, note="never committed"))
        db.session.flush()
    assert endings[-1] == "rollback"
    assert "commit" not in endings
    assert _override_count(app, day) == 0


def test_a_statement_that_wrote_without_the_orm_is_rolled_back(app, db_clean, endings):
    from app.extensions import db
    from app.models import CalendarOverride, User

    day = date(2031, 5, 8)
    with app.app_context():
        db.session.add(CalendarOverride(day=day, is_working_day=False, note="before"))
        db.session.commit()
        db.session.remove()
    endings.clear()
    with app.test_request_context("/api/v1/tasks"):
        db.session.scalar(select(User.id).limit(1))  # a read first: the write comes later
        db.session.execute(update(CalendarOverride).where(CalendarOverride.day == day).values(note="after")
                           .execution_options(synchronize_session=False))
        assert not (db.session.new or db.session.dirty)  # nothing the session itself would flush
    assert endings == ["rollback"]
    with app.app_context():
        assert db.session.scalar(select(CalendarOverride.note).where(CalendarOverride.day == day)) == "before"
        db.session.remove()


def test_a_request_that_failed_is_rolled_back_even_if_it_only_read(app, db_clean, endings):
    from app.extensions import db
    from app.models import User

    with pytest.raises(RuntimeError), app.test_request_context("/api/v1/tasks"):
        db.session.scalar(select(User.id).limit(1))
        raise RuntimeError("the view failed")
    assert endings == ["rollback"]


def test_pending_objects_never_reach_the_database_at_the_end_of_a_request(app, db_clean, endings):
    from app.extensions import db
    from app.models import CalendarOverride, User

    day = date(2031, 5, 9)
    with app.test_request_context("/api/v1/tasks"):
        db.session.scalar(select(User.id).limit(1))
        db.session.add(CalendarOverride(day=day, is_working_day=True, note="added, not flushed"))
    assert "commit" not in endings
    assert _override_count(app, day) == 0


def test_a_failed_flush_that_the_request_caught_is_rolled_back_quietly(app, db_clean, endings):
    """The session's transaction is then inactive: it can only be rolled back, and closing the
    request must not fail on it."""
    from sqlalchemy.exc import IntegrityError

    from app.extensions import db
    from app.models import CalendarOverride

    day = date(2031, 5, 10)
    with app.test_request_context("/api/v1/tasks"):
        db.session.add(CalendarOverride(day=day, is_working_day=False, note="first"))
        db.session.flush()
        db.session.add(CalendarOverride(day=day, is_working_day=True, note="the same day again"))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.expunge_all()  # nothing pending is left to see, the transaction is still failed
    assert "commit" not in endings
    assert _override_count(app, day) == 0
