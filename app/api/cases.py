"""Cases (办件)."""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint

from .. import transaction
from ..services import cases, permissions
from . import requires
from .schemas import CaseCreateSchema, CaseSchema

blp = Blueprint("cases", __name__, description="Cases: start and read")


@blp.route("/cases", methods=["POST"])
@blp.arguments(CaseCreateSchema)
@blp.response(201, CaseSchema)
@requires(*permissions.START_CASE)
def start_case(body):
    """Start a bundle for an applicant (window clerks)."""
    user = current_user._get_current_object()
    return transaction.run(cases.start_case, user, body["process_key"], body["applicant"], body["data"],
                           before_commit=cases.read_answer)


@blp.route("/cases/<int:case_id>", methods=["GET"])
@blp.response(200, CaseSchema)
def get_case(case_id):
    """A case with its data, open tasks and history (404 when not visible to you)."""
    return cases.get_case(current_user._get_current_object(), case_id)
