"""12345 work orders: intake by agents and by the hotline system, lists, the knowledge base."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from .. import transaction
from ..models.hotline import ORDER_STATES, REQUEST_TYPES, URGENCIES
from ..services import work_orders
from ..services.privacy import mask_in_text
from .schemas import ID_RANGE, MAX_PAGE

blp = Blueprint("work_orders", __name__, description="12345 hotline work orders (工单) and knowledge base")

NUMBERS_MASKED = "ID numbers, mobile numbers and bank cards written in the text masked"
PHONE = validate.Regexp(r"^\+?[0-9][0-9-]{4,19}$", error="Not a phone number.")


def _user():
    return current_user._get_current_object()


class CallerSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(required=True, validate=PHONE)
    confidential = fields.Boolean(load_default=False)


class WorkOrderInSchema(Schema):
    external_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64), metadata={
        "description": "the calling system's order id: the same id again returns the same order (200)"})
    request_type = fields.String(required=True, validate=validate.OneOf(REQUEST_TYPES))
    category = fields.String(required=True, validate=validate.Length(min=1, max=100))
    urgency = fields.String(load_default="normal", validate=validate.OneOf(URGENCIES))
    caller = fields.Nested(CallerSchema, required=True)
    address = fields.String(load_default="", validate=validate.Length(max=300))
    content = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class WorkOrderSchema(Schema):
    id = fields.Integer()
    order_no = fields.String()
    status = fields.String(metadata={"enum": list(ORDER_STATES)})
    external_id = fields.String(allow_none=True)
    request_type = fields.String()
    category = fields.String()
    urgency = fields.String()
    caller = fields.Method("get_caller", metadata={
        "description": "masked; withheld from handling units; 保密 when confidential"})
    address = fields.String()
    content = fields.Function(work_orders.content_view, metadata={
        "description": "ID numbers, mobile numbers and bank cards in the text masked (reveal shows it whole)"})
    case_id = fields.Integer()
    created_at = fields.DateTime()
    sla_rule = fields.String()
    clock = fields.String(metadata={"enum": ["natural", "working"]})
    response_due_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime()
    overdue = fields.Function(lambda o: work_orders.overdue(o))
    direct = fields.Boolean()
    handling_unit = fields.String(allow_none=True)
    dispatched_at = fields.DateTime(allow_none=True)
    signed_at = fields.DateTime(allow_none=True)
    replied_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    returned = fields.Boolean()
    reopen_count = fields.Integer()
    satisfaction = fields.String(allow_none=True)
    merged_into_id = fields.Integer(allow_none=True)
    merged_count = fields.Integer()
    extension_count = fields.Integer()

    def get_caller(self, order):
        return work_orders.caller_view(_user(), order)


class WorkOrderPageSchema(Schema):
    items = fields.List(fields.Nested(WorkOrderSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class WorkOrderQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(load_default=None, validate=validate.OneOf(ORDER_STATES))
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class KnowledgeQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default="", validate=validate.Length(max=100))


class KnowledgeSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    title = fields.String()
    category = fields.String()
    keywords = fields.String()
    body = fields.String()
    department = fields.String(allow_none=True)
    updated_at = fields.DateTime()


@blp.route("/work-orders", methods=["POST"])
@blp.arguments(WorkOrderInSchema)
@blp.response(201, WorkOrderSchema)
@blp.alt_response(200, schema=WorkOrderSchema, description="the order registered earlier with this external_id")
def register(body):
    """Register a work order (hotline agents, or the hotline system with its API token)."""
    order, created = transaction.run(work_orders.intake_once, _user(), body)
    return order, (201 if created else 200)


@blp.route("/work-orders", methods=["GET"])
@blp.arguments(WorkOrderQuerySchema, location="query")
@blp.response(200, WorkOrderPageSchema)
def list_orders(query):
    """Orders newest first: every order for the hotline centre and supervisors, a unit's own for units."""
    items, total = work_orders.search(_user(), query["status"], query["q"], query["page"], query["per_page"])
    return {"items": items, "total": total, "page": query["page"], "per_page": query["per_page"]}


@blp.route("/work-orders/<int:order_id>", methods=["GET"])
@blp.response(200, WorkOrderSchema)
def get_order(order_id):
    """One work order; its steps are the tasks of case ``case_id``."""
    return work_orders.get(_user(), order_id)


@blp.route("/knowledge", methods=["GET"])
@blp.arguments(KnowledgeQuerySchema, location="query")
@blp.response(200, KnowledgeSchema(many=True))
def search_knowledge(query):
    """Search the knowledge base (知识库) by words in the title, keywords, category or text."""
    return work_orders.search_knowledge(_user(), query["q"])


class OrderMergeSchema(Schema):
    into = fields.Integer(required=True, validate=ID_RANGE,
                          metadata={"description": "the id of the open order this one repeats"})


class OrderExtensionInSchema(Schema):
    days = fields.Integer(required=True, validate=validate.Range(min=1, max=10))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class OrderExtensionDecisionSchema(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=1000))


class OrderExtensionSchema(Schema):
    id = fields.Integer()
    days = fields.Integer()
    reason = fields.Function(lambda e: mask_in_text(e.reason), metadata={"description": NUMBERS_MASKED})
    status = fields.String(metadata={"enum": ["pending", "approved", "rejected"]})
    requested_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    note = fields.Function(lambda e: mask_in_text(e.note), metadata={"description": NUMBERS_MASKED})


@blp.route("/work-orders/<int:order_id>/merge", methods=["POST"])
@blp.arguments(OrderMergeSchema)
@blp.response(200, WorkOrderSchema)
def merge_order(body, order_id):
    """重复件合并: end this duplicate and count it on the open order it repeats (hotline centre)."""
    return transaction.run(work_orders.merge, _user(), order_id, body["into"])


@blp.route("/work-orders/<int:order_id>/extensions", methods=["GET"])
@blp.response(200, OrderExtensionSchema(many=True))
def list_extensions(order_id):
    """The order's extension requests, oldest first."""
    return work_orders.extensions(work_orders.get(_user(), order_id))


@blp.route("/work-orders/<int:order_id>/extensions", methods=["POST"])
@blp.arguments(OrderExtensionInSchema)
@blp.response(201, OrderExtensionSchema)
def request_extension(body, order_id):
    """延期申请 by the handling unit (at most three granted; one waiting at a time)."""
    return transaction.run(work_orders.request_extension, _user(), order_id, body["days"], body["reason"])


@blp.route("/work-orders/<int:order_id>/extensions/<int:extension_id>/decision", methods=["POST"])
@blp.arguments(OrderExtensionDecisionSchema)
@blp.response(200, WorkOrderSchema)
def decide_extension(body, order_id, extension_id):
    """The dispatcher approves (the due time moves) or rejects an extension request."""
    return transaction.run(work_orders.decide_extension, _user(), order_id, extension_id, body["approve"],
                           body["note"])


class RevealCallerSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class CallerOutSchema(Schema):
    name = fields.String()
    phone = fields.String()
    content = fields.String(metadata={"description": "the request as the caller gave it, numbers unmasked"})


@blp.route("/work-orders/<int:order_id>/reveal", methods=["POST"])
@blp.arguments(RevealCallerSchema)
@blp.response(200, CallerOutSchema)
def reveal_caller(body, order_id):
    """The caller's unmasked phone and request for the hotline centre, with a reason; audited."""
    return transaction.run(work_orders.reveal_caller, _user(), order_id, body["reason"])
