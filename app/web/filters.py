"""Template filters and globals: local times, waiting times, masking."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app, request
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..models.types import utcnow
from ..services import deadlines, kpis, messages, work_orders
from ..services.designer import DESIGNERS
from ..services.privacy import mask_id_number, mask_in_text, mask_phone
from ..services.supervision import WATCHERS


def rate(value) -> str:
    """A rate 0–1 as a percentage with one decimal; — when there is nothing to divide by."""
    if value is None:
        return "—"
    return f"{value * 100:.1f}%"


def localtime(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Show a UTC datetime in Asia/Shanghai (the configured Babel time zone)."""
    return format_datetime(value, fmt) if value else ""


def waiting(value: datetime | None) -> str:
    """How long since ``value``: '3 天 2 小时' / '3 d 2 h'."""
    if value is None:
        return ""
    seconds = max(0, int((utcnow() - value).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(d)s d %(h)s h", d=days, h=hours)
    if hours:
        return _("%(h)s h %(m)s min", h=hours, m=minutes)
    return _("%(m)s min", m=minutes)


def task_deadline(task) -> tuple[datetime | None, str]:
    """(due, warning) shown on an inbox row: the task's own due time, else its case's promised one."""
    if task.due_at is not None:
        return task.due_at, deadlines.task_warning(task)
    return task.case.due_at, deadlines.case_warning(task.case)


def deadline_warning(due_at: datetime | None, finished: bool = False) -> str:
    """``none``, ``yellow`` or ``red`` for a due time (app/services/deadlines.py)."""
    return deadlines.warning(due_at, finished)


def warning_label(warning: str) -> str:
    """The text shown beside a warning colour (never colour alone)."""
    return {"yellow": _("Due soon"), "red": _("Overdue")}.get(warning, "")


def current_locale() -> str:
    """``zh_CN`` or ``en`` (Babel spells Chinese ``zh_Hans_CN``)."""
    return "zh_CN" if get_locale().language == "zh" else "en"


def language_return_path() -> str:
    """Where the language switch returns to: this page, or, when this page answers a POST (a
    refused form, search results), the page the form was on; a POST-only address would be 405."""
    if request.method == "GET":
        return request.full_path
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return "/"


def nav_items() -> list[tuple[str, str]]:
    """The main navigation for the current user (only pages that exist and they may use)."""
    items = [("web_inbox.inbox", _("Inbox"))]
    if current_user.is_authenticated and current_user.has_role("clerk"):
        items.append(("web_new_case.new_case", _("New case")))
        items.append(("web_assist.queue", _("Assisted applications")))
    if current_user.is_authenticated and current_user.has_role("helper"):
        items.append(("web_assist.index", _("Assisted filing")))
    if current_user.is_authenticated and work_orders.sees_callers(current_user):
        items.append(("web_hotline.index", _("12345 work orders")))
    items.append(("web_cases.search", _("Case search")))
    items.append(("web_guide.guide_index", _("Service guide")))
    if current_user.is_authenticated and current_user.groups and messages.waiting_for(current_user):
        items.append(("web_moves.messages_page", _("Results to send")))
    if current_user.is_authenticated and current_user.has_role(*WATCHERS):
        items.append(("web_moves.overdue", _("Overdue")))
    if current_user.is_authenticated and current_user.has_role(*kpis.VIEWERS):
        items.append(("web_dashboard.dashboard", _("Dashboard")))
    if current_user.is_authenticated and current_user.has_role(*DESIGNERS):
        items.append(("web_designer.library", _("Process library")))
    if current_user.is_authenticated and current_user.has_role("admin"):
        items.append(("web_admin.system", _("System status")))
    return [(endpoint, label) for endpoint, label in items if endpoint in current_app.view_functions]


def priority_label(priority: int) -> str:
    """急 / 特急 beside a task (normal priority shows nothing)."""
    return {1: _("High"), 2: _("Urgent")}.get(priority, "")


def init_filters(app) -> None:
    """Register the filters and a few template globals."""
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(rate, "rate")
    app.add_template_filter(waiting, "waiting")
    app.add_template_filter(mask_id_number, "mask_id")
    app.add_template_filter(mask_phone, "mask_phone")
    app.add_template_filter(mask_in_text, "mask_text")
    app.add_template_global(current_locale, "current_locale")
    app.add_template_global(task_deadline, "task_deadline")
    app.add_template_global(deadline_warning, "deadline_warning")
    app.add_template_global(warning_label, "warning_label")
    app.add_template_global(nav_items, "nav_items")
    app.add_template_global(language_return_path, "language_return_path")
    app.add_template_global(priority_label, "priority_label")
