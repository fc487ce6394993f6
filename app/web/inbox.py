"""The inbox (待办): five tabs with filters, saved filters, and claim/unclaim from the list (htmx or
plain forms)."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.routing import BuildError

from .. import transaction
from ..errors import AppError, Conflict, InvalidInput
from ..services import queries, saved_filters, tasks
from . import params
from .labels import STATUS_LABELS

bp = Blueprint("web_inbox", __name__)

TAB_LABELS = {
    "available": _l("To claim"),
    "mine": _l("My tasks"),
    "completed": _l("Done"),
    "started": _l("Started by me"),
    "copied": _l("Copied to me"),
}
SORT_LABELS = {
    "oldest": _l("Oldest first"),
    "newest": _l("Newest first"),
    "receipt": _l("Receipt number"),
}
# Service errors as people should read them (the service messages are for the API).
_ACTION_MESSAGES = {
    "claimed_by_other": _l("Someone else has already claimed this task."),
    "task_not_open": _l("This task has already been completed or is no longer waiting."),
    "task_not_claimed": _l("This task is not claimed."),
    "forbidden": _l("You are not allowed to do this, or this task is not for your groups."),
    "not_found": _l("The page or record does not exist, or you may not see it."),
}
# Query arguments the pages keep in their links (filters, tab, page).
_KEPT_ARGS = ("tab", "bundle", "task", "q", "sort", "page", "receipt_no", "applicant_name")


def is_htmx() -> bool:
    """Whether this request was sent by htmx (it wants a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


def safe_next(target: str | None) -> str:
    """A same-site relative path to go back to, else the inbox."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.isprintable():
            return target
    return url_for("web_inbox.inbox")


def _user():
    return current_user._get_current_object()


def _login_required_htmx(view):
    """Like login_required, but an htmx request whose session ended is sent to the login page whole."""
    protected = login_required(view)

    @wraps(view)
    def wrapped(*args, **kwargs):
        if is_htmx() and not current_user.is_authenticated:
            page = urlsplit(request.headers.get("HX-Current-URL", ""))
            back = safe_next(page.path + (f"?{page.query}" if page.query else ""))
            response = make_response("", 200)
            response.headers["HX-Redirect"] = url_for("web_auth.login", next=back)
            return response
        return protected(*args, **kwargs)

    return wrapped


@bp.app_template_global()
def query_url(**changes) -> str:
    """This page's URL with its kept query arguments changed (``None`` drops one)."""
    args = {k: v for k, v in request.args.items() if k in _KEPT_ARGS and v != ""}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(request.endpoint, **(request.view_args or {}), **args)


@bp.app_template_global()
def task_url(task_id: int) -> str:
    """The task page (built by the tasks blueprint), or its path while that page is absent."""
    try:
        return url_for("web_tasks.task", task_id=task_id)
    except BuildError:
        return f"/tasks/{task_id}"


def _int_arg(value, default: int = 1) -> int:
    return max(1, params.integer(value, default))


def _filters(args) -> queries.InboxFilters:
    return queries.InboxFilters(
        process_key=args.get("bundle") or None,
        task_name=args.get("task") or None,
        text=(args.get("q") or "").strip() or None,
        sort=args.get("sort") if args.get("sort") in queries.SORTS else None,
    )


@bp.get("/")
@login_required
def inbox():
    """The inbox: 待认领 / 我的待办 / 已办 / 我发起的, with filters, sorting and pages."""
    filters = _filters(request.args)
    view = queries.inbox_view(_user(), request.args.get("tab", "available"), filters,
                              _int_arg(request.args.get("page")))
    return render_template("web/inbox.html", view=view, filters=filters, tab_labels=TAB_LABELS,
                           sort_labels=SORT_LABELS, status_labels=STATUS_LABELS,
                           saved=saved_filters.list_for(_user()),
                           current_query={k: request.args.get(k) for k in saved_filters.KEYS if request.args.get(k)})


@bp.post("/saved-filters")
@login_required
def save_filter():
    """Save the inbox view the form carries under a name."""
    query = {k: request.form.get(k) for k in saved_filters.KEYS if request.form.get(k)}
    try:
        transaction.run(saved_filters.save, _user(), request.form.get("name", ""), query)
    except (InvalidInput, Conflict) as exc:
        flash(exc.message, "error")
        return redirect(url_for("web_inbox.inbox", **query))
    flash(_("Filter saved."), "success")
    return redirect(url_for("web_inbox.inbox", **query))


@bp.post("/saved-filters/<int:filter_id>/delete")
@login_required
def delete_filter(filter_id: int):
    """Delete one of the user's saved filters."""
    transaction.run(saved_filters.delete, _user(), filter_id)
    flash(_("Filter deleted."), "info")
    return redirect(url_for("web_inbox.inbox"))


def _friendly(exc: AppError) -> str:
    """What to tell the user about a refused claim/release (by error code, else by status)."""
    by_status = {403: "forbidden", 404: "not_found"}.get(exc.status)
    return str(_ACTION_MESSAGES.get(exc.error) or _ACTION_MESSAGES.get(by_status) or exc.message)


def _fragment(kind: str, task_id: int, message: str | None = None):
    """The row that replaces a claimed/released task, with every tab count swapped out of band."""
    return render_template("web/_task_rows.html", fragment=kind, task_id=task_id, message=message,
                           counts=queries.tab_counts(_user()))


def _action(service, task_id: int, kind: str, done_message: str):
    """Run a claim/release; answer htmx with a row fragment, a plain form post with a redirect."""
    try:
        transaction.run(service, _user(), task_id)
    except AppError as exc:
        if is_htmx():  # htmx swaps only 2xx responses: the message must arrive as 200 to be seen
            return _fragment("message", task_id, message=_friendly(exc))
        flash(_friendly(exc), "error")
        return redirect(safe_next(request.form.get("next")))
    if is_htmx():
        return _fragment(kind, task_id)
    flash(done_message, "success")
    return redirect(safe_next(request.form.get("next")))


@bp.post("/tasks/<int:task_id>/claim")
@_login_required_htmx
def claim(task_id: int):
    """Claim a task of my groups; htmx gets a confirmation row, a form post goes back to ``next``."""
    return _action(tasks.claim, task_id, "claimed", _("You claimed the task."))


@bp.post("/tasks/<int:task_id>/unclaim")
@_login_required_htmx
def unclaim(task_id: int):
    """Give a task I hold back to its groups."""
    return _action(tasks.unclaim, task_id, "released", _("The task is back in the group's queue."))
