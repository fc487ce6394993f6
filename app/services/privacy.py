"""Masking of personal data in every representation (API and UI)."""

from __future__ import annotations

import re

# Resident ID numbers: 18 characters (the last may be X) or the old 15 digits.
ID_NUMBER = re.compile(r"^(\d{17}[\dXx]|\d{15})$")
PHONE = re.compile(r"^\+?[\d\- ]{5,20}$")


def mask_id_number(value: str | None) -> str | None:
    """Keep the first and last four characters: ``1404**********1234``."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """Keep the first three and last four digits: ``138****1234``."""
    if not value:
        return value
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_value(key: str, value):
    """Mask a case-data value shown for reading: ID numbers and phone numbers."""
    if not isinstance(value, str):
        return value
    if ID_NUMBER.match(value.strip()) or key.lower().endswith("id_number"):
        return mask_id_number(value)
    if "phone" in key.lower():
        return mask_phone(value)
    if "card" in key.lower() and sum(c.isdigit() for c in value) >= 12:
        return "*" * (len(value) - 4) + value[-4:]  # bank card: last four digits only
    return value


def mask_data(data, editable=frozenset()):
    """Case data (or an audit event's data) for reading: ID numbers, phones and bank cards
    masked at any depth (the key of a nested object, or of the list holding it, names a value),
    except the top-level keys in ``editable`` (the fields the reader's task form lets them edit:
    they must see what they change)."""

    def walk(key, value):
        if isinstance(value, dict):
            return {k: walk(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(key, v) for v in value]
        return mask_value(key, value)

    if not isinstance(data, dict):
        return data
    return {k: (v if k in editable else walk(k, v)) for k, v in data.items()}


def unchanged(key: str, submitted, stored) -> bool:
    """Whether a submitted value is the stored one, as stored or as it was shown masked (a client
    may echo the whole form it was shown)."""
    return submitted == stored or submitted == mask_data({key: stored})[key]


def reveal_applicant(user, case_id: int, reason: str) -> dict:
    """The applicant's full name, ID number and phone for someone who may see the case, with a
    reason; every reveal is an audit event (``pii_revealed``) in the same transaction."""
    from flask_babel import gettext as _

    from ..errors import InvalidInput
    from . import audit
    from .cases import get_case

    if not isinstance(reason, str) or not reason.strip() or len(reason) > 200:
        raise InvalidInput(_("Say why you need to see the personal data."), {"reason": [_("This field is required.")]})
    case = get_case(user, case_id)
    audit.record(case, "pii_revealed", user, data={"fields": ["name", "id_number", "phone"], "reason": reason.strip()})
    return {"name": case.applicant_name, "id_number": case.applicant_id_number, "phone": case.applicant_phone}
