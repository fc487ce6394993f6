"""The process library (流程库) for designers: versions, their diagrams and files, and version diffs."""

from __future__ import annotations

import io
import json
from functools import wraps

from flask import Blueprint, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.routing import BuildError

from ..models import ProcessFile
from ..services import designer, permissions
from . import params

bp = Blueprint("web_designer", __name__)

KIND_LABELS = {
    "task": _l("Tasks"),
    "gateway": _l("Gateways"),
    "event": _l("Events"),
    "flow": _l("Sequence flows"),
}
CHANGE_LABELS = {
    "added": _l("Added"),
    "removed": _l("Removed"),
    "changed": _l("Changed"),
}
# What the attributes a diff names are called on the page; anything else shows its technical name.
FIELD_LABELS = {
    "id": _l("ID"),
    "name": _l("Element name"),
    "type": _l("Type"),
    "lane": _l("Lane"),
    "candidate_groups": _l("Candidate groups"),
    "assignee": _l("Assignee"),
    "form": _l("Form"),
    "documentation": _l("Instructions"),
    "condition": _l("Condition"),
    "default": _l("Default flow"),
    "source": _l("From"),
    "target": _l("To"),
    "timer": _l("Timer"),
    "script": _l("Script"),
    "interrupting": _l("Interrupting"),
    "called_element": _l("Called process"),
    "title": _l("Title"),
    "content": _l("Content"),
}


def _user():
    return current_user._get_current_object()


def designers_only(view):
    """Logged-in designers and admins; others get the 403 page."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        permissions.require_role(_user(), designer.DESIGNERS, "use the process library")
        return view(*args, **kwargs)

    return login_required(wrapped)


def value_text(value) -> str:
    """A diff value as a designer reads it: lists joined, yes/no, '—' for nothing."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def untrusted_download(content: bytes, mimetype: str, name: str, etag: str):
    """Uploaded XML or JSON as a download that a browser will never run as a page on our origin."""
    response = send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=name,
                         etag=etag, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def stored_file_response(file: ProcessFile):
    """A stored diagram or form of a version as a download."""
    return untrusted_download(file.content, designer.media_type(file), file.filename, file.sha256)


@bp.app_template_global()
def designer_file_url(key: str, version: int, filename: str) -> str:
    """The download of one file of a version."""
    return url_for("web_designer.file", key=key, version=version, filename=filename)


@bp.app_template_global()
def modeler_url(key: str, version: int) -> str | None:
    """The in-browser modeler opened on a version, while that page exists (another blueprint owns it)."""
    try:
        return url_for("web_modeler.edit", key=key, version=version)
    except BuildError:
        return None


@bp.get("/designer")
@designers_only
def library():
    """Every process key with its versions: who deployed when, hash, cases, downloads, compare links."""
    return render_template("web/designer_library.html", processes=designer.library())


@bp.get("/designer/<key>/v/<int:version>")
@designers_only
def version(key: str, version: int):
    """One version: its diagram, user tasks with lane, groups and form, and its files."""
    entry = designer.version_entry(key, version)
    return render_template("web/designer_version.html", entry=entry, key=key,
                           user_tasks=designer.user_tasks(entry.version),
                           file_names={f.filename for f in entry.files})


@bp.get("/designer/<key>/v/<int:version>/diagram.bpmn")
@designers_only
def diagram(key: str, version: int):
    """The BPMN of a version for the diagram viewer (same headers as any stored file)."""
    found, content = designer.diagram(key, version)
    return untrusted_download(content, "application/xml", f"{key}-v{version}.bpmn", found.content_hash)


@bp.get("/designer/<key>/v/<int:version>/files/<filename>")
@designers_only
def file(key: str, version: int, filename: str):
    """Download a version's BPMN, DMN or form file."""
    return stored_file_response(designer.version_file(key, version, filename))


@bp.get("/designer/<key>/diff")
@designers_only
def diff(key: str):
    """What changed between two versions (``?from=&to=``; default: the latest against the one before)."""
    entry = designer.process_entry(key)
    result = designer.diff(key, params.record_id(request.args.get("from")), params.record_id(request.args.get("to")))
    return render_template("web/designer_diff.html", entry=entry, result=result, diff=result.diff,
                           kinds=designer.ELEMENT_KINDS, statuses=designer.STATUSES, kind_labels=KIND_LABELS,
                           change_labels=CHANGE_LABELS, field_labels=FIELD_LABELS, value_text=value_text)
