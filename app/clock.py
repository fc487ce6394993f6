"""The one clock of the application: every "now" (timestamps, time limits, BPMN timers) reads it.

Production reads the system clock. Tests travel in time with :func:`frozen` or :func:`travel`
instead of sleeping, so timers and warnings can be checked deterministically. Pure Python:
the engine, services and models may all import it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_fixed: datetime | None = None
_offset = timedelta(0)


def now() -> datetime:
    """The current time, timezone-aware in UTC (fixed or shifted while a test travels)."""
    if _fixed is not None:
        return _fixed
    return datetime.now(UTC) + _offset


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("the clock needs an aware datetime")
    return when.astimezone(UTC)


def set_time(when: datetime | None) -> None:
    """Stop the clock at ``when`` (None lets it run again)."""
    global _fixed
    _fixed = None if when is None else _aware(when)


def shift(delta: timedelta) -> None:
    """Move the clock by ``delta`` (a stopped clock moves too)."""
    global _fixed, _offset
    if _fixed is not None:
        _fixed = _fixed + delta
    else:
        _offset = _offset + delta


def reset() -> None:
    """The system clock again."""
    global _fixed, _offset
    _fixed, _offset = None, timedelta(0)


@contextmanager
def frozen(when: datetime) -> Iterator[None]:
    """Stop the clock at ``when`` for the block (tests)."""
    saved = (_fixed, _offset)
    set_time(when)
    try:
        yield
    finally:
        _restore(saved)


@contextmanager
def travel(delta: timedelta) -> Iterator[None]:
    """Run the block ``delta`` ahead of (or behind) the current clock (tests)."""
    saved = (_fixed, _offset)
    shift(delta)
    try:
        yield
    finally:
        _restore(saved)


def _restore(saved) -> None:
    global _fixed, _offset
    _fixed, _offset = saved
