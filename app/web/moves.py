"""Pages and form posts for the case clock, window moves, task moves and the overdue list.

Each post is one service call in one transaction; the outcome comes back as a flash message
on the page the user came from (a refused move says why, field by field).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from .. import transaction
from ..errors import Conflict, Forbidden, InvalidInput
from ..services import case_clock, case_moves, messages, org, permissions, supervision, task_moves
from ..services.cases import get_case, open_tasks
from . import params
from .labels import STATUS_LABELS, SYSTEM_NOTES

bp = Blueprint("web_moves", __name__)
OVERDUE_PER_PAGE = 50

PAUSE_LABELS = {
    "special_procedure": _l("Special procedure"),
    "hearing": _l("Hearing"),
    "inspection": _l("Site inspection"),
    "expert_review": _l("Expert review"),
    "correction": _l("Waiting for materials (补正)"),
}
EXTENSION_LABELS = {"pending": _l("Waiting for decision"), "approved": _l("Approved"), "rejected": _l("Rejected")}
NOTICE_TITLES = {"correction": _l("Notice to supplement materials"), "rejection": _l("Notice of non-acceptance")}
CORRECTION_ROWS = 6


def _user():
    return current_user._get_current_object()


def _attempt(back: str, success: str, fn, *args):
    """Run one move; flash its outcome and go back. Errors a user can fix are flashed, not paged."""
    try:
        transaction.run(fn, *args)
    except InvalidInput as exc:
        details = []
        if isinstance(exc.errors, dict):
            details = [f"{', '.join(map(str, msgs))}" for msgs in exc.errors.values()]
        flash(" ".join([exc.message, *details]), "error")
    except (Conflict, Forbidden) as exc:
        flash(exc.message, "error")
    else:
        flash(success, "success")
    return redirect(back)


def _case_url(case_id: int) -> str:
    return url_for("web_cases.case", case_id=case_id) + "#clock"


def _date(value):
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return value  # the service refuses it with a message


def _int(value):
    """A number from the form; anything else (blank, text, out of range) goes on as it came, for
    the service to refuse with its message."""
    number = params.integer(value)
    return value if number is None else number


@bp.post("/cases/<int:case_id>/clock")
@login_required
def clock_action(case_id: int):
    """action = pause | resume | extend."""
    user, back, form = _user(), _case_url(case_id), request.form
    action = form.get("action")
    if action == "pause":
        return _attempt(back, _("The clock is stopped."), case_clock.pause_case, user, case_id,
                        form.get("kind", ""), form.get("reason", ""))
    if action == "resume":
        return _attempt(back, _("The clock is running again; the due dates have moved."),
                        case_clock.resume_case, user, case_id)
    if action == "extend":
        return _attempt(back, _("The extension request was sent to the section chief."),
                        case_clock.request_case_extension, user, case_id, _int(form.get("working_days")),
                        form.get("reason", ""))
    flash(_("Unknown action."), "error")
    return redirect(back)


@bp.post("/extensions/<int:extension_id>/decide")
@login_required
def decide_extension(extension_id: int):
    """decision = approve | reject, with an optional note."""
    record = case_clock.get_extension(extension_id)
    get_case(_user(), record.case_id)  # 404 unless visible
    approve = request.form.get("decision") == "approve"
    message = _("Extension approved.") if approve else _("Extension rejected.")
    return _attempt(_case_url(record.case_id), message, case_clock.decide, _user(), extension_id, approve,
                    request.form.get("note", ""))


@bp.post("/cases/<int:case_id>/notices")
@login_required
def notice_action(case_id: int):
    """action = correction | reject | withdraw."""
    user, back, form = _user(), _case_url(case_id), request.form
    action = form.get("action")
    if action == "correction":
        items = [{"material": m.strip(), "problem": p.strip()}
                 for m, p in zip(form.getlist("material"), form.getlist("problem"), strict=False)
                 if m.strip() or p.strip()]
        return _attempt(back, _("Correction notice issued; the clock is stopped until the materials arrive."),
                        case_moves.issue_correction, user, case_id, items, form.get("note", ""))
    if action == "reject":
        return _attempt(back, _("The application was not accepted; print the notice for the applicant."),
                        case_moves.reject, user, case_id, form.get("reason", ""), form.get("legal_basis", ""))
    if action == "withdraw":
        return _attempt(back, _("The withdrawal is recorded; the case is closed."),
                        case_moves.withdraw, user, case_id, form.get("reason", ""))
    flash(_("Unknown action."), "error")
    return redirect(back)


@bp.post("/notices/<int:notice_id>/received")
@login_required
def materials_received(notice_id: int):
    """The materials of a correction notice arrived."""
    notice = case_moves.get_notice(notice_id)
    get_case(_user(), notice.case_id)
    return _attempt(_case_url(notice.case_id), _("Materials recorded; the clock is running again."),
                    case_moves.materials_received, _user(), notice_id)


@bp.get("/notices/<int:notice_id>")
@login_required
def notice(notice_id: int):
    """A printable notice for the applicant (一次性告知 / 不予受理)."""
    found = case_moves.get_notice(notice_id)
    case = get_case(_user(), found.case_id)
    return render_template("web/notice.html", notice=found, case=case, title=NOTICE_TITLES[found.kind])


@bp.post("/tasks/<int:task_id>/moves")
@login_required
def task_action(task_id: int):
    """action = comment | delegate | reassign | urge."""
    user, form = _user(), request.form
    back = url_for("web_tasks.task", task_id=task_id) + "#notes"
    action = form.get("action")
    if action == "comment":
        return _attempt(back, _("Comment added."), task_moves.comment, user, task_id, form.get("body", ""))
    if action == "delegate":
        return _attempt(back, _("The task was handed over."), task_moves.delegate, user, task_id,
                        _int(form.get("user_id")), form.get("note", ""))
    if action == "reassign":
        return _attempt(back, _("The task was reassigned."), task_moves.reassign, user, task_id,
                        _int(form.get("user_id")), form.get("note", ""))
    if action == "urge":
        return _attempt(back, _("Reminder sent."), task_moves.urge, user, task_id, form.get("message", ""))
    if action == "add_signer":
        return _attempt(back, _("Signer added."), task_moves.add_signer, user, task_id,
                        _int(form.get("user_id")), form.get("note", ""), form.get("position", "after"))
    if action == "remove_signer":
        return _attempt(back, _("Signer removed."), task_moves.remove_signer, user, task_id, form.get("note", ""))
    if action == "return":
        return _attempt(url_for("web_inbox.inbox"), _("The case was sent back."), task_moves.send_back, user,
                        task_id, _int(form.get("target_task_id")), form.get("opinion", ""))
    if action == "recall":
        return _attempt(url_for("web_inbox.inbox", tab="mine"), _("The step is back with you."),
                        task_moves.recall, user, task_id)
    if action == "copy":
        return _attempt(back, _("Copies sent."), task_moves.copy_to, user, task_id,
                        [_int(v) for v in form.getlist("user_ids")], form.get("note", ""))
    if action == "priority":
        return _attempt(back, _("Priority saved."), task_moves.set_priority, user, task_id,
                        _int(form.get("priority")), _date(form.get("follow_up_on")))
    flash(_("Unknown action."), "error")
    return redirect(back)


@bp.post("/tasks/<int:task_id>/attachments")
@login_required
def task_attachments(task_id: int):
    """Upload files on the task page."""
    files = [(f.filename, f.read()) for f in request.files.getlist("file") if f and f.filename]
    back = url_for("web_tasks.task", task_id=task_id) + "#files-heading"
    return _attempt(back, _("Files added."), task_moves.attach, _user(), task_id, files)


@bp.get("/messages")
@login_required
def messages_page():
    """待回传: results the user's groups are expected to send back to cases."""
    return render_template("web/messages.html", waits=messages.waiting_for(_user()))


@bp.post("/cases/<int:case_id>/messages")
@login_required
def deliver_message(case_id: int):
    """Record a result (done or failed, with a note) as the message a case waits for."""
    payload = {"result": request.form.get("result", ""), "note": request.form.get("note", "").strip()}
    return _attempt(url_for("web_moves.messages_page"), _("Result sent."), messages.deliver, _user(), case_id,
                    request.form.get("name", ""), payload)


@bp.get("/supervision/overdue")
@login_required
def overdue():
    """The supervisor's list of overdue (red) and nearly due (yellow) cases."""
    level = request.args.get("level", "all")
    if level not in supervision.LEVELS:
        level = "all"
    page = params.page_number(request.args.get("page"))
    result = supervision.overdue(_user(), level, page, OVERDUE_PER_PAGE)
    return render_template("web/overdue.html", page=result, level=level, status_labels=STATUS_LABELS,
                           overdue_days=supervision.overdue_working_days, group_names=org.group_names(),
                           open_tasks={c.id: open_tasks(c) for c in result.items})


def case_clock_context(user, case) -> dict:
    """What the case page's clock and moves panel shows and offers to this user."""
    handler = case.status == "active" and case_clock.may_handle(user, case)
    extensions = case_clock.extensions(case)
    return {
        "pauses": case_clock.pauses(case),
        "extensions": extensions,
        "notices": case_moves.notices(case),
        "open_correction": case_moves.open_correction(case),
        "can_handle": handler,
        "can_refuse": handler and user.has_role(*case_moves.WINDOW_ROLES),
        "decidable": {e.id for e in extensions if e.status == "pending" and e.requested_by_id != user.id
                      and case_clock.may_decide(user, case)},
        "pause_kinds": [(k, PAUSE_LABELS[k]) for k in case_clock.PAUSE_KINDS if k != "correction"],
        "pause_labels": PAUSE_LABELS,
        "extension_labels": EXTENSION_LABELS,
        "notice_titles": NOTICE_TITLES,
        "correction_rows": CORRECTION_ROWS,
        # Required materials the window did not receive at intake: the correction notice starts with them.
        "missing": (case.intake or {}).get("missing", []) if case.status == "active" else [],
        "max_extension": case_clock.MAX_EXTENSION_DAYS,
    }


def task_moves_context(user, task) -> dict:
    """What the task page's notes and hand-over panel shows and offers to this user."""
    live = task.state in ("open", "claimed")
    colleagues = [u for u in task_moves.colleagues(task) if u.id != task.assignee_id] if live else []
    holder = task.state == "claimed" and task.assignee_id == user.id
    signing = live and bool(task.case.process_version.meta.get("user_tasks", {}).get(task.bpmn_id, {})
                            .get("multi_instance"))
    chief = task_moves.may_reassign(user, task)
    return {
        "attach_url": url_for("web_moves.task_attachments", task_id=task.id)
        if live and (holder or permissions.may_work_on(user, task)) else None,
        "can_add_signer": signing and (holder or task.candidate_user_id == user.id or chief),
        "can_remove_signer": signing and chief and task.state == "open",
        "notes": task_moves.notes(task),
        "system_notes": SYSTEM_NOTES,
        "return_targets": task_moves.return_targets(user, task.id) if holder else [],
        "can_recall": task_moves.may_recall(user, task),
        "can_prioritise": live and (holder or permissions.may_work_on(user, task)
                                    or task_moves.may_reassign(user, task)),
        "copy_candidates": task_moves.copy_candidates(user),
        "priorities": [(0, _("Normal")), (1, _("High")), (2, _("Urgent"))],
        "can_delegate": live and task.state == "claimed" and task.assignee_id == user.id,
        "can_reassign": live and task_moves.may_reassign(user, task),
        "can_urge": live and user.has_role("supervisor", "admin"),
        "colleagues": colleagues,
    }

