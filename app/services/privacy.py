"""Masking of personal data in every representation (API and UI)."""

from __future__ import annotations

import re

# Resident ID numbers: 18 characters (the last may be X) or the old 15 digits.
ID_NUMBER = re.compile(r"^(\d{17}[\dXx]|\d{15})$")
PHONE = re.compile(r"^\+?[\d\- ]{5,20}$")

# The same inside free text (a note, a complaint, an opinion): an 18-character ID number, and a
# mainland mobile number (11 digits from 13-19, optionally after +86, grouped 3-4-4 by spaces or
# hyphens) and a bank card number (16-19 digits in one run). None may sit inside a longer run of
# digits or letters (a receipt number, a code).
# Landline numbers are left alone: a text names an office's published number far more often.
ID_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
CARD_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{16,19}(?![0-9A-Za-z])")
MOBILE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z+])(?:\+?86[- ]?)?(1[3-9]\d)([- ]?)(\d{4})(\2)(\d{4})(?![0-9A-Za-z])")


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


def mask_card(value: str) -> str:
    """A bank card number: the last four digits only."""
    return "*" * (len(value) - 4) + value[-4:]


def mask_in_text(text: str | None) -> str | None:
    """Mask the ID numbers, bank cards and mobile numbers written inside a free text, keeping the rest:
    ``请联系13812341234`` becomes ``请联系138****1234``."""
    if not text or not any(c.isdigit() for c in text):
        return text
    text = ID_NUMBER_IN_TEXT.sub(lambda m: mask_id_number(m.group()), text)
    text = CARD_IN_TEXT.sub(lambda m: mask_card(m.group()), text)
    return MOBILE_IN_TEXT.sub(lambda m: m.group()[: m.start(2) - m.start()] + m.group(2) + "****" + m.group(4)
                              + m.group(5), text)


def mask_value(key: str, value):
    """Mask a case-data value shown for reading: ID numbers and phone numbers, also inside text."""
    if not isinstance(value, str):
        return value
    if ID_NUMBER.match(value.strip()) or key.lower().endswith("id_number"):
        return mask_id_number(value)
    if "phone" in key.lower():
        return mask_phone(value)
    if "card" in key.lower() and sum(c.isdigit() for c in value) >= 12:
        return mask_card(value)
    return mask_in_text(value)


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
