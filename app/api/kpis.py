"""The bureau's KPIs for supervisors, leaders and admins (``GET /api/v1/kpis``)."""

from __future__ import annotations

from flask import Response
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from ..services import exports, kpis
from . import requires
from .schemas import DATES, MAX_PAGE

blp = Blueprint("kpis", __name__, description="KPIs (brief §3.4, §4): live figures from the case data")

RATE = {"description": "a number between 0 and 1; null when the denominator is zero"}


class KpiQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    start = fields.Date(required=True, data_key="from", validate=DATES,
                        metadata={"description": "first day (local date)"})
    end = fields.Date(required=True, data_key="to", validate=DATES, metadata={"description": "last day, included"})
    process_key = fields.String(load_default=None, metadata={"description": "only this bundle"})
    group = fields.String(load_default=None, metadata={
        "description": "only cases with a task for this group (a department or a window)"})
    clerk = fields.String(load_default=None, metadata={"description": "only cases this clerk (username) accepted"})


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
    period = kpis.period(query["start"], query["end"], query["process_key"], query["group"], query["clerk"])
    return kpis.compute(current_user._get_current_object(), period)


class SeriesSchema(Schema):
    daily = fields.List(fields.Dict(), metadata={"description": "[{day, received, completed}] per local day"})
    reviews_by_level = fields.List(fields.Dict(), metadata={"description": "[{level, count}] 5 … 1"})
    unit_league = fields.List(fields.Dict(), metadata={"description": "12345 units, best on-time rate first"})
    top_categories = fields.List(fields.Dict(), metadata={"description": "[{category, orders}]"})
    warnings = fields.List(fields.Dict(), metadata={"description": "[{kind, count}] warnings announced"})


class DrilldownQuerySchema(KpiQuerySchema):
    metric = fields.String(required=True, validate=validate.OneOf(kpis.CASE_METRICS + kpis.ORDER_METRICS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class DrilldownRowSchema(Schema):
    id = fields.Integer()
    number = fields.String(metadata={"description": "receipt number or work-order number"})
    title = fields.String()
    status = fields.String()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    case_id = fields.Integer()


class DrilldownSchema(Schema):
    kind = fields.String(metadata={"enum": ["cases", "orders"]})
    items = fields.List(fields.Nested(DrilldownRowSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class ExportQuerySchema(KpiQuerySchema):
    table = fields.String(required=True, validate=validate.OneOf(kpis.TABLES))
    format = fields.String(load_default="xlsx", validate=validate.OneOf(tuple(exports.FORMATS)))
    metric = fields.String(load_default=None, validate=validate.OneOf(kpis.CASE_METRICS + kpis.ORDER_METRICS),
                           metadata={"description": "with table=drilldown: the figure whose rows to export"})


def _period(query):
    return kpis.period(query["start"], query["end"], query["process_key"], query["group"], query["clerk"])


def drilldown_rows(rows, kind):
    if kind == "cases":
        return [{"id": c.id, "number": c.receipt_no, "title": c.process_version.name, "status": c.status,
                 "started_at": c.started_at, "ended_at": c.ended_at, "due_at": c.due_at, "case_id": c.id}
                for c in rows]
    return [{"id": o.id, "number": o.order_no, "title": f"{o.request_type} · {o.category}", "status": o.status,
             "started_at": o.created_at, "ended_at": o.closed_at, "due_at": o.due_at, "case_id": o.case_id}
            for o in rows]


@blp.route("/kpis/series", methods=["GET"])
@blp.arguments(KpiQuerySchema, location="query")
@blp.response(200, SeriesSchema)
@requires(*kpis.VIEWERS)
def get_series(query):
    """The dashboard's charts: cases per day, 好差评 levels, the 12345 unit league, top categories, warnings."""
    p = _period(query)
    return {"daily": kpis.daily_series(p), "reviews_by_level": kpis.review_distribution(p),
            "unit_league": kpis.unit_league(p), "top_categories": kpis.top_categories(p),
            "warnings": kpis.warnings_issued(p)}


@blp.route("/kpis/drilldown", methods=["GET"])
@blp.arguments(DrilldownQuerySchema, location="query")
@blp.response(200, DrilldownSchema)
@requires(*kpis.VIEWERS)
def get_drilldown(query):
    """The cases or work orders behind a figure (``metric``), newest first."""
    rows, total, kind = kpis.drilldown(current_user._get_current_object(), _period(query), query["metric"],
                                       query["page"], query["per_page"])
    return {"kind": kind, "items": drilldown_rows(rows, kind), "total": total, "page": query["page"],
            "per_page": query["per_page"]}


@blp.route("/kpis/export", methods=["GET"])
@blp.arguments(ExportQuerySchema, location="query")
@blp.response(200, description="the table as a CSV or XLSX download")
@requires(*kpis.VIEWERS)
def export(query):
    """A dashboard table (summary, departments, daily, units, categories, reductions) as CSV or XLSX."""
    p = _period(query)
    title, columns, rows = kpis.export_table(current_user._get_current_object(), p, query["table"], query["metric"])
    body = exports.table_bytes(title, columns, rows, query["format"])
    name = f"{title}_{p.start.isoformat()}_{p.end.isoformat()}.{query['format']}"
    return Response(body, mimetype=exports.FORMATS[query["format"]],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


class ReductionsSchema(Schema):
    bundles = fields.List(fields.Dict(), metadata={"description": "per bundle: key, name, from_revision, "
                                                                  "to_revision and the figures"})
    total = fields.Dict()


@blp.route("/reports/reductions", methods=["GET"])
@blp.response(200, ReductionsSchema)
@requires(*kpis.VIEWERS, "designer")
def reductions():
    """六减: steps (items), materials and days removed between each bundle's first and latest catalogue
    revision, and the total."""
    return kpis.reductions_report()
