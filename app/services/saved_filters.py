"""Saved inbox filters (常用筛选): a user names the current inbox view and gets it back in one click."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import Conflict, InvalidInput, NotFound
from ..extensions import db
from ..models import SavedFilter, User
from ..models.types import utcnow

KEYS = ("tab", "bundle", "task", "q", "sort")
MAX_PER_USER = 30
MAX_NAME = 100


def _clean(query) -> dict:
    if not isinstance(query, dict):
        raise InvalidInput(_("The filter is not valid."), {"query": [_("Must be a JSON object.")]})
    unknown = sorted(k for k in query if k not in KEYS)
    if unknown:
        raise InvalidInput(_("The filter is not valid."),
                           {"query": [_("Unknown keys: %(keys)s.", keys=", ".join(unknown))]})
    return {k: str(v).strip() for k, v in query.items() if v not in (None, "") and str(v).strip()}


def list_for(user: User) -> list[SavedFilter]:
    """The user's saved filters, by name."""
    return list(db.session.scalars(select(SavedFilter).where(SavedFilter.user_id == user.id)
                                   .order_by(SavedFilter.name)))


def save(user: User, name, query) -> SavedFilter:
    """Save (or replace, by name) one of the user's inbox filters."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(_("Give the filter a name."), {"name": [_("Between 1 and %(n)s characters.", n=MAX_NAME)]})
    clean = _clean(query)
    existing = db.session.scalar(select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.name == name))
    if existing is not None:
        existing.query = clean
        db.session.flush()
        return existing
    if len(list_for(user)) >= MAX_PER_USER:
        raise Conflict(_("You have %(n)s saved filters already; delete one first.", n=MAX_PER_USER),
                       error="too_many_filters")
    record = SavedFilter(user_id=user.id, name=name, query=clean, created_at=utcnow())
    db.session.add(record)
    db.session.flush()
    return record


def delete(user: User, filter_id: int) -> None:
    """Delete one of the user's saved filters (others' are not found)."""
    record = db.session.get(SavedFilter, filter_id)
    if record is None or record.user_id != user.id:
        raise NotFound(_("No such saved filter."))
    db.session.delete(record)
    db.session.flush()
