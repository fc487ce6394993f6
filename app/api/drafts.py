"""Process drafts, validation, deploy from a draft, and four-eyes deployment requests."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from .. import transaction
from ..errors import InvalidDiagram
from ..services import drafts_designer, permissions
from . import requires
from .schemas import ID_RANGE, MAX_ID, DeployResponseSchema

blp = Blueprint("drafts", __name__, description="Process drafts and deployment requests (designers, admins)")

FILES = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=255)), values=fields.String(),
                    metadata={"description": "{filename: text}: .bpmn/.dmn diagrams and .json forms"})


def _user():
    return current_user._get_current_object()


def _username(user) -> str | None:
    return user.username if user else None


class DraftBriefSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    base_version = fields.Function(lambda d: d.base_version.version if d.base_version else None, allow_none=True)
    author = fields.Function(lambda d: _username(d.author))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    revision = fields.Integer(metadata={"description": "send it back with PUT to detect concurrent saves"})
    file_names = fields.Function(lambda d: sorted(d.files))


class DraftSchema(DraftBriefSchema):
    files = FILES


class DraftCreateSchema(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    base_version = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_ID),
                                  metadata={"description": "the version the draft starts from (latest if omitted)"})
    files = fields.Dict(keys=fields.String(), values=fields.String(), load_default=None, allow_none=True,
                        metadata={"description": "omit to copy the base version's files"})


class DraftUpdateSchema(Schema):
    files = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    revision = fields.Integer(load_default=None, allow_none=True, validate=ID_RANGE,
                              metadata={"description": "the revision you loaded; 409 if someone saved since"})


class ValidateRequestSchema(Schema):
    files = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class FindingSchema(Schema):
    file = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    element = fields.String(allow_none=True)
    message = fields.String()
    severity = fields.String(metadata={"description": "error | warning"})
    code = fields.String(allow_none=True, metadata={"description": "the rule, when the validator names it"})


class ReportSchema(Schema):
    valid = fields.Boolean()
    findings = fields.List(fields.Nested(FindingSchema))


class DeployRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    force = fields.Boolean(load_default=False,
                           metadata={"description": "deploy even if a newer version appeared since the draft began"})


class DecisionSchema(Schema):
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class PendingSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    status = fields.String(metadata={"description": "pending | approved | rejected"})
    base_version = fields.Function(lambda p: p.base_version.version if p.base_version else None, allow_none=True)
    version = fields.Function(lambda p: p.version.version if p.version else None, allow_none=True,
                              metadata={"description": "the version the approval deployed"})
    content_hash = fields.String()
    file_names = fields.Function(lambda p: sorted(p.files))
    changes = fields.Function(drafts_designer.changed_files,
                              metadata={"description": "{filename: added | removed | changed | same} vs the base"})
    draft_id = fields.Integer(allow_none=True)
    requested_by = fields.Function(lambda p: _username(p.requested_by))
    requested_at = fields.DateTime()
    approved_by = fields.Function(lambda p: _username(p.approved_by))
    approved_at = fields.DateTime(allow_none=True)
    rejected_by = fields.Function(lambda p: _username(p.rejected_by))
    rejected_at = fields.DateTime(allow_none=True)
    comment = fields.String(allow_none=True)


class PendingListQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(load_default="pending", validate=validate.OneOf(("pending", "approved", "rejected", "all")))


class DeployOutcomeSchema(Schema):
    status = fields.String(metadata={"description": "deployed | unchanged | pending"})
    version = fields.Nested(DeployResponseSchema, allow_none=True)
    pending = fields.Nested(PendingSchema, allow_none=True)


def _outcome(outcome: drafts_designer.DeployOutcome):
    """201 with the new version, 200 when identical to the latest, 202 when it waits for approval."""
    if outcome.pending is not None:
        return {"status": "pending", "version": None, "pending": outcome.pending}, 202
    version = outcome.result.version
    dumped = {"key": version.key, "name": version.name, "version": version.version,
              "content_hash": version.content_hash, "created": outcome.result.created,
              "files": [f.filename for f in version.files], "user_tasks": version.meta.get("user_tasks", {}),
              "warnings": list(getattr(outcome.result, "warnings", None) or [])}
    status = "deployed" if outcome.result.created else "unchanged"
    return {"status": status, "version": dumped, "pending": None}, (201 if outcome.result.created else 200)


def _report(report: drafts_designer.Report):
    return {"valid": report.valid, "findings": report.findings}


# -- drafts -----------------------------------------------------------------------------------


@blp.route("/drafts", methods=["GET"])
@blp.response(200, DraftBriefSchema(many=True))
@requires(*permissions.DEPLOY)
def list_drafts():
    """Every draft (``?key=`` for one process), most recently saved first."""
    return drafts_designer.list_drafts(_user(), request.args.get("key") or None)


@blp.route("/drafts", methods=["POST"])
@blp.arguments(DraftCreateSchema)
@blp.response(201, DraftSchema)
@requires(*permissions.DEPLOY)
def create_draft(body):
    """Start a draft of a process from one of its versions (saving never changes what runs)."""
    return transaction.run(drafts_designer.create_draft, _user(), body["key"], body["base_version"], body["files"])


@blp.route("/drafts/validate", methods=["POST"])
@blp.arguments(ValidateRequestSchema)
@blp.response(200, ReportSchema)
@requires(*permissions.DEPLOY)
def validate_files(body):
    """Validate files as a deploy would (nothing is stored); ``valid`` is false on any error."""
    return _report(transaction.run(drafts_designer.validate_files, _user(), body["files"]))


@blp.route("/drafts/<int:draft_id>", methods=["GET"])
@blp.response(200, DraftSchema)
@requires(*permissions.DEPLOY)
def get_draft(draft_id):
    """A draft with its files."""
    return drafts_designer.get_draft(_user(), draft_id)


@blp.route("/drafts/<int:draft_id>", methods=["PUT"])
@blp.arguments(DraftUpdateSchema)
@blp.response(200, DraftSchema)
@requires(*permissions.DEPLOY)
def update_draft(body, draft_id):
    """Save a draft's files (its author or an admin)."""
    return transaction.run(drafts_designer.update_draft, _user(), draft_id, body["files"], body["revision"])


@blp.route("/drafts/<int:draft_id>", methods=["DELETE"])
@blp.response(204)
@requires(*permissions.DEPLOY)
def delete_draft(draft_id):
    """Throw a draft away (its author or an admin)."""
    transaction.run(drafts_designer.delete_draft, _user(), draft_id)
    return None


@blp.route("/drafts/<int:draft_id>/validate", methods=["POST"])
@blp.response(200, ReportSchema)
@requires(*permissions.DEPLOY)
def validate_draft(draft_id):
    """Validate a saved draft."""
    user = _user()
    return _report(transaction.run(
        lambda: drafts_designer.validate_files(user, drafts_designer.get_draft(user, draft_id).files)))


@blp.route("/drafts/<int:draft_id>/deploy", methods=["POST"])
@blp.arguments(DeployRequestSchema)
@blp.response(201, DeployOutcomeSchema)
@blp.alt_response(200, schema=DeployOutcomeSchema, description="identical to the latest version")
@blp.alt_response(202, schema=DeployOutcomeSchema, description="FOUR_EYES_DEPLOY: waits for a second approver")
@requires(*permissions.DEPLOY)
def deploy_draft(body, draft_id):
    """Deploy a draft as a new version (409 ``stale_base`` if a newer version appeared; send force)."""
    return _outcome(transaction.run(drafts_designer.deploy_draft, _user(), draft_id, body["force"]))


# -- four-eyes deployment requests ------------------------------------------------------------


@blp.route("/pending-deployments", methods=["GET"])
@blp.arguments(PendingListQuerySchema, location="query")
@blp.response(200, PendingSchema(many=True))
@requires(*permissions.DEPLOY)
def list_pending(query):
    """Deployment requests (``?status=pending`` by default; ``all`` for the whole history)."""
    status = None if query["status"] == "all" else query["status"]
    return drafts_designer.list_pending(_user(), status)


@blp.route("/pending-deployments", methods=["POST"])
@blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
    "type": "object",
    "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
}}}})
@blp.response(202, DeployOutcomeSchema)
@blp.alt_response(201, schema=DeployOutcomeSchema, description="FOUR_EYES_DEPLOY is off: deployed now")
@requires(*permissions.DEPLOY)
def request_deployment():
    """Upload files (field ``file``, repeated) for deployment; with FOUR_EYES_DEPLOY it waits for approval."""
    uploads = [(f.filename, f.read()) for f in request.files.getlist("file")]
    if not uploads:
        raise InvalidDiagram("No files uploaded.", [{"file": None, "line": None, "element": None,
                                                      "message": "send one or more files in field 'file'"}])
    return _outcome(transaction.run(drafts_designer.submit_uploads, _user(), uploads))


@blp.route("/pending-deployments/<int:pending_id>", methods=["GET"])
@blp.response(200, PendingSchema)
@requires(*permissions.DEPLOY)
def get_pending(pending_id):
    """One deployment request, with its changes against the version it was based on."""
    return drafts_designer.get_pending(_user(), pending_id)


@blp.route("/pending-deployments/<int:pending_id>/approve", methods=["POST"])
@blp.arguments(DecisionSchema)
@blp.response(200, PendingSchema)
@requires(*permissions.DEPLOY)
def approve_pending(body, pending_id):
    """Approve and deploy (another designer or an admin; never the requester: 403 ``own_request``)."""
    return transaction.run(drafts_designer.approve, _user(), pending_id, body["comment"])


@blp.route("/pending-deployments/<int:pending_id>/reject", methods=["POST"])
@blp.arguments(DecisionSchema)
@blp.response(200, PendingSchema)
@requires(*permissions.DEPLOY)
def reject_pending(body, pending_id):
    """Reject a request (the requester may withdraw their own)."""
    return transaction.run(drafts_designer.reject, _user(), pending_id, body["comment"])
