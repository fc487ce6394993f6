"""Deployed processes."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_smorest import Blueprint

from .. import transaction
from ..errors import InvalidDiagram
from ..services import permissions, processes
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
    }


@blp.route("/processes", methods=["POST"])
@blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
    "type": "object",
    "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
}}}})
@blp.response(201, DeployResponseSchema)
@blp.alt_response(200, schema=DeployResponseSchema, description="identical to the latest version")
@requires(*permissions.DEPLOY)
def deploy_process():
    """Deploy .bpmn/.dmn files and their JSON Schema forms (field ``file``, repeated)."""
    uploads = [(f.filename, f.read()) for f in request.files.getlist("file")]
    if not uploads:
        raise InvalidDiagram("No files uploaded.", [{"file": None, "line": None, "element": None,
                                                      "message": "send one or more files in field 'file'"}])
    result = transaction.run(processes.deploy, current_user._get_current_object(), uploads)
    return _deploy_dump(result), (201 if result.created else 200)
