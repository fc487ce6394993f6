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
- Send back (退回): the holder moves the token back to a completed step on the path that led
  to the task; everything after it on that path (and branches forked after it) is withdrawn.
- Recall (撤回): whoever completed a step takes it back while nothing after it was acted on.
  After either move the step is live again, claimed for whoever did it before (if they still
  may work on it), pre-filled with their submission, with the opinion as a note.
- Copy (抄送): read-only copies for other users; priority and follow-up date for live tasks.
"""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import lazyload

from ..engine import TaskNotReady, WorkflowRunError
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..extensions import db
from ..models import HumanTask, TaskCopy, TaskNote, User, group_memberships
from ..models.types import utcnow
from . import attachments, audit, permissions
from .cases import load_workflow, lock_case, save_workflow, workflow_error
from .runtime import engine
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
        .values(state="claimed", assignee_id=to.id, claimed_at=utcnow(), lock_version=HumanTask.lock_version + 1)
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


# -- 退回 and 撤回: token moves ----------------------------------------------------------------


def _completed_row(case_id: int, engine_task_id: str) -> HumanTask | None:
    """The latest completed row of an engine task (a task may have been done more than once)."""
    return db.session.scalar(select(HumanTask).where(
        HumanTask.case_id == case_id, HumanTask.engine_task_id == engine_task_id, HumanTask.state == "completed")
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc()).limit(1))


def return_targets(user: User, task_id: int) -> list[HumanTask]:
    """The earlier steps the holder of a task may send the case back to, nearest first."""
    task = get_task(user, task_id)
    if task.state != "claimed" or task.assignee_id != user.id:
        return []
    workflow = load_workflow(task.case)
    try:
        engine_ids = engine().return_targets(workflow, task.engine_task_id)
    except TaskNotReady:
        return []
    rows = [_completed_row(task.case_id, engine_id) for engine_id in engine_ids]
    return [row for row in rows if row is not None]


def _reopen(case, engine_task_id: str, previous: HumanTask, actor: User, kind: str, body: str) -> HumanTask:
    """After a token move: give the live row of the reopened step to whoever did it before
    (if they still may), pre-filled with what they submitted, with the note attached."""
    row = db.session.scalar(select(HumanTask).where(
        HumanTask.case_id == case.id, HumanTask.engine_task_id == engine_task_id, HumanTask.state == "open"))
    if row is None:
        return previous
    worker = previous.completed_by
    if worker is not None and worker.active and permissions.may_work_on(worker, row):
        row.state = "claimed"
        row.assignee = worker
        row.claimed_at = utcnow()
    row.draft_data = previous.submitted_data
    db.session.add(TaskNote(task_id=row.id, kind=kind, body=body, author_id=actor.id,
                            to_user_id=worker.id if row.assignee is not None else None, at=utcnow()))
    db.session.flush()
    return row


def send_back(user: User, task_id: int, target_task_id, opinion) -> HumanTask:
    """退回: the holder sends the case back to an earlier step with an opinion. Everything after
    that step on this path is withdrawn; the step goes to whoever did it before."""
    task = get_task(user, task_id)
    opinion = _body(opinion, required=True, field="opinion")
    case = lock_case(task.case_id)
    db.session.refresh(task)
    if task.state != "claimed" or task.assignee_id != user.id:
        raise Conflict(_("Only the person holding the task may send it back."), error="not_claimed_by_you")
    target = db.session.get(HumanTask, target_task_id) if isinstance(target_task_id, int) else None
    workflow = load_workflow(case)
    try:
        allowed = engine().return_targets(workflow, task.engine_task_id)
    except TaskNotReady:
        raise Conflict(_("The task is no longer waiting in the process."), error="task_not_open") from None
    if target is None or target.case_id != case.id or target.state != "completed" \
            or target.engine_task_id not in allowed:
        raise InvalidInput(_("Choose an earlier step of this case."),
                           {"target_task_id": [_("Not an earlier step on this task's path.")]})
    try:
        engine().reset_to(workflow, target.engine_task_id)
    except WorkflowRunError as exc:
        raise workflow_error(exc) from None
    audit.record(case, "task_returned", user, task, data={
        "to_task_id": target.id, "to_task_name": target.name, "opinion": opinion})
    save_workflow(case, workflow, user)
    return _reopen(case, target.engine_task_id, target, user, "return", opinion)


def recall(user: User, task_id: int) -> HumanTask:
    """撤回: whoever completed a step takes it back while nothing after it was acted on (no
    later completion in the case, no task claimed since)."""
    done = get_task(user, task_id)
    case = lock_case(done.case_id)
    db.session.refresh(done)
    if done.state != "completed" or done.completed_by_id != user.id:
        raise Forbidden(_("Only the person who completed this step may take it back."))
    if case.status != "active":
        raise Conflict(_("The case is already closed."), error="case_closed")
    # The case's other rows as entities, not a count: the projection below cancels the live ones
    # with the version read here, so a claim that commits in between (a claim locks its task, not
    # the case) makes the cancel fail its version check, and the replay answers 409 as below.
    others = db.session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.id != done.id)
                                .options(lazyload(HumanTask.case), lazyload(HumanTask.candidates))).all()
    if any((row.state == "completed" and row.completed_at >= done.completed_at)
           or (row.state == "claimed" and row.created_at >= done.completed_at) for row in others):
        raise Conflict(_("The next step has already been taken up; ask its holder to send it back."),
                       error="next_step_started")
    workflow = load_workflow(case)
    try:
        engine().reset_to(workflow, done.engine_task_id)
    except TaskNotReady:
        raise Conflict(_("This step can no longer be taken back."), error="not_recallable") from None
    except WorkflowRunError as exc:
        raise workflow_error(exc) from None
    audit.record(case, "task_recalled", user, done)
    save_workflow(case, workflow, user)
    return _reopen(case, done.engine_task_id, done, user, "recall", "")


def may_recall(user: User, task: HumanTask) -> bool:
    """Whether the recall button makes sense (the service decides for real)."""
    return task.state == "completed" and task.completed_by_id == user.id and task.case.status == "active"


# -- 抄送 and priority ------------------------------------------------------------------------------


MAX_COPIES = 20
PRIORITIES = (0, 1, 2)


def copy_to(user: User, task_id: int, user_ids, note: str = "") -> list[TaskCopy]:
    """抄送: give users a read-only copy of a task (listed in their 抄送我的 tab)."""
    task = get_task(user, task_id)
    if not permissions.may_see_task(user, task):
        # A copy is for reading: its recipient may not pass the case on to others.
        raise Forbidden(_("Only those who work on this task may copy it to others."))
    body = _body(note, required=False, field="note")
    if not isinstance(user_ids, list) or not user_ids or len(user_ids) > MAX_COPIES:
        raise InvalidInput(_("Choose who gets a copy."), {"user_ids": [_("Between 1 and %(n)s users.", n=MAX_COPIES)]})
    recipients = []
    for uid in dict.fromkeys(user_ids):
        target = db.session.get(User, uid) if isinstance(uid, int) and not isinstance(uid, bool) else None
        if target is None or not target.active:
            raise InvalidInput(_("Choose who gets a copy."), {"user_ids": [_("No such active user.")]})
        recipients.append(target)
    existing = set(db.session.scalars(select(TaskCopy.user_id).where(TaskCopy.task_id == task.id)))
    now = utcnow()
    created = []
    for target in recipients:
        if target.id in existing or target.id == user.id:
            continue
        copy = TaskCopy(task_id=task.id, case_id=task.case_id, user_id=target.id, by_id=user.id, note=body, at=now)
        db.session.add(copy)
        created.append(copy)
    db.session.flush()
    if created:
        audit.record(task.case, "task_copied", user, task, data={
            "to": [c.user.username for c in created], "note": body})
    return created


def mark_copy_read(user: User, task: HumanTask) -> None:
    """The recipient opened the task: their copy counts as read."""
    db.session.execute(update(TaskCopy).where(TaskCopy.task_id == task.id, TaskCopy.user_id == user.id,
                                              TaskCopy.read_at.is_(None)).values(read_at=utcnow()))


def copy_candidates(user: User) -> list[User]:
    """Active users a task may be copied to (everyone but oneself), by name."""
    return list(db.session.scalars(select(User).where(User.active.is_(True), User.id != user.id)
                                   .order_by(User.username)))


def set_priority(user: User, task_id: int, priority, follow_up_on=None) -> HumanTask:
    """Set a live task's priority (0 normal, 1 high, 2 urgent) and follow-up date: its holder,
    a member of its groups, or a section chief of them."""
    task = get_task(user, task_id)
    if not (task.assignee_id == user.id or permissions.may_work_on(user, task) or may_reassign(user, task)):
        raise Forbidden(_("Only the people working on this task may change its priority."))
    if task.state not in LIVE:
        raise Conflict(_("The task is %(state)s.", state=task.state), error="task_not_open")
    if priority not in PRIORITIES or isinstance(priority, bool):
        raise InvalidInput(_("Unknown priority."), {"priority": [_("Choose 0, 1 or 2.")]})
    if follow_up_on is not None and not isinstance(follow_up_on, date):
        raise InvalidInput(_("Enter a date as YYYY-MM-DD."), {"follow_up_on": [_("Enter a date as YYYY-MM-DD.")]})
    if (task.priority, task.follow_up_on) != (priority, follow_up_on):
        audit.record(task.case, "task_priority_changed", user, task, data={
            "priority": priority, "follow_up_on": follow_up_on.isoformat() if follow_up_on else None,
            "was": {"priority": task.priority,
                    "follow_up_on": task.follow_up_on.isoformat() if task.follow_up_on else None}})
    task.priority = priority
    task.follow_up_on = follow_up_on
    db.session.flush()
    return task


# -- 加签 / 减签 ----------------------------------------------------------------------------------


def _signing(user: User, task_id: int) -> tuple[HumanTask, object, object]:
    """Lock the case of a live signing task; return (task, case, workflow)."""
    task = get_task(user, task_id)
    case = lock_case(task.case_id)
    db.session.refresh(task)
    if task.state not in LIVE:
        raise Conflict(_("The task is %(state)s.", state=task.state), error="task_not_open")
    return task, case, load_workflow(case)


POSITIONS = ("after", "before", "end")


def add_signer(user: User, task_id: int, to_user_id, note: str = "", position: str = "after") -> HumanTask:
    """加签: one more signer on a running 会签/或签 (the current signer, a section chief of the
    task's group, or an admin); the new signer must be able to work on the task. In a
    sequential countersignature ``position`` puts them before or right after the current
    signer, or at the end of the queue; in a parallel one they sign beside the others."""
    if position not in POSITIONS:
        raise InvalidInput(_("Unknown position."), {"position": [_("Choose before, after or end.")]})
    body = _body(note, required=False, field="note")
    task, case, workflow = _signing(user, task_id)
    if task.assignee_id != user.id and task.candidate_user_id != user.id and not may_reassign(user, task):
        raise Forbidden(_("Only the signer, or a section chief of the task's group, may add a signer."))
    target = db.session.get(User, to_user_id) if isinstance(to_user_id, int) and not isinstance(to_user_id, bool) \
        else None
    if target is None or not target.active or not any(c.group_id in set(target.group_ids) for c in task.candidates):
        raise InvalidInput(_("That colleague cannot sign this task."),
                           {"user_id": [_("Not a member of the task's groups.")]})
    try:
        signers = engine().instance_items(workflow, task.engine_task_id)
        if target.username in signers:
            raise Conflict(_("That colleague is already signing."), error="already_signing")
        engine().add_instance(workflow, task.engine_task_id, target.username, position)
    except TaskNotReady:
        raise Conflict(_("Signers can be added only while a parallel countersignature is running."),
                       error="not_countersigning") from None
    except WorkflowRunError as exc:
        raise workflow_error(exc) from None
    audit.record(case, "signer_added", user, task, data={"signer": target.username, "note": body})
    save_workflow(case, workflow, user)
    db.session.refresh(task)
    return db.session.scalar(select(HumanTask).where(
        HumanTask.case_id == case.id, HumanTask.bpmn_id == task.bpmn_id, HumanTask.state == "open",
        HumanTask.candidate_user_id == target.id).order_by(HumanTask.id.desc()).limit(1)) or task


def remove_signer(user: User, task_id: int, note: str = "", waiting_user_id=None) -> HumanTask:
    """减签: a section chief of the task's group (or an admin) removes a signer who has not
    signed yet: this task's signer, or (sequential) ``waiting_user_id``, who is still waiting
    for their turn. The last remaining signer cannot be removed."""
    body = _body(note, required=False, field="note")
    task, case, workflow = _signing(user, task_id)
    if not may_reassign(user, task):
        raise Forbidden(_("Only a section chief of the task's group may remove a signer."))
    waiting = None
    if waiting_user_id is not None:
        waiting = db.session.get(User, waiting_user_id) if isinstance(waiting_user_id, int) else None
        if waiting is None:
            raise InvalidInput(_("Choose a colleague."), {"user_id": [_("No such active user.")]})
    try:
        engine().remove_instance(workflow, task.engine_task_id, waiting.username if waiting else None)
    except TaskNotReady:
        raise Conflict(_("This signer cannot be removed (not a running countersignature, or the last signer)."),
                       error="not_removable") from None
    except WorkflowRunError as exc:
        raise workflow_error(exc) from None
    if waiting is not None:
        signer = waiting.username
    else:
        signer = task.candidate_user.username if task.candidate_user_id and task.candidate_user else None
    audit.record(case, "signer_removed", user, task, data={"signer": signer, "note": body})
    save_workflow(case, workflow, user)
    db.session.refresh(task)
    return task


# -- attachments on a task ------------------------------------------------------------------------

MAX_FILES = 10


def attach(user: User, task_id: int, files) -> list:
    """Add files (PDF/JPEG/PNG) to the case on this task: its holder or a member of its groups,
    while it is live. ``files`` is a list of (filename, bytes)."""
    task = get_task(user, task_id)
    if not (task.assignee_id == user.id or permissions.may_work_on(user, task)):
        raise Forbidden(_("Only the people working on this task may add files to it."))
    if task.state not in LIVE:
        raise Conflict(_("The task is %(state)s.", state=task.state), error="task_not_open")
    if not files:
        raise InvalidInput(_("Choose at least one file."), {"file": [_("Required.")]})
    if len(files) > MAX_FILES:
        raise InvalidInput(_("Too many files."), {"file": [_("At most %(n)s files at once.", n=MAX_FILES)]})
    return [attachments.add(task.case, user, name, content, field="file", task=task) for name, content in files]
