"""Move running cases to a newer version of their process: preview, one case, or all in bulk.

The engine (``app.engine.migrate``) decides whether a workflow can move; this module finds the
cases, words the reasons for designers, keeps the human-task rows in step and audits each move.

Every case moves in its own transaction: ``migrate_case`` is one unit of work (run it through
``app.transaction.run``), and ``migrate_all`` runs it once per case, so one refused or failing
case never stops or rolls back the others.

Human tasks after a move: a task the engine keeps (same engine task id; its element is the same
or the designer mapped it) keeps its row, and its claim while the holder may still work on the
task under the new version's routing; otherwise the claim is released (audited as
``task_unclaimed``). The row takes the new element's name, lane, groups and form; a draft typed
for a form that changed is dropped. Tasks the engine no longer has are cancelled and new READY
tasks get new rows (``projection.sync_tasks``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import undefer

from .. import transaction
from ..engine import EngineError, WorkflowRunError
from ..engine import migrate as engine_migrate
from ..errors import AppError, Conflict, InvalidInput, NotFound
from ..extensions import db
from ..models import Case, HumanTask, ProcessDefinition, ProcessVersion, TaskCandidate, User
from ..request_ids import current_request_id
from . import audit, org, permissions
from .cases import lock_case, save_workflow, workflow_error
from .runtime import compiled, engine

log = logging.getLogger(__name__)

MIGRATE = permissions.DEPLOY


def reason_messages() -> dict[str, str]:
    """The designer's wording of each reason code (msgids are extracted from here)."""
    return {
        "process_mismatch": _("The case runs process %(old)s, not %(new)s."),
        "task_removed": _("The case is waiting at “%(name)s” (%(task)s), which the new version removes. "
                          "Map it to a step of the new version to move the case."),
        "task_replaced": _("The case is waiting at “%(name)s” (%(task)s), which the new version no longer has "
                           "(its place is taken by %(candidate)s). Map %(task)s to the step that replaces it "
                           "to move the case."),
        "routing_changed": _("“%(name)s” (%(task)s) is waiting, and the new version gives it to another lane or "
                             "group. Map %(task)s to %(task)s to accept the change (the claim is released)."),
        "form_changed": _("“%(name)s” (%(task)s) is waiting, and its form %(form)s changes in the new version. "
                          "Map %(task)s to %(task)s to accept the change."),
        "type_changed": _("“%(name)s” (%(task)s) is waiting, and the new version makes it another kind of "
                          "element (%(new_type)s)."),
        "event_changed": _("“%(name)s” (%(task)s) is waiting for an event (such as a timer) that the new "
                           "version changes. Map %(task)s to %(task)s to restart it with the new definition."),
        "task_changed": _("“%(name)s” (%(task)s) is waiting, and the new version changes it in a way that "
                          "matters to waiting cases (%(attributes)s)."),
        "join_changed": _("The case is inside the parallel section that ends at “%(name)s” (%(task)s), whose "
                          "incoming flows change in the new version: it would wait for a branch that never "
                          "comes, or for one that no longer exists."),
        "boundary_added": _("The new version attaches boundary events (such as a timer) to “%(name)s” "
                            "(%(task)s), where the case is waiting. The case can move once it has left this step."),
        "history_removed": _("The case already passed “%(name)s” (%(task)s) and recorded data there, and the new "
                             "version removes that step."),
        "subprocess_removed": _("The case is inside the called process %(process)s, which the new version no "
                                "longer includes."),
        "mapping_unknown_source": _("The mapping names %(task)s, which the old version does not have."),
        "mapping_unknown_target": _("The mapping sends %(task)s to %(target)s, which the new version does not "
                                    "have."),
        "mapping_type_mismatch": _("The mapping sends %(task)s to %(target)s, an element of another kind "
                                   "(%(old_type)s, %(new_type)s)."),
        "migration_failed": _("Moving the case failed when it was tried: %(error)s"),
        "not_active": _("The case is no longer running."),
        "not_on_version": _("The case is no longer on version %(version)s."),
    }


def reason_dict(reason: engine_migrate.Reason) -> dict:
    """A reason as the API returns it: ``{"code", "params", "message"}`` in the request's language."""
    params = {k: "、".join(map(str, v)) if isinstance(v, list | tuple) else v for k, v in reason.params.items()}
    template = reason_messages().get(reason.code)
    try:
        message = template % params if template else reason.code
    except (KeyError, TypeError, ValueError):
        message = reason.code
    return {"code": reason.code, "params": reason.params, "message": message}


def _refusal(code: str, **params) -> Conflict:
    reason = reason_dict(engine_migrate.Reason(code, params))
    return Conflict(reason["message"], [reason], error="not_eligible")


def get_version(key: str, number: int) -> ProcessVersion:
    """Return version ``number`` of process ``key`` or raise NotFound."""
    version = db.session.scalar(
        select(ProcessVersion).join(ProcessDefinition)
        .where(ProcessDefinition.key == key, ProcessVersion.version == number))
    if version is None:
        raise NotFound(f"Process {key!r} has no version {number}.")
    return version


def version_numbers(key: str) -> list[int]:
    """The deployed version numbers of ``key``, oldest first (NotFound if none)."""
    numbers = list(db.session.scalars(
        select(ProcessVersion.version).join(ProcessDefinition).where(ProcessDefinition.key == key)
        .order_by(ProcessVersion.version)))
    if not numbers:
        raise NotFound(f"No process with key {key!r} is deployed.")
    return numbers


def _versions(key: str, from_version: int, to_version: int) -> tuple[ProcessVersion, ProcessVersion]:
    if to_version <= from_version:
        raise InvalidInput("Cases move to a newer version.",
                           {"to": [f"Choose a version after {from_version}."]})
    return get_version(key, from_version), get_version(key, to_version)


def changed_forms(old: ProcessVersion, new: ProcessVersion) -> set[str]:
    """Form files of ``old`` whose content differs in ``new`` (or that ``new`` lacks)."""
    mine = {f.filename: f.sha256 for f in old.files if f.kind == "form"}
    theirs = {f.filename: f.sha256 for f in new.files if f.kind == "form"}
    return {name for name, digest in mine.items() if theirs.get(name) != digest}


def _active_cases(version: ProcessVersion) -> list[Case]:
    return list(db.session.scalars(
        select(Case).where(Case.process_version_id == version.id, Case.status == "active")
        .options(undefer(Case.workflow_state)).order_by(Case.id)))


@dataclass
class PreviewRow:
    """One active case on the old version: can it move, why not, and where it waits."""

    case_id: int
    receipt_no: str
    applicant_name: str
    eligible: bool
    reasons: list[dict] = field(default_factory=list)
    waiting_at: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Return the row as plain data."""
        return {"case_id": self.case_id, "receipt_no": self.receipt_no, "applicant_name": self.applicant_name,
                "eligible": self.eligible, "reasons": self.reasons, "waiting_at": self.waiting_at}


def _check(case: Case, old: ProcessVersion, new: ProcessVersion, mapping, forms) -> engine_migrate.MigrationCheck:
    old_process = compiled(old)
    try:
        workflow = engine().load(old_process, case.workflow_state)
    except EngineError as exc:
        reason = engine_migrate.Reason("migration_failed", {"error": str(exc)})
        return engine_migrate.MigrationCheck(False, (reason,))
    return engine_migrate.check(workflow, old_process, compiled(new), mapping, forms)


def preview(key: str, from_version: int, to_version: int, mapping: dict | None = None) -> list[PreviewRow]:
    """Say for every active case on ``from_version`` whether it can move to ``to_version``, and why not."""
    old, new = _versions(key, from_version, to_version)
    forms = changed_forms(old, new)
    names = {t.bpmn_id: t.name for t in compiled(old).user_tasks}
    rows = []
    for case in _active_cases(old):
        result = _check(case, old, new, mapping, forms)
        # User tasks first; a case with none waits for an event (a timer, a message).
        waiting = [m.bpmn_id for m in result.changes if m.state == "READY"] or \
            [m.bpmn_id for m in result.changes if m.state == "WAITING"]
        waiting = [names.get(bpmn_id, bpmn_id) for bpmn_id in waiting]
        rows.append(PreviewRow(case.id, case.receipt_no, case.applicant_name, result.ok,
                               [reason_dict(r) for r in result.reasons], list(dict.fromkeys(waiting))))
    return rows


def _route(version: ProcessVersion, bpmn_id: str) -> dict:
    return (version.meta.get("user_tasks") or {}).get(bpmn_id, {})


def _carry_tasks(case: Case, ready, new: ProcessVersion, actor: User) -> None:
    """Keep the rows (and, where still allowed, the claims) of tasks the engine kept."""
    by_id = {t.id: t for t in ready}
    rows = db.session.scalars(select(HumanTask).where(
        HumanTask.case_id == case.id, HumanTask.state.in_(("open", "claimed"))))
    for row in rows:
        task = by_id.get(row.engine_task_id)
        if task is None:
            continue  # gone: sync_tasks cancels the row
        route = _route(new, task.bpmn_id)
        groups = list(route.get("groups", []))
        initiator = case.started_by_id if route.get("initiator") else None
        if row.form != task.form:
            row.draft_data = None  # typed for the old form
        if groups != list(row.group_codes or []) or initiator != row.candidate_user_id:
            known = org.groups_by_code(groups)
            row.group_codes = groups
            row.candidate_user_id = initiator
            row.candidates = [TaskCandidate(group_id=known[c].id) for c in groups if c in known]
        row.bpmn_id, row.name, row.documentation = task.bpmn_id, task.name, task.documentation
        row.lane, row.form = task.lane, task.form
        if row.state == "claimed" and row.assignee is not None and not permissions.may_work_on(row.assignee, row):
            row.state, row.assignee_id, row.assignee, row.claimed_at = "open", None, None, None
            audit.record(case, "task_unclaimed", actor, row, data={"reason": "case_migrated"})


@dataclass
class MigrationResult:
    """What became of one case in a bulk run."""

    case_id: int
    receipt_no: str | None
    status: str  # moved | refused | failed
    from_version: int | None = None
    to_version: int | None = None
    error: str | None = None
    message: str | None = None
    reasons: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Return the result as plain data."""
        return {"case_id": self.case_id, "receipt_no": self.receipt_no, "status": self.status,
                "from_version": self.from_version, "to_version": self.to_version, "error": self.error,
                "message": self.message, "reasons": self.reasons}


def migrate_case(user: User, case_id: int, to_version: int, mapping: dict | None = None,
                 from_version: int | None = None) -> Case:
    """Move one case to ``to_version`` in the current transaction; Conflict if it may not move now.

    The case is locked and checked again on its locked state, so a case that changed since the
    preview (a task completed, the case ended, another run moved it) is refused, not half-moved.
    """
    permissions.require_role(user, MIGRATE, "move cases to another process version")
    case = lock_case(case_id)
    if case.status != "active":
        raise _refusal("not_active")
    if from_version is not None and case.version != from_version:
        raise _refusal("not_on_version", version=from_version)
    old = case.process_version
    new = get_version(case.process_key, to_version)
    if new.version <= old.version:
        raise InvalidInput("Cases move to a newer version.", {"to": [f"Choose a version after {old.version}."]})
    mapping = dict(mapping or {})
    forms = changed_forms(old, new)
    old_process, new_process = compiled(old), compiled(new)
    workflow = engine().load(old_process, case.workflow_state)
    result = engine_migrate.check(workflow, old_process, new_process, mapping, forms)
    if not result.ok:
        reasons = [reason_dict(r) for r in result.reasons]
        raise Conflict(reasons[0]["message"], reasons, error="not_eligible")
    try:
        engine_migrate.migrate(workflow, new_process, mapping, forms)
    except WorkflowRunError as exc:
        raise workflow_error(exc) from None

    case.process_version = new
    case.version = new.version
    _carry_tasks(case, engine().ready_user_tasks(workflow), new, user)
    audit.record(case, "case_migrated", user, data={
        "from_version": old.version, "to_version": new.version, "mapping": mapping,
        "tasks": [m.as_dict() for m in result.changes]})
    save_workflow(case, workflow, user)
    return case


def _failure_text(exc: Exception) -> str:
    """What a result says about an unexpected error. A database error's text holds its statement
    and parameters (case data, personal data): only its class and the request id of the log line."""
    if isinstance(exc, SQLAlchemyError):
        return f"{type(exc).__name__} [req {current_request_id() or '-'}]"
    return f"{type(exc).__name__}: {exc}"


def migrate_all(user: User, key: str, from_version: int, to_version: int, mapping: dict | None = None,
                case_ids=None) -> list[MigrationResult]:
    """Move the given (default: all active) cases of ``from_version``, each in its own transaction.

    Commits per case (call it outside ``transaction.run``). Returns one result per case asked
    for: moved, refused (not eligible now, with the reasons) or failed (an unexpected error,
    logged); no case's outcome depends on another's.
    """
    permissions.require_role(user, MIGRATE, "move cases to another process version")
    old, _new = _versions(key, from_version, to_version)
    if case_ids is None:
        case_ids = db.session.scalars(select(Case.id).where(
            Case.process_version_id == old.id, Case.status == "active").order_by(Case.id))
    wanted = list(dict.fromkeys(case_ids))
    # Cases of another process are "no such case" here: never move them to this key's version.
    receipts = dict(db.session.execute(select(Case.id, Case.receipt_no).where(
        Case.id.in_(wanted), Case.process_key == key)).all())
    results = []
    for case_id in wanted:
        receipt = receipts.get(case_id)
        try:
            if receipt is None:
                raise NotFound("No such case.")
            case = transaction.run(migrate_case, user, case_id, to_version, mapping, from_version)
            results.append(MigrationResult(case_id, receipt, "moved", from_version, case.version))
        except AppError as exc:
            reasons = exc.errors if isinstance(exc.errors, list) else []
            results.append(MigrationResult(case_id, receipt, "refused", from_version, None, exc.error,
                                           exc.message, reasons))
        except Exception as exc:  # one broken case must not stop the run; it stays where it was
            log.exception("moving case %s to version %s failed", case_id, to_version)
            results.append(MigrationResult(case_id, receipt, "failed", from_version, None, "internal_error",
                                           _failure_text(exc)))
    return results
