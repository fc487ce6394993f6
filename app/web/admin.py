"""The administrators' system page (系统状态): the timer workers and the latest security events."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..models.audit import SECURITY_EVENT_TYPES
from ..services import permissions, security_log, workers
from .labels import LOGIN_FAILURE_REASONS, SECURITY_EVENT_LABELS, SESSION_END_REASONS

bp = Blueprint("web_admin", __name__)

LATEST = 100


@bp.get("/admin/system")
@login_required
def system():
    user = current_user._get_current_object()
    permissions.require_role(user, security_log.READERS, _("see the system status"))
    kind = request.args.get("type") or None
    if kind not in SECURITY_EVENT_TYPES:
        kind = None  # an unknown type filters nothing (the choices are the page's own links)
    return render_template("web/admin_system.html", workers=workers.states(), kind=kind, latest=LATEST,
                           events=security_log.latest(user, kind, LATEST), labels=SECURITY_EVENT_LABELS,
                           reasons={**LOGIN_FAILURE_REASONS, **SESSION_END_REASONS}, kinds=SECURITY_EVENT_TYPES)
