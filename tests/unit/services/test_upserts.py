"""``upserts.adding_upsert``: insert a counter row, or add to the stored one, in one statement that
SQLAlchemy can cache (its dialect ``on_conflict_do_update`` constructs are compiled on every run)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select


def test_the_first_run_inserts_and_later_runs_add_to_the_stored_counters(app_ctx):
    from app.models import KpiTaskDay
    from app.services.upserts import adding_upsert

    db = app_ctx
    table = KpiTaskDay.__table__
    key = ("day", "process_key", "clerk_id", "group_code")
    fields = ("completed", "timed", "on_time")
    statement = adding_upsert(db.engine.dialect, table, key, fields)
    row = {"day": date(2030, 3, 4), "process_key": "newborn", "clerk_id": 0, "group_code": "health"}
    db.session.execute(statement, [{**row, "completed": 1, "timed": 1, "on_time": 0}])
    db.session.execute(statement, [{**row, "completed": 2, "timed": 0, "on_time": 1},
                                   {**row, "group_code": "tax", "completed": 5, "timed": 0, "on_time": 0}])
    stored = {r.group_code: (r.completed, r.timed, r.on_time)
              for r in db.session.scalars(select(KpiTaskDay).where(KpiTaskDay.day == date(2030, 3, 4)))}
    assert stored == {"health": (3, 1, 1), "tax": (5, 0, 0)}


def test_returning_reads_the_counter_after_the_change(app_ctx):
    from app.models import ReceiptCounter
    from app.services.upserts import adding_upsert

    db = app_ctx
    statement = adding_upsert(db.engine.dialect, ReceiptCounter.__table__, ("day",), ("last",), ("last",))
    day = date(2030, 3, 5)
    assert [db.session.execute(statement, {"day": day, "last": 1}).scalar_one() for _ in range(3)] == [1, 2, 3]
    assert db.session.execute(statement, {"day": day, "last": 10}).scalar_one() == 13


def test_the_counter_statements_of_every_request_are_cacheable(app_ctx):
    """A statement without a cache key is compiled again on every run."""
    from app.models import ReceiptCounter
    from app.services import kpi_rollups
    from app.services.upserts import adding_upsert

    dialect = app_ctx.engine.dialect
    statements = [adding_upsert(dialect, model.__table__, key, fields)
                  for model, key, fields in kpi_rollups.TABLES.values()]
    statements.append(adding_upsert(dialect, ReceiptCounter.__table__, ("day",), ("last",), ("last",)))
    assert all(s._generate_cache_key() is not None for s in statements)


def test_several_tables_in_one_statement_on_postgresql(app_ctx):
    """``merged_adding_upserts``: each table's rows as arrays (any number of rows, the same text),
    inserted or added to the stored counters; a table with no rows changes nothing. SQLite has no
    such statement (the rollups run one ``executemany`` per table there)."""
    import pytest

    from app.models import KpiCaseDay, KpiTaskDay
    from app.services import kpi_rollups
    from app.services.upserts import merged_adding_upserts

    db = app_ctx
    dialect = db.engine.dialect
    tables = tuple((model.__table__, key, fields) for model, key, fields in
                   (kpi_rollups.TABLES["case"], kpi_rollups.TABLES["task"]))
    if dialect.name != "postgresql":
        with pytest.raises(ValueError):
            merged_adding_upserts(dialect, tables)
        return
    statement = merged_adding_upserts(dialect, tables)
    assert statement._generate_cache_key() is not None
    day = date(2030, 3, 6)

    def params(case_rows, task_rows):
        out = {}
        for (table, key, fields), rows in zip(tables, (case_rows, task_rows), strict=True):
            for name in (*key, *fields):
                out[f"{table.name}__{name}"] = [r[name] for r in rows]
        return out

    zero_case = dict.fromkeys(kpi_rollups.CASE_FIELDS, 0)
    case_row = {"day": day, "process_key": "newborn", "clerk_id": 0, **zero_case, "received": 1}
    task = {"day": day, "process_key": "newborn", "clerk_id": 0, "group_code": "health",
            "completed": 1, "timed": 1, "on_time": 1}
    db.session.execute(statement, params([case_row], [task, {**task, "group_code": "tax", "on_time": 0}]))
    db.session.execute(statement, params([{**case_row, "received": 0, "completed": 1, "working_days_sum": 3}], []))
    db.session.execute(statement, params([], [{**task, "completed": 2, "timed": 0, "on_time": 0}]))
    cases = db.session.scalars(select(KpiCaseDay).where(KpiCaseDay.day == day)).all()
    assert [(c.received, c.completed, c.working_days_sum) for c in cases] == [(1, 1, 3)]
    stored = {r.group_code: (r.completed, r.timed, r.on_time)
              for r in db.session.scalars(select(KpiTaskDay).where(KpiTaskDay.day == day))}
    assert stored == {"health": (3, 1, 1), "tax": (1, 1, 0)}
