"""Command-line tools: ``flask demo seed``, ``flask bpmn validate|deploy|diff`` (and the older
``flask processes deploy``), ``flask worker``."""

from __future__ import annotations

import inspect
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from . import transaction
from .errors import AppError, InvalidDiagram
from .services import demo, designer, processes

demo_cli = AppGroup("demo", help="Demo organisation and users.")
processes_cli = AppGroup("processes", help="Deploy BPMN diagrams (same as `flask bpmn deploy`).")
bpmn_cli = AppGroup("bpmn", help="Validate, deploy and compare BPMN diagrams.")
FORMS_OPTION = click.option(
    "--forms", "forms_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("forms"),
    show_default=True, help="Folder with the JSON Schema forms the diagrams reference.")
PATHS_ARGUMENT = click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))


@demo_cli.command("seed")
def seed_command():
    """Create the demo departments, groups and users (idempotent)."""
    created = transaction.run(demo.seed)
    click.echo(f"demo seed: {created} new records")


@demo_cli.command("generate")
@click.option("--cases", "case_count", default=60, show_default=True, type=click.IntRange(1, 100000))
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650))
@click.option("--seed", default=2025, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="Do nothing when there are cases already (make run).")
def generate_command(case_count, days, seed, if_empty):
    """Make demo history through the real services (cases, 12345 orders, reviews) for the dashboard."""
    from .services import demo_data

    if if_empty and demo_data.has_history():
        click.echo("demo history: the database has cases already, nothing generated")
        return
    made = demo_data.generate(case_count, days, seed)
    click.echo("demo history: " + ", ".join(f"{k} {v}" for k, v in made.items()))


def _bundles(paths, forms_dir: Path):
    """Yield (diagram path, uploads): each .bpmn (or every one in a folder) with the forms it names."""
    files = []
    for path in paths or (Path("bpmn"),):
        files.extend(sorted(path.glob("*.bpmn")) if path.is_dir() else [path])
    forms = sorted(forms_dir.glob("*.json")) if forms_dir.is_dir() else []
    for bpmn in files:
        content = bpmn.read_bytes()
        yield bpmn, [(bpmn.name, content)] + [(f.name, f.read_bytes()) for f in forms if f.name.encode() in content]


def _deploy(paths, forms_dir: Path) -> None:
    failed = False
    for bpmn, uploads in _bundles(paths, forms_dir):
        try:
            result = transaction.run(processes.deploy, demo.system_user(), uploads)
        except InvalidDiagram as exc:
            failed = True
            transaction.run(processes.record_refusal, demo.system_user(), uploads, exc.errors)
            click.echo(f"{bpmn}: refused: {exc.message}", err=True)
            for finding in exc.errors or []:
                click.echo(f"  {_finding_text(finding)}", err=True)
            continue
        state = "deployed as" if result.created else "unchanged,"
        click.echo(f"{bpmn}: {state} {result.version.key} v{result.version.version}")
    if failed:
        raise SystemExit(1)


@bpmn_cli.command("deploy")
@PATHS_ARGUMENT
@FORMS_OPTION
def bpmn_deploy_command(paths, forms_dir):
    """Deploy each .bpmn file (or every one in a folder, default bpmn/) with the forms it references."""
    _deploy(paths, forms_dir)


@processes_cli.command("deploy")
@PATHS_ARGUMENT
@FORMS_OPTION
def deploy_command(paths, forms_dir):
    """Deploy each .bpmn file (or every one in a folder); the same as `flask bpmn deploy`."""
    _deploy(paths, forms_dir)


def _as_dict(finding) -> dict:
    if isinstance(finding, dict):
        return finding
    if hasattr(finding, "as_dict"):
        return finding.as_dict()
    return {"message": str(finding)}


def _finding_text(finding) -> str:
    """``file:line element: [severity] message`` for whatever is known of a finding."""
    finding = _as_dict(finding)
    where = ":".join(str(finding[k]) for k in ("file", "line") if finding.get(k) not in (None, ""))
    if finding.get("element"):
        where = f"{where} {finding['element']}" if where else str(finding["element"])
    severity = finding.get("severity")
    text = f"[{severity}] {finding.get('message')}" if severity else str(finding.get("message"))
    return f"{where}: {text}" if where else text


def _validate(uploads) -> list[dict]:
    """Findings for one bundle: the full validation report when the service has it, else a compile."""
    validate = getattr(processes, "validate", None)
    if validate is None:
        return designer.check_files(uploads)
    args: tuple = (uploads,)
    if list(inspect.signature(validate).parameters)[:1] == ["user"]:
        user = demo.system_user()
        if user is None:
            raise click.ClickException("no admin account to validate as: run `flask demo seed` first")
        args = (user, uploads)
    try:
        report = validate(*args)
    except InvalidDiagram as exc:
        return [_as_dict(f) for f in exc.errors or [{"message": exc.message}]]
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    if isinstance(report, dict):
        findings = report.get("findings", report.get("errors", []))
    elif isinstance(report, list | tuple):
        findings = report
    else:
        findings = getattr(report, "findings", None) or []
    return [_as_dict(f) for f in findings]


@bpmn_cli.command("validate")
@PATHS_ARGUMENT
@FORMS_OPTION
def bpmn_validate_command(paths, forms_dir):
    """Check each .bpmn file (or every one in a folder) and its forms without deploying; exit 1 on errors."""
    if getattr(processes, "validate", None) is None:
        click.echo("note: engine and form checks only; groups are checked again at deploy")
    failed = False
    for bpmn, uploads in _bundles(paths, forms_dir):
        findings = _validate(uploads)
        errors = [f for f in findings if f.get("severity", "error") == "error"]
        failed = failed or bool(errors)
        click.echo(f"{bpmn}: {'refused' if errors else 'ok'}"
                   + (f" ({len(errors)} error(s), {len(findings) - len(errors)} warning(s))" if findings else ""),
                   err=bool(errors))
        for finding in findings:
            click.echo(f"  {_finding_text(finding)}", err=bool(errors))
    if failed:
        raise SystemExit(1)


@bpmn_cli.command("diff")
@click.argument("key")
@click.argument("v1", type=click.IntRange(min=1))
@click.argument("v2", type=click.IntRange(min=1))
def bpmn_diff_command(key, v1, v2):
    """Print what changed from version V1 to version V2 of process KEY."""
    try:
        result = designer.diff(key, v1, v2)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{key}: version {v1} -> version {v2}")
    for line in result.diff.summary_lines():
        click.echo(line)


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Do what is due now and exit.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls.")
def worker_command(once, interval):
    """Fire due BPMN timers and announce time-limit warnings (run one or more beside gunicorn).

    Several workers may share a PostgreSQL database (SKIP LOCKED); use one with SQLite. Each
    writes a heartbeat (``/healthz/worker``). SIGTERM or Ctrl-C stops it after the transaction at
    hand; a lost database is reported and tried again at the next poll.
    """
    import signal
    import time

    from .models.types import utcnow
    from .services import workers

    name, started_at = workers.worker_name(), utcnow()
    stopping: list[int] = []
    previous = {}
    if not once:
        def _stop(signum, frame):
            stopping.append(signum)

        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    heart = _Heartbeat(name, started_at, every=max(1.0, current_app.config["WORKER_STALE_SECONDS"] / 4))
    try:
        while not stopping:
            error = _worker_pass(heart, stopping)
            heart.beat(finished_pass=True, error=error)
            if once:
                return
            deadline = time.monotonic() + interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
        _quietly(workers.stop, name)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Heartbeat:
    """A worker's heartbeats: after every pass, and every ``every`` seconds within a long one."""

    def __init__(self, name, started_at, every: float):
        import time

        self.name, self.started_at, self.every = name, started_at, every
        self.fired = 0  # timers fired since the last heartbeat that was stored
        self._last = time.monotonic()

    def fired_one(self, count: int) -> None:
        import time

        self.fired += count
        if time.monotonic() - self._last >= self.every:
            self.beat(finished_pass=False)

    def beat(self, *, finished_pass: bool, error: str | None = None) -> None:
        import time

        from .services import workers

        if _quietly(workers.beat, self.name, self.started_at, finished_pass=finished_pass, fired=self.fired,
                    error=error):
            self.fired = 0
        self._last = time.monotonic()


def _quietly(fn, *args, **kwargs) -> bool:
    """Run ``fn`` in a transaction; a database that is away is reported, not raised."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        transaction.run(fn, *args, **kwargs)
        return True
    except SQLAlchemyError as exc:
        click.echo(f"worker: database not available ({exc.__class__.__name__})", err=True)
        return False


def _worker_pass(heart: _Heartbeat, stopping: list) -> str | None:
    """One pass over what is due; returns what went wrong (None: nothing)."""
    from sqlalchemy.exc import SQLAlchemyError

    from .services import evaluation, timers

    problems = []
    try:
        fired, seen = 0, set()  # each case at most once per pass, even if it stays due
        while not stopping:
            try:
                case_id, names = transaction.run(timers.fire_next_due, exclude=seen)
            except timers.TimerFailed as exc:  # keep the worker alive; skip that case this pass
                seen.add(exc.case_id)
                click.echo(str(exc), err=True)
                problems.append(str(exc))
                continue
            if case_id is None:
                break
            seen.add(case_id)
            fired += len(names)
            heart.fired_one(len(names))
        timeouts, seen = 0, set()
        while not stopping:
            try:
                task_id = transaction.run(timers.apply_next_timeout, exclude=seen)
            except SQLAlchemyError:
                raise
            except Exception as exc:  # one broken task must not stop the worker
                click.echo(f"timeout policy: {exc}", err=True)
                problems.append(f"timeout policy: {exc}")
                break
            if task_id is None:
                break
            seen.add(task_id)
            timeouts += 1
            heart.fired_one(0)
        if stopping:
            return "; ".join(problems) or None
        warnings = transaction.run(timers.announce_warnings)
        try:  # this week's post-approval evaluation sample, once (a unique week settles races)
            sample = transaction.run(evaluation.ensure_weekly)
        except Exception as exc:  # e.g. another worker drew it a moment ago
            sample = None
            click.echo(f"evaluation sample: {exc.__class__.__name__}", err=True)
        if sample is not None:
            click.echo(f"drew evaluation sample of week {sample.week_start}: {len(sample.case_ids)} case(s)")
        if fired:
            click.echo(f"fired {fired} timer(s)")
        if warnings:
            click.echo(f"announced {len(warnings)} warning(s)")
        if timeouts:
            click.echo(f"checked {timeouts} overdue task(s)")
    except SQLAlchemyError as exc:  # the database went away (restart, failover): try again next poll
        click.echo(f"worker: database not available ({exc.__class__.__name__}); retrying", err=True)
        problems.append(f"database not available ({exc.__class__.__name__})")
    return "; ".join(problems) or None


calendar_cli = AppGroup("calendar", help="The working-day calendar.")
catalogue_cli = AppGroup("catalogue", help="The service catalogue (办事指南).")


@catalogue_cli.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("catalogue"))
def catalogue_import_command(directory):
    """Import catalogue/*.toml (a changed entry becomes a new revision)."""
    from .services import catalogue

    try:
        results = transaction.run(catalogue.import_dir, demo.system_user(), directory)
    except AppError as exc:
        for name, problems in (exc.errors or {}).items():
            for problem in problems:
                click.echo(f"{name}: {problem}", err=True)
        raise click.ClickException(exc.message) from None
    for entry, created in results:
        click.echo(f"{entry.key}: {'revision' if created else 'unchanged,'} {entry.revision}")


@calendar_cli.command("recompute")
def calendar_recompute_command():
    """Recompute the due dates of every running case (after a new holiday schedule was installed)."""
    from .services import case_clock

    count = transaction.run(case_clock.recompute_open_cases, reason={"reason": "recompute"})
    click.echo(f"recomputed {count} running case(s)")


@click.command("backup")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path):
    """Write a consistent copy of the database to PATH while the application runs (SQLite: the
    online backup API; PostgreSQL: pg_dump --format=custom, restore with pg_restore)."""
    from .services import backup

    try:
        kind = backup.create(path)
    except AppError as exc:
        for problems in (exc.errors or {}).values():
            for problem in problems:
                click.echo(problem, err=True)
        raise click.ClickException(exc.message) from None
    click.echo(f"backup written to {path} ({kind})")


kpis_cli = AppGroup("kpis", help="The KPI dashboard's daily rollups.")


@kpis_cli.command("rebuild")
def kpis_rebuild_command():
    """Recompute the daily KPI rollups from the cases and tasks (after a restore, or a bulk import
    that bypassed the services). Safe while the application runs."""
    from .extensions import db
    from .services import kpi_rollups

    days, group_days, task_days = transaction.run(kpi_rollups.rebuild, db.session)
    click.echo(f"kpi_case_days: {days} row(s), kpi_group_case_days: {group_days} row(s), "
               f"kpi_task_days: {task_days} row(s)")


tokens_cli = AppGroup("tokens", help="API tokens for other systems (e.g. the 12345 hotline system).")
hotline_cli = AppGroup("hotline", help="The 12345 hotline.")
users_cli = AppGroup("users", help="User accounts.")


@users_cli.command("set-password")
@click.argument("username")
@click.password_option(help="The new password (asked twice when not given).")
def users_set_password_command(username, password):
    """Set a user's password; it must meet the password policy. Also lifts a login lock-out."""
    from sqlalchemy import select

    from .extensions import db
    from .models import User
    from .services import org

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    try:
        transaction.run(org.set_password, user, password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password of {username} changed")


@tokens_cli.command("create")
@click.option("--user", "username", required=True, help="The account the system acts as (e.g. hotline1).")
@click.option("--name", required=True, help="A label for the token, e.g. 12345-system.")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650), help="Days until it expires.")
@click.option("--scope", "scopes", multiple=True, help="Limit the token to these API areas (e.g. work-orders).")
def tokens_create_command(username, name, days, scopes):
    """Print a new API token (shown once; only its SHA-256 is stored)."""
    from sqlalchemy import select

    from .extensions import db
    from .models import User
    from .services import org

    user = db.session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        raise click.ClickException(f"no active user {username!r}")
    try:
        raw, token = transaction.run(org.issue_token, user, name, days, list(scopes) or None)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(raw)
    click.echo(f"token {name!r} for {username}, expires {token.expires_at:%Y-%m-%d}", err=True)


@hotline_cli.command("knowledge")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                default=Path("hotline/knowledge.toml"))
def hotline_knowledge_command(path):
    """Load the knowledge base (知识库) articles of a TOML file, updating them by key."""
    from .services import work_orders

    changed = transaction.run(work_orders.load_knowledge, path)
    click.echo(f"knowledge base: {changed} article(s) added or updated")


evaluation_cli = AppGroup("evaluation", help="Post-approval evaluation (行政审批行为后评价).")


@evaluation_cli.command("sample")
@click.option("--week", "week", default=None, help="Monday of the week (YYYY-MM-DD); default: this week.")
@click.option("--seed", type=int, default=None, help="Random seed (default: a new one, stored).")
@click.option("--size", type=click.IntRange(1, 200), default=None, help="Cases to draw.")
def evaluation_sample_command(week, seed, size):
    """Draw a week's sample and start an evaluation for each case drawn."""
    from datetime import date

    from . import clock
    from .services import calendar, evaluation

    start = date.fromisoformat(week) if week else evaluation.week_of(calendar.local_date(clock.now()))
    try:
        sample = transaction.run(evaluation.draw, demo.system_user(), start, seed, size)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"week {sample.week_start}: seed {sample.seed}, {len(sample.case_ids)} of "
               f"{sample.population_count} case(s): {sample.case_ids}")


def init_cli(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(demo_cli)
    app.cli.add_command(processes_cli)
    app.cli.add_command(bpmn_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(calendar_cli)
    app.cli.add_command(catalogue_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(hotline_cli)
    app.cli.add_command(evaluation_cli)
    app.cli.add_command(kpis_cli)
    app.cli.add_command(backup_command)
