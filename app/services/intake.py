"""Intake at the comprehensive window: choose a bundle, then start a case with its files in one go."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import InvalidInput
from ..extensions import db
from ..models import Case, ProcessDefinition, ProcessVersion, User
from . import attachments, cases, catalogue, forms, permissions, processes
from .privacy import ID_NUMBER, PHONE

# The same rules as the API's ApplicantInSchema (app/api/schemas.py).
NAME_MAX = 200
MAX_FILES = 20


@dataclass(frozen=True)
class Bundle:
    """A deployed process a clerk may start: its latest version."""

    key: str
    name: str
    version: int
    description: str | None


def bundles(user: User, query: str | None = None) -> list[Bundle]:
    """Return the startable bundles (latest versions), those matching ``query`` when given."""
    permissions.require_role(user, permissions.START_CASE, "start cases")
    # Columns only: loading versions would also load every deployed file.
    rows = db.session.execute(
        select(ProcessDefinition.key, ProcessVersion.name, ProcessVersion.version, ProcessVersion.description,
               ProcessVersion.meta)
        .join(ProcessVersion, (ProcessVersion.definition_id == ProcessDefinition.id)
              & (ProcessVersion.version == ProcessDefinition.latest_version))
        .order_by(ProcessVersion.name, ProcessDefinition.key))
    # Processes a service starts (``startedBy``, e.g. 12345 work orders) are not offered here.
    found = [Bundle(*row[:4]) for row in rows if not ((row[4] or {}).get("time_limits") or {}).get("started_by")]
    if query and query.strip():
        needle = query.strip().casefold()
        found = [b for b in found if needle in f"{b.name}\n{b.key}\n{b.description or ''}".casefold()]
    return found


def start_form(user: User, process_key: str) -> tuple[ProcessVersion, dict | None]:
    """Return the version a new case of ``process_key`` starts on and its start form (NotFound if none)."""
    permissions.require_role(user, permissions.START_CASE, "start cases")
    version = processes.latest_version(process_key)
    return version, processes.form_schema(version, version.meta.get("start_form"))


def clean_applicant(applicant: dict) -> tuple[dict, dict[str, list[str]]]:
    """Trim the applicant fields and check them: (cleaned, ``{"applicant.<field>": [messages]}``)."""
    name = str(applicant.get("name") or "").strip()
    id_number = str(applicant.get("id_number") or "").strip().upper()
    phone = str(applicant.get("phone") or "").strip() or None
    errors: dict[str, list[str]] = {}
    if not name:
        errors["applicant.name"] = [_("This field is required.")]
    elif len(name) > NAME_MAX:
        errors["applicant.name"] = [_("Enter at most %(n)s characters.", n=NAME_MAX)]
    if not id_number:
        errors["applicant.id_number"] = [_("This field is required.")]
    elif not ID_NUMBER.match(id_number):
        errors["applicant.id_number"] = [_("Not a valid ID number (18 characters, the last may be X).")]
    if phone is not None and not PHONE.match(phone):
        errors["applicant.phone"] = [_("Not a valid phone number.")]
    return {"name": name, "id_number": id_number, "phone": phone}, errors


def _file_errors(files: list[tuple[str, bytes]]) -> dict[str, list[str]]:
    """Check every file up front, so all problems are reported at once (add() checks again)."""
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    messages = []
    if len(files) > MAX_FILES:
        messages.append(_("Attach at most %(n)s files.", n=MAX_FILES))
    for filename, content in files:
        if not content:
            messages.append(_("%(name)s is empty.", name=filename))
        elif len(content) > limit:
            messages.append(_("%(name)s is larger than %(mb)s MB.", name=filename, mb=limit // (1024 * 1024)))
        elif attachments.sniff(content) is None:
            messages.append(_("%(name)s is not a PDF, JPEG or PNG file.", name=filename))
    return {"attachments": messages} if messages else {}


def receive(user: User, process_key: str, applicant: dict, data: dict, files: list[tuple[str, bytes]],
            answers: dict | None = None, received: list[str] | None = None) -> Case:
    """Start a case for ``applicant`` with start-form ``data`` and attach ``files`` (name, bytes): all or nothing.

    With a catalogue entry for the bundle, the window's scenario ``answers`` and the codes of the
    materials it ``received`` are recorded; required materials of the checklist that were neither
    received nor shared become the case's missing list (shown on the case page for 补正).
    Every problem (applicant, form, files) is reported in one InvalidInput.
    """
    version, schema = start_form(user, process_key)
    cleaned, errors = clean_applicant(applicant)
    errors.update(forms.field_errors(schema, data))
    errors.update(_file_errors(files))
    check = material_check(version.key, answers or {}, received or [], errors)
    if errors:
        raise InvalidInput(_("Please correct the marked fields."), errors)
    case = cases.start_case(user, version.key, cleaned, data)
    case.intake = check
    for filename, content in files:
        attachments.add(case, user, filename, content)
    return case


def material_check(key: str, answers: dict, received: list[str], errors: dict) -> dict | None:
    """The intake record against the bundle's catalogue entry (None without an entry)."""
    entry = catalogue.latest(key, required=False)
    if entry is None:
        return None
    scenarios = {s["key"]: {o["value"] for o in s["options"]} for s in entry.data.get("scenarios", [])}
    bad = [k for k, v in answers.items() if k not in scenarios or v not in scenarios[k]]
    if bad:
        errors["scenario"] = [_("Unknown answers: %(keys)s.", keys=", ".join(sorted(bad)))]
    unanswered = [s for s in scenarios if s not in answers]
    if unanswered:
        errors["scenario"] = errors.get("scenario", []) + [_("Answer every question about the situation.")]
    listed = catalogue.checklist(entry.data, answers)
    codes = {m["code"] for m in listed}
    stray = [c for c in received if c not in codes]
    if stray:
        errors["material"] = [_("Not on this checklist: %(codes)s.", codes=", ".join(stray))]
    missing = [{"code": m["code"], "name": m["name"]} for m in listed
               if m["required"] and not m.get("shared") and m["code"] not in received]
    return {"catalogue_revision": entry.revision, "answers": answers, "received": sorted(set(received)),
            "missing": missing}
