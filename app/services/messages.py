"""Messages from outside the bureau: a case waits at a message catch (a receive task or catch
event with a ``senderGroups`` property), and a member of a sender group delivers the result
(e.g. a utility reports the account transfer). Waits are projected to ``message_waits`` after
every step, so each group's 待回传 list reads rows, not workflow state.
"""

from __future__ import annotations

import json

from flask_babel import gettext as _
from sqlalchemy import select

from ..engine import TaskNotReady, WorkflowRunError
from ..errors import Forbidden, InvalidInput, NotFound
from ..extensions import db
from ..models import Case, MessageWait, User
from . import audit
from .cases import get_case, load_workflow, lock_case, save_workflow, workflow_error
from .runtime import engine

MAX_PAYLOAD_BYTES = 16 * 1024


def waiting_for(user: User) -> list[MessageWait]:
    """Messages the user's groups are expected to send, oldest first (待回传)."""
    codes = [g.code for g in user.groups] or ["-"]
    return list(db.session.scalars(select(MessageWait).join(Case, MessageWait.case_id == Case.id)
                                   .where(MessageWait.group_code.in_(codes), Case.status == "active")
                                   .order_by(MessageWait.created_at, MessageWait.id)))


def deliver(user: User, case_id: int, name, payload) -> Case:
    """Deliver message ``name`` to a case waiting for it, as a member of one of its sender groups."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(_("Name the message."), {"name": [_("Required.")]})
    if not isinstance(payload, dict) or len(json.dumps(payload, ensure_ascii=False)) > MAX_PAYLOAD_BYTES:
        raise InvalidInput(_("The message content is not valid."),
                           {"payload": [_("A JSON object of at most 16 KB.")]})
    case = lock_case(case_id)
    workflow = load_workflow(case)
    waits = [w for w in engine().waiting_messages(workflow) if w.name == name]
    mine = {g.code for g in user.groups}
    if not waits or case.status != "active":
        if user.has_role("admin") or any(mine & set(w.sender_groups) for w in engine().waiting_messages(workflow)):
            raise NotFound(_("The case is not waiting for this message."))
        raise NotFound("No such case.")
    if not (mine & set(waits[0].sender_groups)):
        get_case(user, case_id)  # NotFound for those who may not see the case at all
        raise Forbidden(_("Your group does not send this message."))
    try:
        wait = engine().deliver_message(workflow, name, payload)
    except TaskNotReady:
        raise NotFound(_("The case is not waiting for this message.")) from None
    except WorkflowRunError as exc:
        raise workflow_error(exc) from None
    audit.record(case, "message_received", user, data={"message": name, "element": wait.element_name,
                                                        "payload": payload})
    save_workflow(case, workflow, user)
    return case
