"""Whole numbers typed in forms and query strings, read the same way on every page.

The database's integer columns are 32-bit on PostgreSQL (64-bit on SQLite): a number beyond them
names no row and counts nothing, and passing it on would make the database fail instead of answer.
"""

from __future__ import annotations

from ..api.schemas import MAX_ID
from ..errors import NotFound


def integer(value, default=None):
    """``value`` as an int within the integer columns' range; ``default`` when it is blank, not a
    whole number, or beyond that range."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return number if -MAX_ID - 1 <= number <= MAX_ID else default


def page_number(value) -> int:
    """A page number: 1 unless ``value`` is a larger whole number in range."""
    return max(1, integer(value, 1))


def record_id(value) -> int | None:
    """An optional id of a record (a version, a draft): None when not given or not a number; a
    number that no row can have is a record that does not exist (404)."""
    text = str(value).strip() if value is not None else ""
    if not text.lstrip("-").isdigit():
        return None
    number = integer(text)
    if number is None or number < 1:
        raise NotFound("No such record.")
    return number
