"""The task page: case header, the task's form, claim/unclaim, save draft and submit."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import transaction
from ..errors import InvalidInput
from ..models import HumanTask, User
from ..services import attachments, cases, drafts, forms, permissions, processes, progress, task_moves, tasks
from . import formrender, moves
from .labels import EVENT_LABELS, STATE_LABELS, STATUS_LABELS

bp = Blueprint("web_tasks", __name__)

def _user() -> User:
    return current_user._get_current_object()


def _render(task: HumanTask, user: User, values=None, errors=None, status: int = 200):
    """The task page; ``values``/``errors`` when showing a refused submission again."""
    case = task.case
    schema = tasks.task_form(task)
    form_fields = formrender.fields(schema)
    if values is None:
        values = formrender.initial(form_fields, drafts.shown_data(task))
    values = formrender.with_case_values(values, form_fields, tasks.task_values(task))
    by_field, other = formrender.split_errors(errors)
    other += formrender.stray(form_fields, by_field)
    holder = task.state == "claimed" and task.assignee_id == user.id
    actions = {
        "claim": task.state == "open" and permissions.may_work_on(user, task),
        "unclaim": task.state == "claimed" and (holder or user.has_role(*permissions.UNCLAIM_ANY)),
        "work": holder,
    }
    page = render_template(
        "web/task.html", task=task, case=case, schema=schema, bound=formrender.bind(form_fields, values, by_field),
        form_errors=other, has_data=drafts.shown_data(task) is not None or errors is not None, actions=actions,
        data_rows=formrender.data_rows(forms.visible_data(schema, tasks.task_values(task)),
                                       processes.version_forms(case.process_version)),
        attachments=attachments.list_for_case(case), history=cases.history(case), progress=progress.progress(case),
        status_labels=STATUS_LABELS, state_labels=STATE_LABELS, event_labels=EVENT_LABELS,
        moves=moves.task_moves_context(user, task))
    return page, status


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int):
    """Show a task; POST ``action`` = claim | unclaim | draft | submit."""
    user = _user()
    here = url_for("web_tasks.task", task_id=task_id)
    if request.method == "GET":
        found = tasks.get_task(user, task_id)
        transaction.run(task_moves.mark_copy_read, user, found)
        return _render(found, user)

    action = request.form.get("action")
    if action == "claim":
        transaction.run(tasks.claim, user, task_id)
        flash(_("You have claimed this task."), "info")
        return redirect(here)
    if action == "unclaim":
        transaction.run(tasks.unclaim, user, task_id)
        flash(_("The task is back in its group's inbox."), "info")
        return redirect(here)
    if action not in ("draft", "submit"):
        abort(400)

    found = tasks.get_task(user, task_id)
    form_fields = formrender.fields(tasks.task_form(found))
    data = formrender.parse(form_fields, request.form)
    if action == "draft":
        transaction.run(drafts.save_draft, user, task_id, data)
        flash(_("Draft saved."), "info")
        return redirect(here)
    try:
        case = transaction.run(tasks.complete, user, task_id, data)
    except InvalidInput as exc:
        # Shown again with what was typed (even invalid values) and each message next to its field.
        errors = exc.errors if isinstance(exc.errors, dict) else {"_": [workflow_message(exc)]}
        return _render(found, user, values=formrender.submitted(form_fields, request.form), errors=errors,
                       status=422)
    flash(_("Task completed"), "success")
    return redirect(f"/cases/{case.id}")


def workflow_message(exc: InvalidInput) -> str:
    """A diagram step failed on this data: say so, with the element the designer needs."""
    where = ", ".join(str(e.get("element")) for e in exc.errors or [] if isinstance(e, dict) and e.get("element"))
    detail = "; ".join(str(e.get("message")) for e in exc.errors or [] if isinstance(e, dict) and e.get("message"))
    return _("The process could not continue with this data (%(where)s: %(detail)s). "
             "Check the data, or tell the process designer.", where=where or "?", detail=detail or exc.message)
