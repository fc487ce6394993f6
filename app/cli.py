"""Command-line tools: ``flask demo seed``, ``flask processes deploy``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from . import transaction
from .errors import InvalidDiagram
from .services import demo, processes

demo_cli = AppGroup("demo", help="Demo organisation and users.")
processes_cli = AppGroup("processes", help="Deploy BPMN diagrams.")


@demo_cli.command("seed")
def seed_command():
    """Create the demo departments, groups and users (idempotent)."""
    created = transaction.run(demo.seed)
    click.echo(f"demo seed: {created} new records")


@processes_cli.command("deploy")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--forms", "forms_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("forms"),
              show_default=True, help="Folder with the JSON Schema forms the diagrams reference.")
def deploy_command(paths, forms_dir):
    """Deploy each .bpmn file (or every one in a folder) with the forms it references."""
    files = []
    for path in paths or (Path("bpmn"),):
        files.extend(sorted(path.glob("*.bpmn")) if path.is_dir() else [path])
    failed = False
    for bpmn in files:
        uploads = [(bpmn.name, bpmn.read_bytes())]
        uploads += [(f.name, f.read_bytes()) for f in sorted(forms_dir.glob("*.json"))
                    if f.name.encode() in uploads[0][1]]
        try:
            result = transaction.run(processes.deploy, demo.system_user(), uploads)
        except InvalidDiagram as exc:
            failed = True
            click.echo(f"{bpmn}: refused: {exc.message}", err=True)
            for finding in exc.errors or []:
                click.echo(f"  {finding}", err=True)
            continue
        state = "deployed as" if result.created else "unchanged,"
        click.echo(f"{bpmn}: {state} {result.version.key} v{result.version.version}")
    if failed:
        raise SystemExit(1)


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Fire what is due now and exit.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls.")
def worker_command(once, interval):
    """Fire due BPMN timers (run one or more beside gunicorn)."""
    import time

    from .services import timers

    while True:
        fired = 0
        for case_id in timers.due_case_ids():
            try:
                fired += len(transaction.run(timers.fire_case_timers, case_id))
            except Exception as exc:  # keep the worker alive; the error is logged per case
                click.echo(f"case {case_id}: {exc}", err=True)
        if fired:
            click.echo(f"fired {fired} timer(s)")
        if once:
            return
        time.sleep(interval)


def init_cli(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(demo_cli)
    app.cli.add_command(processes_cli)
    app.cli.add_command(worker_command)
