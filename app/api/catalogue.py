"""The service catalogue (办事指南): public reading, checklists by scenario, imports by designers."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields

from .. import transaction
from ..errors import InvalidInput
from ..services import catalogue, permissions
from . import public, requires
from .schemas import ID_RANGE

blp = Blueprint("catalogue", __name__, description="Service catalogue (办事指南): bundles, items, materials")


class EntrySchema(Schema):
    key = fields.String()
    revision = fields.Integer()
    name = fields.String()
    imported_at = fields.DateTime()
    data = fields.Raw(metadata={"description": "the catalogue entry (catalogue/schema.json)"})


class EntryQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    revision = fields.Integer(load_default=None, validate=ID_RANGE)


class ChecklistRequestSchema(Schema):
    answers = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


class ReductionQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    from_revision = fields.Integer(required=True, data_key="from", validate=ID_RANGE)
    to_revision = fields.Integer(required=True, data_key="to", validate=ID_RANGE)


class MaterialSchema(Schema):
    code = fields.String()

    def get_attribute(self, obj, attr, default):
        """Materials are dicts: a missing ``items`` is absent, never the dict's ``items`` method."""
        if isinstance(obj, dict):
            return obj.get(attr, default)
        return super().get_attribute(obj, attr, default)

    name = fields.String()
    form = fields.String(metadata={"enum": ["original", "copy", "electronic", "original_and_copy"]})
    copies = fields.Integer()
    required = fields.Boolean()
    shared = fields.Boolean(metadata={"description": "from e-licences or data sharing: not to be brought"})
    items = fields.List(fields.String())
    when = fields.Dict(keys=fields.String(), values=fields.String())
    note = fields.String()


class ReductionSchema(Schema):
    items_removed = fields.Integer()
    items_added = fields.Integer()
    materials_removed = fields.Integer()
    materials_added = fields.Integer()
    promised_days_reduced = fields.Integer()
    statutory_days_reduced = fields.Integer()


class ImportResultSchema(Schema):
    key = fields.String()
    revision = fields.Integer()
    created = fields.Boolean()


@blp.route("/catalogue", methods=["GET"])
@blp.response(200, EntrySchema(many=True))
@public
def list_entries():
    """Every bundle's current catalogue entry (public)."""
    return catalogue.all_latest()


@blp.route("/catalogue/<key>", methods=["GET"])
@blp.arguments(EntryQuerySchema, location="query")
@blp.response(200, EntrySchema)
@public
def get_entry(query, key):
    """A bundle's catalogue entry, the current one or ``?revision=n`` (public)."""
    return catalogue.revision(key, query["revision"]) if query["revision"] else catalogue.latest(key)


@blp.route("/catalogue/<key>/checklist", methods=["POST"])
@blp.arguments(ChecklistRequestSchema)
@blp.response(200, MaterialSchema(many=True))
@public
def checklist(body, key):
    """The materials needed for these scenario answers (情形引导), in catalogue order (public)."""
    return catalogue.checklist(catalogue.latest(key).data, body["answers"])


@blp.route("/catalogue/<key>/reductions", methods=["GET"])
@blp.arguments(ReductionQuerySchema, location="query")
@blp.response(200, ReductionSchema)
@public
def reductions(query, key):
    """The "六减" figures between two revisions: steps, materials and days removed (public)."""
    old = catalogue.revision(key, query["from_revision"]).data
    new = catalogue.revision(key, query["to_revision"]).data
    return catalogue.reductions(old, new)


@blp.route("/catalogue", methods=["POST"])
@blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
    "type": "object", "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}})
@blp.response(200, ImportResultSchema(many=True))
@requires(*permissions.DEPLOY)
def import_entries():
    """Import catalogue TOML files (field ``file``, repeated); changed content becomes a new revision."""
    files = [(f.filename, f.read()) for f in request.files.getlist("file") if f and f.filename]
    if not files:
        raise InvalidInput("No files uploaded.", {"file": ["Send one or more .toml files."]})
    results = transaction.run(catalogue.import_files, current_user._get_current_object(), files)
    return [{"key": e.key, "revision": e.revision, "created": created} for e, created in results]
