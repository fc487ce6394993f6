"""The process library for designers: every version with its cases and files, and version diffs.

Read-only: routes check the designer/admin role (``DESIGNERS``) before calling in, so the command
line can use the same functions without a user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..engine import DiagramError, Finding, compile_process
from ..engine.diff import ELEMENT_KINDS as ELEMENT_KINDS  # re-exported: pages never import the engine
from ..engine.diff import STATUSES as STATUSES
from ..engine.diff import ProcessDiff, diff_processes
from ..errors import Conflict, NotFound
from ..extensions import db
from ..models import Case, ProcessDefinition, ProcessFile, ProcessVersion
from . import forms, permissions, progress
from .runtime import compiled

DESIGNERS = permissions.DEPLOY
FINISHED = ("completed", "terminated", "rejected", "withdrawn")
MEDIA_TYPES = {"bpmn": "application/xml", "dmn": "application/xml", "form": "application/json"}


@dataclass(frozen=True)
class CaseCounts:
    """How many cases of a version are still running and how many have finished."""

    running: int = 0
    finished: int = 0

    def as_dict(self) -> dict:
        """Return ``{"running", "finished"}``."""
        return {"running": self.running, "finished": self.finished}


@dataclass(frozen=True)
class FileInfo:
    """A stored file of a version, without its content."""

    key: str
    version: int
    filename: str
    kind: str
    size: int
    sha256: str


@dataclass
class VersionEntry:
    """One version in the library: who deployed it, its cases and files, the version before it."""

    version: ProcessVersion
    counts: CaseCounts
    files: list[FileInfo]
    previous: int | None
    latest: bool = False

    @property
    def number(self) -> int:
        return self.version.version


@dataclass
class ProcessEntry:
    """A process key with its versions, newest first."""

    definition: ProcessDefinition
    versions: list[VersionEntry] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.definition.key


@dataclass
class VersionDiff:
    """The diff of two versions of one key."""

    key: str
    from_version: ProcessVersion
    to_version: ProcessVersion
    diff: ProcessDiff

    def as_dict(self) -> dict:
        """Return the diff as the API shows it, with the version numbers compared."""
        return {"key": self.key, "from": self.from_version.version, "to": self.to_version.version,
                **self.diff.as_dict()}


def case_counts(version_ids: list[int] | None = None) -> dict[int, CaseCounts]:
    """Running and finished cases per version id, in one grouped query."""
    query = select(Case.process_version_id, Case.status, func.count()).group_by(Case.process_version_id, Case.status)
    if version_ids is not None:
        if not version_ids:
            return {}
        query = query.where(Case.process_version_id.in_(version_ids))
    running: dict[int, int] = {}
    finished: dict[int, int] = {}
    for version_id, status, count in db.session.execute(query):
        target = finished if status in FINISHED else running
        target[version_id] = target.get(version_id, 0) + count
    return {vid: CaseCounts(running.get(vid, 0), finished.get(vid, 0)) for vid in running.keys() | finished.keys()}


def _file_infos(version_ids: list[int]) -> dict[int, list[FileInfo]]:
    """File names, kinds and sizes per version, without loading the contents."""
    if not version_ids:
        return {}
    rows = db.session.execute(
        select(ProcessFile.version_id, ProcessDefinition.key, ProcessVersion.version, ProcessFile.filename,
               ProcessFile.kind, func.length(ProcessFile.content), ProcessFile.sha256)
        .join(ProcessVersion, ProcessFile.version_id == ProcessVersion.id)
        .join(ProcessDefinition, ProcessVersion.definition_id == ProcessDefinition.id)
        .where(ProcessFile.version_id.in_(version_ids)))
    infos: dict[int, list[FileInfo]] = {}
    for version_id, key, number, filename, kind, size, sha256 in rows:
        infos.setdefault(version_id, []).append(FileInfo(key, number, filename, kind, size or 0, sha256))
    # The diagram first, then DMN, then forms: the order a designer reads a bundle in.
    order = {"bpmn": 0, "dmn": 1, "form": 2}
    for files in infos.values():
        files.sort(key=lambda f: (order.get(f.kind, 3), f.filename))
    return infos


def _entries(definitions: list[ProcessDefinition]) -> list[ProcessEntry]:
    version_ids = [v.id for d in definitions for v in d.versions]
    counts = case_counts(version_ids)
    files = _file_infos(version_ids)
    entries = []
    for definition in definitions:
        ordered = sorted(definition.versions, key=lambda v: v.version)
        rows = [VersionEntry(v, counts.get(v.id, CaseCounts()), files.get(v.id, []),
                             previous=ordered[i - 1].version if i else None,
                             latest=v.version == ordered[-1].version)
                for i, v in enumerate(ordered)]
        entries.append(ProcessEntry(definition, list(reversed(rows))))
    return entries


def _definitions(key: str | None = None) -> list[ProcessDefinition]:
    query = (select(ProcessDefinition)
             .options(selectinload(ProcessDefinition.versions).selectinload(ProcessVersion.deployed_by))
             .order_by(ProcessDefinition.key))
    if key is not None:
        query = query.where(ProcessDefinition.key == key)
    return list(db.session.scalars(query))


def library() -> list[ProcessEntry]:
    """Every process key with its versions (newest first), case counts and file names."""
    return _entries(_definitions())


def process_entry(key: str) -> ProcessEntry:
    """One process key with its versions, or raise NotFound."""
    found = _entries(_definitions(key))
    if not found:
        raise NotFound(f"No process with key {key!r} is deployed.")
    return found[0]


def get_version(key: str, version: int) -> ProcessVersion:
    """Version ``version`` of process ``key``, or raise NotFound."""
    found = db.session.scalar(
        select(ProcessVersion).join(ProcessDefinition)
        .where(ProcessDefinition.key == key, ProcessVersion.version == version))
    if found is None:
        raise NotFound(f"Process {key!r} has no version {version}.")
    return found


def version_entry(key: str, version: int) -> VersionEntry:
    """A version with its case counts, file list and the number of the version before it."""
    found = get_version(key, version)
    previous = db.session.scalar(
        select(func.max(ProcessVersion.version))
        .where(ProcessVersion.definition_id == found.definition_id, ProcessVersion.version < version))
    latest = found.definition.latest_version == found.version
    return VersionEntry(found, case_counts([found.id]).get(found.id, CaseCounts()),
                        _file_infos([found.id]).get(found.id, []), previous, latest)


def version_file(key: str, version: int, filename: str) -> ProcessFile:
    """One stored file of a version, or raise NotFound."""
    found = db.session.scalar(
        select(ProcessFile).join(ProcessVersion).join(ProcessDefinition)
        .where(ProcessDefinition.key == key, ProcessVersion.version == version, ProcessFile.filename == filename))
    if found is None:
        raise NotFound(f"Version {version} of {key!r} has no file {filename!r}.")
    return found


def media_type(file: ProcessFile) -> str:
    """The Content-Type a stored file is served with."""
    return MEDIA_TYPES.get(file.kind, "application/octet-stream")


def diagram(key: str, version: int) -> tuple[ProcessVersion, bytes]:
    """The version and the BPMN file holding its entry process (for the diagram viewer)."""
    found = get_version(key, version)
    return found, progress.diagram_xml(found)


def user_tasks(version: ProcessVersion) -> list[dict]:
    """The version's user tasks with their routing and form, in diagram order (from ``meta``)."""
    return [{"id": bpmn_id, "name": entry.get("name"), "lane": entry.get("lane"),
             "groups": list(entry.get("groups") or []), "initiator": bool(entry.get("initiator")),
             "form": entry.get("form")}
            for bpmn_id, entry in (version.meta.get("user_tasks") or {}).items()]


def diff(key: str, from_version: int | None = None, to_version: int | None = None) -> VersionDiff:
    """Compare two versions of ``key`` (defaults: the latest, and the one before ``to``)."""
    entry_versions = None
    if to_version is None or from_version is None:
        entry_versions = sorted(v.version for v in process_entry(key).definition.versions)
    if to_version is None:
        to_version = entry_versions[-1]
    if from_version is None:
        earlier = [v for v in entry_versions if v < to_version]
        from_version = earlier[-1] if earlier else to_version
    old, new = get_version(key, from_version), get_version(key, to_version)
    try:
        old_process, new_process = compiled(old), compiled(new)
    except DiagramError as exc:  # stored before a check was tightened: say so instead of failing
        raise Conflict(f"A version of {key!r} cannot be compiled by this engine any more: {exc}") from None
    return VersionDiff(key, old, new, diff_processes(old_process, new_process, old.file_map(), new.file_map()))


def check_files(uploads: list[tuple[str, bytes]]) -> list[dict]:
    """Compile a diagram and check the forms it references, storing nothing.

    The fallback of ``flask bpmn validate`` while ``processes.validate`` (the full validation
    report) is not there: it finds what the engine finds, not unknown groups.
    """
    files = {PurePosixPath(name).name: content for name, content in uploads}
    diagrams = {n: c for n, c in files.items() if PurePosixPath(n).suffix.lower() in (".bpmn", ".xml", ".dmn")}
    if not diagrams:
        return [Finding("no .bpmn file in the upload").as_dict()]
    try:
        process = compile_process(diagrams)
    except DiagramError as exc:
        return [f.as_dict() for f in exc.findings]
    findings = []
    for form_name in sorted(process.forms()):
        if form_name not in files:
            findings.append(Finding(f"form {form_name} is referenced but was not found", form_name))
            continue
        try:
            forms.parse_form(files[form_name])
        except ValueError as exc:
            findings.append(Finding(f"form {form_name}: {exc}", form_name))
    return [f.as_dict() for f in findings]
