"""The process-wide engine and the cache of compiled process versions."""

from __future__ import annotations

from flask import current_app

from .. import clock
from ..engine import CompiledProcess, Engine, SpecCache, compile_process
from ..models import ProcessVersion
from . import calendar, org

_engine: Engine | None = None
_cache: SpecCache | None = None


def engine() -> Engine:
    """Return the sandboxed engine (one per worker process)."""
    global _engine
    if _engine is None:
        _engine = Engine(script_time_limit=current_app.config["SCRIPT_TIME_LIMIT"], clock=clock.now,
                         working_days=_working_days, group_members=org.member_usernames,
                         today=_today, script_memory_limit_mb=current_app.config["SCRIPT_MEMORY_LIMIT_MB"])
    return _engine


def _today():
    """Scripts' ``today()`` is the service centre's date, not UTC's."""
    return calendar.local_date(clock.now())


def _working_days(start, n: int):
    """Timers in working days use the same calendar (and overrides) as the case clocks."""
    return calendar.add_working_days(start, n)[0]


def spec_cache() -> SpecCache:
    """Return the bounded cache of compiled versions."""
    global _cache
    if _cache is None:
        _cache = SpecCache(current_app.config["SPEC_CACHE_SIZE"])
    return _cache


def compiled(version: ProcessVersion) -> CompiledProcess:
    """Return the compiled spec of a deployed version, parsing it at most once per worker."""
    return spec_cache().get(
        (version.id, version.content_hash),
        lambda: compile_process({**version.file_map("bpmn"), **version.file_map("dmn")}),
    )
