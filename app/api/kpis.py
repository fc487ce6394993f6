"""The bureau's KPIs for supervisors, leaders and admins (``GET /api/v1/kpis``)."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields

from ..services import kpis
from . import requires

blp = Blueprint("kpis", __name__, description="KPIs (brief §3.4, §4): live figures from the case data")

RATE = {"description": "a number between 0 and 1; null when the denominator is zero"}


class KpiQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    start = fields.Date(required=True, data_key="from", metadata={"description": "first day (local date)"})
    end = fields.Date(required=True, data_key="to", metadata={"description": "last day, included"})
    process_key = fields.String(load_default=None, metadata={"description": "only this bundle"})
    group = fields.String(load_default=None, metadata={"description": "only cases with a task for this group"})


class DepartmentSchema(Schema):
    group = fields.String()
    name = fields.String()
    tasks_completed = fields.Integer()
    on_time_rate = fields.Float(allow_none=True, metadata=RATE)


class KpiSchema(Schema):
    from_ = fields.String(attribute="from", data_key="from")
    to = fields.String()
    process_key = fields.String(allow_none=True)
    group = fields.String(allow_none=True)
    cases_received = fields.Integer()
    cases_completed = fields.Integer()
    immediate_cases = fields.Integer()
    immediate_rate = fields.Float(allow_none=True, metadata=RATE)
    on_time_completed = fields.Integer()
    on_time_rate = fields.Float(allow_none=True, metadata=RATE)
    statutory_on_time_rate = fields.Float(allow_none=True, metadata=RATE)
    overdue_open = fields.Integer(metadata={"description": "running cases past their promised due date, now"})
    yellow_open = fields.Integer(metadata={"description": "running cases within the warning threshold, now"})
    avg_processing_working_days = fields.Float(allow_none=True)
    help_count = fields.Integer()
    catalogue_items = fields.Integer()
    speedup_rate = fields.Float(allow_none=True, metadata=RATE)
    on_the_spot_item_share = fields.Float(allow_none=True, metadata=RATE)
    reviews = fields.Integer()
    bad_reviews = fields.Integer()
    satisfaction_rate = fields.Float(allow_none=True, metadata=RATE)
    bad_review_rectification_rate = fields.Float(allow_none=True, metadata=RATE)
    callbacks = fields.Integer()
    callback_problems = fields.Integer()
    callback_satisfaction_rate = fields.Float(allow_none=True, metadata=RATE)
    post_eval_evaluated = fields.Integer()
    post_eval_problem_rate = fields.Float(allow_none=True, metadata=RATE)
    post_eval_rectification_rate = fields.Float(allow_none=True, metadata=RATE)
    orders_received = fields.Integer()
    orders_closed = fields.Integer()
    direct_handling_rate = fields.Float(allow_none=True, metadata=RATE)
    order_on_time_rate = fields.Float(allow_none=True, metadata=RATE)
    closure_24h_rate = fields.Float(allow_none=True, metadata=RATE)
    order_satisfaction_rate = fields.Float(allow_none=True, metadata=RATE)
    return_rate = fields.Float(allow_none=True, metadata=RATE)
    repeat_request_rate = fields.Float(allow_none=True, metadata=RATE)
    departments = fields.List(fields.Nested(DepartmentSchema))


@blp.route("/kpis", methods=["GET"])
@blp.arguments(KpiQuerySchema, location="query")
@blp.response(200, KpiSchema)
@requires(*kpis.VIEWERS)
def get_kpis(query):
    """The period's figures (formulas: app/services/kpis.py and docs/kpis.md)."""
    period = kpis.period(query["start"], query["end"], query["process_key"], query["group"])
    return kpis.compute(current_user._get_current_object(), period)
