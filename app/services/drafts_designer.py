"""The designer's workbench: process drafts, validation, deploy from a draft, four-eyes publication.

A draft is text being edited; saving it never changes what runs. Only a deploy creates a
version (``processes.deploy``). With ``FOUR_EYES_DEPLOY`` on, a deploy becomes a
``PendingDeployment`` that another designer or an admin approves; the deploy runs then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import Conflict, Forbidden, InvalidDiagram, InvalidInput, NotFound
from ..extensions import db
from ..models import PendingDeployment, ProcessDefinition, ProcessDraft, ProcessVersion, User
from ..models.types import utcnow
from . import forms, permissions, processes

log = logging.getLogger(__name__)

MAX_FILES = 50
EDITABLE_SUFFIXES = (".bpmn", ".xml", ".dmn", ".json")


@dataclass
class Report:
    """What validation found: ``valid`` is False when any finding is an error."""

    findings: list[dict] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not any(f["severity"] == "error" for f in self.findings)

    @property
    def errors(self) -> list[dict]:
        return [f for f in self.findings if f["severity"] == "error"]

    @property
    def warnings(self) -> list[dict]:
        return [f for f in self.findings if f["severity"] != "error"]


@dataclass
class EditorSource:
    """What the modeler opens: a deployed version, a draft of it, or a deployment request under review."""

    key: str
    name: str
    files: dict[str, str]
    base: ProcessVersion | None
    draft: ProcessDraft | None = None
    pending: PendingDeployment | None = None


@dataclass
class DeployOutcome:
    """A deploy from the workbench: the version it made, or the request that waits for approval."""

    result: processes.DeployResult | None = None
    pending: PendingDeployment | None = None


def four_eyes() -> bool:
    """Whether a deploy needs a second person's approval (config FOUR_EYES_DEPLOY)."""
    return bool(current_app.config.get("FOUR_EYES_DEPLOY", False))


# -- helpers ----------------------------------------------------------------------------------


def _require_designer(user: User, action: str) -> None:
    permissions.require_role(user, permissions.DEPLOY, action)


def _check_files(files) -> dict[str, str]:
    """Plain file names with a known suffix and text content; raise InvalidInput otherwise."""
    if not isinstance(files, dict) or not files:
        raise InvalidInput(_("A draft needs at least one file."), {"files": [_("Give at least one file.")]})
    if len(files) > MAX_FILES:
        raise InvalidInput(_("Too many files."), {"files": [_("At most %(n)d files.", n=MAX_FILES)]})
    errors: dict[str, list[str]] = {}
    for name, content in files.items():
        path = f"files.{name}"
        if not isinstance(name, str) or PurePosixPath(name).name != name or name.startswith(".") or len(name) > 255:
            errors.setdefault(path, []).append(_("Not a plain file name."))
        elif PurePosixPath(name).suffix.lower() not in EDITABLE_SUFFIXES:
            errors.setdefault(path, []).append(_("Only .bpmn, .xml, .dmn and .json files belong to a process."))
        if not isinstance(content, str):
            errors.setdefault(path, []).append(_("The content must be text."))
    if not any(PurePosixPath(n).suffix.lower() in (".bpmn", ".xml") for n in files if isinstance(n, str)):
        errors.setdefault("files", []).append(_("A draft needs a .bpmn file."))
    if errors:
        raise InvalidInput(_("The draft's files are invalid."), errors)
    return dict(files)


def _uploads(files: dict[str, str]) -> list[tuple[str, bytes]]:
    return [(name, content.encode("utf-8")) for name, content in sorted(files.items())]


def version_texts(version: ProcessVersion) -> dict[str, str]:
    """A deployed version's files as text, as the editor holds them."""
    return {f.filename: f.content.decode("utf-8-sig", errors="replace") for f in version.files}


def _latest(key: str) -> ProcessVersion | None:
    try:
        return processes.latest_version(key)
    except NotFound:
        return None


def find_version(key: str, number: int | None = None) -> ProcessVersion:
    """Return version ``number`` of ``key`` (the latest when None), or raise NotFound."""
    if number is None:
        return processes.latest_version(key)
    version = db.session.scalar(
        select(ProcessVersion).join(ProcessDefinition)
        .where(ProcessDefinition.key == key, ProcessVersion.version == number))
    if version is None:
        raise NotFound(f"Process {key!r} has no version {number}.")
    return version


def editor_source(user: User, key: str, version: int | None = None, draft_id: int | None = None,
                  pending_id: int | None = None) -> EditorSource:
    """The files the modeler opens: a draft, a deployment request, or a version (the latest by default)."""
    _require_designer(user, "edit processes")
    if draft_id is not None:
        draft = get_draft(user, draft_id)
        if draft.key != key:
            raise NotFound("No such draft of this process.")
        name = draft.base_version.name if draft.base_version else key
        return EditorSource(key, name, dict(draft.files), draft.base_version, draft=draft)
    if pending_id is not None:
        pending = get_pending(user, pending_id)
        if pending.key != key:
            raise NotFound("No such deployment request of this process.")
        name = pending.base_version.name if pending.base_version else key
        return EditorSource(key, name, dict(pending.files), pending.base_version, pending=pending)
    base = find_version(key, version)
    return EditorSource(key, base.name, version_texts(base), base)


# -- drafts -----------------------------------------------------------------------------------


def get_draft(user: User, draft_id: int) -> ProcessDraft:
    """Return a draft (every designer and admin may read drafts)."""
    _require_designer(user, "read process drafts")
    draft = db.session.get(ProcessDraft, draft_id)
    if draft is None:
        raise NotFound("No such draft.")
    return draft


def _editable(user: User, draft_id: int) -> ProcessDraft:
    draft = get_draft(user, draft_id)
    if draft.author_id != user.id and not user.has_role("admin"):
        raise Forbidden(_("Only the draft's author or an admin may change it."), error="not_your_draft")
    return draft


def list_drafts(user: User, key: str | None = None) -> list[ProcessDraft]:
    """Every draft (of one process key when given), most recently saved first."""
    _require_designer(user, "read process drafts")
    query = select(ProcessDraft).order_by(ProcessDraft.updated_at.desc(), ProcessDraft.id.desc())
    if key:
        query = query.where(ProcessDraft.key == key)
    return list(db.session.scalars(query))


def create_draft(user: User, key: str, base_version: int | None = None,
                 files: dict[str, str] | None = None) -> ProcessDraft:
    """Start a draft of ``key`` from a deployed version (the latest by default); ``files`` replace its files."""
    _require_designer(user, "edit processes")
    base = find_version(key, base_version) if base_version is not None else _latest(key)
    if files is None:
        if base is None:
            raise InvalidInput(_("Give the files of a new process."), {"files": [_("Missing.")]})
        files = version_texts(base)
    draft = ProcessDraft(key=key, base_version_id=base.id if base else None, files=_check_files(files),
                         author_id=user.id, created_at=utcnow(), updated_at=utcnow(), revision=1)
    db.session.add(draft)
    db.session.flush()
    return draft


def update_draft(user: User, draft_id: int, files: dict[str, str], revision: int | None = None) -> ProcessDraft:
    """Replace a draft's files; a save based on an older revision than the stored one is refused (409)."""
    draft = _editable(user, draft_id)
    checked = _check_files(files)
    if revision is not None and revision != draft.revision:
        raise Conflict(_("The draft was saved elsewhere since you opened it; reload it first."),
                       error="draft_changed")
    draft.files = checked
    draft.revision += 1
    draft.updated_at = utcnow()
    db.session.flush()
    return draft


def delete_draft(user: User, draft_id: int) -> None:
    """Throw a draft away (author or admin)."""
    db.session.delete(_editable(user, draft_id))
    db.session.flush()


# -- validation -------------------------------------------------------------------------------


def _value(finding, name: str):
    return finding.get(name) if isinstance(finding, dict) else getattr(finding, name, None)


def _normalise(finding, severity: str = "error") -> dict:
    """One finding as {file, line, element, message, severity}, whatever shape the validator gave."""
    if hasattr(finding, "as_dict") and not isinstance(finding, dict):
        extra = {"severity": _value(finding, "severity") or _value(finding, "level")}
        finding = {**finding.as_dict(), **{k: v for k, v in extra.items() if v}}
    level = str(_value(finding, "severity") or _value(finding, "level") or severity).lower()
    message = _value(finding, "message")
    return {
        "file": _value(finding, "file"),
        "line": _value(finding, "line"),
        "element": _value(finding, "element"),
        "message": str(message if message is not None else finding),
        "severity": "warning" if level.startswith("warn") else "error",
        "code": _value(finding, "code"),
    }


def _report_findings(result) -> list[dict]:
    """Findings from whatever ``processes.validate`` returns (a report, a dict or a list)."""
    if result is None:
        return []
    if isinstance(result, dict):
        if "findings" in result:
            return [_normalise(f) for f in result["findings"] or []]
        return ([_normalise(f, "error") for f in result.get("errors") or []]
                + [_normalise(f, "warning") for f in result.get("warnings") or []])
    if hasattr(result, "findings"):
        return [_normalise(f) for f in result.findings or []]
    if hasattr(result, "errors") or hasattr(result, "warnings"):
        return ([_normalise(f, "error") for f in getattr(result, "errors", None) or []]
                + [_normalise(f, "warning") for f in getattr(result, "warnings", None) or []])
    return [_normalise(f) for f in result]


class _DryRun(Exception):
    """Raised inside the savepoint to undo a trial deploy."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _trial_deploy(user: User, uploads: list[tuple[str, bytes]]) -> tuple[list[dict], str | None]:
    """Run deploy's checks inside a savepoint that is always rolled back."""
    try:
        with db.session.begin_nested():
            result = processes.deploy(user, uploads)
            raise _DryRun(result.version.key)
    except _DryRun as done:
        return [], done.key
    except InvalidDiagram as exc:
        return [_normalise(f) for f in exc.errors or [{"message": exc.message}]], None


def _form_findings(files: dict[str, str]) -> list[dict]:
    """Every form of the draft must be a JSON Schema, referenced or not."""
    findings = []
    for name, content in sorted(files.items()):
        if PurePosixPath(name).suffix.lower() == ".json":
            try:
                forms.parse_form(content.encode("utf-8"))
            except ValueError as exc:
                findings.append(_normalise({"file": name, "message": f"form {name}: {exc}"}))
    return findings


def _check(user: User, files: dict[str, str]) -> tuple[Report, str | None]:
    """The validation report of ``files`` and the process key they deploy as (None when unknown)."""
    _require_designer(user, "validate processes")
    checked = _check_files(files)
    uploads = _uploads(checked)
    validate = getattr(processes, "validate", None)
    key = None
    if validate is not None:
        try:
            result = validate(user, uploads)
            findings, key = _report_findings(result), getattr(result, "key", None)
        except InvalidDiagram as exc:
            findings = [_normalise(f) for f in exc.errors or [{"message": exc.message}]]
    else:
        findings, key = _trial_deploy(user, uploads)
    # Forms the diagram does not reference are checked too: a designer edits them here.
    findings += [f for f in _form_findings(checked)
                 if not any(g["file"] == f["file"] and g["severity"] == "error" for g in findings)]
    return Report(findings), key


def validate_files(user: User, files: dict[str, str]) -> Report:
    """Check files the way a deploy would, without deploying anything."""
    return _check(user, files)[0]


def _refuse_invalid(report: Report) -> None:
    if not report.valid:
        raise InvalidDiagram(_("The diagram is invalid."),
                             [{k: f[k] for k in ("file", "line", "element", "message")} for f in report.errors])


# -- deploy and four-eyes ---------------------------------------------------------------------


def _check_base(key: str, base_version_id: int | None, force: bool) -> ProcessVersion | None:
    """Refuse (409) when a newer version of ``key`` was deployed since the draft was started."""
    latest = _latest(key)
    if not force and latest is not None and base_version_id is not None and latest.id != base_version_id:
        raise Conflict(f"Version {latest.version} of {key} was deployed after this draft was started; "
                       "open the latest version, or deploy anyway.", error="stale_base")
    return latest


def deploy_draft(user: User, draft_id: int, force: bool = False) -> DeployOutcome:
    """Deploy a saved draft (author or admin): a new version now, or a pending request under four-eyes."""
    draft = _editable(user, draft_id)
    latest = _check_base(draft.key, draft.base_version_id, force)
    if four_eyes():
        pending = _request(user, draft.key, draft.files, latest, draft)
        return DeployOutcome(pending=pending)
    result = processes.deploy(user, _uploads(draft.files))
    # The draft's content now runs as that version; keeping the draft would only go stale.
    db.session.delete(draft)
    db.session.flush()
    log.info("deploy: %s v%s by %s from draft %s", result.version.key, result.version.version,
             user.username, draft_id)
    return DeployOutcome(result=result)


def _request(user: User, key: str, files: dict[str, str], base: ProcessVersion | None,
             draft: ProcessDraft | None, report: Report | None = None) -> PendingDeployment:
    _refuse_invalid(report or validate_files(user, files))
    pending = PendingDeployment(
        key=key, base_version_id=base.id if base else None, draft_id=draft.id if draft else None,
        files=dict(files), content_hash=processes.content_hash({n: c for n, c in _uploads(files)}),
        status="pending", requested_by_id=user.id, requested_at=utcnow())
    db.session.add(pending)
    db.session.flush()
    processes.record_deployment(user, "requested", key, None, {"pending_deployment_id": pending.id})
    log.info("deploy requested: %s (pending deployment %s) by %s", key, pending.id, user.username)
    return pending


def submit_uploads(user: User, uploads: list[tuple[str, bytes]]) -> DeployOutcome:
    """Deploy uploaded files, or (FOUR_EYES_DEPLOY) request their deployment; for upload routes."""
    _require_designer(user, "deploy processes")
    if not four_eyes():
        return DeployOutcome(result=processes.deploy(user, uploads))
    files = {}
    for name, content in uploads:
        try:
            files[PurePosixPath(name or "").name] = content.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidDiagram(_("The deployment was refused."), [{
                "file": name, "line": None, "element": None, "message": "the file is not UTF-8 text"}]) from None
    report, key = _check(user, files)
    _refuse_invalid(report)
    if not key:
        raise InvalidDiagram(_("The deployment was refused."), [{
            "file": None, "line": None, "element": None, "message": "no executable process in the upload"}])
    return DeployOutcome(pending=_request(user, key, files, _latest(key), None, report))


def list_pending(user: User, status: str | None = "pending") -> list[PendingDeployment]:
    """Deployment requests, newest first (only ``status`` ones unless None)."""
    _require_designer(user, "read deployment requests")
    query = select(PendingDeployment).order_by(PendingDeployment.requested_at.desc(), PendingDeployment.id.desc())
    if status:
        query = query.where(PendingDeployment.status == status)
    return list(db.session.scalars(query))


def get_pending(user: User, pending_id: int) -> PendingDeployment:
    """One deployment request."""
    _require_designer(user, "read deployment requests")
    pending = db.session.get(PendingDeployment, pending_id)
    if pending is None:
        raise NotFound("No such deployment request.")
    return pending


def _open_request(user: User, pending_id: int) -> PendingDeployment:
    pending = get_pending(user, pending_id)
    if pending.status != "pending":
        raise Conflict(f"This deployment request is already {pending.status}.", error="not_pending")
    return pending


def approve(user: User, pending_id: int, comment: str | None = None) -> PendingDeployment:
    """A second designer or an admin approves a request: the deploy runs now, under the requester's name."""
    pending = _open_request(user, pending_id)
    if pending.requested_by_id == user.id:
        raise Forbidden(_("You cannot approve your own deployment request; another designer or an admin must."),
                        error="own_request")
    latest = _latest(pending.key)
    if latest is not None and (pending.base_version_id is None or latest.id != pending.base_version_id):
        raise Conflict(f"Version {latest.version} of {pending.key} was deployed after this request; "
                       "reject it and request the deployment again from the latest version.", error="stale_base")
    result = processes.deploy(pending.requested_by, _uploads(pending.files))
    pending.status = "approved"
    pending.approved_by_id = user.id
    pending.approved_at = utcnow()
    pending.comment = comment or None
    pending.version_id = result.version.id
    draft = db.session.get(ProcessDraft, pending.draft_id) if pending.draft_id else None
    if draft is not None and draft.files == pending.files:
        db.session.delete(draft)  # what the draft holds now runs
    db.session.flush()
    processes.record_deployment(user, "approved", pending.key, result.version.version,
                                {"pending_deployment_id": pending.id, "requested_by": pending.requested_by.username})
    log.info("deploy approved: %s v%s requested by %s, approved by %s", pending.key, result.version.version,
             pending.requested_by.username, user.username)
    return pending


def reject(user: User, pending_id: int, comment: str | None = None) -> PendingDeployment:
    """Refuse a request (any designer or admin; the requester may withdraw their own)."""
    pending = _open_request(user, pending_id)
    pending.status = "rejected"
    pending.rejected_by_id = user.id
    pending.rejected_at = utcnow()
    pending.comment = comment or None
    db.session.flush()
    processes.record_deployment(user, "rejected", pending.key, None, {"pending_deployment_id": pending.id})
    log.info("deploy rejected: %s (pending deployment %s) by %s", pending.key, pending.id, user.username)
    return pending


def changed_files(pending: PendingDeployment) -> dict[str, str]:
    """For each file of a request or its base: added, removed, changed or same."""
    base = version_texts(pending.base_version) if pending.base_version else {}
    names = sorted(set(base) | set(pending.files))
    return {n: ("added" if n not in base else "removed" if n not in pending.files
                else "same" if base[n] == pending.files[n] else "changed") for n in names}
