"""Inbox latency (issue 9): ``GET /api/v1/tasks?view=available`` with 10k, 100k and 1M open tasks
in PostgreSQL across 50 groups. Target: p95 ≤ 20 ms at 1M, flat as the data grows.

    python -m bench.inbox [--sizes 10000,100000,1000000] [--seconds 10] [--connections 4]

The open tasks (four per case) are bulk-loaded with ``generate_series``, spread over 50 groups;
the measured user is a reviewer in one of them, so each inbox page is chosen from 1/50 of the
tasks. Raw rows are fine here: only the reads are measured. The sizes grow in place (10k, then
90k more, …). Per size:

1. over HTTP: gunicorn (2 sync workers) on loopback, driven by ``wrk`` (Debian package ``wrk``)
   for ``--seconds`` with ``--connections`` connections; wrk's own latency percentiles;
2. in process (Flask test client, no server): 200 requests, for reference.

Prints one table and writes .bench/inbox.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._util import PASSWORD, ROOT, gunicorn, make_app, postgres

OUT = ROOT / ".bench"
GROUPS = 50
TASKS_PER_CASE = 4

BULK_CASES = """
INSERT INTO cases (receipt_no, process_version_id, process_key, version, applicant_name, applicant_id_number,
    status, started_by_id, started_at, data, workflow_state, serializer_version, lock_version,
    due_provisional, paused_working_days, extension_working_days, immediate, warning_level)
SELECT 'IB' || lpad(g::text, 12, '0'), :version_id, :key, 1, '合成数据', '', 'active', :user_id,
       now() - (g * interval '1 second'), '{}', '', '1.5', 1, false, 0, 0, false, 'none'
FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS g
"""

BULK_TASKS = """
INSERT INTO human_tasks (case_id, engine_task_id, bpmn_id, name, group_codes, state, created_at, due_natural,
    priority, timeout_handled, warning_level)
SELECT c.id, md5(c.id::text || '-' || k), 'review_' || k, '部门审核', '[]', 'open', c.started_at + k * interval '1 ms',
       false, 0, false, 'none'
FROM cases c CROSS JOIN generate_series(1, CAST(:per_case AS integer)) AS k
WHERE c.receipt_no LIKE 'IB%' AND c.id > :after_case
"""

BULK_CANDIDATES = """
INSERT INTO task_candidates (task_id, group_id)
SELECT t.id, (CAST(:group_ids AS integer[]))[1 + (t.id % CAST(:groups AS integer))]
FROM human_tasks t WHERE t.id > :after_task
"""

WRK_SCRIPT = """
wrk.headers["Authorization"] = "Bearer %s"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%f %%f %%f %%d %%d %%d\\n", latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, summary.requests,
    e.connect + e.read + e.write + e.timeout + e.status, summary.duration))
end
"""


def _prepare(app) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from app import transaction
    from app.extensions import db
    from app.models import Group, User
    from app.services import demo

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        transaction.run(demo.seed)
        for n in range(1, GROUPS + 1):
            db.session.add(Group(code=f"bench_g{n:02d}", name=f"压测科室{n:02d}"))
        db.session.flush()
        group = db.session.scalar(select(Group).where(Group.code == "bench_g07"))
        user = User(username="benchreviewer", display_name="压测审核员", roles=["reviewer"], active=True)
        user.set_password(PASSWORD)
        user.groups = [group]
        db.session.add(user)
        db.session.commit()
        ids = list(db.session.scalars(select(Group.id).where(Group.code.like("bench_g%")).order_by(Group.id)))
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["bpmn", "deploy", str(ROOT / "bpmn" / "taxi_driver_licence.bpmn"),
                                                "--forms", str(ROOT / "forms")])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return {"group_ids": ids}


def _grow(app, state: dict, size: int) -> float:
    """Add open tasks until there are ``size``; returns the seconds it took."""
    from sqlalchemy import func, select, text

    from app.extensions import db
    from app.models import Case, HumanTask, User
    from app.services import processes

    t0 = time.perf_counter()
    with app.app_context():
        version = processes.latest_version("taxi_driver_licence")
        user_id = db.session.scalar(select(User.id).where(User.username == "window1"))
        have = db.session.scalar(select(func.count(HumanTask.id))) or 0
        first_case = have // TASKS_PER_CASE + 1
        last_case = size // TASKS_PER_CASE
        after_case = db.session.scalar(select(func.coalesce(func.max(Case.id), 0)))
        after_task = db.session.scalar(select(func.coalesce(func.max(HumanTask.id), 0)))
        params = {"version_id": version.id, "key": version.key, "user_id": user_id}
        # No snapshot of ours may stay open: VACUUM could not mark the new rows all-visible, and
        # the inbox count would read the heap instead of the index alone.
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(text(BULK_CASES), {**params, "first": first_case, "last": last_case})
            conn.execute(text(BULK_TASKS), {"per_case": TASKS_PER_CASE, "after_case": after_case})
            conn.execute(text(BULK_CANDIDATES), {"group_ids": state["group_ids"], "groups": GROUPS,
                                                 "after_task": after_task})
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return round(time.perf_counter() - t0, 1)


def _token(client) -> str:
    r = client.post("/api/v1/auth/token", json={"username": "benchreviewer", "password": PASSWORD})
    return r.get_json()["token"]


def _in_process(app, requests: int) -> dict:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {_token(client)}"}
    url = "/api/v1/tasks?view=available"
    first = client.get(url, headers=headers)
    assert first.status_code == 200, first.get_json()
    total = first.get_json()["total"]
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
            "visible_tasks": total}


def _wrk(base: str, token: str, seconds: int, connections: int) -> dict | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed (Debian package wrk): HTTP figures skipped", file=sys.stderr)
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % token)
    try:
        out = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name,
                              f"{base}/api/v1/tasks?view=available"], capture_output=True, text=True,
                             timeout=seconds + 60)
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {out.stdout}\n{out.stderr}")
    p50, p95, p99, count, errors, duration_us = line.split()[1:]
    return {"p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1), "p99_ms": round(float(p99), 1),
            "requests": int(count), "errors": int(errors),
            "requests_per_s": round(int(count) / (int(duration_us) / 1e6), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inbox", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=2)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rows = []
    with postgres("approval_bench_inbox") as url:
        if url is None:
            print("PostgreSQL is not available: no inbox benchmark", file=sys.stderr)
            return 1
        app = make_app(url)
        state = _prepare(app)
        for size in sizes:
            loaded = _grow(app, state, size)
            local = _in_process(app, 200)
            with gunicorn(url, workers=2) as base:
                token = _token(app.test_client())
                http = _wrk(base, token, args.seconds, args.connections)
            rows.append({"open_tasks": size, "load_seconds": loaded, "in_process": local, "http": http})
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
    print(f"\nInbox GET /api/v1/tasks?view=available, PostgreSQL, {GROUPS} groups, target p95 <= 20 ms at 1M")
    print(f"{'open tasks':>10} {'visible':>8} {'http p50':>9} {'http p95':>9} {'http p99':>9} {'req/s':>7} "
          f"{'errors':>6} {'local p50':>10} {'local p95':>10}")
    for row in rows:
        h = row["http"] or {}
        print(f"{row['open_tasks']:>10} {row['in_process']['visible_tasks']:>8} {h.get('p50_ms', '-'):>9} "
              f"{h.get('p95_ms', '-'):>9} {h.get('p99_ms', '-'):>9} {h.get('requests_per_s', '-'):>7} "
              f"{h.get('errors', '-'):>6} {row['in_process']['p50_ms']:>10} {row['in_process']['p95_ms']:>10}")
    print(f"(wrk -t2 -c{args.connections} -d{args.seconds}s against gunicorn with 2 sync workers on loopback)")
    OUT.mkdir(exist_ok=True)
    (OUT / "inbox.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(f"written {OUT / 'inbox.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
