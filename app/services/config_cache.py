"""Reference data read on nearly every request, kept in process memory and checked on every API
request: the calendar overrides (deadlines and the warnings of every answer) and the ids of the
groups by code (the candidates of every new task).

Each such table has a row in ``config_versions`` whose ``token`` a database trigger replaces by a
random value in the same transaction as any change of the table, whoever makes it (this app on any
host, a script, an operator's SQL, a restore brings its own rows and token). The statement that
checks an API request's bearer token, which every API request runs anyway, also reads the tokens
(``token_column``); a value is served from memory only while the token it was read with equals
the one this request read. The value and its token are read in one statement, so they belong to
the same state of the table. A request that changes such a table stops using the cache for it
(its own changes are not committed yet, so its token is the old one); so does every request the
bearer token statement did not run for (browser sessions, timer workers, the command line).
"""

from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import column, event, select, table
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import CalendarOverride, Group

CONFIG_VERSIONS = table("config_versions", column("name"), column("token"))
TABLES = ("calendar_overrides", "groups")

MISS = object()
_TOKENS = "changzhi.config_tokens"
_MAX_KEYS = 512  # per table: calendar start days, group codes; a longer list starts over
# (database, table) -> (token, {key: value})
_CACHE: dict[tuple[str, str], tuple[str, dict]] = {}


def token_column(name: str):
    """A scalar subquery of the table's current token, for the bearer token statement."""
    return select(CONFIG_VERSIONS.c.token).where(CONFIG_VERSIONS.c.name == name).scalar_subquery()


def note(tokens: dict[str, str | None]) -> None:
    """Remember the tokens this request read (with its bearer token)."""
    if has_request_context():
        request.environ[_TOKENS] = {name: token for name, token in tokens.items() if token is not None}


def forget(name: str) -> None:
    """This request changes table ``name``: read it from the database from now on."""
    if has_request_context():
        request.environ.get(_TOKENS, {}).pop(name, None)


def _key(name: str) -> tuple[str, str]:
    return str(db.engine.url), name


def lookup(name: str, key):
    """The value kept for ``key`` of table ``name``, if this request read that table's token and
    the value was read under the same token; else ``MISS``."""
    if not has_request_context():
        return MISS
    token = request.environ.get(_TOKENS, {}).get(name)
    if token is None:
        return MISS
    entry = _CACHE.get(_key(name))
    if entry is None or entry[0] != token:
        return MISS
    return entry[1].get(key, MISS)


def store(name: str, token: str | None, key, value) -> None:
    """Keep ``value``, read in the same statement as the table's ``token``."""
    if token is None:
        return
    cache_key = _key(name)
    entry = _CACHE.get(cache_key)
    if entry is None or entry[0] != token or len(entry[1]) >= _MAX_KEYS:
        entry = _CACHE[cache_key] = (token, {})
    entry[1][key] = value


def clear() -> None:
    """Forget everything kept (tests)."""
    _CACHE.clear()


# A flush that writes these rows changes the table: the request forgets that table's token.
_WATCHED = {CalendarOverride: "calendar_overrides", Group: "groups"}


@event.listens_for(Session, "before_flush")
def _changed_in_this_request(session: Session, flush_context, instances) -> None:
    if not has_request_context() or not request.environ.get(_TOKENS):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        name = _WATCHED.get(type(obj))
        if name is not None:
            forget(name)
