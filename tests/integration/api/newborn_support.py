"""Helpers shared by the API tests: deploy the newborn bundle and fill its forms from their schemas."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
NEWBORN_BPMN = ROOT / "bpmn" / "newborn.bpmn"
FORMS = ROOT / "forms"

# The applicant of every case started by these tests. The case data below uses other ID numbers,
# so the raw applicant ID and phone must never show up in any response.
APPLICANT = {"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}
MASKED_ID = "1404**********1234"
MASKED_PHONE = "138****1234"

VALID_ID = "140402199203045678"
DATE = "2026-11-01"


def referenced_forms(bpmn: Path = NEWBORN_BPMN) -> list[Path]:
    """Every form file (``*.json``) the diagram names, resolved under forms/."""
    names = sorted(set(re.findall(r'"([\w.-]+\.json)"', bpmn.read_text(encoding="utf-8"))))
    return [FORMS / name for name in names]


def newborn_files() -> list[Path]:
    """The newborn diagram and every form it references."""
    return [NEWBORN_BPMN, *referenced_forms()]


def deploy_bytes(client, token: str, files: list[tuple[str, bytes]]):
    """POST /processes with in-memory files (name, content) in the repeated field ``file``."""
    return client.post("/api/v1/processes", headers={"Authorization": f"Bearer {token}"},
                       data={"file": [(io.BytesIO(content), name) for name, content in files]},
                       content_type="multipart/form-data")


def load_form(name: str) -> dict:
    return json.loads((FORMS / name).read_text(encoding="utf-8"))


def _value(prop: dict, choice=None):
    if choice is not None:
        return choice
    if "oneOf" in prop:
        return prop["oneOf"][0]["const"]
    if "enum" in prop:
        return prop["enum"][0]
    kind = prop.get("type")
    if kind == "boolean":
        return False
    if kind in ("number", "integer"):
        return max(1, prop.get("minimum", 1))
    if kind == "array":
        return ["测试"]
    if prop.get("format") == "date":
        return DATE
    if "pattern" in prop:
        return VALID_ID
    return "测试"


def fill(schema: dict | str, **choices) -> dict:
    """Valid data for a form: every required field filled, ``choices`` override or add fields."""
    if isinstance(schema, str):
        schema = load_form(schema)
    props = schema.get("properties", {})
    data = {name: _value(props.get(name, {}), choices.get(name)) for name in schema.get("required", [])}
    for name, value in choices.items():
        if name not in data:
            data[name] = value
    return data


# The form of each newborn user task and its decision key.
TASK_FORMS = {
    "formal_check": ("newborn_formal_check.json", "check_decision"),
    "supplement_materials": ("newborn_supplement.json", None),
    "birth_cert": ("newborn_birth_cert.json", "birth_cert_decision"),
    "hukou_registration": ("newborn_hukou.json", "hukou_decision"),
    "medins_enrolment": ("newborn_medins_enrol.json", "medins_enrol_decision"),
    "medins_premium": ("newborn_premium.json", "premium_decision"),
    "sscard_application": ("newborn_sscard.json", "sscard_decision"),
    "birth_registration": ("newborn_birth_registration.json", "birth_registration_decision"),
    "maternity_allowance": ("newborn_allowance.json", "allowance_decision"),
    "handover": ("newborn_handover.json", None),
    "return_handling": ("newborn_return.json", "return_decision"),
    "correct_application": ("newborn_correction.json", None),
}

# Who works on each task (a member of the task's group).
WORKER = {
    "formal_check": "window1",
    "supplement_materials": "window1",
    "birth_cert": "health1",
    "birth_registration": "health1",
    "hukou_registration": "police1",
    "medins_enrolment": "medins1",
    "maternity_allowance": "medins1",
    "medins_premium": "tax1",
    "sscard_application": "hrss1",
    "handover": "window1",
    "return_handling": "window1",
    "correct_application": "window1",
}


def task_data(bpmn_id: str, decision: str | None = None, **extra) -> dict:
    """Valid form data for a newborn task, with its decision key set to ``decision``."""
    form, key = TASK_FORMS[bpmn_id]
    choices = dict(extra)
    if key and decision is not None:
        choices[key] = decision
    return fill(form, **choices)


def application(**overrides) -> dict:
    """Valid start-form data for the newborn bundle."""
    base = fill("newborn_application.json", newborn_sex="female", register_with="mother",
                delivery_method="window", data_sharing_consent=True, apply_maternity_allowance=True,
                mother_id_number="140402199203045678", father_id_number="140402198905061239",
                contact_phone="13900001111", bank_card_number="6222020000000000000")
    base.update(overrides)
    return base
