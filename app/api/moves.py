"""The case clock (pauses, extensions), window moves (补正, 不予受理, 撤销) and task moves
(转办, 委派, comments, 催办), beside claim and complete. One transaction per call."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_smorest import Blueprint

from .. import transaction
from ..services import case_clock, case_moves, messages, supervision, task_moves, tasks
from ..services.cases import get_case, read_answer
from . import requires
from .schemas import (
    AddSignerRequestSchema,
    AttachmentSchema,
    CaseClockSchema,
    CaseSchema,
    CommentRequestSchema,
    CopyRequestSchema,
    CopySchema,
    CorrectionRequestSchema,
    ExtensionDecisionSchema,
    ExtensionRequestSchema,
    ExtensionSchema,
    HandOverRequestSchema,
    MessageRequestSchema,
    MessageWaitSchema,
    NoteSchema,
    NoticeSchema,
    OverduePageSchema,
    OverdueQuerySchema,
    PauseRequestSchema,
    PriorityRequestSchema,
    RejectRequestSchema,
    RemoveSignerRequestSchema,
    ReturnRequestSchema,
    ReturnTargetSchema,
    TaskSchema,
    UrgeRequestSchema,
    WithdrawRequestSchema,
)

blp = Blueprint("moves", __name__, description="Case clock, window moves (补正, 不予受理, 撤销) and task moves "
                                              "(转办, 委派, 催办, comments)")


def _user():
    return current_user._get_current_object()


# -- the case clock ----------------------------------------------------------------------------


@blp.route("/cases/<int:case_id>/clock", methods=["GET"])
@blp.response(200, CaseClockSchema)
def case_clock_view(case_id):
    """The case's clock stops, extension requests and notices."""
    case = get_case(_user(), case_id)
    return {"pauses": case_clock.pauses(case), "extensions": case_clock.extensions(case),
            "notices": case_moves.notices(case)}


@blp.route("/cases/<int:case_id>/pause", methods=["POST"])
@blp.arguments(PauseRequestSchema)
@blp.response(200, CaseSchema)
def pause_case(body, case_id):
    """Stop the case clock for a special procedure (特别程序) with a reason (people handling the case)."""
    return transaction.run(case_clock.pause_case, _user(), case_id, body["kind"], body["reason"],
                           before_commit=read_answer)


@blp.route("/cases/<int:case_id>/resume", methods=["POST"])
@blp.response(200, CaseSchema)
def resume_case(case_id):
    """Restart the clock; the due dates move by the working days it was stopped."""
    return transaction.run(case_clock.resume_case, _user(), case_id, before_commit=read_answer)


@blp.route("/cases/<int:case_id>/extensions", methods=["POST"])
@blp.arguments(ExtensionRequestSchema)
@blp.response(201, ExtensionSchema)
def request_extension(body, case_id):
    """Ask a section chief to extend the time limits by N working days (延期)."""
    return transaction.run(case_clock.request_case_extension, _user(), case_id, body["working_days"],
                           body["reason"])


@blp.route("/extensions", methods=["GET"])
@blp.response(200, ExtensionSchema(many=True))
def pending_extensions():
    """Extension requests waiting for your decision (section chiefs of the case's groups; admins)."""
    return case_clock.pending_extensions(_user())


@blp.route("/extensions/<int:extension_id>/approve", methods=["POST"])
@blp.arguments(ExtensionDecisionSchema)
@blp.response(200, ExtensionSchema)
def approve_extension(body, extension_id):
    """Approve an extension: the case's due dates move by its working days."""
    return transaction.run(case_clock.decide, _user(), extension_id, True, body["note"])


@blp.route("/extensions/<int:extension_id>/reject", methods=["POST"])
@blp.arguments(ExtensionDecisionSchema)
@blp.response(200, ExtensionSchema)
def reject_extension(body, extension_id):
    """Reject an extension request."""
    return transaction.run(case_clock.decide, _user(), extension_id, False, body["note"])


# -- window moves ------------------------------------------------------------------------------


@blp.route("/cases/<int:case_id>/correction-notices", methods=["POST"])
@blp.arguments(CorrectionRequestSchema)
@blp.response(201, NoticeSchema)
def issue_correction(body, case_id):
    """补正/一次性告知: list every missing or defective material at once; the clock stops."""
    return transaction.run(case_moves.issue_correction, _user(), case_id, body["items"], body["note"])


@blp.route("/notices/<int:notice_id>/received", methods=["POST"])
@blp.response(200, NoticeSchema)
def materials_received(notice_id):
    """The applicant's materials for a correction notice arrived; the clock runs again."""
    return transaction.run(case_moves.materials_received, _user(), notice_id)


@blp.route("/cases/<int:case_id>/reject", methods=["POST"])
@blp.arguments(RejectRequestSchema)
@blp.response(200, NoticeSchema)
@requires(*case_moves.WINDOW_ROLES)
def reject_case(body, case_id):
    """不予受理: refuse the application with a reason; the case ends and a notice is issued."""
    return transaction.run(case_moves.reject, _user(), case_id, body["reason"], body["legal_basis"])


@blp.route("/cases/<int:case_id>/withdraw", methods=["POST"])
@blp.arguments(WithdrawRequestSchema)
@blp.response(200, CaseSchema)
@requires(*case_moves.WINDOW_ROLES)
def withdraw_case(body, case_id):
    """撤销申请: record that the applicant withdrew; the case ends."""
    return transaction.run(case_moves.withdraw, _user(), case_id, body["reason"], before_commit=read_answer)


# -- task moves --------------------------------------------------------------------------------


@blp.route("/tasks/<int:task_id>/reassign", methods=["POST"])
@blp.arguments(HandOverRequestSchema)
@blp.response(200, TaskSchema)
@requires("section_chief", "admin")
def reassign_task(body, task_id):
    """转办: a section chief gives the task to another member of its groups (claimed for them)."""
    return transaction.run(task_moves.reassign, _user(), task_id, body["user_id"], body["note"])


@blp.route("/tasks/<int:task_id>/delegate", methods=["POST"])
@blp.arguments(HandOverRequestSchema)
@blp.response(200, TaskSchema)
def delegate_task(body, task_id):
    """委派: the holder hands the task to a colleague with a note."""
    return transaction.run(task_moves.delegate, _user(), task_id, body["user_id"], body["note"])


@blp.route("/tasks/<int:task_id>/notes", methods=["GET"])
@blp.response(200, NoteSchema(many=True))
def task_notes(task_id):
    """Comments, reminders and hand-over notes of a task, oldest first."""
    return task_moves.notes(tasks.get_task(_user(), task_id))


@blp.route("/tasks/<int:task_id>/comments", methods=["POST"])
@blp.arguments(CommentRequestSchema)
@blp.response(201, NoteSchema)
def comment_task(body, task_id):
    """Comment on a task (anyone who may see it)."""
    return transaction.run(task_moves.comment, _user(), task_id, body["body"])


@blp.route("/tasks/<int:task_id>/urge", methods=["POST"])
@blp.arguments(UrgeRequestSchema)
@blp.response(201, NoteSchema)
@requires("supervisor", "admin")
def urge_task(body, task_id):
    """催办: remind the holder or group of a live task (supervisors)."""
    return transaction.run(task_moves.urge, _user(), task_id, body["message"])


@blp.route("/tasks/<int:task_id>/return-targets", methods=["GET"])
@blp.response(200, ReturnTargetSchema(many=True))
def return_targets(task_id):
    """The earlier steps the holder may send the case back to (退回), nearest first."""
    return task_moves.return_targets(_user(), task_id)


@blp.route("/tasks/<int:task_id>/return", methods=["POST"])
@blp.arguments(ReturnRequestSchema)
@blp.response(200, TaskSchema)
def return_task(body, task_id):
    """退回: send the case back to an earlier step with an opinion; returns the reopened step."""
    return transaction.run(task_moves.send_back, _user(), task_id, body["target_task_id"], body["opinion"])


@blp.route("/tasks/<int:task_id>/recall", methods=["POST"])
@blp.response(200, TaskSchema)
def recall_task(task_id):
    """撤回: take back a step you completed while nothing after it was acted on; returns the reopened step."""
    return transaction.run(task_moves.recall, _user(), task_id)


@blp.route("/tasks/<int:task_id>/copies", methods=["POST"])
@blp.arguments(CopyRequestSchema)
@blp.response(201, CopySchema(many=True))
def copy_task(body, task_id):
    """抄送: give users a read-only copy (their 抄送我的 list: GET /tasks?view=copied)."""
    return transaction.run(task_moves.copy_to, _user(), task_id, body["user_ids"], body["note"])


@blp.route("/tasks/<int:task_id>/priority", methods=["POST"])
@blp.arguments(PriorityRequestSchema)
@blp.response(200, TaskSchema)
def prioritise_task(body, task_id):
    """Set a live task's priority and follow-up date (people working on it)."""
    return transaction.run(task_moves.set_priority, _user(), task_id, body["priority"], body["follow_up_on"])


@blp.route("/tasks/<int:task_id>/signers", methods=["POST"])
@blp.arguments(AddSignerRequestSchema)
@blp.response(201, TaskSchema)
def add_signer(body, task_id):
    """加签: add a signer to the running 会签/或签 this task belongs to (sequential: before or after
    the current signer, or at the end); returns the task that is live for them or for the current signer."""
    return transaction.run(task_moves.add_signer, _user(), task_id, body["user_id"], body["note"], body["position"])


@blp.route("/tasks/<int:task_id>/remove-signer", methods=["POST"])
@blp.arguments(RemoveSignerRequestSchema)
@blp.response(200, TaskSchema)
@requires("section_chief", "admin")
def remove_signer(body, task_id):
    """减签: remove this (unsigned) signer's task, or a sequential signer still waiting (user_id)."""
    return transaction.run(task_moves.remove_signer, _user(), task_id, body["message"], body["user_id"])


@blp.route("/tasks/<int:task_id>/attachments", methods=["POST"])
@blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
    "type": "object",
    "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
}}}})
@blp.response(201, AttachmentSchema(many=True))
def attach_to_task(task_id):
    """Add PDF/JPEG/PNG files to the case on this task (field ``file``, repeated); the holder or its groups."""
    files = [(f.filename, f.read()) for f in request.files.getlist("file") if f and f.filename]
    return transaction.run(task_moves.attach, _user(), task_id, files)


# -- messages from outside ------------------------------------------------------------------------


@blp.route("/messages", methods=["GET"])
@blp.response(200, MessageWaitSchema(many=True))
def waiting_messages():
    """Messages your groups are expected to send (待回传), oldest first."""
    return messages.waiting_for(_user())


@blp.route("/cases/<int:case_id>/messages", methods=["POST"])
@blp.arguments(MessageRequestSchema)
@blp.response(200, CaseSchema)
def deliver_message(body, case_id):
    """Deliver a message the case waits for (members of the catch event's senderGroups)."""
    return transaction.run(messages.deliver, _user(), case_id, body["name"], body["payload"],
                           before_commit=read_answer)


# -- supervision -------------------------------------------------------------------------------


@blp.route("/supervision/overdue", methods=["GET"])
@blp.arguments(OverdueQuerySchema, location="query")
@blp.response(200, OverduePageSchema)
@requires(*supervision.WATCHERS)
def overdue_cases(query):
    """Running cases past (red) or near (yellow) their promised due date, most urgent first."""
    return supervision.overdue(_user(), query["level"], query["page"], query["per_page"])
