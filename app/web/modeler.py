"""The process modeler: edit a version's diagram (bpmn-js Modeler) and forms, validate, save a draft, deploy.

The page holds the files; saving, validating and deploying go through the JSON API under
/api/v1/drafts (session cookie + CSRF header). Only the form preview is HTML, rendered
here with the same renderer the task pages use.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..services import drafts_designer, forms, permissions
from . import formrender, params

bp = Blueprint("web_modeler", __name__)

DIAGRAM_SUFFIXES = (".bpmn", ".xml")
CHANGE_LABELS = {"added": _l("added"), "removed": _l("removed"), "changed": _l("changed"), "same": _l("unchanged")}


def _user():
    return current_user._get_current_object()


def _library_url() -> str | None:
    """The process library page, when its blueprint is installed."""
    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/designer" and "GET" in (rule.methods or ()):
            return url_for(rule.endpoint)
    return None


def _main_diagram(key: str, names: list[str], files: dict[str, str]) -> str | None:
    """The diagram that holds the process ``key`` (other diagrams are called processes)."""
    for name in names:
        if f'id="{key}"' in files[name]:
            return name
    return names[0] if names else None


def _texts() -> dict[str, str]:
    """The messages the script shows, in the page's language (``%(name)s`` placeholders)."""
    return {
        "saving": _("Saving…"),
        "saved": _("Draft saved (revision %(n)s). What runs has not changed."),
        "saveFailed": _("The draft was not saved: %(reason)s"),
        "validating": _("Validating…"),
        "valid": _("Validation passed: the process can be deployed."),
        "validWithWarnings": _("Validation passed with %(n)s warning(s)."),
        "invalid": _("Validation found %(n)s error(s). Deploy is refused until they are fixed."),
        "deploying": _("Deploying…"),
        "deployed": _("Deployed as version %(v)s."),
        "unchanged": _("Nothing changed: version %(v)s is still current."),
        "requested": _("Deployment requested (request %(id)s). It takes effect after another designer "
                       "or an admin approves it."),
        "deployFailed": _("Deploy refused: %(reason)s"),
        "stale": _("A newer version was deployed after this draft was started. Open the latest version, "
                   "or deploy anyway to replace it."),
        "failed": _("The request failed: %(reason)s"),
        "noLayout": _("This diagram has no layout information (BPMN DI), so it cannot be edited here. "
                      "Open it in a modelling tool once, or edit its forms only."),
        "library": _("Open the process library"),
        "editVersion": _("Edit version %(v)s"),
        "jsonOk": _("The JSON is well-formed."),
        "jsonError": _("JSON error: %(reason)s"),
        "error": _("Error"),
        "warning": _("Warning"),
        "line": _("line %(n)s"),
        "showElement": _("Show in diagram"),
        "noSelection": _("Select an element in the diagram to edit its properties."),
        "name": _("Element name"),
        "id": _("ID"),
        "idInvalid": _("This ID is not valid or is already used."),
        "documentation": _("Instructions for the task page"),
        "form": _("Form file"),
        "formHelp": _("A form of this process (.json); add new forms below."),
        "candidateGroups": _("Candidate groups"),
        "candidateGroupsHelp": _("Group codes separated by commas. Empty: the lane's name decides the group."),
        "laneHelp": _("The lane's name is the code or name of the group that works on its tasks."),
        "condition": _("Condition"),
        "conditionHelp": _('An expression on the case data, e.g. check_decision == "accept".'),
        "defaultFlow": _("Default flow (taken when no condition holds)"),
        "timer": _("Timer"),
        "timeDuration": _("Duration"),
        "timeDate": _("Date"),
        "timeCycle": _("Cycle"),
        "timerValue": _("Timer value"),
        "timerHelp": _("ISO 8601: PT2H, P3D, 2026-12-01T09:00:00+08:00, R3/PT1H."),
        "script": _("Script"),
        "newFormExists": _("A form with this name exists already."),
        "newFormInvalid": _("A form file name ends with .json and has no folders."),
        "unsaved": _("You have unsaved changes."),
        "approved": _("Approved: version %(v)s is deployed."),
        "rejected": _("The request was rejected."),
        "types": {
            "bpmn:UserTask": _("User task"),
            "bpmn:ScriptTask": _("Script task"),
            "bpmn:ServiceTask": _("Service task"),
            "bpmn:Task": _("Task"),
            "bpmn:CallActivity": _("Call activity"),
            "bpmn:SubProcess": _("Sub-process"),
            "bpmn:StartEvent": _("Start event"),
            "bpmn:EndEvent": _("End event"),
            "bpmn:IntermediateCatchEvent": _("Intermediate event"),
            "bpmn:IntermediateThrowEvent": _("Intermediate event"),
            "bpmn:BoundaryEvent": _("Boundary event"),
            "bpmn:ExclusiveGateway": _("Exclusive gateway"),
            "bpmn:ParallelGateway": _("Parallel gateway"),
            "bpmn:InclusiveGateway": _("Inclusive gateway"),
            "bpmn:EventBasedGateway": _("Event-based gateway"),
            "bpmn:SequenceFlow": _("Sequence flow"),
            "bpmn:Lane": _("Lane"),
            "bpmn:Participant": _("Pool"),
        },
    }


@bp.get("/designer/<key>/edit")
@login_required
def edit(key: str):
    """Open ``?version=N`` (default: the latest), ``?draft=ID`` or a request ``?pending=ID`` in the modeler."""
    user = _user()
    source = drafts_designer.editor_source(user, key, params.record_id(request.args.get("version")),
                                          params.record_id(request.args.get("draft")),
                                          params.record_id(request.args.get("pending")))
    names = sorted(source.files)
    diagrams = [n for n in names if PurePosixPath(n).suffix.lower() in DIAGRAM_SUFFIXES]
    form_names = [n for n in names if PurePosixPath(n).suffix.lower() == ".json"]
    library = _library_url()
    data = {
        "key": key,
        "version": source.base.version if source.base else None,
        "draft": {"id": source.draft.id, "revision": source.draft.revision} if source.draft else None,
        "pending": source.pending.id if source.pending else None,
        "files": source.files,
        "diagram": _main_diagram(key, diagrams, source.files),
        "fourEyes": drafts_designer.four_eyes(),
        "userId": user.id,
        "urls": {
            "drafts": "/api/v1/drafts",
            "validate": "/api/v1/drafts/validate",
            "pending": "/api/v1/pending-deployments",
            "edit": url_for("web_modeler.edit", key=key),
            "library": library,
        },
        "text": _texts(),
    }
    drafts = drafts_designer.list_drafts(user, key)
    requests = [p for p in drafts_designer.list_pending(user) if p.key == key]
    return render_template(
        "web/modeler.html", source=source, data=data, diagrams=diagrams, form_names=form_names, drafts=drafts,
        requests=requests, changes={p.id: drafts_designer.changed_files(p) for p in requests},
        change_labels=CHANGE_LABELS, library_url=library, four_eyes=data["fourEyes"])


@bp.post("/designer/<key>/edit/preview-form")
@login_required
def preview_form(key: str):
    """Render a JSON Schema form the way task pages will (htmx fragment), or say why it cannot be."""
    permissions.require_role(_user(), permissions.DEPLOY, "preview forms")
    try:
        schema = forms.parse_form(request.form.get("schema", "").encode("utf-8"))
    except ValueError as exc:
        return render_template("web/_form_preview.html", schema=None, bound=[], problem=str(exc))
    form_fields = formrender.fields(schema)
    return render_template("web/_form_preview.html", schema=schema, problem=None,
                           bound=formrender.bind(form_fields, formrender.initial(form_fields, None)))
