"""办事指南: the public service guide of each bundle, with the material checklist for the
applicant's situation (情形引导). No login needed: applicants read it before they come."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from ..services import catalogue, org

bp = Blueprint("web_guide", __name__)

MATERIAL_FORMS = {"original": _l("Original"), "copy": _l("Copy"), "electronic": _l("Electronic"),
                  "original_and_copy": _l("Original and copy")}


def guide_context(entry, answers: dict) -> dict:
    """What the guide (and the intake page) shows for an entry and scenario answers."""
    data = entry.data
    names = org.group_names()
    return {"entry": entry, "data": data, "answers": answers, "checklist": catalogue.checklist(data, answers),
            "department_names": names, "material_forms": MATERIAL_FORMS,
            "cooperating": [names.get(c, c) for c in data.get("cooperating_departments", [])]}


@bp.get("/guide")
def guide_index():
    """Every bundle's guide."""
    return render_template("web/guide_index.html", entries=catalogue.all_latest())


@bp.get("/guide/<key>")
def guide(key: str):
    """One bundle's guide; ``?<scenario>=<answer>`` narrows the material checklist."""
    entry = catalogue.latest(key)
    keys = {s["key"]: {o["value"] for o in s["options"]} for s in entry.data.get("scenarios", [])}
    answers = {k: v for k, v in request.args.items() if k in keys and v in keys[k]}
    return render_template("web/guide.html", **guide_context(entry, answers))
