"""Moves on one task besides claim and complete: 转办 (a section chief reassigns), 委派 (the
holder hands over), comments, and 催办 (a supervisor's reminder). Each is one transaction,
audited, and leaves a ``TaskNote`` that the task page and API show.

- Reassign: a section chief of one of the task's groups (or an admin) gives an open or
  claimed task to another active member of its groups; it is claimed for that person.
- Delegate: the holder gives a claimed task to a colleague who may work on it, with a note.
- The target must be able to work on the task (its groups, or the applicant-lane user);
  giving a task to its current holder is refused as pointless (409).
- Urge: supervisors (and admins) remind the holder or the group of a live task.
- Comments: anyone who may see the task; they never change its state.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select, update

from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..extensions import db
from ..models import HumanTask, TaskNote, User, group_memberships
from ..models.types import utcnow
from . import audit, permissions
from .tasks import get_task

MAX_NOTE = 2000
LIVE = ("open", "claimed")


def _body(text, required: bool, field: str = "body") -> str:
    body = text.strip() if isinstance(text, str) else ""
    if required and not body:
        raise InvalidInput(_("Write something first."), {field: [_("Required.")]})
    if len(body) > MAX_NOTE:
        raise InvalidInput(_("The note is too long."), {field: [_("At most %(n)s characters.", n=MAX_NOTE)]})
    return body


def _target(task: HumanTask, user_id) -> User:
    target = db.session.get(User, user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else None
    if target is None or not target.active:
        raise InvalidInput(_("Choose a colleague."), {"user_id": [_("No such active user.")]})
    if not permissions.may_work_on(target, task):
        raise InvalidInput(_("That colleague cannot work on this task."),
                           {"user_id": [_("Not a member of the task's groups.")]})
    return target


def _lock_live(task: HumanTask) -> None:
    # Fresh state under a row lock (of the task only: its eager joins are outer joins).
    db.session.execute(select(HumanTask).where(HumanTask.id == task.id).with_for_update(of=HumanTask)
                       .execution_options(populate_existing=True))
    if task.state not in LIVE:
        raise Conflict(_("The task is %(state)s.", state=task.state), error="task_not_open")


def _give(task: HumanTask, to: User, expected_assignee) -> None:
    """Hand the task to ``to`` unless someone changed it meanwhile (then 409)."""
    result = db.session.execute(
        update(HumanTask).where(HumanTask.id == task.id, HumanTask.state.in_(LIVE),
                                HumanTask.assignee_id.is_(None) if expected_assignee is None
                                else HumanTask.assignee_id == expected_assignee)
        .values(state="claimed", assignee_id=to.id, claimed_at=utcnow())
        .execution_options(synchronize_session=False))
    db.session.refresh(task)
    if result.rowcount != 1:
        raise Conflict(_("The task changed meanwhile; reload and try again."), error="task_changed")


def may_reassign(user: User, task: HumanTask) -> bool:
    """Section chiefs of one of the task's groups, and admins."""
    if user.has_role("admin"):
        return True
    return user.has_role("section_chief") and any(c.group_id in set(user.group_ids) for c in task.candidates)


def reassign(user: User, task_id: int, to_user_id, note: str = "") -> HumanTask:
    """转办: a section chief gives the task to another member of its groups."""
    task = get_task(user, task_id)
    if not may_reassign(user, task):
        raise Forbidden(_("Only a section chief of this task's group may reassign it."))
    body = _body(note, required=False, field="note")
    _lock_live(task)
    target = _target(task, to_user_id)
    if task.assignee_id == target.id:
        raise Conflict(_("The task is already with that person."), error="same_assignee")
    previous = task.assignee_id
    _give(task, target, previous)
    db.session.add(TaskNote(task_id=task.id, kind="reassign", body=body, author_id=user.id,
                            to_user_id=target.id, at=utcnow()))
    audit.record(task.case, "task_reassigned", user, task,
                 data={"from_user_id": previous, "to_user_id": target.id, "to": target.username, "note": body})
    db.session.flush()
    return task


def delegate(user: User, task_id: int, to_user_id, note: str = "") -> HumanTask:
    """委派: the holder hands a claimed task to a colleague with a note."""
    task = get_task(user, task_id)
    body = _body(note, required=False, field="note")
    _lock_live(task)
    if task.state != "claimed" or task.assignee_id != user.id:
        raise Conflict(_("Only the person holding the task may hand it over."), error="not_claimed_by_you")
    target = _target(task, to_user_id)
    if target.id == user.id:
        raise Conflict(_("The task is already with that person."), error="same_assignee")
    _give(task, target, user.id)
    db.session.add(TaskNote(task_id=task.id, kind="delegate", body=body, author_id=user.id,
                            to_user_id=target.id, at=utcnow()))
    audit.record(task.case, "task_delegated", user, task,
                 data={"from_user_id": user.id, "to_user_id": target.id, "to": target.username, "note": body})
    db.session.flush()
    return task


def comment(user: User, task_id: int, body) -> TaskNote:
    """Add a comment to a task anyone who may see it can read."""
    task = get_task(user, task_id)
    note = TaskNote(task_id=task.id, kind="comment", body=_body(body, required=True), author_id=user.id, at=utcnow())
    db.session.add(note)
    db.session.flush()
    return note


def urge(user: User, task_id: int, message) -> TaskNote:
    """催办: a supervisor reminds the holder (or the group) of a live task."""
    permissions.require_role(user, ("supervisor", "admin"), _("send reminders"))
    task = get_task(user, task_id)
    body = _body(message, required=False, field="message") or _("Please handle this task promptly.")
    if task.state not in LIVE:
        raise Conflict(_("The task is %(state)s.", state=task.state), error="task_not_open")
    note = TaskNote(task_id=task.id, kind="urge", body=body, author_id=user.id,
                    to_user_id=task.assignee_id, at=utcnow())
    db.session.add(note)
    db.session.flush()
    audit.record(task.case, "task_urged", user, task, data={"message": body, "to_user_id": task.assignee_id})
    return note


def notes(task: HumanTask) -> list[TaskNote]:
    """The task's notes, oldest first."""
    return list(db.session.scalars(select(TaskNote).where(TaskNote.task_id == task.id)
                                   .order_by(TaskNote.at, TaskNote.id)))


def colleagues(task: HumanTask) -> list[User]:
    """Active users who may work on the task (for reassign/delegate pickers)."""
    group_ids = [c.group_id for c in task.candidates]
    if not group_ids:
        return []
    members = db.session.scalars(
        select(User).join(group_memberships, group_memberships.c.user_id == User.id)
        .where(group_memberships.c.group_id.in_(group_ids), User.active.is_(True))
        .distinct().order_by(User.username))
    return list(members)


def get_note(note_id: int) -> TaskNote:
    """A note, or NotFound."""
    note = db.session.get(TaskNote, note_id)
    if note is None:
        raise NotFound(_("No such note."))
    return note
