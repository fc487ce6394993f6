"""Oversight of approval work: post-approval evaluation samples (行政审批行为后评价), 好差评 reviews
and 办件回访 callbacks."""

from __future__ import annotations

import json

from flask import Response, request
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from .. import transaction
from ..errors import AppError
from ..models.audit import SECURITY_EVENT_TYPES
from ..services import audit_export, callbacks, evaluation, exports, oversight, privacy, reviews, security_log
from ..services.cases import read_answer
from . import public
from .schemas import DATES, ID_RANGE, CaseSchema

blp = Blueprint("oversight", __name__, description="Oversight: 后评价 samples, 好差评 reviews, 办件回访")


def _user():
    return current_user._get_current_object()


class SampleInSchema(Schema):
    week = fields.Date(required=True, validate=DATES, metadata={
        "description": "the Monday of the week; its population is the cases completed in the week before"})
    seed = fields.Integer(load_default=None, validate=validate.Range(min=0, max=2**62),
                          metadata={"description": "default: a new random seed (stored)"})
    size = fields.Integer(load_default=None, validate=validate.Range(min=1, max=evaluation.MAX_SIZE))
    note = fields.String(load_default="", validate=validate.Length(max=200))


class SampleSchema(Schema):
    id = fields.Integer()
    week_start = fields.Date()
    seed = fields.Integer()
    population_query = fields.Dict()
    population_count = fields.Integer()
    case_ids = fields.List(fields.Integer())
    created_at = fields.DateTime()
    note = fields.String()


class SampleCheckSchema(SampleSchema):
    redrawn_case_ids = fields.List(fields.Integer(), metadata={
        "description": "the sample drawn again now from the stored query and seed"})
    reproduced = fields.Boolean()


@blp.route("/evaluation-samples", methods=["GET"])
@blp.response(200, SampleSchema(many=True))
def list_samples():
    """Samples newest week first (supervisors, admins, the legal section)."""
    return evaluation.samples(_user())


@blp.route("/evaluation-samples", methods=["POST"])
@blp.arguments(SampleInSchema)
@blp.response(201, SampleSchema)
def draw_sample(body):
    """Draw a week's sample and start one evaluation per case drawn."""
    return transaction.run(evaluation.draw, _user(), body["week"], body["seed"], body["size"], body["note"])


@blp.route("/evaluation-samples/<int:sample_id>", methods=["GET"])
@blp.response(200, SampleCheckSchema)
def get_sample(sample_id):
    """One sample, drawn again from its stored query and seed to show it is reproducible."""
    sample = evaluation.get(_user(), sample_id)
    redrawn = evaluation.redraw(sample)
    return {**{k: getattr(sample, k) for k in ("id", "week_start", "seed", "population_query", "population_count",
                                                "case_ids", "created_at", "note")},
            "redrawn_case_ids": redrawn, "reproduced": redrawn == list(sample.case_ids)}


# -- 好差评 and 办件回访 ----------------------------------------------------------------------------

class ReviewInSchema(Schema):
    receipt_no = fields.String(required=True, validate=validate.Length(min=1, max=32))
    phone = fields.String(required=True, validate=validate.Length(min=4, max=32),
                          metadata={"description": "the applicant's phone, as given at the window"})
    level = fields.Integer(required=True, validate=validate.OneOf(sorted(reviews.LEVELS)),
                           metadata={"description": "GB/T 39734: 5 非常满意, 4 满意, 3 基本满意, 2 不满意, "
                                                    "1 非常不满意"})
    comment = fields.String(load_default="", validate=validate.Length(max=1000))


class ReviewSchema(Schema):
    id = fields.Integer()
    level = fields.Integer()
    created_at = fields.DateTime()
    rectification = fields.Function(lambda r: r.rectification_case_id is not None, metadata={
        "description": "a bad review starts a rectification"})


class CallbackDrawSchema(Schema):
    start = fields.Date(required=True, data_key="from", validate=DATES)
    end = fields.Date(required=True, data_key="to", validate=DATES)
    rate = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=1, min_inclusive=False),
                        metadata={"description": "share of the completed cases to call back (1 = all)"})
    seed = fields.Integer(load_default=None, validate=validate.Range(min=0, max=2**62))


class CallbackBatchSchema(Schema):
    batch = fields.String()
    seed = fields.Integer()
    population = fields.Integer()
    case_ids = fields.List(fields.Integer())


@blp.route("/reviews", methods=["POST"])
@blp.arguments(ReviewInSchema)
@blp.response(201, ReviewSchema)
@public
def review_case(body):
    """好差评: the applicant rates a completed case (receipt number + phone check; public, once per case)."""
    result = transaction.run(reviews.submit, body["receipt_no"], body["phone"], body["level"], body["comment"], "api",
                             request.remote_addr)
    if isinstance(result, AppError):  # a mismatch is committed too: it counts towards the lock
        raise result
    return result


@blp.route("/callbacks", methods=["POST"])
@blp.arguments(CallbackDrawSchema)
@blp.response(201, CallbackBatchSchema)
def draw_callbacks(body):
    """办件回访: start callbacks for a share (seeded) of the cases completed in a period not called back yet."""
    return transaction.run(callbacks.draw, _user(), body["start"], body["end"], body["rate"], body["seed"])


# -- 督办, 预警函, 法制审核, 企业诉求 ---------------------------------------------------------------------

class OversightStartSchema(Schema):
    data = fields.Dict(required=True, metadata={"description": "the start form of the item's diagram"})


@blp.route("/oversight/<kind>", methods=["POST"])
@blp.arguments(OversightStartSchema)
@blp.response(201, CaseSchema)
def start_item(body, kind):
    """Start 督办 (``supervision``), 预警函 (``warning-letter``), 重大行政执法决定法制审核
    (``legality-review``) or 企业诉求 (``enterprise-demand``); its steps then appear in the inboxes."""
    return transaction.run(oversight.start, _user(), kind, body["data"], before_commit=read_answer)


# -- personal data and the audit trail ------------------------------------------------------------

class RevealSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ApplicantSchema(Schema):
    name = fields.String()
    id_number = fields.String()
    phone = fields.String(allow_none=True)


class AuditQuerySchema(Schema):
    start = fields.Date(required=True, data_key="from", validate=DATES)
    end = fields.Date(required=True, data_key="to", validate=DATES)
    case_id = fields.Integer(load_default=None, validate=ID_RANGE)
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv", "xlsx")))


@blp.route("/cases/<int:case_id>/reveal", methods=["POST"])
@blp.arguments(RevealSchema)
@blp.response(200, ApplicantSchema)
def reveal_applicant(body, case_id):
    """The applicant's unmasked ID number and phone, for someone who may see the case; audited."""
    return transaction.run(privacy.reveal_applicant, _user(), case_id, body["reason"])


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = fields.String()
    receipt_no = fields.String()
    case_id = fields.Integer()
    event = fields.String()
    actor = fields.String()
    task = fields.String()
    data = fields.Raw(allow_none=True)


@blp.route("/audit", methods=["GET"])
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditEventSchema(many=True))
@blp.doc(responses={200: {"content": {mimetype: {"schema": {"type": "string", "format": "binary"}}
                                        for mimetype in exports.FORMATS.values()}}})
def audit_trail(query):
    """The audit trail of a period (optionally one case), as JSON or a CSV/XLSX download."""
    rows = audit_export.events(_user(), query["start"], query["end"], query["case_id"])
    if query["format"] == "json":
        return rows
    body = exports.table_bytes("audit", audit_export.COLUMNS, [{**r, "data": json.dumps(r["data"], ensure_ascii=False)}
                                                               for r in rows], query["format"])
    return Response(body, mimetype=exports.FORMATS[query["format"]],
                    headers={"Content-Disposition": f'attachment; filename="audit.{query["format"]}"'})


class SecurityQuerySchema(Schema):
    start = fields.Date(required=True, data_key="from", validate=DATES)
    end = fields.Date(required=True, data_key="to", validate=DATES)
    type = fields.String(load_default=None, validate=validate.OneOf(SECURITY_EVENT_TYPES))
    user = fields.String(load_default=None, validate=validate.Length(min=1, max=80),
                         metadata={"description": "only this user's events (by username)"})
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv", "xlsx")))


class SecurityEventSchema(Schema):
    id = fields.Integer()
    at = fields.String()
    event = fields.String(metadata={"description": ", ".join(SECURITY_EVENT_TYPES)})
    user = fields.String(allow_none=True)
    name_hash = fields.String(allow_none=True, metadata={
        "description": "SHA-256 of the name tried, for a login under a name that is no user's"})
    channel = fields.String(metadata={"description": "web, api, api-session or cli"})
    remote_addr = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    data = fields.Raw(allow_none=True)


@blp.route("/security-events", methods=["GET"])
@blp.arguments(SecurityQuerySchema, location="query")
@blp.response(200, SecurityEventSchema(many=True))
@blp.doc(responses={200: {"content": {mimetype: {"schema": {"type": "string", "format": "binary"}}
                                        for mimetype in exports.FORMATS.values()}}})
def security_events(query):
    """The security log of a period (admins): logins, lock-outs, logouts, tokens, passwords; JSON or
    a CSV/XLSX download."""
    rows = security_log.events(_user(), query["start"], query["end"], query["type"], query["user"])
    if query["format"] == "json":
        return rows
    body = exports.table_bytes("security", security_log.COLUMNS,
                               [{**r, "data": json.dumps(r["data"], ensure_ascii=False)} for r in rows],
                               query["format"])
    return Response(body, mimetype=exports.FORMATS[query["format"]],
                    headers={"Content-Disposition": f'attachment; filename="security.{query["format"]}"'})
