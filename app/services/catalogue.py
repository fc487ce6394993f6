"""The service catalogue (事项/一件事目录, 办事指南): per bundle its departments, items with their
statutory and promised working days, on-the-spot flags, fees, scenario questions (情形引导) and
the materials each scenario needs.

Entries live in the repository as ``catalogue/<key>.toml`` (checked against
``catalogue/schema.json``) and are imported into the database; each changed content becomes a
new revision, so the "六减" figures (steps, materials and days removed) can be computed
between revisions. Departments must be known group codes.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from functools import lru_cache
from pathlib import Path

from flask_babel import gettext as _
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..models import CatalogueEntry, Group, User
from ..models.types import utcnow

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "catalogue" / "schema.json"
MAX_FILE_BYTES = 256 * 1024


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def parse(filename: str, content: bytes) -> dict:
    """A catalogue file as data; InvalidInput naming the file and what is wrong."""
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInput(_("The catalogue file is too large."), {filename: [_("At most 256 KB.")]})
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(_("The catalogue file cannot be read."), {filename: [str(exc)]}) from None
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise InvalidInput(_("The catalogue file does not match the catalogue schema."), {
            filename: [f"{'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in errors]})
    _check_references(filename, data)
    return data


def _check_references(filename: str, data: dict) -> None:
    known = set(db.session.scalars(select(Group.code)))
    departments = {data["lead_department"], *data.get("cooperating_departments", []),
                   *(item["department"] for item in data["items"])}
    unknown = sorted(departments - known)
    problems = [_("Unknown departments (group codes): %(codes)s.", codes=", ".join(unknown))] if unknown else []
    item_codes = {item["code"] for item in data["items"]}
    scenarios = {s["key"]: {o["value"] for o in s["options"]} for s in data.get("scenarios", [])}
    for material in data["materials"]:
        for code in material.get("items", []):
            if code not in item_codes:
                problems.append(_("Material %(m)s names an unknown item %(i)s.", m=material["code"], i=code))
        for key, value in material.get("when", {}).items():
            if value not in scenarios.get(key, set()):
                problems.append(_("Material %(m)s depends on an unknown scenario answer %(k)s=%(v)s.",
                                  m=material["code"], k=key, v=value))
    if len({m["code"] for m in data["materials"]}) != len(data["materials"]) or len(item_codes) != len(data["items"]):
        problems.append(_("Item and material codes must be unique."))
    if problems:
        raise InvalidInput(_("The catalogue file refers to things that do not exist."), {filename: problems})


def import_files(user: User | None, files: list[tuple[str, bytes]]) -> list[tuple[CatalogueEntry, bool]]:
    """Import catalogue files; return (entry, created) — unchanged content keeps its revision."""
    result = []
    for filename, content in files:
        data = parse(filename, content)
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        current = latest(data["key"], required=False)
        if current is not None and current.content_hash == digest:
            result.append((current, False))
            continue
        revision = (db.session.scalar(select(func.max(CatalogueEntry.revision))
                                      .where(CatalogueEntry.key == data["key"])) or 0) + 1
        entry = CatalogueEntry(key=data["key"], revision=revision, name=data["name"], content_hash=digest, data=data,
                               imported_at=utcnow(), imported_by_id=user.id if user else None)
        db.session.add(entry)
        db.session.flush()
        result.append((entry, True))
    return result


def import_dir(user: User | None, directory: Path) -> list[tuple[CatalogueEntry, bool]]:
    """Import every ``*.toml`` of a folder."""
    return import_files(user, [(p.name, p.read_bytes()) for p in sorted(Path(directory).glob("*.toml"))])


def latest(key: str, required: bool = True) -> CatalogueEntry | None:
    """The newest revision of a bundle's entry."""
    entry = db.session.scalar(select(CatalogueEntry).where(CatalogueEntry.key == key)
                              .order_by(CatalogueEntry.revision.desc()).limit(1))
    if entry is None and required:
        raise NotFound(_("No catalogue entry for this bundle."))
    return entry


def revision(key: str, number: int) -> CatalogueEntry:
    """One revision of an entry."""
    entry = db.session.scalar(select(CatalogueEntry).where(CatalogueEntry.key == key,
                                                           CatalogueEntry.revision == number))
    if entry is None:
        raise NotFound(_("No such catalogue revision."))
    return entry


def all_latest() -> list[CatalogueEntry]:
    """The newest revision of every entry, by name."""
    newest = (select(CatalogueEntry.key, func.max(CatalogueEntry.revision).label("rev"))
              .group_by(CatalogueEntry.key).subquery())
    return list(db.session.scalars(
        select(CatalogueEntry).join(newest, (CatalogueEntry.key == newest.c.key)
                                    & (CatalogueEntry.revision == newest.c.rev)).order_by(CatalogueEntry.name)))


def checklist(data: dict, answers: dict | None = None) -> list[dict]:
    """The materials for these scenario answers: a material with ``when`` is listed only when every
    condition matches (without answers, every material is listed)."""
    answers = answers or {}
    return [m for m in data["materials"]
            if not answers or all(answers.get(k) == v for k, v in m.get("when", {}).items())]


def reductions(old: dict, new: dict) -> dict:
    """The "六减" figures between two revisions: items (steps), materials and promised days removed."""
    def codes(rows):
        return {r["code"] for r in rows}

    return {
        "items_removed": len(codes(old["items"]) - codes(new["items"])),
        "items_added": len(codes(new["items"]) - codes(old["items"])),
        "materials_removed": len(codes(old["materials"]) - codes(new["materials"])),
        "materials_added": len(codes(new["materials"]) - codes(old["materials"])),
        "promised_days_reduced": old["promised_days"] - new["promised_days"],
        "statutory_days_reduced": old["statutory_days"] - new["statutory_days"],
    }
