"""12345 hotline pages: the agent registers orders and searches the knowledge base; the centre
and supervisors follow the orders. Each order's steps are tasks in the usual inbox."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import transaction
from ..errors import Conflict, InvalidInput
from ..models.hotline import ORDER_STATES, REQUEST_TYPES
from ..services import queries, submissions, work_orders
from . import params

bp = Blueprint("web_hotline", __name__)
PER_PAGE = 50


def _user():
    return current_user._get_current_object()


def status_labels() -> dict[str, str]:
    return {
        "registered": _("Registered"), "dispatch_pending": _("Waiting for dispatch"),
        "dispatched": _("Dispatched, not signed"), "return_requested": _("Return requested"),
        "in_progress": _("Being handled"), "replied": _("Reply under review"),
        "callback_pending": _("Waiting for callback"), "closed": _("Closed"),
        "direct_answered": _("Answered directly"), "invalid": _("Invalid"), "final_answer": _("Final answer"),
        "merged": _("Merged"),
    }


def satisfaction_labels() -> dict[str, str]:
    return {"very_satisfied": _("Very satisfied"), "satisfied": _("Satisfied"),
            "basically_satisfied": _("Basically satisfied"), "unsatisfied": _("Unsatisfied"),
            "very_unsatisfied": _("Very unsatisfied"), "unreachable": _("Not reached")}


def field_labels() -> dict[str, str]:
    """The registration form's labels by the name the API gives each field (error summary)."""
    return {"request_type": _("Request type"), "category": _("Category"), "urgency": _("Urgency"),
            "caller": _("Caller"), "caller.name": _("Caller"), "caller.phone": _("Phone"),
            "caller.confidential": _("The caller asks for confidentiality"), "address": _("Address"),
            "content": _("Request content")}


def _page(form=None, errors=None, status: int = 200, *, submission_key: str | None = None):
    """The centre's page: registration form (with a key of its own: sent twice, it registers one
    order; a refused form keeps it), order list and knowledge base."""
    user = _user()
    state = request.args.get("status") or None
    if state not in ORDER_STATES:
        state = None
    q = (request.args.get("q") or "").strip() or None
    page = params.page_number(request.args.get("page"))
    orders, total = work_orders.search(user, state, q, page, PER_PAGE)
    kb_query = (request.args.get("kb") or "").strip()
    articles = work_orders.search_knowledge(user, kb_query) if kb_query else []
    return render_template(
        "web/hotline.html", orders=orders, total=total, state=state, q=q or "", kb_query=kb_query,
        pages=queries.Page(orders, total, page, PER_PAGE),
        articles=articles, form=form or {}, errors=errors or {}, field_labels=field_labels(),
        submission_key=submission_key or submissions.new_key(),
        request_types=REQUEST_TYPES,
        labels=status_labels(), may_register=work_orders.may_register(user),
        caller=lambda o: work_orders.caller_view(user, o), overdue=work_orders.overdue), status


@bp.get("/hotline")
@login_required
def index():
    """Orders newest first (status filter, text search), the registration form and the knowledge base."""
    return _page()


@bp.post("/hotline/orders")
@login_required
def register():
    """Register an order typed in by the agent."""
    form = request.form
    payload = {
        "request_type": form.get("request_type", ""), "category": form.get("category", "").strip(),
        "urgency": form.get("urgency", "normal"), "address": form.get("address", "").strip(),
        "content": form.get("content", "").strip(),
        "caller": {"name": form.get("caller_name", "").strip(), "phone": form.get("caller_phone", "").strip(),
                   "confidential": form.get("confidential") == "true"},
    }
    key = None
    try:
        key = submissions.check_key(form.get("submission_key"))
        order, created = transaction.run(work_orders.register_once, _user(), key, payload)
    except InvalidInput as exc:
        errors = exc.errors if isinstance(exc.errors, dict) else {}
        flash(exc.message, "error")
        return _page(form, errors, 422, submission_key=key)
    except Conflict as exc:  # the form's key registered another call: a fresh form, input kept
        flash(exc.message, "error")
        return _page(form, {}, 409)
    if created:
        flash(_("Work order %(no)s registered.", no=order.order_no), "success")
    else:
        flash(_("This call was already registered as work order %(no)s; it was not registered again.",
                no=order.order_no), "info")
    return redirect(url_for("web_hotline.order", order_id=order.id))


@bp.get("/hotline/orders/<int:order_id>")
@login_required
def order(order_id: int):
    """One order: request, caller (masked), SLA and progress, with its case (steps and history)."""
    user = _user()
    found = work_orders.get(user, order_id)
    return render_template("web/hotline_order.html", order=found, caller=work_orders.caller_view(user, found),
                           content=work_orders.content_view(found),
                           labels=status_labels(), satisfaction=satisfaction_labels(),
                           overdue=work_orders.overdue(found))

