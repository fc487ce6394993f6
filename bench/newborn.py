"""Throughput of the newborn bundle (新生儿出生一件事): engine ceiling, service layer, HTTP.

    python -m bench.newborn [--cases 200] [--connections 4] [--http-seconds 20] [--http-runs 5]
                            [--engine-seconds S] [--workers 2] [--no-postgres]

Every case takes the happy path with the maternity allowance: start, 形式审查 accept, all six
department tasks approve, 统一出件 -> 办结 (8 user tasks), each completed with data generated
from its form. Three measurements:

1. engine: SpiffWorkflow alone via app.engine — compile once; per case Engine.start, and around
   every user task the WHOLE workflow including the spec is serialised to JSON and restored
   (no spec cache). This is the ceiling the service is measured against. Its runs are as long as
   the wrk runs and come just before each of them (``--engine-seconds``, default
   ``--http-seconds``): the machine's speed moves from second to second and from minute to
   minute, so both sides are measured over the same minutes and pooled (class EngineRuns).
2. service: the service layer on a SQLite file (migrated, seeded, deployed): start_case, claim
   and complete, each in its own unit of work (app.transaction.run).
3. http: gunicorn (sync workers) on SQLite, and on PostgreSQL when available (BENCH_DATABASE_URL,
   else scripts/pg.sh), driven by ``wrk`` (Debian package; bench/newborn.lua): each connection
   walks whole cases end to end (start, then claim + complete every open task), checking every
   answer. Cases per second = cases finished in the run / its length; the database's count of
   cases completed in that time is reported beside it as a cross-check. After a warm-up, an engine
   run and a wrk run alternate ``--http-runs`` times (5) on the same server. The ratio of a
   database is its wrk runs' cases over their seconds, divided by the same total of the engine runs
   interleaved with them. Every run is listed, each wrk run also as a ratio to the engine run just
   before it, and the best wrk run over the best engine run is printed beside it.

Prints one table, writes it to .bench/newborn.json and, when http/engine < 0.5, profiles the
HTTP path in-process and writes .bench/profile.txt.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._util import (
    APPLICANT,
    GROUP_USERS,
    PASSWORD,
    ROOT,
    HttpClient,
    NewbornPlan,
    gunicorn,
    make_app,
    percentile,
    postgres,
    prepare_database,
    sqlite_url,
)

OUT = ROOT / ".bench"
RATIO_THRESHOLD = 0.5


def _row(mode, database, cases, seconds, claims=(), completes=(), **extra) -> dict:
    ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    return {
        "mode": mode,
        "database": database,
        "cases": cases,
        "seconds": round(seconds, 3),
        "cases_per_s": round(cases / seconds, 2) if seconds else None,
        "claim_p50_ms": ms(percentile(claims, 50)),
        "claim_p95_ms": ms(percentile(claims, 95)),
        "complete_p50_ms": ms(percentile(completes, 50)),
        "complete_p95_ms": ms(percentile(completes, 95)),
        **extra,
    }


# -- 1. the engine alone ----------------------------------------------------------------------
def run_engine(plan: NewbornPlan, seconds: float) -> tuple[int, float, list[float]]:
    """Run whole cases statelessly, with full (spec + state) JSON around every user task, until
    ``seconds`` have passed; return (cases, elapsed seconds, step times)."""
    from app.engine import Engine
    from app.engine.serializer import dump_full, load_full

    engine = Engine()
    process = plan.process

    def load(state: str):
        workflow = load_full(state)
        # The script engine is not serialised; re-attach the sandbox as Engine.load does.
        workflow.script_engine = engine.script_engine
        for sub in workflow.subprocesses.values():
            sub.script_engine = engine.script_engine
        return workflow

    steps: list[float] = []
    cases = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        workflow = engine.start(process, plan.start_data)
        state = dump_full(workflow)
        done = 0
        while True:
            t0 = time.perf_counter()
            workflow = load(state)
            ready = engine.ready_user_tasks(workflow)
            if not ready:
                raise RuntimeError("engine: no ready user task but the workflow has not ended")
            task = ready[0]
            engine.complete_user_task(workflow, task.id, plan.task_data[task.bpmn_id])
            state = dump_full(workflow)
            steps.append(time.perf_counter() - t0)
            done += 1
            if engine.is_completed(workflow):
                break
        if engine.outcome(workflow) != plan.outcome or done != 8:
            raise RuntimeError(f"engine: case ended {engine.outcome(workflow)!r} after {done} tasks")
        cases += 1
    return cases, time.perf_counter() - started, steps


class EngineRuns:
    """The engine ceiling, measured in runs as long as the wrk runs and interleaved with them.

    This machine's speed moves by a quarter from one second to the next and by half from one
    minute to the next (measured: 25-case runs of the engine, 1.3-2 s each, gave 12.7-19.8 cases/s
    in a row; 25-second runs in two benchmarks of one morning 10.9-18.3). So every wrk run is preceded by an engine
    run of the same length, and each side is the total of its runs: cases over seconds. The ratio of
    a database compares its wrk runs with the engine runs interleaved with them, so both sides
    sample the same minutes. (A ratio of the best run of each side favours the side with more runs
    and the luckier minute: the engine runs of both databases' rounds compete for its best.)"""

    def __init__(self, plan: NewbornPlan, seconds: float) -> None:
        self.plan = plan
        self.seconds = seconds
        self.runs: list[tuple[int, float, list[float]]] = []

    def measure(self) -> float:
        """One run; return its cases per second."""
        run = run_engine(self.plan, self.seconds)
        self.runs.append(run)
        return run[0] / run[1]

    def row(self) -> dict:
        cases = sum(c for c, _, _ in self.runs)
        seconds = sum(s for _, s, _ in self.runs)
        steps = [step for _, _, run_steps in self.runs for step in run_steps]
        best = max(self.runs, key=lambda r: r[0] / r[1])
        return _row(
            "engine",
            "-",
            cases,
            seconds,
            (),
            steps,
            note=f"all {len(self.runs)} runs pooled, each before a wrk run; "
                 "complete = load_full + complete + dump_full",
            runs_cases_per_s=[round(c / s, 2) for c, s, _ in self.runs],
            best_cases_per_s=round(best[0] / best[1], 2),
        )


# -- 2. the service layer -------------------------------------------------------------------------
def run_service(app, plan: NewbornPlan, cases: int) -> tuple[float, list[float], list[float]]:
    """Run ``cases`` cases through services, one transaction per call, as the API routes do."""
    from sqlalchemy import select

    from app import transaction
    from app.extensions import db
    from app.models import User
    from app.services import cases as case_service
    from app.services import tasks as task_service

    claims: list[float] = []
    completes: list[float] = []
    with app.app_context():
        ids = dict(db.session.execute(select(User.username, User.id)).all())
        db.session.remove()
        started = time.perf_counter()
        for _ in range(cases):
            users = {name: db.session.get(User, ids[name]) for name in GROUP_USERS.values()}
            by_group = {group: users[name] for group, name in GROUP_USERS.items()}
            case = transaction.run(case_service.start_case, users["window1"], plan.key, APPLICANT, plan.start_data)
            pending = case_service.open_tasks(case)
            while pending:
                task = pending[0]
                user = by_group[task.group_codes[0]] if task.group_codes else users["window1"]
                t0 = time.perf_counter()
                transaction.run(task_service.claim, user, task.id)
                t1 = time.perf_counter()
                case = transaction.run(task_service.complete, user, task.id, plan.task_data[task.bpmn_id])
                t2 = time.perf_counter()
                claims.append(t1 - t0)
                completes.append(t2 - t1)
                pending = case_service.open_tasks(case)
            if case.status != "completed" or case.outcome != plan.outcome:
                raise RuntimeError(f"service: case {case.id} ended {case.status}/{case.outcome}")
            db.session.remove()
        seconds = time.perf_counter() - started
    return seconds, claims, completes


# -- 3. HTTP --------------------------------------------------------------------------------------
WRK_SCRIPT = Path(__file__).with_name("newborn.lua")


def _lua_string(text: str) -> str:
    assert "]==]" not in text
    return "[==[" + text + "]==]"


def wrk_script(base: str, plan: NewbornPlan, directory: Path) -> Path:
    """bench/newborn.lua with a prelude of bearer tokens (one demo user per group) and request bodies."""
    client = HttpClient(base)
    tokens = {}
    try:
        for group, name in {"": "window1", **GROUP_USERS}.items():
            status, body, _ = client.request("POST", "/api/v1/auth/token", {"username": name, "password": PASSWORD})
            if status != 200:
                raise RuntimeError(f"http: no token for {name}: {status} {body}")
            tokens[group] = body["token"]
    finally:
        client.close()
    start = {"process_key": plan.key, "applicant": APPLICANT, "data": plan.start_data}
    prelude = [
        f"START_BODY = {_lua_string(json.dumps(start))}",
        f"OUTCOME = {_lua_string(plan.outcome)}",
        "TOKENS = {" + ", ".join(f"[ {_lua_string(g)} ] = {_lua_string(t)}" for g, t in tokens.items()) + "}",
        "TASK_BODIES = {" + ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(json.dumps({'data': v}))}"
                                      for k, v in plan.task_data.items()) + "}",
    ]
    path = directory / "newborn-run.lua"
    path.write_text("\n".join(prelude) + "\n" + WRK_SCRIPT.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def run_wrk(base: str, script: Path, connections: int, seconds: float) -> dict:
    """``wrk -t N -c N``: N connections, each walking whole cases; parse the script's RESULT line."""
    done = subprocess.run(
        ["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
         "-s", str(script), base],
        capture_output=True, text=True, timeout=seconds + 120, check=False,
    )
    result = None
    last_error = None
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = {k: float(v) for k, v in (item.split("=") for item in line.split()[1:])}
        elif line.startswith("LAST_ERROR "):
            last_error = line[len("LAST_ERROR "):]
    if done.returncode != 0 or result is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-1000:]} {done.stdout[-1000:]}")
    result["last_error"] = last_error
    return result


def completed_cases(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM cases WHERE status = 'completed'"))
    finally:
        engine.dispose()


def run_http(url: str, database: str, plan: NewbornPlan, connections: int, workers: int, seconds: float,
             runs: int, engine: EngineRuns) -> dict:
    """gunicorn on ``url`` driven by wrk: a 5-second warm-up, then ``runs`` rounds of an engine run
    and a wrk run of ``seconds`` each (the server idles during the engine run). The row holds all
    wrk runs pooled and their ratio to the engine runs of these rounds, pooled; every run is listed
    with the ratio to the engine run just before it."""
    app = make_app(url)
    prepare_database(app, plan)
    results = []
    with gunicorn(url, workers=workers) as base, tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = wrk_script(base, plan, Path(tmp))
        warm = run_wrk(base, script, connections, 5)  # every worker compiles the spec once
        for _ in range(max(1, runs)):
            engine_rate = engine.measure()
            before = completed_cases(url)
            result = run_wrk(base, script, connections, seconds)
            result["stored"] = completed_cases(url) - before
            result["engine"] = engine.runs[-1][:2]
            result["paired_ratio"] = round(result["cases"] / result["seconds"] / engine_rate, 2)
            results.append(result)
    errors = int(sum(r["errors"] + r["socket_errors"] for r in [warm, *results]))
    if errors:
        last = next((r["last_error"] for r in [*results, warm] if r["last_error"]), None)
        print(f"http/{database}: {errors} error(s), last: {last}", file=sys.stderr)
    best = max(results, key=lambda r: r["cases"] / r["seconds"])
    http_cases, http_seconds = sum(r["cases"] for r in results), sum(r["seconds"] for r in results)
    engine_cases, engine_seconds = sum(r["engine"][0] for r in results), sum(r["engine"][1] for r in results)
    return _row(
        "http",
        database,
        int(http_cases),
        http_seconds,
        failed_cases=errors,
        request_p50_ms=round(percentile([r["p50_ms"] for r in results], 50), 1),
        request_p95_ms=round(max(r["p95_ms"] for r in results), 1),
        requests=int(sum(r["requests"] for r in results)),
        completed_in_database=sum(r["stored"] for r in results),
        runs_cases_per_s=[round(r["cases"] / r["seconds"], 2) for r in results],
        paired_ratios=[r["paired_ratio"] for r in results],
        engine_cases_per_s=round(engine_cases / engine_seconds, 2),
        ratio=round(http_cases / http_seconds / (engine_cases / engine_seconds), 2),
        best_cases_per_s=round(best["cases"] / best["seconds"], 2),
        note=f"all {len(results)} wrk runs pooled; request p50: median of the runs', p95: the highest run's",
        client=f"wrk -t{connections} -c{connections}",
        gunicorn_workers=workers,
    )


# -- profile of the HTTP path --------------------------------------------------------------------
# (label, [(file suffix, function name), ...]): cumulative time of each, summed over the pairs.
BREAKDOWN = [
    ("HTTP requests (Flask wsgi_app)", [("flask/app.py", "wsgi_app")]),
    ("  bearer-token auth (before_request)", [("app/auth/__init__.py", "_load_token_user")]),
    ("  unit of work (app.transaction.run)", [("app/transaction.py", "run")]),
    ("    load task + lock case rows", [("app/services/tasks.py", "_get"), ("app/services/cases.py", "lock_case")]),
    ("    engine: restore state (Engine.load)", [("app/engine/runtime.py", "load")]),
    (
        "    engine: run (start, complete_user_task)",
        [("app/engine/runtime.py", "start"), ("app/engine/runtime.py", "complete_user_task")],
    ),
    ("    engine: save state (Engine.dump)", [("app/engine/runtime.py", "dump")]),
    ("    task projection (sync_tasks)", [("app/services/projection.py", "sync_tasks")]),
    ("    form validation", [("app/services/forms.py", "validate")]),
    ("    commit", [("sqlalchemy/orm/session.py", "commit")]),
    ("  response dump (marshmallow)", [("marshmallow/schema.py", "dump")]),
    ("    case history + open tasks", [("app/services/cases.py", "history"), ("app/services/cases.py", "open_tasks")]),
    ("ORM statements (Session.execute, all)", [("sqlalchemy/orm/session.py", "_execute_internal")]),
    ("  selectin relationship loads", [("sqlalchemy/orm/strategies.py", "_load_for_path")]),
    (
        "engine serialisation (dump_state + load_state)",
        [("app/engine/serializer.py", "dump_state"), ("app/engine/serializer.py", "load_state")],
    ),
]


def _breakdown(stats: pstats.Stats) -> list[tuple[str, float]]:
    entries = stats.stats  # {(file, line, func): (cc, nc, tottime, cumtime, callers)}
    result = []
    for label, pairs in BREAKDOWN:
        total = 0.0
        for suffix, func in pairs:
            times = [
                v[3]
                for (file, _, name), v in entries.items()
                if name == func and file.replace("\\", "/").endswith(suffix)
            ]
            total += max(times, default=0.0)
        result.append((label, total))
    return result


def profile_http_path(plan: NewbornPlan, cases: int, path: Path) -> str:
    """cProfile the request path in-process (Flask test client, SQLite): routes + services + engine."""
    from sqlalchemy import event

    from app.extensions import db

    statements: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        app = make_app(sqlite_url(tmp))
        prepare_database(app, plan)
        client = app.test_client()
        tokens = {}
        for name in GROUP_USERS.values():
            r = client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
            tokens[name] = r.get_json()["token"]

        def hdr(name):
            return {"Authorization": f"Bearer {tokens[name]}"}

        requests = [0]

        def post(url, user, body=None):
            requests[0] += 1
            return client.post(url, headers=hdr(user), json=body)

        def one_case():
            r = post(
                "/api/v1/cases", "window1", {"process_key": plan.key, "applicant": APPLICANT, "data": plan.start_data}
            )
            case = r.get_json()
            while pending := [t for t in case["tasks"] if t["state"] == "open"]:
                task = pending[0]
                user = GROUP_USERS[task["groups"][0]] if task["groups"] else "window1"
                assert post(f"/api/v1/tasks/{task['id']}/claim", user).status_code == 200
                r = post(f"/api/v1/tasks/{task['id']}/complete", user, {"data": plan.task_data[task["bpmn_id"]]})
                assert r.status_code == 200, r.get_json()
                case = r.get_json()

        one_case()  # warm the caches
        with app.app_context():
            engine = db.engine

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        requests[0] = 0
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(cases):
            one_case()
        profiler.disable()
        seconds = time.perf_counter() - started
        event.remove(engine, "before_cursor_execute", count)
        engine.dispose()

    stats = pstats.Stats(profiler)
    breakdown = _breakdown(stats)
    whole = breakdown[0][1] or 1.0
    n = requests[0]
    files = sum(1 for s in statements if "FROM process_files" in s)
    out = io.StringIO()
    out.write(
        f"cProfile of the HTTP request path in-process (Flask test client, SQLite): {cases} cases, "
        f"{n} requests in {seconds:.2f} s under the profiler\n\n"
    )
    out.write("== where the request time goes (cumulative; nested rows are part of the row above) ==\n")
    for label, value in breakdown:
        out.write(f"{label:<52} {value:7.2f} s  {100 * value / whole:5.1f} %  {1000 * value / n:6.2f} ms/request\n")
    out.write(
        f"\nSQL statements: {len(statements)} ({len(statements) / n:.1f} per request); "
        f"{files} of them load process_files ({files / n:.1f} per request)\n"
    )
    out.write("\n== top 15 by cumulative time ==\n")
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(15)
    out.write("\n== top 25 by own time ==\n")
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    text = out.getvalue()
    path.write_text(text, encoding="utf-8")
    return text


# -- the table ----------------------------------------------------------------------------------
COLUMNS = [
    ("mode", "mode"),
    ("database", "database"),
    ("cases", "cases"),
    ("seconds", "seconds"),
    ("cases/s", "cases_per_s"),
    ("claim p50 ms", "claim_p50_ms"),
    ("claim p95 ms", "claim_p95_ms"),
    ("complete p50 ms", "complete_p50_ms"),
    ("complete p95 ms", "complete_p95_ms"),
    ("request p50 ms", "request_p50_ms"),
    ("request p95 ms", "request_p95_ms"),
]


def format_table(rows: list[dict]) -> str:
    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.2f}" if value < 1000 else f"{value:.0f}"
        return str(value)

    cells = [[cell(r.get(key)) for _, key in COLUMNS] for r in rows]
    widths = [max(len(title), *(len(c[i]) for c in cells)) for i, (title, _) in enumerate(COLUMNS)]
    numeric = [i >= 2 for i in range(len(COLUMNS))]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True))

    header = line([title for title, _ in COLUMNS])
    return "\n".join([header, "-" * len(header), *(line(c) for c in cells)])


def _load() -> str:
    """The 1/5/15-minute load average: other processes on the machine skew every number here."""
    try:
        return "/".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.newborn", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200,
                        help="the service-layer run takes half of these (default 200)")
    parser.add_argument(
        "--service-cases", type=int, default=None, help="cases of the service-layer run (default: --cases / 2)"
    )
    parser.add_argument(
        "--engine-seconds", type=float, default=None,
        help="length of each engine run, one before every wrk run (default: --http-seconds)",
    )
    parser.add_argument("--connections", type=int, default=4,
                        help="wrk connections, one case at a time each (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--http-seconds",
        type=float,
        default=20,
        help="length of each wrk run (default 20)",
    )
    parser.add_argument("--http-runs", type=int, default=5,
                        help="wrk runs per database, each after an engine run; all of them pooled (default 5)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL HTTP run")
    parser.add_argument("--profile-cases", type=int, default=20,
                        help="cases to profile when the ratio is low (0: none)")
    args = parser.parse_args(argv)
    service_cases = args.service_cases or max(1, args.cases // 2)
    OUT.mkdir(exist_ok=True)
    total_started = time.perf_counter()

    plan = NewbornPlan()
    rows = []

    print(
        f"newborn bundle, happy path with maternity allowance ({len(plan.task_data)} user tasks in the "
        f"diagram, 8 per case); python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {_load()}",
        flush=True,
    )
    load_before = _load()

    engine = EngineRuns(plan, args.engine_seconds or args.http_seconds)
    run_engine(plan, 2)  # warm-up: imports, the sandbox, the first compiled expressions

    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        app = make_app(sqlite_url(tmp))
        prepare_database(app, plan)
        seconds, claims, completes = run_service(app, plan, service_cases)
        rows.append(_row("service", "sqlite", service_cases, seconds, claims, completes))
    print(f"  service done: {rows[-1]['cases_per_s']} cases/s", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        rows.append(
            run_http(sqlite_url(tmp), "sqlite", plan, args.connections, args.workers, args.http_seconds,
                     args.http_runs, engine)
        )
    print(f"  http/sqlite done: {rows[-1]['cases_per_s']} cases/s (runs {rows[-1]['runs_cases_per_s']}; "
          f"engine runs so far {[round(c / s, 2) for c, s, _ in engine.runs]})", flush=True)

    if not args.no_postgres:
        with postgres() as url:
            if url:
                rows.append(
                    run_http(url, "postgresql", plan, args.connections, args.workers, args.http_seconds,
                             args.http_runs, engine)
                )
                print(f"  http/postgresql done: {rows[-1]['cases_per_s']} cases/s "
                      f"(runs {rows[-1]['runs_cases_per_s']})", flush=True)

    engine_row = engine.row()
    rows.insert(0, engine_row)

    table = format_table(rows)
    ratios = {r["database"]: r["ratio"] for r in rows if r["mode"] == "http"}
    print()
    print(table)
    print()
    print(f"engine runs (cases/s): {engine_row['runs_cases_per_s']}")
    for r in (r for r in rows if r["mode"] == "http"):
        print(
            f"ratio http/{r['database']} : engine = {r['ratio']:.2f}  (wrk {r['cases_per_s']} cases/s over all "
            f"{len(r['runs_cases_per_s'])} runs / engine {r['engine_cases_per_s']} cases/s over the runs interleaved "
            f"with them; wrk, {args.connections} connections, {args.workers} gunicorn workers vs 1 core in-process)\n"
            f"    wrk runs {r['runs_cases_per_s']}, each / the engine run just before it: {r['paired_ratios']}; "
            f"best wrk run / best engine run of the whole benchmark: "
            f"{r['best_cases_per_s'] / engine_row['best_cases_per_s']:.2f}"
        )

    report = {
        "bundle": plan.key,
        "table": rows,
        "table_text": table,
        "ratios": ratios,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": _load(),
    }
    if ratios and min(ratios.values()) < RATIO_THRESHOLD and args.profile_cases > 0:
        print(f"\nratio below {RATIO_THRESHOLD}: profiling the HTTP path ({args.profile_cases} cases) ...")
        text = profile_http_path(plan, args.profile_cases, OUT / "profile.txt")
        print(text.split("\n== top 25 by own time ==")[0].rstrip())
        print(f"(full profile, also by own time: {OUT / 'profile.txt'})")
        report["profile"] = str(OUT / "profile.txt")
    report["total_seconds"] = round(time.perf_counter() - total_started, 1)
    (OUT / "newborn.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nwritten {OUT / 'newborn.json'} (total {report['total_seconds']} s)")
    failed = sum(r.get("failed_cases", 0) for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
