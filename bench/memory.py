"""Memory per gunicorn worker (issue 9): RSS after 5,000 and after 10,000 whole newborn cases.
Target: less than 10 % growth between the two (no leak; the spec cache and the other caches are bounded).

    python -m bench.memory [--cases 10000] [--connections 4] [--postgres]

gunicorn (2 sync workers, no ``max_requests`` recycling) on a fresh SQLite file, or on PostgreSQL
with ``--postgres`` (BENCH_DATABASE_URL or scripts/pg.sh), driven by ``wrk`` with bench/newborn.lua:
every case is started, and each of its 8 tasks claimed and completed, over HTTP (17 requests).
wrk runs in slices; after each the database's count of completed cases is read, and when it passes
a checkpoint (a tenth, half and all of ``--cases``) the workers' memory is read from /proc:
RSS (``VmRSS``) and private memory (``Private_Clean + Private_Dirty`` of ``smaps_rollup``, the part
not shared with the master). Other load on the machine slows this down but does not change it.

Prints one table and writes .bench/memory.json. Takes about 20 minutes for 10,000 cases here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench._util import ROOT, NewbornPlan, gunicorn, make_app, postgres, prepare_database, sqlite_url
from bench.newborn import completed_cases, run_wrk, wrk_script

OUT = ROOT / ".bench"
TARGET_GROWTH = 0.10


def workers_of(master: int) -> list[int]:
    """The worker processes of a gunicorn master (its children)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def memory_kib(pid: int) -> dict:
    """RSS and private (unshared) memory of one process, in KiB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    rollup = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        rollup[name] = int(rest.split()[0])
    return {"rss": int(status["VmRSS"].split()[0]),
            "private": rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)}


def drive(url: str, database: str, cases: int, connections: int) -> dict:
    plan = NewbornPlan()
    prepare_database(make_app(url), plan)
    checkpoints = sorted({max(1, cases // 10), cases // 2, cases})
    samples = []
    errors = 0
    info: dict = {}
    started = time.monotonic()
    with gunicorn(url, workers=2, info=info) as base, tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        script = wrk_script(base, plan, Path(tmp))
        done, rate = 0, 5.0
        for checkpoint in checkpoints:
            while done < checkpoint:
                # Slices short enough to stop near the checkpoint, long enough to keep wrk's start cheap.
                seconds = max(3.0, min(60.0, (checkpoint - done) / max(rate, 0.5)))
                result = run_wrk(base, script, connections, seconds)
                errors += int(result["errors"] + result["socket_errors"])
                if result["last_error"]:
                    print(f"  wrk: {result['last_error']}", file=sys.stderr)
                now_done = completed_cases(url)
                rate = max(0.5, (now_done - done) / result["seconds"])
                done = now_done
            pids = workers_of(info["pid"])
            sample = {"cases": done, "seconds": round(time.monotonic() - started),
                      "workers": {pid: memory_kib(pid) for pid in pids}}
            samples.append(sample)
            rss = ", ".join(f"{m['rss'] / 1024:.1f}" for m in sample["workers"].values())
            print(f"  {database}: {done} cases after {sample['seconds']} s; worker RSS MiB: {rss}", flush=True)
    half, full = samples[-2], samples[-1]
    same = set(half["workers"]) == set(full["workers"])
    growth = {pid: round((full["workers"][pid]["rss"] - m["rss"]) / m["rss"], 4)
              for pid, m in half["workers"].items() if pid in full["workers"]}
    return {"database": database, "samples": samples, "growth": growth, "same_workers": same, "errors": errors}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10000, help="cases in all (default 10000)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args(argv)
    if args.postgres:
        with postgres("approval_bench_memory") as url:
            if url is None:
                print("PostgreSQL is not available", file=sys.stderr)
                return 1
            report = drive(url, "postgresql", args.cases, args.connections)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            report = drive(sqlite_url(tmp), "sqlite", args.cases, args.connections)

    print(f"\nMemory per gunicorn worker, newborn cases over HTTP ({report['database']}), target: growth < "
          f"{TARGET_GROWTH:.0%} between the last two rows")
    pids = sorted({pid for s in report["samples"] for pid in s["workers"]})
    header = f"{'cases':>7} {'seconds':>8}" + "".join(f" {'RSS ' + str(p):>13} {'private':>8}" for p in pids)
    print(header)
    print("-" * len(header))
    for s in report["samples"]:
        cells = "".join(
            f" {s['workers'][p]['rss'] / 1024:>13.1f} {s['workers'][p]['private'] / 1024:>8.1f}"
            if p in s["workers"] else f" {'-':>13} {'-':>8}" for p in pids)
        print(f"{s['cases']:>7} {s['seconds']:>8}{cells}")
    print("(MiB)")
    for pid, g in report["growth"].items():
        verdict = "ok" if g < TARGET_GROWTH else "ABOVE TARGET"
        print(f"worker {pid}: RSS growth {g:+.1%} from {report['samples'][-2]['cases']} to "
              f"{report['samples'][-1]['cases']} cases ({verdict})")
    if not report["same_workers"]:
        print("a worker was replaced between the checkpoints: the comparison is void", file=sys.stderr)
    if report["errors"]:
        print(f"{report['errors']} request error(s)", file=sys.stderr)
    OUT.mkdir(exist_ok=True)
    (OUT / "memory.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"written {OUT / 'memory.json'}")
    return 1 if report["errors"] or not report["same_workers"] else 0


if __name__ == "__main__":
    sys.exit(main())
