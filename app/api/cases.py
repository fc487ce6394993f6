"""Cases (办件)."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_smorest import Blueprint

from .. import transaction
from ..services import cases, permissions, submissions
from . import requires
from .schemas import CaseCreateSchema, CaseSchema

blp = Blueprint("cases", __name__, description="Cases: start and read")

IDEMPOTENCY_HEADER = "Idempotency-Key"


@blp.route("/cases", methods=["POST"])
@blp.arguments(CaseCreateSchema)
@blp.response(201, CaseSchema)
@blp.alt_response(200, schema=CaseSchema, description="the case this user started earlier with the same "
                                                      "Idempotency-Key (nothing was started again)")
@blp.doc(parameters=[{
    "name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 8, "maxLength": 64, "pattern": "^[A-Za-z0-9._:-]{8,64}$"},
    "description": "A key of the client's choosing for this application (e.g. a UUID): sent again by the same "
                   "user, it returns the case the first request started (200) instead of starting a second; "
                   "sent again for another bundle or applicant, 409 submission_key_reused."}])
@requires(*permissions.START_CASE)
def start_case(body):
    """Start a bundle for an applicant (window clerks)."""
    user = current_user._get_current_object()
    key = submissions.check_key(request.headers.get(IDEMPOTENCY_HEADER), field=IDEMPOTENCY_HEADER)
    case, created = transaction.run(
        submissions.start_once, user, key, submissions.fingerprint(body["process_key"], body["applicant"]),
        cases.start_case, body["process_key"], body["applicant"], body["data"],
        before_commit=lambda result: cases.read_answer(result[0]))
    return case, (201 if created else 200)


@blp.route("/cases/<int:case_id>", methods=["GET"])
@blp.response(200, CaseSchema)
def get_case(case_id):
    """A case with its data, open tasks and history (404 when not visible to you)."""
    return cases.get_case(current_user._get_current_object(), case_id)
