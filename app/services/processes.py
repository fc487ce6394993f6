"""Deploy diagrams as immutable, content-hashed process versions; read them back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager

from ..engine import Finding, group_variable
from ..engine.errors import WARNING
from ..engine.validation import validate_process
from ..errors import InvalidDiagram, NotFound
from ..extensions import db
from ..models import DeploymentEvent, ProcessDefinition, ProcessFile, ProcessVersion, User
from ..models.types import utcnow
from . import forms, org, permissions
from .runtime import spec_cache

KINDS = {".bpmn": "bpmn", ".xml": "bpmn", ".dmn": "dmn", ".json": "form"}


@dataclass
class DeployResult:
    """The version a deployment resolved to, whether it was created now, and the warnings."""

    version: ProcessVersion
    created: bool
    warnings: list[dict] = field(default_factory=list)


def _kind(filename: str) -> str | None:
    return KINDS.get(PurePosixPath(filename).suffix.lower())


def content_hash(files: dict[str, bytes]) -> str:
    """Hash a file set by names and contents, independent of upload order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).hexdigest().encode() + b"\n")
    return digest.hexdigest()


def _latest(key: str) -> ProcessVersion | None:
    # The definition comes with it (a new case reads its key).
    return db.session.scalar(
        select(ProcessVersion).join(ProcessVersion.definition).options(contains_eager(ProcessVersion.definition))
        .where(ProcessDefinition.key == key)
        .order_by(ProcessVersion.version.desc()).limit(1))


def _resolve_routing(compiled, findings: list[Finding]) -> dict:
    """Resolve each user task's lane or candidate groups to known group codes."""
    lanes = {t.lane for t in compiled.user_tasks if t.lane and not t.candidate_groups and not t.for_initiator}
    by_lane = org.groups_by_lane(lanes)
    wanted = {g for t in compiled.user_tasks for g in t.candidate_groups if group_variable(g) is None}
    by_code = org.groups_by_code(wanted)
    routing = {}
    for task in compiled.user_tasks:
        entry = {"name": task.name, "lane": task.lane, "form": task.form, "groups": [], "initiator": False}
        if task.promised_days is not None:
            entry["promised_days"] = task.promised_days
        if getattr(task, "timeout_policy", None):
            entry["timeout"] = {"policy": task.timeout_policy, "data": task.timeout_data}
        if getattr(task, "empty_group_policy", None):
            entry["empty_group"] = task.empty_group_policy
        if getattr(task, "multi_instance", False):
            entry["multi_instance"] = True
        if getattr(task, "exclude_handlers_of", None):
            entry["exclude_handlers_of"] = task.exclude_handlers_of
        if getattr(task, "promised_hours", None) is not None and task.promised_days is None:
            entry["promised_hours"] = task.promised_hours
        variables = [v for v in (group_variable(g) for g in task.candidate_groups) if v]
        if variables:
            # ``${handling_unit}``: the group is chosen at run time (e.g. a dispatcher's choice).
            entry["group_variables"] = variables
        literal = [g for g in task.candidate_groups if group_variable(g) is None]
        if task.candidate_groups:
            unknown = [g for g in literal if g not in by_code]
            if unknown:
                findings.append(Finding(
                    f"user task '{task.name}' names candidate groups that do not exist: {', '.join(unknown)}",
                    task.file, task.line, task.bpmn_id, code="unknown_groups",
                    params={"task": task.name, "groups": ", ".join(unknown)}))
            entry["groups"] = [g for g in literal if g in by_code]
        elif task.for_initiator:
            entry["initiator"] = True
        elif task.lane in by_lane:
            entry["groups"] = [by_lane[task.lane].code]
        else:
            findings.append(Finding(
                f"user task '{task.name}' is in lane '{task.lane}', which names no known group "
                "(use a group code or display name, or camunda:candidateGroups)",
                task.file, task.line, task.bpmn_id, code="unknown_lane",
                params={"task": task.name, "lane": task.lane}))
        routing[task.bpmn_id] = entry
    if (getattr(compiled, "time_limits", None) or {}).get("immediate"):
        window = set(current_app.config.get("WINDOW_GROUPS") or ("window",))
        for task in compiled.user_tasks:
            entry = routing[task.bpmn_id]
            if not entry["initiator"] and not (entry["groups"] and set(entry["groups"]) <= window):
                findings.append(Finding(
                    f"the bundle is marked immediate (即办) but user task '{task.name}' is not for the window",
                    task.file, task.line, task.bpmn_id, code="immediate_not_window",
                    params={"task": task.name}))
    return routing


@dataclass
class _Checked:
    """What the checks shared by validate() and deploy() found out about an upload."""

    files: dict[str, bytes]
    findings: list[Finding]
    compiled: object = None
    latest: ProcessVersion | None = None
    routing: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]


_UPLOAD_CODES = frozenset({"unsupported_file", "duplicate_file", "no_diagram"})


def _check(uploads: list[tuple[str, bytes]]) -> _Checked:
    """Every check of a deployment, storing nothing: files, diagrams (validation report), forms, groups."""
    findings: list[Finding] = []
    files: dict[str, bytes] = {}
    for filename, content in uploads:
        name = PurePosixPath(filename or "").name
        if not name or _kind(name) is None:
            findings.append(Finding(f"unsupported file type (expected .bpmn, .dmn or .json): {filename!r}",
                                    filename or None, code="unsupported_file", params={"filename": filename or ""}))
            continue
        if name in files:
            findings.append(Finding(f"file uploaded twice: {name}", name, code="duplicate_file",
                                    params={"filename": name}))
            continue
        files[name] = content
    diagrams = {n: c for n, c in files.items() if _kind(n) in ("bpmn", "dmn")}
    if not diagrams and not findings:
        findings.append(Finding("no .bpmn file in the upload", code="no_diagram"))
    checked = _Checked(files, findings)
    if findings:
        return checked

    report = validate_process(diagrams)
    findings.extend(report.findings)
    compiled = checked.compiled = report.process
    if compiled is None:
        return checked

    latest = checked.latest = _latest(compiled.key)
    tasks_by_form = {}
    for task in compiled.user_tasks:
        if task.form:
            tasks_by_form.setdefault(task.form, task)
    # A form the diagram references but the upload lacks is taken from the latest version.
    for form_name in sorted(compiled.forms()):
        task = tasks_by_form.get(form_name)
        if _kind(form_name) != "form":
            # Another tool's form (Camunda Forms, Flowable form keys ...): not ours to show.
            findings.append(Finding(
                f"form key {form_name!r} is not a .json form of the upload; the task shows no form until a JSON "
                "Schema form is attached", task.file if task else None, task.line if task else None,
                task.bpmn_id if task else None, WARNING, "form_key_ignored", {"form": form_name}))
            continue
        if form_name not in files and latest is not None and form_name in latest.file_map("form"):
            files[form_name] = latest.file_map("form")[form_name]
        if form_name not in files:
            findings.append(Finding(f"form {form_name} is referenced but was not uploaded", form_name,
                                    code="form_missing", params={"form": form_name}))
            continue
        try:
            forms.parse_form(files[form_name])
        except ValueError as exc:
            findings.append(Finding(f"form {form_name}: {exc}", form_name, code="form_invalid",
                                    params={"form": form_name, "detail": str(exc)}))
    for task in compiled.user_tasks:
        if not task.form:
            # Nothing limits what completing it writes: the page offers only a done button, but an
            # API client may send any keys into the case data (another task's decision too).
            findings.append(Finding(
                f"user task '{task.name}' has no form: completing it through the API may write any data "
                "into the case; attach a JSON Schema form to limit its fields", task.file, task.line,
                task.bpmn_id, WARNING, "task_without_form", {"task": task.name}))
    checked.routing = _resolve_routing(compiled, findings)
    return checked


def _templates() -> dict[str, str]:
    """Finding code -> message in the reader's language (English msgids for Flask-Babel)."""
    return {
        # the upload
        "unsupported_file": _("Unsupported file type (expected .bpmn, .dmn or .json): %(filename)s"),
        "duplicate_file": _("The file %(filename)s was uploaded twice."),
        "no_diagram": _("The upload contains no .bpmn file."),
        "form_missing": _("The form %(form)s is referenced but was not uploaded."),
        "form_key_ignored": _("The form key %(form)s is not a .json form of the upload; the task shows no form "
                              "until a JSON Schema form is attached."),
        "form_invalid": _("The form %(form)s is invalid: %(detail)s"),
        "task_without_form": _("User task %(task)s has no form: its page offers only a button to complete it, "
                               "and completing it through the API may write any data into the case. Attach a "
                               "JSON Schema form to limit its fields."),
        "unknown_groups": _("User task %(task)s names candidate groups that do not exist: %(groups)s"),
        "immediate_not_window": _("The bundle is marked immediate (即办), so the window completes it alone, but "
                                  "user task %(task)s is for another group."),
        "unknown_lane": _("User task %(task)s is in lane %(lane)s, which names no known group (use a group code "
                          "or display name, or camunda:candidateGroups)."),
        # reading the files
        "empty_file": _("The file is empty."),
        "xml_syntax": _("The XML is not well-formed: %(detail)s"),
        "doctype": _("DOCTYPE declarations are not allowed in BPMN files (they can read files or expand "
                     "entities)."),
        "too_large": _("The file is too large: %(detail)s"),
        "not_bpmn": _("This is not a BPMN 2.0 document: the root element must be <definitions> in the BPMN 2.0 "
                      "namespace."),
        "not_dmn": _("This is not a DMN decision file: the root element must be DMN <definitions>."),
        "schema": _("Not valid BPMN (XML schema): %(detail)s"),
        "dangling_flow": _("Sequence flow %(flow)s points to a missing element (%(end)s=%(ref)s)."),
        "dangling_attachment": _("Boundary event %(event)s is attached to a missing element "
                                 "(attachedToRef=%(ref)s)."),
        "dangling_default": _("Gateway %(gateway)s names a default flow that does not exist (default=%(ref)s)."),
        "too_complex": _("The diagram has more than %(limit)s elements or is chained too deeply; split it into "
                         "call activities."),
        "duplicate_process": _("Process id %(process)s is defined both in %(other)s and in this file."),
        "no_process": _("The upload contains no process."),
        "not_executable": _("No executable process: %(processes)s marked isExecutable=\"false\" "
                            "(documentation models); set isExecutable=\"true\" to run one."),
        "engine_deprecation": _("Outdated SpiffWorkflow extension (still read): %(detail)s"),
        "several_entries": _("Several executable entry processes: %(processes)s; upload one bundle at a time."),
        "engine": _("The engine cannot read the diagram: %(detail)s"),
        "refused_condition": _("The condition on sequence flow %(flow)s is refused: %(detail)s"),
        "refused_code": _("The %(kind)s of %(name)s is refused: %(detail)s"),
        "refused_decision": _("Decision %(decision)s, rule %(rule)s: the expression %(expression)s is refused: "
                              "%(detail)s"),
        "empty_script": _("Script task %(task)s has no script."),
        "invalid_task_policy": _("%(property)s=\"%(value)s\" on %(element)s is not valid: use %(allowed)s."),
        "invalid_time_limit": _("%(property)s=\"%(value)s\" on %(element)s is not a whole number between 0 "
                                "and %(limit)s (working days; for promisedHours, hours)."),
        # translation of other tools' diagrams
        "unsupported_language": _("%(where)s of %(element)s is written in %(language)s; only Python is "
                                  "supported."),
        "unsupported_expression": _("%(where)s of %(element)s: %(expression)s cannot be translated to Python "
                                    "(%(construct)s is not supported)."),
        "timer_missing": _("The timer %(element)s has no time: set a duration, a date or a cycle."),
        "timer_invalid": _("%(where)s of %(element)s: %(expression)s is not a valid ISO 8601 time (%(detail)s)."),
        "unsupported_timer": _("%(where)s of %(element)s: %(expression)s is a cron expression; use ISO 8601 "
                               "(for example R/PT1H)."),
        "flow_id_added": _("A sequence flow from %(source)s to %(target)s has no id; it was given the id "
                           "%(flow)s."),
        "unsupported_extension": _("%(construct)s on %(owner)s is not supported."),
        "unsupported_implementation": _("%(kind)s %(name)s uses %(construct)s=\"%(value)s\": Java delegates, "
                                        "expressions, external tasks and connectors cannot run here."),
        "assignee_ignored": _("%(attribute)s %(value)s of task %(task)s is not used: tasks go to the groups of "
                              "their lane or candidate groups (or to the applicant)."),
        "initiator_ignored": _("%(construct)s=%(value)s is not used: the case records who started it, no "
                               "variable is set."),
        "unsupported_listener": _("%(construct)s on %(owner)s is not supported: listeners (Java classes, beans or "
                                  "scripts) cannot run here; model the step as a task."),
        "form_fields_ignored": _("%(construct)s on %(owner)s is not imported: attach a JSON Schema form "
                                 "instead."),
        # the deploy-time lint
        "unsupported_element": _("%(construct)s %(name)s is not supported by the engine."),
        "unsupported_data_store": _("Data store %(name)s is not supported: keep case data in forms and "
                                    "scripts."),
        "unsupported_service_task": _("Service task %(name)s cannot run here: this system does not call external "
                                      "services (use a script task or a user task)."),
        "unsupported_start": _("Process %(process)s only starts on a %(kinds)s event, which nothing here sends; "
                               "cases are started by a clerk: add a plain start event."),
        "gateway_flow_without_condition": _("Sequence flow %(flow)s leaves gateway %(gateway)s without a "
                                            "condition and is not its default flow: add a condition or make it "
                                            "the default."),
        "implicit_split": _("%(kind)s %(name)s has several outgoing sequence flows; add a parallel or exclusive "
                            "gateway after it."),
        "unreachable": _("%(kind)s %(name)s can never be reached from a start event."),
        "never_ends": _("%(names)s never end: no path from there reaches an end event (a loop without a way "
                        "out)."),
        "loop_without_wait": _("The loop through %(names)s has no user task, timer or other wait: it would run "
                               "without pause and may never stop."),
        "parallel_loop_entry": _("Parallel gateway %(name)s is entered both from before and from a loop "
                                 "(sequence flow %(flows)s): it would wait for both forever; the loop must "
                                 "re-enter through an exclusive gateway."),
        "boundary_deadlock": _("Parallel join %(join)s would wait forever: when boundary event %(name)s "
                               "interrupts %(activity)s, the join still waits for the path of %(activity)s; "
                               "merge the paths with an exclusive gateway before the join, or end the boundary "
                               "path."),
        "boundary_join_waits": _("Parallel join %(join)s would wait forever: when boundary event %(name)s does "
                                 "not fire, the join still waits for its path; merge the paths with an exclusive "
                                 "gateway before the join."),
        "waits_for_message": _("%(name)s waits for the %(kind)s %(ref)s, which nothing in this upload sends; this "
                               "system cannot deliver it from outside."),
        "dangling_di": _("The diagram layout draws elements that do not exist (%(refs)s); they are ignored."),
    }


def _words() -> dict[str, str]:
    """Words that go into messages (kinds of code, JUEL constructs)."""
    return {
        "script": _("script"), "prescript": _("pre-script"), "postscript": _("post-script"),
        "condition": _("condition"), "timer": _("timer expression"), "cardinality": _("loop cardinality"),
        "completion_condition": _("completion condition"),
        "engine_variable": _("the engine variable %(text)s"), "method_call": _("the method call %(text)s"),
        "property_access": _("the property access %(text)s"), "operator": _("the %(text)s operator"),
        "template": _("text mixed with %(text)s"), "name": _("the name %(text)s"), "syntax": _("syntax (%(text)s)"),
        "message": _("message"), "signal": _("signal"), "conditional": _("conditional"),
    }


def word_finding(finding: Finding) -> dict:
    """The finding as the API returns it, its message in the current locale."""
    result = finding.as_dict()
    template = _templates().get(finding.code or "")
    params = {k: ("" if v is None else v) for k, v in finding.params.items()}
    if finding.params.get("source") == "spiff":
        template = _templates()["engine"]
        params["detail"] = finding.message
    words = _words()
    if finding.code == "refused_code" and params.get("kind") in words:
        params["kind"] = str(words[params["kind"]])
    if finding.code == "waits_for_message" and params.get("kind") in words:
        params["kind"] = str(words[params["kind"]])
    if finding.code == "unsupported_start":
        params["kinds"] = "/".join(str(words[k]) if k in words else k for k in str(params.get("kinds", "")).split("/"))
    if finding.code == "unsupported_expression" and params.get("construct_kind") in words:
        params["construct"] = str(words[params["construct_kind"]]) % {"text": params.get("construct_text", "")}
    if template:
        try:
            result["message"] = str(template) % params
        except (KeyError, TypeError, ValueError):
            result["message"] = finding.message
    return result


@dataclass
class ValidationResult:
    """The validation report of an upload, worded for the reader."""

    key: str | None
    findings: list[dict]

    @property
    def errors(self) -> list[dict]:
        return [f for f in self.findings if f["severity"] != WARNING]

    @property
    def warnings(self) -> list[dict]:
        return [f for f in self.findings if f["severity"] == WARNING]

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {"valid": self.valid, "key": self.key, "errors": self.errors, "warnings": self.warnings}


def validate(user: User, uploads: list[tuple[str, bytes]]) -> ValidationResult:
    """Every check a deployment makes (errors refuse it, warnings do not), storing nothing.

    ``user`` None is the command line (like ``deploy``); anyone else must be a designer or admin.
    """
    if user is not None:
        permissions.require_role(user, permissions.DEPLOY, "validate diagrams")
    checked = _check(uploads)
    key = checked.compiled.key if checked.compiled is not None else None
    errors = [word_finding(f) for f in checked.errors]
    warnings = [word_finding(f) for f in checked.warnings]
    return ValidationResult(key, errors + warnings)


def deploy(user: User, uploads: list[tuple[str, bytes]]) -> DeployResult:
    """Check and store a deployment; identical content returns the latest version unchanged.

    Refused (InvalidDiagram) on any error of the validation report; its warnings come back
    in the result.
    """
    checked = _check(uploads)
    if checked.errors:
        upload_level = any(f.code in _UPLOAD_CODES for f in checked.errors)
        message = _("The deployment was refused.") if upload_level else _("The diagram is invalid.")
        raise InvalidDiagram(message, [word_finding(f) for f in checked.errors])
    files, compiled, latest, routing = checked.files, checked.compiled, checked.latest, checked.routing
    warnings = [word_finding(f) for f in checked.warnings]

    digest = content_hash(files)
    if latest is not None and latest.content_hash == digest:
        record_deployment(user, "unchanged", latest.key, latest.version, {"content_hash": digest})
        return DeployResult(latest, created=False, warnings=warnings)

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
        meta={"start_form": compiled.start_form, "user_tasks": routing, "end_events": compiled.end_events,
              "time_limits": dict(compiled.time_limits)},
        deployed_by_id=user.id if user else None,
    )
    for name, content in sorted(files.items()):
        version.files.append(ProcessFile(filename=name, kind=_kind(name), content=content,
                                         sha256=hashlib.sha256(content).hexdigest()))
    db.session.add(version)
    db.session.flush()
    # Warm this worker's cache with the spec we just built.
    spec_cache().get((version.id, version.content_hash), lambda: compiled)
    record_deployment(user, "deployed", compiled.key, next_version,
                      {"content_hash": digest, "files": sorted(files), "warnings": len(warnings)})
    return DeployResult(version, created=True, warnings=warnings)


def record_deployment(user: User | None, action: str, key: str | None, version: int | None = None,
                      detail: dict | None = None) -> DeploymentEvent:
    """Append one deployment audit event (deployed, unchanged, refused, requested, approved, rejected)."""
    event = DeploymentEvent(actor_id=user.id if user else None, action=action, process_key=key,
                            version=version, detail=detail, at=utcnow())
    db.session.add(event)
    db.session.flush()
    return event


def record_refusal(user: User | None, uploads: list[tuple[str, bytes]], errors) -> DeploymentEvent:
    """Audit a refused deployment (in its own transaction: the refused one was rolled back)."""
    names = [PurePosixPath(name or "").name for name, _content in uploads]
    first = errors[0] if errors and isinstance(errors, list) and isinstance(errors[0], dict) else {}
    return record_deployment(user, "refused", None, None,
                             {"files": names, "errors": len(errors or []), "first": first.get("message")})


def deployment_events(key: str | None = None, limit: int = 200) -> list[DeploymentEvent]:
    """The deployment audit trail, newest first, optionally for one process key."""
    query = select(DeploymentEvent).order_by(DeploymentEvent.at.desc(), DeploymentEvent.id.desc()).limit(limit)
    if key:
        query = query.where(DeploymentEvent.process_key == key)
    return list(db.session.scalars(query))


def list_definitions() -> list[ProcessDefinition]:
    """Return every deployed process key with its versions."""
    return list(db.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key)))


def bundle_names() -> list[tuple[str, str]]:
    """(key, name of the latest version) of every deployed process, by name."""
    rows = db.session.execute(
        select(ProcessDefinition.key, ProcessVersion.name)
        .join(ProcessVersion, (ProcessVersion.definition_id == ProcessDefinition.id)
              & (ProcessVersion.version == ProcessDefinition.latest_version))
        .order_by(ProcessVersion.name, ProcessDefinition.key))
    return [(key, name) for key, name in rows]


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


def hidden_data_by_task(version: ProcessVersion) -> dict[str, frozenset[str]]:
    """Each user task's ``x-hiddenData`` keys (bpmn id -> keys; tasks whose form hides nothing
    are left out): an empty dict for a version whose forms hide nothing, as every bundle's.
    Cached per worker beside the forms (a version never changes)."""
    key = (version.id, version.content_hash, None)
    hidden = _HIDDEN_CACHE.get(key)
    if hidden is None:
        hidden = {}
        for bpmn_id, entry in (version.meta.get("user_tasks") or {}).items():
            keys = forms.hidden_keys(form_schema(version, entry.get("form")))
            if keys:
                hidden[bpmn_id] = frozenset(keys)
        if len(_HIDDEN_CACHE) >= _FORM_CACHE_MAX:
            _HIDDEN_CACHE.clear()
        _HIDDEN_CACHE[key] = hidden
    return hidden


_HIDDEN_CACHE: dict[tuple, dict[str, frozenset[str]]] = {}


def version_forms(version: ProcessVersion) -> list[dict | None]:
    """Every form of a version (start form first), e.g. to label case data with field titles."""
    names = [version.meta.get("start_form")]
    names += [entry.get("form") for entry in (version.meta.get("user_tasks") or {}).values()]
    return [form_schema(version, name) for name in dict.fromkeys(names) if name]
