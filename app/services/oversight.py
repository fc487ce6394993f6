"""Supervision objects and the other oversight workflows a person starts (brief §3.2, §7):
督办, 预警函 (with its 整改报告), 重大行政执法决定法制审核 and 企业诉求三张清单. Each is a
diagram with ``startedBy`` set; this service checks who may start which, and starts it. The steps
are ordinary tasks in the inboxes of the groups involved."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext

from ..errors import Forbidden, InvalidInput, NotFound
from ..models import Case, User


@dataclass(frozen=True)
class Kind:
    process_key: str
    started_by: str
    title: object
    # Who may start it: roles, or members of these groups; "unit" also lets members of the group
    # named in the data's ``unit`` field start it (a department submits its own decision).
    roles: tuple[str, ...]
    groups: tuple[str, ...] = ()
    unit_members: bool = False


KINDS = {
    "supervision": Kind("supervision_notice", "supervision", lazy_gettext("Supervision notice"),
                        ("supervisor", "admin"), ("supervision",)),
    "warning-letter": Kind("warning_letter", "supervision", lazy_gettext("Warning letter"),
                           ("supervisor", "admin"), ("supervision",)),
    "legality-review": Kind("legality_review", "legality", lazy_gettext("Legality review"),
                            ("admin",), (), unit_members=True),
    "enterprise-demand": Kind("enterprise_demand", "demands", lazy_gettext("Enterprise demand"),
                              ("supervisor", "admin"), ("business_environment",)),
}


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise NotFound(_("No such kind of oversight item.")) from None


def may_start(user: User, item: Kind, data: dict) -> bool:
    codes = {g.code for g in user.groups}
    if user.has_role(*item.roles) or codes & set(item.groups):
        return True
    return item.unit_members and isinstance(data.get("unit"), str) and data["unit"] in codes


def start(user: User, name: str, data: dict) -> Case:
    """Start an oversight item of kind ``name`` with its start form's ``data``."""
    from .cases import start_case

    item = kind(name)
    if not isinstance(data, dict):
        raise InvalidInput(_("The submitted data does not match the form."), {"data": [_("Must be a JSON object.")]})
    if not may_start(user, item, data):
        raise Forbidden(_("You may not start this oversight item."))
    applicant = {"name": user.display_name or user.username, "id_number": "", "phone": None}
    return start_case(user, item.process_key, applicant, data, started_by=item.started_by)
