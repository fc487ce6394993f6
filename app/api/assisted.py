"""肩并肩 assisted filing: helpers prepare applications, window clerks accept them in one step."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, post_dump, validate

from .. import transaction
from ..services import assisted
from ..services.cases import read_answer
from ..services.privacy import mask_data
from .schemas import CaseSchema

blp = Blueprint("assisted", __name__, description="肩并肩 assisted filing (帮办)")


def _user():
    return current_user._get_current_object()


class AssistedSchema(Schema):
    id = fields.Integer(dump_only=True)
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    applicant = fields.Dict(load_default=dict, metadata={"description": "name, id_number, phone"})
    data = fields.Dict(load_default=dict, metadata={"description": "the start form"})
    answers = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict,
                          metadata={"description": "scenario answers (情形引导)"})
    materials = fields.Dict(load_default=dict, metadata={
        "description": "材料预审: {code: {status: ok|missing|problem, remark}}"})
    status = fields.String(dump_only=True, metadata={"enum": ["draft", "submitted", "returned", "accepted"]})
    helper = fields.Function(lambda a: a.helper.username, dump_only=True)
    submitted_at = fields.DateTime(dump_only=True, allow_none=True)
    return_remark = fields.String(dump_only=True, allow_none=True)
    case_id = fields.Integer(dump_only=True, allow_none=True)

    @post_dump
    def _mask_for_others(self, out, **kwargs):
        """The helper who prepares the application sees what they typed; anyone else (the window
        clerks who accept it) sees ID numbers and phones masked, as on a case."""
        if out.get("helper") != getattr(current_user, "username", None):
            for key in ("applicant", "data"):
                if key in out:
                    out[key] = mask_data(out[key])
        return out


class ListQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    view = fields.String(load_default="mine", validate=validate.OneOf(("mine", "queue")),
                         metadata={"description": "mine: a helper's own; queue: submitted, for window clerks"})


class RemarkSchema(Schema):
    remark = fields.String(required=True, validate=validate.Length(min=1, max=500))


@blp.route("/assisted-applications", methods=["GET"])
@blp.arguments(ListQuerySchema, location="query")
@blp.response(200, AssistedSchema(many=True))
def list_applications(query):
    """A helper's applications, or the window's queue of submitted ones."""
    return assisted.queue(_user()) if query["view"] == "queue" else assisted.mine(_user())


@blp.route("/assisted-applications", methods=["POST"])
@blp.arguments(AssistedSchema)
@blp.response(201, AssistedSchema)
def create_application(body):
    """Start preparing an application with the applicant (helpers)."""
    return transaction.run(assisted.save, _user(), None, body["process_key"], body["applicant"], body["data"],
                           body["answers"], body["materials"])


@blp.route("/assisted-applications/<int:draft_id>", methods=["GET"])
@blp.response(200, AssistedSchema)
def get_application(draft_id):
    """One application (its helper; window clerks once it is submitted)."""
    return assisted.get(_user(), draft_id)


@blp.route("/assisted-applications/<int:draft_id>", methods=["PUT"])
@blp.arguments(AssistedSchema)
@blp.response(200, AssistedSchema)
def update_application(body, draft_id):
    """Change a draft (its helper, until it is submitted)."""
    return transaction.run(assisted.save, _user(), draft_id, body["process_key"], body["applicant"], body["data"],
                           body["answers"], body["materials"])


@blp.route("/assisted-applications/<int:draft_id>/submit", methods=["POST"])
@blp.response(200, AssistedSchema)
def submit_application(draft_id):
    """Hand the complete application to the window queue (422 with every problem otherwise)."""
    return transaction.run(assisted.submit, _user(), draft_id)


@blp.route("/assisted-applications/<int:draft_id>/accept", methods=["POST"])
@blp.response(201, CaseSchema)
def accept_application(draft_id):
    """受理 in one step: the case starts from the application (window clerks; 409 if taken)."""
    return transaction.run(assisted.accept, _user(), draft_id, before_commit=read_answer)


@blp.route("/assisted-applications/<int:draft_id>/return", methods=["POST"])
@blp.arguments(RemarkSchema)
@blp.response(200, AssistedSchema)
def return_application(body, draft_id):
    """Return a submitted application to its helper with a remark (window clerks)."""
    return transaction.run(assisted.send_back, _user(), draft_id, body["remark"])
