"""Who may do what. Routes declare the role an endpoint needs; services check the rest."""

from __future__ import annotations

from ..errors import Forbidden
from ..models import Case, HumanTask, User

START_CASE = ("clerk",)
DEPLOY = ("designer", "admin")
READ_ALL_CASES = ("supervisor", "leader", "admin")
UNCLAIM_ANY = ("admin",)


def require_role(user: User, roles: tuple[str, ...], action: str) -> None:
    """Raise Forbidden unless ``user`` has one of ``roles``."""
    if not user.has_role(*roles):
        raise Forbidden(f"You may not {action}.")


def may_work_on(user: User, task: HumanTask) -> bool:
    """Whether the task is for one of the user's groups, or for the user personally."""
    if task.candidate_user_id is not None:
        return task.candidate_user_id == user.id
    mine = set(user.group_ids)
    return any(c.group_id in mine for c in task.candidates)


def may_see_task(user: User, task: HumanTask) -> bool:
    """Whether the user may read the task (workers, holders, members of its groups — also when it
    is for one named colleague, e.g. a 会签 signature — and case readers)."""
    mine = set(user.group_ids)
    return (may_work_on(user, task) or task.assignee_id == user.id or task.completed_by_id == user.id
            or any(c.group_id in mine for c in task.candidates) or user.has_role(*READ_ALL_CASES))


def may_see_case(user: User, case: Case, group_ids_with_tasks: set[int]) -> bool:
    """Starter, members of any group that has or had a task in it, supervisors and admins."""
    if user.has_role(*READ_ALL_CASES) or case.started_by_id == user.id:
        return True
    return bool(group_ids_with_tasks & set(user.group_ids))
