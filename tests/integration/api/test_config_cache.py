"""The calendar overrides and the group ids by code, kept in process memory (services/config_cache.py).

Every API request reads the tables' tokens with its bearer token; triggers replace a table's token
in the same transaction as any change. Here: a warm completion reads neither table; a change made
elsewhere (another process's service call, an operator's SQL) is seen by the very next request;
a request sees its own change; without the token statement nothing is served from memory.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from newborn_support import APPLICANT, application, newborn_files, task_data
from sqlalchemy import event, text


@pytest.fixture()
def newborn(api):
    from app.services import config_cache

    config_cache.clear()
    r = api.deploy(*newborn_files())
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _statements(app, call):
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def statement(conn, cursor, sql, parameters, context, executemany):
        seen.append(" ".join(sql.split()))

    event.listen(engine, "before_cursor_execute", statement)
    try:
        result = call()
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    return result, seen


def _start_and_complete_formal_check(api):
    r = api.start("newborn", application(), user="window1", applicant=APPLICANT)
    assert r.status_code == 201, r.get_json()
    item = api.find_task("window1", "formal_check", r.get_json()["id"])
    assert api.post(f"/api/v1/tasks/{item['id']}/claim", "window1").status_code == 200
    return lambda: api.post(f"/api/v1/tasks/{item['id']}/complete", "window1",
                            json={"data": task_data("formal_check", "accept")})


def _reads_of_reference_data(seen: list[str]) -> list[str]:
    token_statement, rest = seen[0], seen[1:]
    assert "FROM api_tokens" in token_statement and "config_versions" in token_statement
    return [s for s in rest if "config_versions" in s or "calendar_overrides" in s or "FROM groups" in s]


def test_a_warm_completion_reads_neither_the_overrides_nor_the_groups(app, api, newborn):
    first, seen = _statements(app, _start_and_complete_formal_check(api))
    assert first.status_code == 200, first.get_json()
    assert _reads_of_reference_data(seen)  # the first one reads them (with their tokens)
    second, seen = _statements(app, _start_and_complete_formal_check(api))
    assert second.status_code == 200, second.get_json()
    assert _reads_of_reference_data(seen) == []
    # the same candidates as read from the database
    assert [t["groups"] for t in second.get_json()["tasks"]] == [t["groups"] for t in first.get_json()["tasks"]]
    with app.app_context():
        from app.extensions import db

        ids = {t["id"] for t in second.get_json()["tasks"]}
        rows = db.session.execute(text(
            "SELECT c.task_id, g.code FROM task_candidates c JOIN groups g ON g.id = c.group_id")).all()
        assert {code for task_id, code in rows if task_id in ids} == {
            g for t in second.get_json()["tasks"] for g in t["groups"]}
        db.session.remove()


def _overrides_in_request(app, api, user="window1"):
    """What a request with ``user``'s bearer token sees as today's overrides, and its statements."""
    from app.auth import authenticated_user
    from app.models.types import utcnow
    from app.services import calendar

    raw = api.token(user)
    with app.test_request_context("/api/v1/tasks", headers={"Authorization": f"Bearer {raw}"}):
        def read():
            assert authenticated_user() is not None  # the token statement, with the tables' tokens
            return dict(calendar.overrides_from(calendar.local_date(utcnow())))
        result, seen = _statements(app, read)
        from app.extensions import db
        db.session.remove()
    return result, seen


def _future_day() -> date:
    return date.today() + timedelta(days=40)


def test_an_override_set_by_another_process_is_seen_by_the_next_request(app, api, newborn):
    from app.extensions import db
    from app.models import User
    from app.services import calendar

    day = _future_day()
    before, seen = _overrides_in_request(app, api)
    assert day not in before
    again, seen = _overrides_in_request(app, api)
    assert again == before and _reads_of_reference_data(seen) == []  # kept
    # another host: its own unit of work, no request of this process involved
    with app.app_context():
        admin = db.session.scalar(db.select(User).where(User.username == "admin"))
        calendar.set_override(admin, day, False, "临时闭馆")
        db.session.commit()
    after, seen = _overrides_in_request(app, api)
    assert after.get(day) is False
    assert _reads_of_reference_data(seen)  # read again


def test_an_operators_sql_is_seen_by_the_next_request(app, api, newborn):
    day = _future_day()
    _overrides_in_request(app, api)
    with app.app_context():
        from app.extensions import db

        db.session.execute(text("INSERT INTO calendar_overrides (day, is_working_day, note, updated_at) "
                                "VALUES (:day, :working, '', :now)"),
                           {"day": day, "working": True, "now": "2026-11-27 00:00:00"})
        db.session.commit()
    after, _ = _overrides_in_request(app, api)
    assert after.get(day) is True
    with app.app_context():
        db.session.execute(text("DELETE FROM calendar_overrides WHERE day = :day"), {"day": day})
        db.session.commit()
    again, _ = _overrides_in_request(app, api)
    assert day not in again


def test_a_request_sees_its_own_change(app, api, newborn):
    from app.auth import authenticated_user
    from app.extensions import db
    from app.models import User
    from app.models.types import utcnow
    from app.services import calendar

    _overrides_in_request(app, api)  # kept
    day = _future_day()
    with app.test_request_context("/api/v1/tasks", headers={"Authorization": f"Bearer {api.token('admin')}"}):
        assert authenticated_user() is not None
        today = calendar.local_date(utcnow())
        assert day not in calendar.overrides_from(today)
        admin = db.session.scalar(db.select(User).where(User.username == "admin"))
        calendar.set_override(admin, day, False)
        assert calendar.overrides_from(today).get(day) is False  # not the kept copy
        db.session.rollback()
        db.session.remove()
    after, _ = _overrides_in_request(app, api)
    assert day not in after  # rolled back


def test_a_group_made_after_its_code_was_looked_up_is_found(app, api, newborn):
    from app.auth import authenticated_user
    from app.extensions import db
    from app.services import org

    def ids(codes):
        with app.test_request_context("/api/v1/tasks", headers={"Authorization": f"Bearer {api.token('window1')}"}):
            assert authenticated_user() is not None
            found, seen = _statements(app, lambda: org.group_ids_by_code(codes))
            db.session.remove()
        return found, seen

    first, _ = ids({"health", "no_such_group"})
    assert set(first) == {"health"}
    again, seen = ids({"health", "no_such_group"})
    assert again == first and seen == []  # both kept, the unknown code too
    with app.app_context():
        department = db.session.execute(text("SELECT department_id FROM groups WHERE code = 'health'")).scalar()
        db.session.execute(text("INSERT INTO groups (code, name, department_id) "
                                "VALUES ('no_such_group', '新科室', :d)"), {"d": department})
        db.session.commit()
    after, seen = ids({"health", "no_such_group"})
    assert set(after) == {"health", "no_such_group"} and seen


def test_nothing_is_served_from_memory_without_the_token_statement(app, api, newborn):
    """A browser session, a timer worker, the command line: every read goes to the database."""
    from app.models.types import utcnow
    from app.services import calendar, config_cache

    _overrides_in_request(app, api)  # kept
    with app.test_request_context("/"):
        assert config_cache.lookup("calendar_overrides", calendar.local_date(utcnow())) is config_cache.MISS
