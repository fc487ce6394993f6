"""肩并肩 assisted filing (帮办): a helper prepares an application with the applicant — the
applicant, the start form, the scenario questions and a pre-review of every material with a
remark (材料预审) — and hands the complete draft to the window queue. A clerk accepts it in
one step: the case starts as if taken at the window, records the helper (``assisted_by_id``,
the help-count KPI), and materials the helper found missing are the case's missing list.

- Helpers (role ``helper``) see and change only their own drafts, while not submitted.
- Submitting checks everything intake would check; a clerk accepting it cannot be refused for
  a reason the helper could have fixed. Two clerks accepting at once: exactly one wins (409).
- A clerk may return a submitted draft to the helper with a remark.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select, update

from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..extensions import db
from ..models import AssistedApplication, Case, User
from ..models.types import utcnow
from . import audit, catalogue, forms, intake, permissions, processes

HELPERS = ("helper",)
MATERIAL_STATES = ("ok", "missing", "problem")
MAX_REMARK = 500


def _require_helper(user: User) -> None:
    permissions.require_role(user, HELPERS, _("prepare assisted applications"))


def get(user: User, draft_id: int) -> AssistedApplication:
    """A draft its helper, or (once submitted) a window clerk, may see."""
    draft = db.session.get(AssistedApplication, draft_id)
    visible = draft is not None and (draft.helper_id == user.id or (
        user.has_role(*permissions.START_CASE) and draft.status in ("submitted", "accepted", "returned")))
    if not visible:
        raise NotFound(_("No such assisted application."))
    return draft


def _clean_materials(materials) -> dict:
    if not isinstance(materials, dict):
        raise InvalidInput(_("The material pre-review is not valid."), {"materials": [_("Must be a JSON object.")]})
    clean, errors = {}, []
    for code, review in materials.items():
        review = review if isinstance(review, dict) else {}
        status, remark = review.get("status"), str(review.get("remark") or "").strip()
        if status not in MATERIAL_STATES:
            errors.append(_("%(code)s: choose ok, missing or problem.", code=code))
        elif len(remark) > MAX_REMARK:
            errors.append(_("%(code)s: the remark is too long.", code=code))
        else:
            clean[str(code)] = {"status": status, "remark": remark}
    if errors:
        raise InvalidInput(_("The material pre-review is not valid."), {"materials": errors})
    return clean


def save(user: User, draft_id: int | None, process_key: str, applicant, data, answers, materials
         ) -> AssistedApplication:
    """Create or update one of the helper's drafts (not yet checked: a work in progress)."""
    _require_helper(user)
    processes.latest_version(process_key)  # NotFound for an unknown bundle
    if not all(isinstance(x, dict) for x in (applicant, data, answers)):
        raise InvalidInput(_("The application is not valid."), {"_": [_("Must be a JSON object.")]})
    if draft_id is None:
        draft = AssistedApplication(helper_id=user.id, status="draft", created_at=utcnow())
        db.session.add(draft)
    else:
        draft = get(user, draft_id)
        if draft.helper_id != user.id:
            raise Forbidden(_("Only the helper who prepared it may change it."))
        if draft.status not in ("draft", "returned"):
            raise Conflict(_("The application was already handed to the window."), error="already_submitted")
    draft.process_key = process_key
    draft.applicant = {k: str(applicant.get(k) or "") for k in ("name", "id_number", "phone")}
    draft.data = data
    draft.answers = {str(k): str(v) for k, v in answers.items()}
    draft.materials = _clean_materials(materials)
    draft.status = "draft"
    draft.updated_at = utcnow()
    db.session.flush()
    return draft


def _check(draft: AssistedApplication) -> dict[str, list[str]]:
    """Everything intake would refuse, as field messages."""
    version = processes.latest_version(draft.process_key)
    schema = processes.form_schema(version, version.meta.get("start_form"))
    _cleaned, errors = intake.clean_applicant(draft.applicant)
    errors.update(forms.field_errors(schema, draft.data))
    received = [code for code, review in draft.materials.items() if review["status"] == "ok"]
    intake.material_check(draft.process_key, draft.answers, received, errors)
    entry = catalogue.latest(draft.process_key, required=False)
    if entry is not None:
        listed = {m["code"] for m in catalogue.checklist(entry.data, draft.answers)}
        unreviewed = sorted(c for c in listed if c not in draft.materials
                            and not next(m for m in entry.data["materials"] if m["code"] == c).get("shared"))
        if unreviewed:
            errors["materials"] = [_("Pre-review every material: %(codes)s.", codes=", ".join(unreviewed))]
    return errors


def submit(user: User, draft_id: int) -> AssistedApplication:
    """Hand a complete draft to the window queue (all of intake's checks first)."""
    _require_helper(user)
    draft = get(user, draft_id)
    if draft.helper_id != user.id:
        raise Forbidden(_("Only the helper who prepared it may hand it over."))
    if draft.status not in ("draft", "returned"):
        raise Conflict(_("The application was already handed to the window."), error="already_submitted")
    errors = _check(draft)
    if errors:
        raise InvalidInput(_("The application is not complete yet."), errors)
    draft.status = "submitted"
    draft.submitted_at = utcnow()
    draft.return_remark = None
    db.session.flush()
    return draft


def mine(user: User) -> list[AssistedApplication]:
    """The helper's applications, newest first."""
    return list(db.session.scalars(select(AssistedApplication).where(AssistedApplication.helper_id == user.id)
                                   .order_by(AssistedApplication.updated_at.desc(), AssistedApplication.id.desc())))


def queue(user: User) -> list[AssistedApplication]:
    """Applications waiting at the window, oldest first (clerks)."""
    permissions.require_role(user, permissions.START_CASE, _("accept assisted applications"))
    return list(db.session.scalars(select(AssistedApplication).where(AssistedApplication.status == "submitted")
                                   .order_by(AssistedApplication.submitted_at, AssistedApplication.id)))


def _take(draft_id: int, new_status: str, user: User) -> AssistedApplication:
    """Move a submitted application on; of concurrent clerks exactly one wins."""
    result = db.session.execute(
        update(AssistedApplication)
        .where(AssistedApplication.id == draft_id, AssistedApplication.status == "submitted")
        .values(status=new_status, decided_by_id=user.id, decided_at=utcnow())
        .execution_options(synchronize_session=False))
    draft = db.session.get(AssistedApplication, draft_id)
    db.session.refresh(draft)
    if result.rowcount != 1:
        raise Conflict(_("Another clerk has already dealt with this application."), error="already_decided")
    return draft


def accept(user: User, draft_id: int) -> Case:
    """受理 in one step: start the case from the prepared application."""
    permissions.require_role(user, permissions.START_CASE, _("accept assisted applications"))
    get(user, draft_id)
    draft = _take(draft_id, "accepted", user)
    received = [code for code, review in draft.materials.items() if review["status"] == "ok"]
    case = intake.receive(user, draft.process_key, draft.applicant, draft.data, [], draft.answers, received)
    case.assisted_by_id = draft.helper_id
    if case.intake is not None:
        case.intake = {**case.intake, "pre_review": draft.materials}
    draft.case_id = case.id
    audit.record(case, "assisted_application_accepted", user,
                 data={"application_id": draft.id, "helper": draft.helper.username})
    db.session.flush()
    return case


def send_back(user: User, draft_id: int, remark) -> AssistedApplication:
    """Return a submitted application to its helper with a remark."""
    permissions.require_role(user, permissions.START_CASE, _("accept assisted applications"))
    remark = str(remark or "").strip()
    if not remark or len(remark) > MAX_REMARK:
        raise InvalidInput(_("Say what the helper should change."), {"remark": [_("Required.")]})
    get(user, draft_id)
    draft = _take(draft_id, "returned", user)
    draft.return_remark = remark
    db.session.flush()
    return draft
