"""Latency of the KPI dashboard API (issue 8): ``GET /api/v1/kpis`` and ``/api/v1/kpis/series``.

    python -m bench.kpis [--rows 1000000] [--requests 20] [--no-postgres]

1. Demo data (SQLite): the bundles deployed and ``flask demo generate --cases 200 --days 60`` —
   history made through the real services. Target: under 300 ms.
2. PostgreSQL at scale: ``--rows`` synthetic completed/running cases (one finished task each, with
   its candidate group) bulk-loaded with ``generate_series`` over the past year (raw rows are fine
   for this benchmark: only the aggregations are measured), then the daily KPI rollups rebuilt
   from them (``flask kpis rebuild``; the services keep them current in normal operation).
   Target: under 1 s, for every period and filter.

Each figure is the in-process latency (Flask test client, so no HTTP server in between) of
``--requests`` calls per period, after one warm-up call. Prints one table and writes
.bench/kpis.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta

from bench._util import PASSWORD, ROOT, make_app, postgres, sqlite_url

OUT = ROOT / ".bench"


def _prepare(app) -> None:
    """Empty the database, migrate, seed the demo organisation, deploy bpmn/."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import transaction
    from app.extensions import db
    from app.services import demo

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
        with contextlib.redirect_stderr(io.StringIO()):
            upgrade(directory=str(ROOT / "migrations"))
        transaction.run(demo.seed)
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["bpmn", "deploy", str(ROOT / "bpmn"), "--forms", str(ROOT / "forms")])
    if result.exit_code != 0:
        raise SystemExit(result.output)


def _token(client) -> str:
    r = client.post("/api/v1/auth/token", json={"username": "leader1", "password": PASSWORD})
    return r.get_json()["token"]


def _measure(app, periods: dict[str, tuple[date, date, str]], requests: int) -> list[dict]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {_token(client)}"}
    rows = []
    for name, (start, end, extra) in periods.items():
        for path in ("/api/v1/kpis", "/api/v1/kpis/series"):
            url = f"{path}?from={start.isoformat()}&to={end.isoformat()}{extra}"
            assert client.get(url, headers=headers).status_code == 200  # warm-up
            times = []
            for _ in range(requests):
                t0 = time.perf_counter()
                r = client.get(url, headers=headers)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.get_json()
            times.sort()
            rows.append({"period": name, "endpoint": path, "p50_ms": round(statistics.median(times), 1),
                         "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1)})
    return rows


def _periods(today: date) -> dict[str, tuple[date, date, str]]:
    """The dashboard's periods: a month, a year, and a year filtered by a bundle or by a group."""
    year = today - timedelta(days=364)
    return {"month": (today.replace(day=1), today, ""), "year": (year, today, ""),
            "year+bundle": (year, today, "&process_key=taxi_driver_licence"),
            "year+group": (year, today, "&group=window")}


def demo_scenario(requests: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(sqlite_url(tmp, "kpis.db"))
        _prepare(app)
        t0 = time.perf_counter()
        result = app.test_cli_runner().invoke(args=["demo", "generate", "--cases", "200", "--days", "60"])
        generated = round(time.perf_counter() - t0, 1)
        if result.exit_code != 0:
            raise SystemExit(result.output)
        with app.app_context():
            from sqlalchemy import func, select

            from app.extensions import db
            from app.models import Case

            count = db.session.scalar(select(func.count(Case.id)))
            db.session.remove()
        rows = _measure(app, _periods(date.today()), requests)
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
    return {"database": "sqlite", "cases": count, "generate_seconds": generated, "latency": rows}


BULK_CASES = """
INSERT INTO cases (receipt_no, process_version_id, process_key, version, applicant_name, applicant_id_number,
    applicant_phone, status, outcome, started_by_id, started_at, ended_at, data, workflow_state,
    serializer_version, lock_version, due_at, statutory_due_at, due_provisional, paused_working_days,
    extension_working_days, immediate, finished_same_day, warning_level, working_days_used)
SELECT 'BK' || lpad(g::text, 12, '0'), :version_id, :key, 1, '合成数据', '', NULL,
       CASE WHEN g % 20 = 0 THEN 'active' ELSE 'completed' END,
       CASE WHEN g % 20 = 0 THEN NULL ELSE '办结' END,
       :user_id, s.ts,
       CASE WHEN g % 20 = 0 THEN NULL ELSE s.ts + ((g % 96) || ' hours')::interval END,
       '{}', '', '1.5', 1, s.ts + interval '3 days', s.ts + interval '20 days', false, 0, 0,
       g % 3 = 0, g % 20 <> 0 AND g % 96 < 8, 'none', CASE WHEN g % 20 = 0 THEN NULL ELSE (g % 96) / 24 END
FROM (SELECT g, now() - ((g % 525600) * interval '1 minute') AS ts FROM generate_series(1, :rows) AS g) AS s
"""

BULK_TASKS = """
INSERT INTO human_tasks (case_id, engine_task_id, bpmn_id, name, group_codes, state, created_at, completed_at,
    due_at, due_natural, priority, timeout_handled, warning_level, completed_on_time)
SELECT c.id, md5(c.id::text), 'window_decision', '窗口即办审核', '["window"]',
       CASE WHEN c.status = 'active' THEN 'open' ELSE 'completed' END, c.started_at, c.ended_at,
       c.started_at + interval '1 day', false, 0, false, 'none',
       CASE WHEN c.status = 'active' THEN NULL ELSE c.ended_at <= c.started_at + interval '1 day' END
FROM cases c WHERE c.receipt_no LIKE 'BK%'
"""

BULK_CANDIDATES = """
INSERT INTO task_candidates (task_id, group_id)
SELECT t.id, :group_id FROM human_tasks t JOIN cases c ON c.id = t.case_id WHERE c.receipt_no LIKE 'BK%'
"""


def scale_scenario(url: str, rows: int, requests: int) -> dict:
    from sqlalchemy import select, text

    app = make_app(url)
    _prepare(app)
    with app.app_context():
        from app.extensions import db
        from app.models import Group, User
        from app.services import processes

        version = processes.latest_version("taxi_driver_licence")
        user = db.session.scalar(select(User).where(User.username == "window1"))
        group = db.session.scalar(select(Group).where(Group.code == "window"))
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(text(BULK_CASES), {"version_id": version.id, "key": version.key, "user_id": user.id,
                                            "rows": rows})
            conn.execute(text(BULK_TASKS))
            conn.execute(text(BULK_CANDIDATES), {"group_id": group.id})
        loaded = round(time.perf_counter() - t0, 1)
        # Raw rows bypass the services that keep the daily rollups: rebuild them, as an operator
        # does after a bulk import (flask kpis rebuild).
        from app import transaction
        from app.services import kpi_rollups

        t0 = time.perf_counter()
        transaction.run(kpi_rollups.rebuild, db.session)
        rebuilt = round(time.perf_counter() - t0, 1)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        db.session.remove()
    result = _measure(app, _periods(date.today()), requests)
    with app.app_context():
        from app.extensions import db

        db.engine.dispose()
    return {"database": "postgresql", "cases": rows, "load_seconds": loaded, "rebuild_seconds": rebuilt,
            "latency": result}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kpis", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    report = {"scenarios": []}
    demo = demo_scenario(args.requests)
    report["scenarios"].append(demo)
    if not args.no_postgres:
        with postgres("approval_bench_kpis") as url:
            if url is not None:
                report["scenarios"].append(scale_scenario(url, args.rows, args.requests))
    print("\nKPI API latency (in-process, ms)")
    print(f"{'database':<11} {'cases':>9} {'period':<12} {'endpoint':<22} {'p50':>8} {'p95':>8} {'target':>7}")
    for scenario in report["scenarios"]:
        target = 300 if scenario["database"] == "sqlite" else 1000
        for row in scenario["latency"]:
            print(f"{scenario['database']:<11} {scenario['cases']:>9} {row['period']:<12} {row['endpoint']:<22} "
                  f"{row['p50_ms']:>8} {row['p95_ms']:>8} {target:>7}")
    for scenario in report["scenarios"]:
        extra = scenario.get("generate_seconds") or scenario.get("load_seconds")
        label = "generated through the services" if "generate_seconds" in scenario else "bulk-loaded"
        print(f"{scenario['database']}: {scenario['cases']} cases {label} in {extra} s")
        if "rebuild_seconds" in scenario:
            print(f"{scenario['database']}: daily rollups rebuilt from them in {scenario['rebuild_seconds']} s")
    OUT.mkdir(exist_ok=True)
    (OUT / "kpis.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nwritten {OUT / 'kpis.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
