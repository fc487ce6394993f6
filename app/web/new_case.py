"""New case (收件) at the comprehensive window: pick a bundle, then the applicant, start form and files."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import transaction
from ..errors import Conflict, InvalidInput
from ..services import catalogue, intake, submissions
from . import formrender
from .guide import guide_context
from .tasks import workflow_message

bp = Blueprint("web_new_case", __name__)

APPLICANT_FIELDS = ("name", "id_number", "phone")


def _user():
    return current_user._get_current_object()


def _render(process_key: str, applicant: dict, values=None, errors=None, status: int = 200, *,
            submission_key: str | None = None):
    """Step 2: the applicant, the start form and the files; ``values``/``errors`` after a refused submit.

    The form carries a key of its own (``submission_key``): sending it twice starts one case. A
    refused submit started nothing, so its page keeps the key; a new form gets a new one."""
    version, schema = intake.start_form(_user(), process_key)
    form_fields = formrender.fields(schema)
    if values is None:
        values = formrender.initial(form_fields, None)
    errors = errors or {}
    by_field, _rest = formrender.split_errors({k: v for k, v in errors.items() if k.startswith("data.")})
    applicant_errors, _rest = formrender.split_errors(
        {k: v for k, v in errors.items() if k.startswith("applicant.")}, prefix="applicant.")
    file_errors = errors.get("attachments", [])
    other = [m for k, v in errors.items() if not k.startswith(("data.", "applicant.")) and k != "attachments"
             for m in v]
    other += formrender.stray(form_fields, by_field)
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    entry = catalogue.latest(version.key, required=False)
    guide = guide_context(entry, {}) if entry is not None else None
    page = render_template(
        "web/new_case.html", version=version, schema=schema, bound=formrender.bind(form_fields, values, by_field),
        applicant=applicant, applicant_errors=applicant_errors, file_errors=file_errors, form_errors=other,
        refused=bool(errors), max_mb=limit // (1024 * 1024), submission_key=submission_key or submissions.new_key(),
        max_total_mb=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024),
        max_files=intake.MAX_FILES, guide=guide,
        scenario_errors=errors.get("scenario", []) + errors.get("material", []),
        answers={k[len("scenario."):]: v for k, v in request.form.items() if k.startswith("scenario.")},
        received=set(request.form.getlist("material")))
    return page, status


@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def new_case():
    """GET: the bundle list (``?q=`` filters) or, with ``?process_key=``, the intake form. POST: start the case."""
    if request.method == "GET":
        process_key = (request.args.get("process_key") or "").strip()
        if process_key:
            return _render(process_key, dict.fromkeys(APPLICANT_FIELDS, ""))
        query = (request.args.get("q") or "").strip()
        return render_template("web/new_case_pick.html", bundles=intake.bundles(_user(), query), q=query)

    process_key = (request.form.get("process_key") or "").strip()
    _version, schema = intake.start_form(_user(), process_key)
    form_fields = formrender.fields(schema)
    applicant = {name: request.form.get(f"applicant.{name}", "") for name in APPLICANT_FIELDS}
    files = [(f.filename, f.read()) for f in request.files.getlist("attachments") if f and f.filename]
    key = None
    try:
        key = submissions.check_key(request.form.get("submission_key"))
        answers = {k[len("scenario."):]: v for k, v in request.form.items() if k.startswith("scenario.") and v}
        case, created = transaction.run(
            submissions.start_once, _user(), key, submissions.fingerprint(process_key, applicant), intake.receive,
            process_key, applicant, formrender.parse(form_fields, request.form), files, answers,
            request.form.getlist("material"))
    except InvalidInput as exc:
        errors = exc.errors if isinstance(exc.errors, dict) else {"_": [workflow_message(exc)]}
        return _render(process_key, applicant, formrender.submitted(form_fields, request.form), errors, 422,
                       submission_key=key)
    except Conflict as exc:  # the form's key started another application: a fresh form, input kept
        return _render(process_key, applicant, formrender.submitted(form_fields, request.form),
                       {"_": [exc.message]}, 409)
    if created:
        flash(_("Case started. Receipt number: %(receipt)s", receipt=case.receipt_no), "success")
    else:
        flash(_("This application was already received (receipt number %(receipt)s); it was not started "
                "a second time.", receipt=case.receipt_no), "info")
    return redirect(f"/cases/{case.id}")
