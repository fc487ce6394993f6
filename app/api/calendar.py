"""The working-day calendar: due dates for any logged-in user, per-date overrides for admins."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from .. import transaction
from ..services import calendar, case_clock
from . import requires

blp = Blueprint("calendar", __name__, description="Working-day calendar and time-limit due dates")


def _user():
    return current_user._get_current_object()


class DueQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    start = fields.AwareDateTime(required=True, validate=validate.Range(
        min=datetime.combine(calendar.FIRST_DAY, time.min, UTC),
        max=datetime.combine(calendar.LAST_DAY, time.max, UTC)),
        metadata={"description": "the triggering event (e.g. acceptance), ISO 8601 with an offset; its day is not "
                                 "counted"})
    working_days = fields.Integer(required=True, strict=False,
                                  validate=validate.Range(min=0, max=calendar.MAX_WORKING_DAYS))


class DueSchema(Schema):
    due = fields.AwareDateTime(metadata={"description": "end of the last working day (24:00 Asia/Shanghai), in UTC"})
    provisional = fields.Boolean(metadata={
        "description": "true when the period crosses a year whose official calendar is not published yet"})


class OverrideQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    start = fields.Date(load_default=None, metadata={"description": "first date (inclusive)"})
    end = fields.Date(load_default=None, metadata={"description": "last date (inclusive)"})


class OverrideSchema(Schema):
    day = fields.Date()
    is_working_day = fields.Boolean()
    note = fields.String()
    updated_by = fields.Function(lambda o: o.updated_by.username if o.updated_by else None, allow_none=True)
    updated_at = fields.AwareDateTime()


class OverrideBodySchema(Schema):
    is_working_day = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=500))


@blp.route("/calendar/due", methods=["GET"])
@blp.arguments(DueQuerySchema, location="query")
@blp.response(200, DueSchema)
def due(args):
    """The due date of a period of working days starting at ``start`` (national calendar + overrides)."""
    due_at, provisional = calendar.add_working_days(args["start"], args["working_days"])
    return {"due": due_at, "provisional": provisional}


@blp.route("/calendar/overrides", methods=["GET"])
@blp.arguments(OverrideQuerySchema, location="query")
@blp.response(200, OverrideSchema(many=True))
def list_overrides(args):
    """Dates an admin declared working days or days off, overriding the national calendar."""
    return calendar.list_overrides(args["start"], args["end"])


@blp.route("/calendar/overrides/<day>", methods=["PUT"])
@blp.arguments(OverrideBodySchema)
@blp.response(200, OverrideSchema)
@requires("admin")
def put_override(body, day):
    """Declare a date (YYYY-MM-DD) a working day or a day off (admins); running cases' due dates
    that reach it are recomputed."""
    parsed = calendar.parse_day(day)
    return transaction.run(case_clock.change_calendar, _user(), parsed, body["is_working_day"], body["note"])


@blp.route("/calendar/overrides/<day>", methods=["DELETE"])
@blp.response(204)
@requires("admin")
def delete_override(day):
    """Remove a date's override: the national calendar applies again (admins)."""
    parsed = calendar.parse_day(day)
    transaction.run(case_clock.change_calendar, _user(), parsed, None)
    return None
