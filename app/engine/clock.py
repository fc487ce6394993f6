"""The time SpiffWorkflow's timer events read.

``SpiffWorkflow.bpmn.specs.event_definitions.timer`` calls ``datetime.now(timezone.utc)``
to schedule and fire timers. The engine points that name at a ``datetime`` subclass whose
``now`` asks a clock the application provides (:func:`use`), so timers follow the same
clock as every other time in the application, and tests can move it instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


class EngineDateTime(datetime):
    """``datetime`` whose ``now`` reads the engine clock; everything else is unchanged."""

    @classmethod
    def now(cls, tz=None):
        current = _source()
        return current.astimezone(tz) if tz is not None else current.astimezone().replace(tzinfo=None)


def use(source: Callable[[], datetime]) -> None:
    """Read the time from ``source`` (an aware-UTC ``now``) from now on."""
    global _source
    _source = source


def now() -> datetime:
    """The engine's current time (aware UTC)."""
    return _source()


_timer_module.datetime = EngineDateTime
