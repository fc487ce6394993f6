"""Case search (issue 9): latency and query plans of ``queries.search_cases`` over 1,000,000 cases in
PostgreSQL — by receipt number prefix, by ID number, by applicant name — for a supervisor (who may
read every case) and for a department reviewer (who sees the cases with a task of their group).

    python -m bench.search [--rows 1000000] [--requests 20]

The cases are bulk-loaded with ``generate_series`` (raw rows: only the reads are measured) with
receipt numbers ``CZ<date><seq>`` over the past year, 20 surnames × 50 × 50 given-name characters,
18-digit ID numbers, three accepting clerks, and two tasks each: one for the window group and one
for one of five departments. Each search runs ``--requests`` times after a warm-up (in process,
service layer, so no HTTP in between). The ``EXPLAIN (ANALYZE, BUFFERS)`` of every statement a
search sends is written to .bench/search_explain.txt; the table to .bench/search.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from bench._util import ROOT, make_app, postgres
from bench.kpis import _prepare

OUT = ROOT / ".bench"

BULK_CASES = """
INSERT INTO cases (receipt_no, process_version_id, process_key, version, applicant_name, applicant_id_number,
    applicant_phone, status, outcome, started_by_id, started_at, ended_at, data, workflow_state,
    serializer_version, lock_version, due_provisional, paused_working_days, extension_working_days, immediate,
    warning_level)
SELECT 'CZ' || to_char(s.ts, 'YYYYMMDD') || lpad(g::text, 7, '0'), :version_id, :key, 1,
       (ARRAY['王','李','张','刘','陈','杨','赵','黄','周','吴','徐','孙','胡','朱','高','林','何','郭','马','罗'])
           [1 + g % 20]
       || (ARRAY['小','建','国','明','华','丽','军','伟','芳','娜','静','敏','强','磊','洋','艳','勇','杰','娟','涛',
                 '超','霞','平','刚','桂','英','玉','兰','红','萍','斌','飞','鹏','辉','宇','波','春','秀','宁','琳',
                 '晨','浩','子','怡','欣','然','博','文','雪','梅'])[1 + (g / 20) % 50]
       || (ARRAY['一','二','三','四','五','六','七','八','九','十','山','水','田','木','林','森','石','云','雨','风',
                 '天','地','日','月','星','光','海','江','河','湖','松','竹','花','草','金','银','玉','珠','宝','贵',
                 '福','禄','寿','喜','安','康','乐','和','平','正'])[1 + (g / 1000) % 50],
       '140402' || to_char(date '1950-01-01' + (g % 25000), 'YYYYMMDD') || lpad((g % 997)::text, 3, '0')
           || CASE WHEN g % 11 = 0 THEN 'X' ELSE (g % 10)::text END,
       NULL, CASE WHEN g % 20 = 0 THEN 'active' ELSE 'completed' END,
       CASE WHEN g % 20 = 0 THEN NULL ELSE '办结' END,
       (CAST(:clerks AS integer[]))[1 + g % 3], s.ts,
       CASE WHEN g % 20 = 0 THEN NULL ELSE s.ts + interval '2 days' END,
       '{}', '', '1.5', 1, false, 0, 0, false, 'none'
FROM (SELECT g, now() - ((g % 525600) * interval '1 minute') AS ts FROM generate_series(1, :rows) AS g) AS s
"""

BULK_TASKS = """
INSERT INTO human_tasks (case_id, engine_task_id, bpmn_id, name, group_codes, state, created_at, completed_at,
    due_natural, priority, timeout_handled, warning_level)
SELECT c.id, md5(c.id::text || '-' || k), CASE WHEN k = 1 THEN 'window_check' ELSE 'department_review' END,
       '审核', '[]', CASE WHEN c.status = 'active' THEN 'open' ELSE 'completed' END, c.started_at, c.ended_at,
       false, 0, false, 'none'
FROM cases c CROSS JOIN generate_series(1, 2) AS k
"""

BULK_CANDIDATES = """
INSERT INTO task_candidates (task_id, group_id)
SELECT t.id, CASE WHEN t.bpmn_id = 'window_check' THEN CAST(:window AS integer)
                  ELSE (CAST(:departments AS integer[]))[1 + t.case_id % 5] END
FROM human_tasks t
"""

DEPARTMENTS = ["health", "public_security", "market_regulation", "tax", "hr_social_security"]


def _load(app, rows: int) -> float:
    from sqlalchemy import select, text

    from app.extensions import db
    from app.models import Group, User
    from app.services import processes

    with app.app_context():
        version = processes.latest_version("taxi_driver_licence")
        clerks = list(db.session.scalars(select(User.id).where(User.username.in_(["window1", "window2", "chief1"]))))
        wanted = select(Group.code, Group.id).where(Group.code.in_(["window", *DEPARTMENTS]))
        codes = dict(db.session.execute(wanted).all())
        params = {"version_id": version.id, "key": version.key, "clerks": clerks, "rows": rows}
        db.session.remove()  # no transaction left idle while the bulk load runs
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(text(BULK_CASES), params)
            conn.execute(text(BULK_TASKS))
            conn.execute(text(BULK_CANDIDATES), {"window": codes["window"],
                                                 "departments": [codes[c] for c in DEPARTMENTS]})
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        db.session.remove()
        return round(time.perf_counter() - t0, 1)


def _searches(app) -> dict[str, dict]:
    """Criteria that exist in the loaded data (a real receipt number and ID number, a name)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Case

    with app.app_context():
        sample = db.session.execute(select(Case.receipt_no, Case.applicant_id_number, Case.applicant_name)
                                    .order_by(Case.id.desc()).limit(1).offset(12345)).one()
        db.session.remove()
    receipt, id_number, name = sample
    return {
        "receipt no, full": {"receipt_no": receipt},
        "receipt no, day prefix": {"receipt_no": receipt[:10]},
        "ID number": {"id_number": id_number.lower()},
        "full name (3 chars)": {"applicant_name": name},
        "given name part (1 char)": {"applicant_name": name[-1]},
        "no match": {"applicant_name": "欧阳"},
    }


def _explain(app, user_name: str, criteria: dict) -> str:
    from sqlalchemy import event, select

    from app.extensions import db
    from app.models import User
    from app.services import queries

    seen: list[tuple[str, dict]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM cases" in statement:
            seen.append((statement, parameters))

    out = []
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == user_name))
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            queries.search_cases(user, queries.CaseCriteria(**criteria))
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        connection = db.session.connection()
        for statement, parameters in seen:
            plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars().all()
            out.append(statement.strip() + "\n" + "\n".join(plan))
        db.session.rollback()
        db.session.remove()
    return "\n\n".join(out)


def _measure(app, user_name: str, criteria: dict, requests: int) -> dict:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User
    from app.services import queries

    times = []
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == user_name))
        db.session.remove()
        for i in range(requests + 1):
            t0 = time.perf_counter()
            user = db.session.get(User, user_id)
            page = queries.search_cases(user, queries.CaseCriteria(**criteria))
            elapsed = (time.perf_counter() - t0) * 1000
            total = page.total
            db.session.remove()
            if i:  # the first is a warm-up
                times.append(elapsed)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
            "matches": total}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args(argv)
    rows, plans = [], []
    with postgres("approval_bench_search") as url:
        if url is None:
            print("PostgreSQL is not available: no search benchmark", file=sys.stderr)
            return 1
        app = make_app(url)
        _prepare(app)
        loaded = _load(app, args.rows)
        print(f"loaded {args.rows} cases with 2 tasks each in {loaded} s", flush=True)
        for label, criteria in _searches(app).items():
            for user in ("supervisor", "health1"):
                result = _measure(app, user, criteria, args.requests)
                rows.append({"search": label, "user": user, **result})
                plans.append(f"=== {label} as {user}: {criteria}\n{_explain(app, user, criteria)}")
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
    print(f"\nCase search (queries.search_cases), PostgreSQL, {args.rows} cases, in process")
    print(f"{'search':<26} {'as':<11} {'matches':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for row in rows:
        print(f"{row['search']:<26} {row['user']:<11} {row['matches']:>8} {row['p50_ms']:>8} {row['p95_ms']:>8}")
    OUT.mkdir(exist_ok=True)
    (OUT / "search.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    (OUT / "search_explain.txt").write_text("\n\n".join(plans) + "\n", encoding="utf-8")
    print(f"written {OUT / 'search.json'} and {OUT / 'search_explain.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
