"""Marshmallow schemas of the JSON API. The OpenAPI document is generated from them."""

from __future__ import annotations

from flask import g, has_request_context
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, fields, validate

from ..services import calendar
from ..services.cases import history, open_tasks, withheld_keys, without_keys
from ..services.deadlines import WARNINGS, case_paused, case_warning, task_warning
from ..services.forms import visible_data
from ..services.org import password_change_due
from ..services.privacy import ID_NUMBER, PHONE, mask_data, mask_id_number, mask_in_text, mask_phone
from ..services.supervision import overdue_working_days
from ..services.tasks import editable_by, task_form, task_values

# Integers a request sends to the database (ids, versions, revisions) must fit its integer columns,
# 32-bit on PostgreSQL ("integer out of range" would be a 500; SQLite cannot even bind numbers
# beyond 64 bits), so larger ones are invalid input, or an id that is not found.
MAX_ID = 2**31 - 1
ID_RANGE = validate.Range(min=-MAX_ID - 1, max=MAX_ID)
# The last page a list serves: far beyond any real list, and page x per_page stays a valid offset.
MAX_PAGE = 1_000_000
# Dates a request may name: wide, but clear of years 1 and 9999, where local midnight in UTC (or
# the day after the end of a period) is out of Python's range.
DATES = validate.Range(min=calendar.FIRST_DAY, max=calendar.LAST_DAY)


class ErrorSchema(Schema):
    """Every error body under /api/v1."""

    code = fields.Integer(required=True, metadata={"description": "HTTP status"})
    error = fields.String(required=True, metadata={"description": "machine-readable code"})
    message = fields.String(required=True)
    errors = fields.Raw(allow_none=True, metadata={
        "description": "{field: [messages]} for invalid input; [{file, line, element, message}] for diagrams"})
    request_id = fields.String(metadata={
        "description": "5xx only: the request's id (also in the X-Request-ID header) to quote when reporting it"})


class TokenRequestSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    groups = fields.List(fields.String(), attribute="group_codes")


class TokenResponseSchema(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    user = fields.Nested(UserSchema)


class MeSchema(Schema):
    user = fields.Nested(UserSchema)
    csrf_token = fields.String(allow_none=True,
                               metadata={"description": "send as X-CSRFToken with session-cookie requests"})
    password_change = fields.Function(
        lambda me: password_change_due(me["user"]), allow_none=True,
        metadata={"description": "why a new password must be chosen before anything else (POST /auth/password): "
                                 "reset (an administrator set it) or expired; null when not"})


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class VersionSchema(Schema):
    version = fields.Integer()
    content_hash = fields.String()
    name = fields.String()
    deployed_at = fields.DateTime()
    deployed_by = fields.Function(lambda v: v.deployed_by.username if v.deployed_by else None)
    files = fields.Function(lambda v: [f.filename for f in v.files])


class ProcessSchema(Schema):
    key = fields.String()
    name = fields.String()
    latest_version = fields.Integer()
    versions = fields.List(fields.Nested(VersionSchema))


class DeployResponseSchema(Schema):
    key = fields.String()
    name = fields.String()
    version = fields.Integer()
    content_hash = fields.String()
    created = fields.Boolean()
    files = fields.List(fields.String())
    user_tasks = fields.Raw()
    warnings = fields.List(fields.Dict(), metadata={
        "description": "validation warnings [{file, line, element, message, severity, code}]"})


class ApplicantInSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    id_number = fields.String(required=True, validate=validate.Regexp(
        ID_NUMBER, error="Not a valid ID number (18 characters, the last may be X; or 15 digits)."))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        PHONE, error="Not a valid phone number."))


class CaseCreateSchema(Schema):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    applicant = fields.Nested(ApplicantInSchema, required=True)
    data = fields.Dict(keys=fields.String(), load_default=dict)


class TaskSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    receipt_no = fields.Function(lambda t: t.case.receipt_no)
    process_key = fields.Function(lambda t: t.case.process_key)
    bpmn_id = fields.String()
    name = fields.String()
    lane = fields.String(allow_none=True)
    group = fields.String(allow_none=True)
    groups = fields.List(fields.String(), attribute="group_codes")
    state = fields.String()
    assignee = fields.Function(lambda t: t.assignee.username if t.assignee else None)
    created_at = fields.DateTime()
    claimed_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True, metadata={
        "description": "end of the task's own promised time limit (its promisedDays property), or null"})
    priority = fields.Integer(metadata={"description": "0 normal, 1 high (急), 2 urgent (特急)"})
    follow_up_on = fields.Date(allow_none=True, metadata={"description": "a date to look at the task again"})
    warning = fields.Function(lambda t: task_warning(t), metadata={
        "enum": list(WARNINGS), "description": "red: overdue; yellow: at most WARNING_WORKING_DAYS working days "
                                               "left; none: otherwise or without a due date"})
    paused = fields.Function(lambda t: case_paused(t.case), metadata={
        "description": "whether the case clock is stopped (特别程序, 补正)"})


class TaskDetailSchema(TaskSchema):
    documentation = fields.String(allow_none=True)
    form_name = fields.String(attribute="form", allow_none=True)
    form = fields.Method("get_form", metadata={"description": "JSON Schema of the task's form"})
    case = fields.Method("get_case")
    data = fields.Method("get_data", metadata={
        "description": "the case data the task shows (without the keys its form hides: x-hiddenData); ID "
                       "numbers, phones and bank cards masked, except in the fields its form lets you edit "
                       "(you hold the task, or may claim it while it is open)"})

    def get_form(self, task):
        return task_form(task)

    def get_case(self, task):
        return _CASE_BRIEF.dump(task.case)

    def get_data(self, task):
        # Unmasked only where the reader may still change them (the holder must see what they change).
        return mask_data(visible_data(task_form(task), task_values(task)), editable_by(current_user, task))


class TaskListQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    view = fields.String(load_default="available", validate=validate.OneOf(
        ("available", "mine", "completed", "copied")), metadata={"description": "copied: 抄送我的"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class TaskListSchema(Schema):
    items = fields.List(fields.Nested(TaskSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class CompleteRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    # Checked against the task's form after the claim checks (401/403/404/409 come first).
    data = fields.Raw(load_default=dict, metadata={"description": "form data (a JSON object)"})


class ApplicantOutSchema(Schema):
    name = fields.String(attribute="applicant_name")
    id_number = fields.Function(lambda c: mask_id_number(c.applicant_id_number))
    phone = fields.Function(lambda c: mask_phone(c.applicant_phone))


class AuditEventSchema(Schema):
    id = fields.Integer()
    type = fields.String(attribute="event_type")
    at = fields.DateTime()
    actor = fields.Function(lambda e: e.actor.username if e.actor else None)
    task_id = fields.Integer(allow_none=True)
    task_name = fields.String(allow_none=True)
    data = fields.Function(lambda e: mask_data(e.data), allow_none=True,
                           metadata={"description": "ID numbers, phones and bank cards masked"})


class CaseBriefSchema(Schema):
    id = fields.Integer()
    receipt_no = fields.String()
    process_key = fields.String()
    process_name = fields.Function(lambda c: c.process_version.name)
    version = fields.Integer()
    status = fields.String()
    outcome = fields.String(allow_none=True)
    applicant = fields.Function(lambda c: _APPLICANT_OUT.dump(c))
    started_by = fields.Function(lambda c: c.started_by.username)
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True, metadata={
        "description": "end of the promised time limit (承诺时限), working days from started_at, or null"})
    statutory_due_at = fields.DateTime(allow_none=True, metadata={
        "description": "end of the statutory time limit (法定时限), or null"})
    warning = fields.Function(lambda c: case_warning(c), metadata={
        "enum": list(WARNINGS), "description": "of the promised time limit — red: overdue; yellow: at most "
                                               "WARNING_WORKING_DAYS working days left; none: otherwise, "
                                               "finished, or without a due date"})
    paused = fields.Function(lambda c: case_paused(c), metadata={
        "description": "whether the case clock is stopped (特别程序, 补正); due dates move when it restarts"})
    immediate = fields.Boolean(metadata={"description": "即办件: the window completes it alone, in one sitting"})
    assisted_by = fields.Function(lambda c: c.assisted_by.username if c.assisted_by_id and c.assisted_by else None,
                                  metadata={"description": "肩并肩: the helper who prepared the application"})
    intake = fields.Raw(allow_none=True, metadata={
        "description": "scenario answers, received and missing materials checked at intake"})
    finished_same_day = fields.Boolean(allow_none=True, metadata={
        "description": "completed on its acceptance day (local date); null while running or when it did not "
                       "complete normally (feeds the 即办率 KPI)"})
    due_provisional = fields.Boolean(metadata={
        "description": "the due dates reach a year whose holiday schedule is not published yet; they are "
                       "recomputed when the calendar changes"})


def _withheld(case) -> frozenset[str]:
    """The case data keys the requesting user does not read (x-hiddenData), once per request."""
    if not has_request_context():
        return frozenset()
    memo = g.setdefault("withheld_keys", {})
    if case.id not in memo:
        memo[case.id] = withheld_keys(current_user if current_user.is_authenticated else None, case)
    return memo[case.id]


def _history(case) -> list[dict]:
    events = _EVENTS.dump(history(case))
    keys = _withheld(case)
    if keys:
        for event in events:
            event["data"] = without_keys(event["data"], keys)
    return events


class CaseSchema(CaseBriefSchema):
    data = fields.Function(lambda c: mask_data(without_keys(c.data, _withheld(c))), metadata={
        "description": "the case data; ID numbers, phones and bank cards masked (GET /tasks/{id} shows a "
                       "task's editable fields as they are); without the keys that every task of the case "
                       "the reader works on hides (x-hiddenData)"})
    tasks = fields.Function(lambda c: _TASKS.dump(open_tasks(c)),
                            metadata={"description": "open and claimed tasks"})
    history = fields.Function(_history, metadata={
        "description": "audit events, oldest first (their data without the keys withheld from `data`)"})


# Nested dumps reuse one schema instance each (building a marshmallow schema costs more than
# dumping a small object with it; dumping keeps no state).
_APPLICANT_OUT = ApplicantOutSchema()
_CASE_BRIEF = CaseBriefSchema()
_TASKS = TaskSchema(many=True)
_EVENTS = AuditEventSchema(many=True)


# -- case clock and moves ----------------------------------------------------------------------

# Free texts people write (a reason, a note, a comment) often name a phone or an ID number.
_NUMBERS_MASKED = "ID numbers, mobile numbers and bank cards written in the text masked"


class PauseSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    reason = fields.Function(lambda p: mask_in_text(p.reason), metadata={"description": _NUMBERS_MASKED})
    started_at = fields.DateTime()
    started_by = fields.Function(lambda p: p.started_by.username)
    ended_at = fields.DateTime(allow_none=True)
    working_days = fields.Integer(allow_none=True, metadata={"description": "added to the due dates"})


class PauseRequestSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(
        ("special_procedure", "hearing", "inspection", "expert_review")), metadata={
        "description": "the special procedure (特别程序); 补正 pauses come from correction notices"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ExtensionSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    receipt_no = fields.Function(lambda e: e.case.receipt_no)
    working_days = fields.Integer()
    reason = fields.Function(lambda e: mask_in_text(e.reason), metadata={"description": _NUMBERS_MASKED})
    status = fields.String(metadata={"enum": ["pending", "approved", "rejected"]})
    requested_by = fields.Function(lambda e: e.requested_by.username)
    requested_at = fields.DateTime()
    decided_by = fields.Function(lambda e: e.decided_by.username if e.decided_by else None)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.Function(lambda e: mask_in_text(e.decision_note), allow_none=True,
                                    metadata={"description": _NUMBERS_MASKED})


class ExtensionRequestSchema(Schema):
    working_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=60))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ExtensionDecisionSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    note = fields.String(load_default="", validate=validate.Length(max=2000))


class NoticeItemSchema(Schema):
    material = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    problem = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class NoticeSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    kind = fields.String(metadata={"enum": ["correction", "rejection"]})
    number = fields.String()
    items = fields.Raw(metadata={"description": "correction: [{material, problem}]; rejection: [{legal_basis}]"})
    reason = fields.String()
    issued_by = fields.Function(lambda n: n.issued_by.username)
    issued_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)


class CorrectionRequestSchema(Schema):
    items = fields.List(fields.Nested(NoticeItemSchema), required=True, validate=validate.Length(min=1, max=50))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class RejectRequestSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    legal_basis = fields.String(load_default="", validate=validate.Length(max=2000))


class WithdrawRequestSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CaseClockSchema(Schema):
    """The clock section of a case: its pauses, extension requests and notices."""

    pauses = fields.List(fields.Nested(PauseSchema))
    extensions = fields.List(fields.Nested(ExtensionSchema))
    notices = fields.List(fields.Nested(NoticeSchema))


class NoteSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": ["comment", "urge", "reassign", "delegate", "return", "recall"]})
    body = fields.Function(lambda n: mask_in_text(n.body), metadata={"description": _NUMBERS_MASKED})
    author = fields.Function(lambda n: n.author.username if n.author else None,
                             metadata={"description": "null: the system (a timeout policy)"})
    to_user = fields.Function(lambda n: n.to_user.username if n.to_user else None)
    at = fields.DateTime()


class HandOverRequestSchema(Schema):
    user_id = fields.Integer(required=True, strict=True, validate=ID_RANGE)
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class CommentRequestSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class UrgeRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    message = fields.String(load_default="", validate=validate.Length(max=2000))


class OverdueQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    level = fields.String(load_default="all", validate=validate.OneOf(("all", "red", "yellow")))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class OverdueItemSchema(CaseBriefSchema):
    overdue_working_days = fields.Method("get_overdue", metadata={
        "description": "working days past the promised due date (0 if not yet overdue)"})
    tasks = fields.Function(lambda c: _TASKS.dump(open_tasks(c)),
                            metadata={"description": "open and claimed tasks: who holds the case now"})

    def get_overdue(self, case):
        return overdue_working_days(case)


class OverduePageSchema(Schema):
    items = fields.List(fields.Nested(OverdueItemSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    level = fields.String()


class ReturnTargetSchema(Schema):
    id = fields.Integer(metadata={"description": "the completed task to send the case back to"})
    bpmn_id = fields.String()
    name = fields.String()
    completed_by = fields.Function(lambda t: t.completed_by.username if t.completed_by else None)
    completed_at = fields.DateTime()


class ReturnRequestSchema(Schema):
    target_task_id = fields.Integer(required=True, strict=True, validate=ID_RANGE)
    opinion = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CopyRequestSchema(Schema):
    user_ids = fields.List(fields.Integer(strict=True, validate=ID_RANGE), required=True,
                           validate=validate.Length(min=1, max=20))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class CopySchema(Schema):
    id = fields.Integer()
    task_id = fields.Integer()
    user = fields.Function(lambda c: c.user.username)
    by = fields.Function(lambda c: c.by.username)
    note = fields.Function(lambda c: mask_in_text(c.note), metadata={"description": _NUMBERS_MASKED})
    at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class PriorityRequestSchema(Schema):
    priority = fields.Integer(required=True, strict=True, validate=validate.OneOf((0, 1, 2)))
    follow_up_on = fields.Date(load_default=None, allow_none=True)


class SavedFilterSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    query = fields.Dict(keys=fields.String(), values=fields.String(), required=True, metadata={
        "description": "inbox query arguments: tab, bundle, task, q, sort"})
    created_at = fields.DateTime(dump_only=True)


class AddSignerRequestSchema(HandOverRequestSchema):
    position = fields.String(load_default="after", validate=validate.OneOf(("after", "before", "end")), metadata={
        "description": "sequential countersignature: before or right after the current signer, or at the end"})


class RemoveSignerRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    message = fields.String(load_default="", validate=validate.Length(max=2000))
    user_id = fields.Integer(load_default=None, allow_none=True, strict=True, validate=ID_RANGE, metadata={
        "description": "sequential: a signer still waiting for their turn (default: this task's signer)"})


class AttachmentSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    task_id = fields.Integer(allow_none=True)
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_by = fields.Function(lambda a: a.uploaded_by.username)
    uploaded_at = fields.DateTime()


class MessageWaitSchema(Schema):
    case_id = fields.Integer()
    receipt_no = fields.Function(lambda m: m.case.receipt_no)
    process_name = fields.Function(lambda m: m.case.process_version.name)
    name = fields.String(metadata={"description": "the message to send: POST /cases/{case_id}/messages"})
    element_name = fields.String()
    group_code = fields.String()
    created_at = fields.DateTime()


class MessageRequestSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    payload = fields.Dict(load_default=dict, metadata={"description": "the result, stored in the case data"})
