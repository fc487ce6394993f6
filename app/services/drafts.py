"""Task drafts: what the holder typed but did not submit yet, kept on the task row."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import update

from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..extensions import db
from ..models import HumanTask, User
from . import audit, permissions


def save_draft(user: User, task_id: int, raw_data: dict) -> HumanTask:
    """Store the holder's unvalidated form data on a claimed task (others: 403/409)."""
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound("No such task.")
    if not permissions.may_see_task(user, task):
        raise Forbidden("This task is not for your groups.")
    if not isinstance(raw_data, dict):
        raise InvalidInput(_("The submitted data does not match the form."), {"data": [_("Must be a JSON object.")]})
    # One conditional UPDATE: a draft never lands on a task that was completed or released meanwhile.
    result = db.session.execute(
        update(HumanTask)
        .where(HumanTask.id == task_id, HumanTask.state == "claimed", HumanTask.assignee_id == user.id)
        .values(draft_data=raw_data)
        .execution_options(synchronize_session=False))
    db.session.refresh(task)
    if result.rowcount != 1:
        if task.state in ("completed", "cancelled"):
            raise Conflict(f"The task is already {task.state}.", error="task_not_open")
        if task.state == "claimed":
            raise Conflict("Someone else has claimed this task.", error="claimed_by_other")
        raise Conflict("Claim the task before saving a draft.", error="not_claimed_by_you")
    # The draft itself may hold personal data; the history only says which fields it has.
    audit.record(task.case, "draft_saved", user, task, data={"fields": sorted(raw_data)})
    db.session.flush()
    return task


def shown_data(task: HumanTask) -> dict | None:
    """Return the data a task page shows: the submitted data once completed, else the draft (if any)."""
    if task.state == "completed":
        return task.submitted_data
    if task.state == "cancelled":
        return None
    return task.draft_data
