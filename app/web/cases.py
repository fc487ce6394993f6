"""Case search (办件查询), the case page and its diagram."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, request
from flask_login import current_user, login_required

from ..services import attachments, cases, processes, progress, queries
from ..services.privacy import mask_id_number
from . import formrender, moves, params
from .labels import EVENT_LABELS, STATUS_LABELS

bp = Blueprint("web_cases", __name__)


def _user():
    return current_user._get_current_object()


def _page_arg(value) -> int:
    return params.page_number(value)


@bp.get("/cases")
@bp.post("/cases/search")
@login_required
def search():
    """Find visible cases by receipt number prefix or applicant name (GET), or by full ID number (POST).

    The ID number is posted, never put in a URL, so it stays out of access logs and browser history.
    """
    source = request.form if request.method == "POST" else request.args
    criteria = queries.CaseCriteria(
        receipt_no=(source.get("receipt_no") or "").strip() or None,
        applicant_name=(source.get("applicant_name") or "").strip() or None,
        id_number=source.get("id_number") if request.method == "POST" else None,
    )
    result = queries.search_cases(_user(), criteria, _page_arg(source.get("page")))
    return render_template("web/case_search.html", criteria=criteria, page=result, status_labels=STATUS_LABELS,
                           by_id=request.method == "POST",
                           masked_id=mask_id_number(queries.normalise_id_number(criteria.id_number)))


@bp.get("/cases/<int:case_id>")
@login_required
def case(case_id: int):
    """The case: header, waiting tasks, data, attachments, timeline and the diagram with progress."""
    found = cases.get_case(_user(), case_id)
    shown = cases.without_keys(found.data, cases.withheld_keys(_user(), found))
    rows = formrender.data_rows(shown, processes.version_forms(found.process_version))
    return render_template(
        "web/case.html", case=found, open_tasks=cases.open_tasks(found), data_rows=rows,
        attachments=attachments.list_for_case(found), history=cases.history(found),
        progress=progress.progress(found), status_labels=STATUS_LABELS, event_labels=EVENT_LABELS,
        clock=moves.case_clock_context(_user(), found))


@bp.get("/cases/<int:case_id>/diagram.bpmn")
@login_required
def diagram(case_id: int):
    """The BPMN of the case's process version, for the diagram viewer (same visibility as the case)."""
    found = cases.get_case(_user(), case_id)
    response = make_response(progress.diagram_xml(found.process_version))
    response.mimetype = "application/xml"
    # A deployed diagram is untrusted XML: never let a browser run it as a document on our origin.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Content-Disposition"] = f'attachment; filename="case-{found.id}.bpmn"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    response.set_etag(found.process_version.content_hash)
    return response.make_conditional(request)
