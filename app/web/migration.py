"""Move running cases to a newer version (designers): preview with reasons, then move a selection or all.

Plain forms, no script needed. A POST moves at most ``BATCH`` cases (each in its own
transaction) and shows every case's result; more than that continues with one click, carrying
the running totals, so a long run never hits a request timeout and always shows its progress.
"""

from __future__ import annotations

import re
from functools import wraps

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..errors import InvalidInput
from ..services import migration, permissions
from . import params

bp = Blueprint("web_migration", __name__)

BATCH = 100
STATUS_LABELS = {"moved": _l("Moved"), "refused": _l("Not moved"), "failed": _l("Failed")}
_PAIR = re.compile(r"^\s*([^=:>\s]+)\s*(?:=|:|->|→)\s*([^=:>\s]+)\s*$")


def _user():
    return current_user._get_current_object()


def designers_only(view):
    """Logged-in designers and admins; others get the 403 page."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        permissions.require_role(_user(), permissions.DEPLOY, "move cases to another process version")
        return view(*args, **kwargs)

    return login_required(wrapped)


@bp.app_template_global()
def migration_url(key: str, from_version: int | None = None, to_version: int | None = None) -> str:
    """The move page of a process (for links from the process library)."""
    return url_for("web_migration.page", key=key, **{"from": from_version, "to": to_version})


def parse_mapping(text: str | None) -> dict[str, str]:
    """``old=new`` pairs, one per line or separated by commas (``:``, ``->`` and ``→`` work too)."""
    mapping = {}
    for chunk in re.split(r"[,\n;，；]", text or ""):
        if not chunk.strip():
            continue
        match = _PAIR.match(chunk)
        if match is None:
            raise InvalidInput(_("Write each mapping as old_id=new_id."), {"mapping": [chunk.strip()]})
        mapping[match.group(1)] = match.group(2)
    return mapping


def mapping_text(mapping: dict[str, str]) -> str:
    """The mapping as the form shows it."""
    return "\n".join(f"{old}={new}" for old, new in mapping.items())


def _int(value) -> int | None:
    return params.integer(value)


def _choose(key: str, source) -> tuple[list[int], int | None, int | None]:
    numbers = migration.version_numbers(key)
    to_version = _int(source.get("to")) or numbers[-1]
    from_version = _int(source.get("from")) or next((n for n in reversed(numbers) if n < to_version), None)
    if to_version not in numbers or (from_version is not None and from_version not in numbers):
        abort(404)
    return numbers, from_version, to_version


def _render(key, numbers, from_version, to_version, mapping, results=None, totals=None, remaining=(), status=200):
    rows, mapping_error = [], None
    if from_version is not None and from_version < to_version:
        try:
            rows = migration.preview(key, from_version, to_version, mapping)
        except InvalidInput as exc:
            mapping_error = exc.message
    page = render_template(
        "web/migration.html", key=key, numbers=numbers, from_version=from_version, to_version=to_version,
        mapping=mapping_text(mapping), rows=rows, eligible=sum(r.eligible for r in rows), results=results,
        totals=totals, remaining=list(remaining), status_labels=STATUS_LABELS, mapping_error=mapping_error)
    return page, status


@bp.get("/designer/<key>/migrate")
@designers_only
def page(key: str):
    """The running cases of the old version, whether each can move to the new one, and why not."""
    numbers, from_version, to_version = _choose(key, request.args)
    try:
        mapping = parse_mapping(request.args.get("mapping"))
    except InvalidInput as exc:
        flash(exc.message, "error")
        mapping = {}
    return _render(key, numbers, from_version, to_version, mapping)


@bp.post("/designer/<key>/migrate")
@designers_only
def run(key: str):
    """Move the selected cases (``action=selected``), all eligible ones (``all``) or the rest of a run."""
    numbers, from_version, to_version = _choose(key, request.form)
    if from_version is None:
        abort(400)
    try:
        mapping = parse_mapping(request.form.get("mapping"))
    except InvalidInput as exc:
        flash(exc.message, "error")
        return _render(key, numbers, from_version, to_version, {}, status=422)
    action = request.form.get("action")
    if action == "all":
        ids = [r.case_id for r in migration.preview(key, from_version, to_version, mapping) if r.eligible]
    elif action in ("selected", "continue"):
        ids = [i for i in (_int(v) for v in request.form.getlist("case_id")) if i]
    else:
        abort(400)
    if not ids:
        flash(_("Select at least one case to move."), "error")
        return _render(key, numbers, from_version, to_version, mapping, status=422)

    batch, remaining = ids[:BATCH], ids[BATCH:]
    # Not in transaction.run: the service commits each case on its own.
    results = migration.migrate_all(_user(), key, from_version, to_version, mapping, batch)
    totals = {status: _int(request.form.get(f"done_{status}")) or 0 for status in STATUS_LABELS}
    for result in results:
        totals[result.status] += 1
    totals["total"] = (_int(request.form.get("total")) or len(ids)) if action == "continue" else len(ids)
    totals["done"] = sum(totals[s] for s in STATUS_LABELS)
    return _render(key, numbers, from_version, to_version, mapping, results, totals, remaining)
