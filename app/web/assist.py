"""肩并肩 assisted filing pages: a helper prepares the application; the window accepts it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import transaction
from ..errors import Conflict, InvalidInput
from ..services import assisted, catalogue, processes
from . import formrender, params
from .guide import MATERIAL_FORMS

bp = Blueprint("web_assist", __name__)


def _user():
    return current_user._get_current_object()


def _form_page(key: str, draft=None, errors=None, status: int = 200):
    version = processes.latest_version(key)
    schema = processes.form_schema(version, version.meta.get("start_form"))
    form_fields = formrender.fields(schema)
    values = formrender.initial(form_fields, draft.data if draft else None)
    by_field, other = formrender.split_errors({k: v for k, v in (errors or {}).items() if k.startswith("data.")})
    entry = catalogue.latest(key, required=False)
    page = render_template(
        "web/assist_form.html", version=version, schema=schema, bound=formrender.bind(form_fields, values, by_field),
        draft=draft, entry=entry, material_forms=MATERIAL_FORMS, errors=errors or {},
        applicant=(draft.applicant if draft else {}), answers=(draft.answers if draft else {}),
        review=(draft.materials if draft else {}), other_errors=other)
    return page, status


@bp.get("/assist")
@login_required
def index():
    """The helper's applications and the bundles to start one for."""
    return render_template("web/assist_index.html", drafts=assisted.mine(_user()),
                           entries=catalogue.all_latest(), bundle_names=dict(processes.bundle_names()))


@bp.get("/assist/new")
@login_required
def new():
    """A blank application for a bundle."""
    return _form_page(request.args.get("process_key", ""))


@bp.get("/assist/<int:draft_id>/edit")
@login_required
def edit(draft_id: int):
    """Continue a draft (or a returned application): its helper's page. Anyone else who may see
    it (the window) gets the read-only page, where personal data is masked."""
    draft = assisted.get(_user(), draft_id)
    if draft.helper_id != _user().id:
        return redirect(url_for(".show", draft_id=draft.id))
    return _form_page(draft.process_key, draft)


@bp.post("/assist/save")
@login_required
def save():
    """action = save | submit; the draft is saved either way, submit also hands it to the window."""
    form = request.form
    key = form.get("process_key", "")
    version = processes.latest_version(key)
    schema_fields = formrender.fields(processes.form_schema(version, version.meta.get("start_form")))
    applicant = {k: form.get(f"applicant.{k}", "") for k in ("name", "id_number", "phone")}
    answers = {k[len("scenario."):]: v for k, v in form.items() if k.startswith("scenario.") and v}
    materials = {k[len("review."):]: {"status": v, "remark": form.get(f"remark.{k[len('review.'):]}", "")}
                 for k, v in form.items() if k.startswith("review.") and v}
    draft_id = params.record_id(form.get("draft_id"))
    try:
        draft = transaction.run(assisted.save, _user(), draft_id, key, applicant,
                                formrender.parse(schema_fields, form), answers, materials)
    except (InvalidInput, Conflict) as exc:
        flash(exc.message, "error")
        return redirect(url_for("web_assist.index"))
    if form.get("action") != "submit":
        flash(_("Draft saved."), "info")
        return redirect(url_for("web_assist.edit", draft_id=draft.id))
    try:
        transaction.run(assisted.submit, _user(), draft.id)
    except InvalidInput as exc:
        return _form_page(key, assisted.get(_user(), draft.id), exc.errors if isinstance(exc.errors, dict) else {},
                          422)
    flash(_("The application is in the window's queue."), "success")
    return redirect(url_for("web_assist.index"))


@bp.get("/assist/queue")
@login_required
def queue():
    """Applications helpers handed to the window, oldest first."""
    return render_template("web/assist_queue.html", drafts=assisted.queue(_user()),
                           bundle_names=dict(processes.bundle_names()))


@bp.get("/assist/<int:draft_id>")
@login_required
def show(draft_id: int):
    """One application as the window sees it, with accept and return."""
    draft = assisted.get(_user(), draft_id)
    entry = catalogue.latest(draft.process_key, required=False)
    version = processes.latest_version(draft.process_key)
    rows = formrender.data_rows(draft.data, [processes.form_schema(version, version.meta.get("start_form"))])
    return render_template("web/assist_show.html", draft=draft, entry=entry, data_rows=rows,
                           material_forms=MATERIAL_FORMS)


@bp.post("/assist/<int:draft_id>/decide")
@login_required
def decide(draft_id: int):
    """decision = accept (start the case) | return (back to the helper with a remark)."""
    back = url_for("web_assist.queue")
    try:
        if request.form.get("decision") == "accept":
            case = transaction.run(assisted.accept, _user(), draft_id)
            flash(_("Case started. Receipt number: %(receipt)s", receipt=case.receipt_no), "success")
            return redirect(url_for("web_cases.case", case_id=case.id))
        transaction.run(assisted.send_back, _user(), draft_id, request.form.get("remark", ""))
        flash(_("Returned to the helper."), "info")
    except (InvalidInput, Conflict) as exc:
        flash(exc.message, "error")
    return redirect(back)
