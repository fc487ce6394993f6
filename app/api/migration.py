"""Moving running cases to a newer process version (designers and admins)."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from ..errors import InvalidInput
from ..services import migration, permissions
from . import requires
from .schemas import MAX_ID

blp = Blueprint("migration", __name__, description="Preview and move running cases to a newer process version")

_ID = fields.String(validate=validate.Length(min=1, max=200))


def _check_versions(data) -> None:
    if data["to_version"] <= data["from_version"]:
        raise ValidationError(["Choose a version after `from`."], "to")


class PreviewQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    from_version = fields.Integer(data_key="from", required=True, validate=validate.Range(min=1, max=MAX_ID))
    to_version = fields.Integer(data_key="to", required=True, validate=validate.Range(min=1, max=MAX_ID))
    map = fields.List(fields.String(validate=validate.Regexp(r"^[^:]+:[^:]+$")), load_default=list, metadata={
        "description": "task mapping, repeated: `map=old_bpmn_id:new_bpmn_id`"})

    @validates_schema
    def _versions(self, data, **_kwargs):
        _check_versions(data)


class MigrateRequestSchema(Schema):
    from_version = fields.Integer(data_key="from", required=True, validate=validate.Range(min=1, max=MAX_ID))
    to_version = fields.Integer(data_key="to", required=True, validate=validate.Range(min=1, max=MAX_ID))
    case_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)), load_default=None,
                           validate=validate.Length(max=10000),
                           metadata={"description": "cases to move (default: every active case of `from`; "
                                                    "those that cannot move are reported as refused)"})
    mapping = fields.Dict(keys=_ID, values=_ID, load_default=dict,
                          metadata={"description": "{old_bpmn_id: new_bpmn_id} for tasks the new version "
                                                   "removed or changed; {id: id} accepts a changed task"})

    @validates_schema
    def _versions(self, data, **_kwargs):
        _check_versions(data)


class ReasonSchema(Schema):
    code = fields.String(metadata={"description": "stable reason code, e.g. task_removed, routing_changed"})
    params = fields.Dict(metadata={"description": "what the message names: task, name, candidate, ..."})
    message = fields.String(metadata={"description": "the reason in the request's language"})


class PreviewCaseSchema(Schema):
    case_id = fields.Integer()
    receipt_no = fields.String()
    applicant_name = fields.String()
    eligible = fields.Boolean()
    waiting_at = fields.List(fields.String(), metadata={"description": "steps the case is waiting at"})
    reasons = fields.List(fields.Nested(ReasonSchema))


class PreviewSchema(Schema):
    key = fields.String()
    from_version = fields.Integer(data_key="from")
    to_version = fields.Integer(data_key="to")
    total = fields.Integer()
    eligible = fields.Integer()
    cases = fields.List(fields.Nested(PreviewCaseSchema))


class ResultSchema(Schema):
    case_id = fields.Integer()
    receipt_no = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "moved | refused | failed"})
    from_version = fields.Integer(allow_none=True)
    to_version = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "machine code when not moved"})
    message = fields.String(allow_none=True)
    reasons = fields.List(fields.Nested(ReasonSchema))


class MigrateResponseSchema(Schema):
    key = fields.String()
    from_version = fields.Integer(data_key="from")
    to_version = fields.Integer(data_key="to")
    moved = fields.Integer()
    refused = fields.Integer()
    failed = fields.Integer()
    results = fields.List(fields.Nested(ResultSchema))


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        old, new = (part.strip() for part in pair.split(":", 1))
        if not old or not new:
            raise InvalidInput("Invalid mapping.", {"map": [f"{pair!r} is not old_id:new_id"]})
        mapping[old] = new
    return mapping


@blp.route("/processes/<key>/migration", methods=["GET"])
@blp.arguments(PreviewQuerySchema, location="query")
@blp.response(200, PreviewSchema)
@requires(*permissions.DEPLOY)
def preview(query, key):
    """Every active case of version `from`: can it move to `to`, and if not, why (designers, admins)."""
    rows = migration.preview(key, query["from_version"], query["to_version"], _mapping(query["map"]))
    return {"key": key, "from_version": query["from_version"], "to_version": query["to_version"],
            "total": len(rows), "eligible": sum(r.eligible for r in rows), "cases": [r.as_dict() for r in rows]}


@blp.route("/processes/<key>/migration", methods=["POST"])
@blp.arguments(MigrateRequestSchema)
@blp.response(200, MigrateResponseSchema)
@requires(*permissions.DEPLOY)
def migrate(body, key):
    """Move cases of `from` to `to`, each in its own transaction and audited; one result per case.

    Cases that cannot move (any more) are refused with their reasons; the others still move.
    """
    # Not wrapped in transaction.run: the service commits once per case.
    results = migration.migrate_all(current_user._get_current_object(), key, body["from_version"],
                                    body["to_version"], body["mapping"], body["case_ids"])
    counts = {status: sum(r.status == status for r in results) for status in ("moved", "refused", "failed")}
    return {"key": key, "from_version": body["from_version"], "to_version": body["to_version"], **counts,
            "results": [r.as_dict() for r in results]}
