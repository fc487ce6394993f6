"""Masking of personal data in every representation (API and UI)."""

from __future__ import annotations


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
