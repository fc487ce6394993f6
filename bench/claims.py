"""Claim storm (issue 9): 50 concurrent clients claiming from the same queue of 1,000 open tasks.

    python -m bench.claims [--tasks 1000] [--clients 50] [--seconds 20]

PostgreSQL (the throwaway cluster of scripts/pg.sh, or BENCH_DATABASE_URL), gunicorn with 2 sync
workers on loopback, and ``wrk`` (Debian package) with ``--clients`` connections: every request
claims a random task of the queue as one of 50 reviewers of the same group. Expected: every task
is claimed at most once (one assignee, one ``task_claimed`` audit event), every refused claim is
a 409, and no error of any other kind (a holder claiming its own task again gets 200: idempotent).
The request rate counts every answer, 200s and 409s.

Prints one table and writes .bench/claims.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._util import PASSWORD, ROOT, gunicorn, make_app, postgres

OUT = ROOT / ".bench"

BULK_CASES = """
INSERT INTO cases (receipt_no, process_version_id, process_key, version, applicant_name, applicant_id_number,
    status, started_by_id, started_at, data, workflow_state, serializer_version, lock_version,
    due_provisional, paused_working_days, extension_working_days, immediate, warning_level)
SELECT 'CS' || lpad(g::text, 12, '0'), :version_id, :key, 1, '合成数据', '', 'active', :user_id,
       now() - (g * interval '1 second'), '{}', '', '1.5', 1, false, 0, 0, false, 'none'
FROM generate_series(1, CAST(:cases AS integer)) AS g
"""

BULK_TASKS = """
INSERT INTO human_tasks (case_id, engine_task_id, bpmn_id, name, group_codes, state, created_at, due_natural,
    priority, timeout_handled, warning_level)
SELECT c.id, md5(c.id::text || '-' || k), 'review_' || k, '部门审核', '["storm"]', 'open',
       c.started_at + k * interval '1 ms', false, 0, false, 'none'
FROM cases c CROSS JOIN generate_series(1, 4) AS k WHERE c.receipt_no LIKE 'CS%'
"""

BULK_CANDIDATES = """
INSERT INTO task_candidates (task_id, group_id) SELECT t.id, CAST(:group_id AS integer) FROM human_tasks t
"""

WRK_SCRIPT = """
local tokens = {%(tokens)s}
local ids = {%(ids)s}
local threads = {}
setup = function(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
init = function(args)
  counts = {}
  math.randomseed(os.time() * 1000 + id)
end
request = function()
  local task = ids[math.random(#ids)]
  local token = tokens[math.random(#tokens)]
  return wrk.format("POST", "/api/v1/tasks/" .. task .. "/claim",
                    {["Authorization"] = "Bearer " .. token, ["Content-Length"] = "0"})
end
response = function(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
done = function(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do io.write(string.format("STATUS %%d %%d\\n", status, n)) end
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%f %%f\\n", summary.requests, e.connect + e.read + e.write + e.timeout,
    summary.duration / 1e6, latency:percentile(95) / 1000))
end
"""


def _prepare(app, tasks: int, clients: int) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from app import transaction
    from app.extensions import db
    from app.models import Group, User
    from app.services import demo, processes

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        transaction.run(demo.seed)
        group = Group(code="storm", name="压测队列")
        db.session.add(group)
        db.session.flush()
        for n in range(1, clients + 1):
            user = User(username=f"storm{n:02d}", display_name=f"压测{n:02d}", roles=["reviewer"], active=True)
            user.set_password(PASSWORD)
            user.groups = [group]
            db.session.add(user)
        db.session.commit()
        group_id = group.id
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["bpmn", "deploy", str(ROOT / "bpmn" / "taxi_driver_licence.bpmn"),
                                                "--forms", str(ROOT / "forms")])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    with app.app_context():
        version = processes.latest_version("taxi_driver_licence")
        user_id = db.session.scalar(select(User.id).where(User.username == "window1"))
        with db.engine.begin() as conn:
            conn.execute(text(BULK_CASES), {"version_id": version.id, "key": version.key, "user_id": user_id,
                                            "cases": tasks // 4})
            conn.execute(text(BULK_TASKS))
            conn.execute(text(BULK_CANDIDATES), {"group_id": group_id})
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        db.session.remove()


def _check(app) -> dict:
    """What the database says afterwards."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import AuditEvent, HumanTask

    with app.app_context():
        claimed = db.session.scalar(select(func.count(HumanTask.id)).where(HumanTask.state == "claimed"))
        still_open = db.session.scalar(select(func.count(HumanTask.id)).where(HumanTask.state == "open"))
        per_task = db.session.execute(select(AuditEvent.task_id, func.count(AuditEvent.id))
                                      .where(AuditEvent.event_type == "task_claimed")
                                      .group_by(AuditEvent.task_id)).all()
        db.session.remove()
    return {"claimed": claimed, "open": still_open, "claim_events": sum(n for _t, n in per_task),
            "double_claims": sum(1 for _t, n in per_task if n > 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.claims", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed (Debian package wrk)", file=sys.stderr)
        return 1
    with postgres("approval_bench_claims") as url:
        if url is None:
            print("PostgreSQL is not available: no claim storm", file=sys.stderr)
            return 1
        app = make_app(url)
        _prepare(app, args.tasks, args.clients)
        client = app.test_client()
        tokens = [client.post("/api/v1/auth/token", json={"username": f"storm{n:02d}", "password": PASSWORD})
                  .get_json()["token"] for n in range(1, args.clients + 1)]
        with app.app_context():
            from sqlalchemy import select

            from app.extensions import db
            from app.models import HumanTask

            ids = list(db.session.scalars(select(HumanTask.id)))
            db.session.remove()
        script = WRK_SCRIPT % {"tokens": ", ".join(f'"{t}"' for t in tokens), "ids": ", ".join(map(str, ids))}
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
            handle.write(script)
        try:
            with gunicorn(url, workers=2) as base:
                t0 = time.perf_counter()
                out = subprocess.run([wrk, "-t2", f"-c{args.clients}", f"-d{args.seconds}s", "-s", handle.name,
                                      f"{base}/api/v1/tasks/0/claim"], capture_output=True, text=True,
                                     timeout=args.seconds + 120)
                elapsed = time.perf_counter() - t0
        finally:
            Path(handle.name).unlink(missing_ok=True)
        statuses = {int(s): int(n) for s, n in (line.split()[1:] for line in out.stdout.splitlines()
                                               if line.startswith("STATUS "))}
        result = next((line.split()[1:] for line in out.stdout.splitlines() if line.startswith("RESULT ")), None)
        if result is None:
            raise SystemExit(f"wrk failed: {out.stdout}\n{out.stderr}")
        requests, socket_errors, duration, p95 = int(result[0]), int(result[1]), float(result[2]), float(result[3])
        stored = _check(app)
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
    won = statuses.get(200, 0)
    other = {s: n for s, n in statuses.items() if s not in (200, 409)}
    report = {"tasks": args.tasks, "clients": args.clients, "requests": requests, "statuses": statuses,
              "socket_errors": socket_errors, "seconds": round(duration, 2), "wall_seconds": round(elapsed, 2),
              "requests_per_s": round(requests / duration, 1), "p95_ms": round(p95, 1), "database": stored,
              # A 200 is a won claim, or the holder claiming its own task again (idempotent).
              "ok": (stored["claimed"] == stored["claim_events"] <= won and not other
                     and stored["double_claims"] == 0 and socket_errors == 0)}
    print(f"\nClaim storm: {args.clients} clients (wrk) on one queue of {args.tasks} tasks, gunicorn 2 workers, "
          f"PostgreSQL")
    print(f"{'requests':>9} {'req/s':>7} {'200':>6} {'409':>7} {'other':>6} {'sock err':>8} {'claimed':>8} "
          f"{'events':>7} {'double':>7} {'p95 ms':>7}")
    print(f"{requests:>9} {report['requests_per_s']:>7} {won:>6} {statuses.get(409, 0):>7} {sum(other.values()):>6} "
          f"{socket_errors:>8} {stored['claimed']:>8} {stored['claim_events']:>7} {stored['double_claims']:>7} "
          f"{report['p95_ms']:>7}")
    queue = "emptied" if stored["open"] == 0 else f"not emptied ({stored['open']} still open)"
    if report["ok"]:
        print(f"consistent: {stored['claimed']} tasks claimed, each by one reviewer with one audit event "
              f"({won - stored['claimed']} of the 200s were holders claiming their own task again), no task "
              f"claimed twice, only 409s besides; queue {queue}")
    else:
        print(f"NOT consistent: {report}")
    OUT.mkdir(exist_ok=True)
    (OUT / "claims.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"written {OUT / 'claims.json'}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
