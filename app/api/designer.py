"""The process library for designers: versions with case counts, their files, and version diffs."""

from __future__ import annotations

import io

from flask import send_file, url_for
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from ..services import designer, processes
from . import requires
from .schemas import MAX_ID

blp = Blueprint("designer", __name__, description="Process library: versions, files and diffs (designers)")


# -- schemas ---------------------------------------------------------------------------------------


class CaseCountsSchema(Schema):
    running = fields.Integer(metadata={"description": "cases of this version still in progress"})
    finished = fields.Integer(metadata={"description": "completed or terminated cases"})


class FileInfoSchema(Schema):
    filename = fields.String()
    kind = fields.String(metadata={"description": "bpmn | dmn | form"})
    size = fields.Integer(metadata={"description": "bytes"})
    sha256 = fields.String()
    url = fields.Function(lambda f: url_for("designer.version_file", key=f.key, version=f.version,
                                            filename=f.filename),
                          metadata={"description": "download of the raw file"})


class VersionSummarySchema(Schema):
    version = fields.Integer(attribute="version.version")
    name = fields.String(attribute="version.name")
    content_hash = fields.String(attribute="version.content_hash")
    deployed_at = fields.DateTime(attribute="version.deployed_at")
    deployed_by = fields.Function(lambda e: e.version.deployed_by.username if e.version.deployed_by else None,
                                  metadata={"description": "username; null when deployed without a user"})
    latest = fields.Boolean(metadata={"description": "new cases start on this version"})
    previous = fields.Integer(allow_none=True, metadata={"description": "the version before this one"})
    cases = fields.Nested(CaseCountsSchema, attribute="counts")
    files = fields.Function(lambda e: [f.filename for f in e.files])


class VersionListSchema(Schema):
    key = fields.String()
    name = fields.String(attribute="definition.name")
    latest_version = fields.Integer(attribute="definition.latest_version")
    versions = fields.List(fields.Nested(VersionSummarySchema), metadata={"description": "newest first"})


class UserTaskSchema(Schema):
    id = fields.String(metadata={"description": "BPMN id"})
    name = fields.String()
    lane = fields.String(allow_none=True)
    groups = fields.List(fields.String(), metadata={"description": "group codes the task is offered to"})
    initiator = fields.Boolean(metadata={"description": "the task goes to the clerk who started the case"})
    form = fields.String(allow_none=True)


class VersionDetailSchema(VersionSummarySchema):
    key = fields.String(attribute="version.key")
    start_form = fields.Function(lambda e: e.version.meta.get("start_form"), allow_none=True)
    user_tasks = fields.Function(lambda e: UserTaskSchema(many=True).dump(designer.user_tasks(e.version)),
                                 metadata={"description": "user tasks with routing and form"})
    end_events = fields.Function(lambda e: e.version.meta.get("end_events") or {},
                                 metadata={"description": "end event id -> name (the case outcome)"})
    files = fields.List(fields.Nested(FileInfoSchema))


class DiffQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    from_version = fields.Integer(data_key="from", load_default=None, validate=validate.Range(min=1, max=MAX_ID),
                                  metadata={"description": "older version (default: the one before `to`)"})
    to_version = fields.Integer(data_key="to", load_default=None, validate=validate.Range(min=1, max=MAX_ID),
                                metadata={"description": "newer version (default: the latest)"})


class ChangeSchema(Schema):
    field = fields.String()
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)


class ElementSchema(Schema):
    id = fields.String()
    name = fields.String(allow_none=True)
    type = fields.String(metadata={"description": "BPMN element type, e.g. userTask, exclusiveGateway"})
    process = fields.String(metadata={"description": "process (or called process) the element belongs to"})
    changes = fields.List(fields.Nested(ChangeSchema))
    source = fields.String(allow_none=True, metadata={"description": "flows only"})
    target = fields.String(allow_none=True, metadata={"description": "flows only"})


class ElementGroupSchema(Schema):
    added = fields.List(fields.Nested(ElementSchema))
    removed = fields.List(fields.Nested(ElementSchema))
    changed = fields.List(fields.Nested(ElementSchema))


class PropertyChangeSchema(Schema):
    property = fields.String(metadata={"description": "field path: a.b for nested objects, a[].b for lists"})
    changes = fields.List(fields.Nested(ChangeSchema))


class FormDiffSchema(Schema):
    file = fields.String()
    changes = fields.List(fields.Nested(ChangeSchema), metadata={"description": "top-level keywords (title ...)"})
    properties_added = fields.List(fields.String())
    properties_removed = fields.List(fields.String())
    properties_changed = fields.List(fields.Nested(PropertyChangeSchema))
    required_added = fields.List(fields.String())
    required_removed = fields.List(fields.String())


class FormGroupSchema(Schema):
    added = fields.List(fields.Nested(FormDiffSchema))
    removed = fields.List(fields.Nested(FormDiffSchema))
    changed = fields.List(fields.Nested(FormDiffSchema))


class FileGroupSchema(Schema):
    added = fields.List(fields.String())
    removed = fields.List(fields.String())
    changed = fields.List(fields.String())


class DiffSchema(Schema):
    key = fields.String()
    from_version = fields.Integer(attribute="from", data_key="from")
    to_version = fields.Integer(attribute="to", data_key="to")
    identical = fields.Boolean(metadata={"description": "the two versions have the same files"})
    name = fields.Nested(ChangeSchema, allow_none=True, metadata={"description": "process name change"})
    tasks = fields.Nested(ElementGroupSchema)
    gateways = fields.Nested(ElementGroupSchema)
    events = fields.Nested(ElementGroupSchema)
    flows = fields.Nested(ElementGroupSchema)
    forms = fields.Nested(FormGroupSchema)
    files = fields.Nested(FileGroupSchema)


# -- routes ----------------------------------------------------------------------------------------


@blp.route("/processes/<key>/versions", methods=["GET"])
@blp.response(200, VersionListSchema)
@requires(*designer.DESIGNERS)
def list_versions(key):
    """Every version of a process, newest first, with who deployed it when and its case counts."""
    return designer.process_entry(key)


@blp.route("/processes/<key>/versions/<int:version>", methods=["GET"])
@blp.response(200, VersionDetailSchema)
@requires(*designer.DESIGNERS)
def get_version(key, version):
    """One version: deployment, case counts, user tasks with routing and forms, and its files."""
    return designer.version_entry(key, version)


@blp.route("/processes/<key>/versions/<int:version>/files/<filename>", methods=["GET"])
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream",
              description="the raw file (application/xml for BPMN/DMN, application/json for forms), "
                          "as an attachment")
@requires(*designer.DESIGNERS)
def version_file(key, version, filename):
    """Download one stored file (diagram or form) of a version."""
    file = designer.version_file(key, version, filename)
    response = send_file(io.BytesIO(file.content), mimetype=designer.media_type(file), as_attachment=True,
                         download_name=file.filename, etag=file.sha256, conditional=True)
    # Uploaded XML/JSON: never sniffed or run as a page on our origin.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@blp.route("/processes/<key>/diff", methods=["GET"])
@blp.arguments(DiffQuerySchema, location="query")
@blp.response(200, DiffSchema)
@requires(*designer.DESIGNERS)
def diff_versions(query, key):
    """Tasks, gateways, events, flows and forms added, removed or changed between two versions."""
    return designer.diff(key, query["from_version"], query["to_version"]).as_dict()


class DeploymentEventSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.Function(lambda e: e.actor.username if e.actor else None)
    action = fields.String(metadata={"description": "deployed, unchanged, refused, requested, approved, rejected"})
    process_key = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)
    detail = fields.Raw(allow_none=True)


class DeploymentQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    key = fields.String(load_default=None)
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


@blp.route("/deployments", methods=["GET"])
@blp.arguments(DeploymentQuerySchema, location="query")
@blp.response(200, DeploymentEventSchema(many=True))
@requires("designer", "admin", "supervisor")
def list_deployments(query):
    """The deployment audit trail, newest first (every deploy, refusal and four-eyes decision)."""
    return processes.deployment_events(query["key"], query["limit"])
