"""Deploy diagrams as immutable, content-hashed process versions; read them back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy import func, select

from ..engine import DiagramError, Finding, compile_process
from ..errors import InvalidDiagram, NotFound
from ..extensions import db
from ..models import ProcessDefinition, ProcessFile, ProcessVersion, User
from . import forms, org
from .runtime import spec_cache

KINDS = {".bpmn": "bpmn", ".xml": "bpmn", ".dmn": "dmn", ".json": "form"}


@dataclass
class DeployResult:
    """The version a deployment resolved to, and whether it was created now."""

    version: ProcessVersion
    created: bool


def _kind(filename: str) -> str | None:
    return KINDS.get(PurePosixPath(filename).suffix.lower())


def content_hash(files: dict[str, bytes]) -> str:
    """Hash a file set by names and contents, independent of upload order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).hexdigest().encode() + b"\n")
    return digest.hexdigest()


def _latest(key: str) -> ProcessVersion | None:
    return db.session.scalar(
        select(ProcessVersion).join(ProcessDefinition)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessVersion.version.desc()).limit(1))


def _resolve_routing(compiled, findings: list[Finding]) -> dict:
    """Resolve each user task's lane or candidate groups to known group codes."""
    lanes = {t.lane for t in compiled.user_tasks if t.lane and not t.candidate_groups and not t.for_initiator}
    by_lane = org.groups_by_lane(lanes)
    wanted = {g for t in compiled.user_tasks for g in t.candidate_groups}
    by_code = org.groups_by_code(wanted)
    routing = {}
    for task in compiled.user_tasks:
        entry = {"name": task.name, "lane": task.lane, "form": task.form, "groups": [], "initiator": False}
        if task.candidate_groups:
            unknown = [g for g in task.candidate_groups if g not in by_code]
            if unknown:
                findings.append(Finding(
                    f"user task '{task.name}' names candidate groups that do not exist: {', '.join(unknown)}",
                    task.file, task.line, task.bpmn_id))
            entry["groups"] = [g for g in task.candidate_groups if g in by_code]
        elif task.for_initiator:
            entry["initiator"] = True
        elif task.lane in by_lane:
            entry["groups"] = [by_lane[task.lane].code]
        else:
            findings.append(Finding(
                f"user task '{task.name}' is in lane '{task.lane}', which names no known group "
                "(use a group code or display name, or camunda:candidateGroups)",
                task.file, task.line, task.bpmn_id))
        routing[task.bpmn_id] = entry
    return routing


def deploy(user: User, uploads: list[tuple[str, bytes]]) -> DeployResult:
    """Check and store a deployment; identical content returns the latest version unchanged."""
    findings: list[Finding] = []
    files: dict[str, bytes] = {}
    for filename, content in uploads:
        name = PurePosixPath(filename or "").name
        if not name or _kind(name) is None:
            findings.append(Finding(f"unsupported file type (expected .bpmn, .dmn or .json): {filename!r}",
                                    filename or None))
            continue
        if name in files:
            findings.append(Finding(f"file uploaded twice: {name}", name))
            continue
        files[name] = content
    diagrams = {n: c for n, c in files.items() if _kind(n) in ("bpmn", "dmn")}
    if not diagrams and not findings:
        findings.append(Finding("no .bpmn file in the upload"))
    if findings:
        raise InvalidDiagram("The deployment was refused.", [f.as_dict() for f in findings])

    try:
        compiled = compile_process(diagrams)
    except DiagramError as exc:
        raise InvalidDiagram("The diagram is invalid.", [f.as_dict() for f in exc.findings]) from None

    latest = _latest(compiled.key)
    # A form the diagram references but the upload lacks is taken from the latest version.
    for form_name in sorted(compiled.forms()):
        if form_name not in files and latest is not None and form_name in latest.file_map("form"):
            files[form_name] = latest.file_map("form")[form_name]
        if form_name not in files:
            findings.append(Finding(f"form {form_name} is referenced but was not uploaded", form_name))
            continue
        try:
            forms.parse_form(files[form_name])
        except ValueError as exc:
            findings.append(Finding(f"form {form_name}: {exc}", form_name))
    routing = _resolve_routing(compiled, findings)
    if findings:
        raise InvalidDiagram("The diagram is invalid.", [f.as_dict() for f in findings])

    digest = content_hash(files)
    if latest is not None and latest.content_hash == digest:
        return DeployResult(latest, created=False)

    definition = db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == compiled.key))
    if definition is None:
        definition = ProcessDefinition(key=compiled.key, name=compiled.name, latest_version=0)
        db.session.add(definition)
        db.session.flush()
    next_version = (db.session.scalar(
        select(func.max(ProcessVersion.version)).where(ProcessVersion.definition_id == definition.id)) or 0) + 1
    definition.name = compiled.name
    definition.latest_version = next_version
    version = ProcessVersion(
        definition=definition,
        version=next_version,
        content_hash=digest,
        name=compiled.name,
        description=None,
        meta={"start_form": compiled.start_form, "user_tasks": routing, "end_events": compiled.end_events},
        deployed_by_id=user.id if user else None,
    )
    for name, content in sorted(files.items()):
        version.files.append(ProcessFile(filename=name, kind=_kind(name), content=content,
                                         sha256=hashlib.sha256(content).hexdigest()))
    db.session.add(version)
    db.session.flush()
    # Warm this worker's cache with the spec we just built.
    spec_cache().get((version.id, version.content_hash), lambda: compiled)
    return DeployResult(version, created=True)


def list_definitions() -> list[ProcessDefinition]:
    """Return every deployed process key with its versions."""
    return list(db.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key)))


def latest_version(key: str) -> ProcessVersion:
    """Return the version new cases of ``key`` start on, or raise NotFound."""
    version = _latest(key)
    if version is None:
        raise NotFound(f"No process with key {key!r} is deployed.")
    return version


_FORM_CACHE: dict[tuple[int, str, str], dict | None] = {}
_FORM_CACHE_MAX = 2048


def form_schema(version: ProcessVersion, name: str | None) -> dict | None:
    """Return the parsed JSON Schema ``name`` of a version (cached per worker)."""
    if not name:
        return None
    key = (version.id, version.content_hash, name)
    if key not in _FORM_CACHE:
        if len(_FORM_CACHE) >= _FORM_CACHE_MAX:
            _FORM_CACHE.clear()
        content = version.file_map("form").get(name)
        _FORM_CACHE[key] = forms.parse_form(content) if content is not None else None
    return _FORM_CACHE[key]


def version_forms(version: ProcessVersion) -> list[dict | None]:
    """Every form of a version (start form first), e.g. to label case data with field titles."""
    names = [version.meta.get("start_form")]
    names += [entry.get("form") for entry in (version.meta.get("user_tasks") or {}).values()]
    return [form_schema(version, name) for name in dict.fromkeys(names) if name]
