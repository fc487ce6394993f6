"""Deployed processes."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from .. import transaction
from ..errors import InvalidDiagram
from ..services import drafts_designer, permissions, processes
from . import requires
from .schemas import DeployResponseSchema, ProcessSchema

blp = Blueprint("processes", __name__, description="Process definitions and their versions")


@blp.route("/processes", methods=["GET"])
@blp.response(200, ProcessSchema(many=True))
def list_processes():
    """Every deployed process with its versions."""
    return processes.list_definitions()


def _deploy_dump(result):
    version = result.version
    return {
        "key": version.key,
        "name": version.name,
        "version": version.version,
        "content_hash": version.content_hash,
        "created": result.created,
        "files": [f.filename for f in version.files],
        "user_tasks": version.meta.get("user_tasks", {}),
        "warnings": result.warnings,
    }


@blp.route("/processes", methods=["POST"])
@blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
    "type": "object",
    "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
}}}})
@blp.response(201, DeployResponseSchema)
@blp.alt_response(200, schema=DeployResponseSchema, description="identical to the latest version")
@blp.alt_response(202, description="FOUR_EYES_DEPLOY: a deployment request waiting for a second approver")
@requires(*permissions.DEPLOY)
def deploy_process():
    """Deploy .bpmn/.dmn files and their JSON Schema forms (field ``file``, repeated)."""
    uploads = [(f.filename, f.read()) for f in request.files.getlist("file")]
    if not uploads:
        raise InvalidDiagram("No files uploaded.", [{"file": None, "line": None, "element": None,
                                                      "message": "send one or more files in field 'file'",
                                                      "severity": "error", "code": "no_files"}])
    user = current_user._get_current_object()
    try:
        outcome = transaction.run(drafts_designer.submit_uploads, user, uploads)
    except InvalidDiagram as exc:
        transaction.run(processes.record_refusal, user, uploads, exc.errors)
        raise
    if outcome.pending is not None:
        # FOUR_EYES_DEPLOY: nothing runs until a second designer or an admin approves.
        pending = outcome.pending
        return jsonify({"status": "pending", "pending_deployment_id": pending.id, "key": pending.key,
                        "approve_url": f"/api/v1/pending-deployments/{pending.id}/approve"}), 202
    result = outcome.result
    return _deploy_dump(result), (201 if result.created else 200)


class ValidationFindingSchema(Schema):
    file = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    element = fields.String(allow_none=True)
    message = fields.String()
    severity = fields.String(metadata={"description": "error (refuses a deploy) or warning"})
    code = fields.String(allow_none=True, metadata={"description": "machine id of the rule"})


class ValidateResponseSchema(Schema):
    valid = fields.Boolean(metadata={"description": "true when a deploy would be accepted"})
    key = fields.String(allow_none=True, metadata={"description": "process key, when the diagram could be read"})
    errors = fields.List(fields.Nested(ValidationFindingSchema))
    warnings = fields.List(fields.Nested(ValidationFindingSchema))


@blp.route("/processes/validate", methods=["POST"])
@blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
    "type": "object",
    "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
}}}})
@blp.response(200, ValidateResponseSchema)
@requires(*permissions.DEPLOY)
def validate_process():
    """The validation report of .bpmn/.dmn files and forms (field ``file``, repeated); stores nothing.

    Messages follow Accept-Language (English unless zh-CN is asked for).
    """
    uploads = [(f.filename, f.read()) for f in request.files.getlist("file")]
    if not uploads:
        raise InvalidDiagram("No files uploaded.", [{"file": None, "line": None, "element": None,
                                                      "message": "send one or more files in field 'file'",
                                                      "severity": "error", "code": "no_files"}])
    return processes.validate(current_user._get_current_object(), uploads).as_dict()
