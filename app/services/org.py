"""Users, groups and API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from flask_babel import gettext
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import AppError, InvalidInput, TooManyAttempts, Unauthorized
from ..extensions import db
from ..models import ApiToken, Group, LoginThrottle, User, group_memberships
from ..models.types import utcnow
from . import config_cache, security_log
from .security_log import Origin


def N_(message: str) -> str:
    """Marks a message for translation (pybabel's default keyword); it is translated where shown."""
    return message


class Problem(NamedTuple):
    """One reason a new password is refused: an English message with ``%(name)s`` parameters,
    translated where it is shown (``str(problem)`` in English, ``problem.translated()``)."""

    message: str
    params: dict

    def __str__(self) -> str:
        return self.message % self.params

    def translated(self) -> str:
        return gettext(self.message, **self.params)


def password_problems(username: str, password: str) -> list[Problem]:
    """Why a new password is refused (empty: acceptable): at least ``PASSWORD_MIN_LENGTH``
    characters, three of lower case, upper case, digits and symbols, and not the user name."""
    problems = []
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        problems.append(Problem(N_("at least %(n)d characters"), {"n": minimum}))
    kinds = sum((any(c.islower() for c in password), any(c.isupper() for c in password),
                 any(c.isdigit() for c in password), any(not c.isalnum() for c in password)))
    if kinds < 3:
        problems.append(Problem(N_("three of: lower case, upper case, digits, symbols"), {}))
    if username and username.lower() in password.lower():
        problems.append(Problem(N_("not the user name"), {}))
    return problems


def set_password(user: User, password: str, origin: Origin = security_log.CLI, *, own: bool = False) -> None:
    """Set a new password that meets the policy (ValueError otherwise); unlocks the account.
    Recorded in the security log (without the password, of course).

    A password someone else set (an administrator: a first or a reset password) must be replaced
    by its user before anything else (``must_change_password``); ``own``: the user chose it."""
    problems = password_problems(user.username, password)
    if problems:
        raise ValueError("the password needs " + "; ".join(map(str, problems)))
    user.set_password(password)
    user.must_change_password = not own
    user.failed_logins, user.locked_until = 0, None
    # Whoever knew the old password may hold a token or a session made with it: both end here
    # (sessions carry a digest of the password hash, see app/auth).
    revoked = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    security_log.record("password_changed", origin, user=user, data={"tokens_revoked": revoked})
    db.session.flush()


def attempt_login(username: str, password: str, origin: Origin) -> tuple[User | None, AppError | None]:
    """Check credentials and count the outcome in the database (commit it even when it fails):
    ``LOGIN_MAX_FAILURES`` wrong passwords in a row lock the account for ``LOGIN_LOCK_MINUTES``;
    a success resets the count. Returns (user, None) or (None, the error to raise).

    A name that is no active user's gets the same answers at the same pace: its failures are
    counted and locked the same way (in ``login_throttles``), and a password hash is checked for
    it too, so neither the status code nor the time taken tells which names exist.

    Every attempt goes to the security log: ``login_succeeded``; ``login_failed`` (with the
    reason: wrong password, unknown name, inactive account); ``login_locked`` for the failure
    that locks; ``login_refused`` while locked."""
    now = utcnow()
    user = db.session.execute(select(User).where(User.username == username).with_for_update()).scalar_one_or_none()
    if user is None or not user.active:
        check_password_hash(_stand_in_hash(current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")), password)
        failure, locks_until = _failed(_throttle_of(username, now), now)
        _record_failure(failure, locks_until, origin, user, username, "unknown_name" if user is None else "inactive")
        return None, failure
    locked = _locked(user, now)
    if locked is not None:
        _record_failure(locked, None, origin, user, username, "wrong_password")
        return None, locked
    if not user.check_password(password):
        failure, locks_until = _failed(user, now)
        _record_failure(failure, locks_until, origin, user, username, "wrong_password")
        return None, failure
    if user.failed_logins or user.locked_until:
        user.failed_logins, user.locked_until = 0, None
    security_log.record("login_succeeded", origin, user=user)
    db.session.flush()
    return user, None


def password_change_due(user: User) -> str | None:
    """Why ``user`` must choose a new password before doing anything else: ``reset`` (someone
    else set it), ``expired`` (older than ``PASSWORD_MAX_AGE_DAYS``); None when not."""
    if user.must_change_password:
        return "reset"
    days = current_app.config["PASSWORD_MAX_AGE_DAYS"]
    since = user.password_changed_at or user.created_at
    if days > 0 and since is not None and since + timedelta(days=days) <= utcnow():
        return "expired"
    return None


def change_own_password(user: User, current: str, new: str, origin: Origin) -> AppError | None:
    """``user`` replaces their password, proving the current one. Returns None when done, else
    the error to answer; commit in either case (like ``attempt_login``): a wrong current password
    counts as a failed login, and enough of them lock the account.

    The new password must meet the policy and differ from the current one. Every other session
    and every token of the user ends (``set_password``); the caller renews the session it came by."""
    now = utcnow()
    # One change or failure at a time, as for logins: lock the row, then read its counters as
    # committed (not a refresh with the lock: the user's groups may come with a joined load, and
    # PostgreSQL refuses FOR UPDATE on the outer join's nullable side).
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    db.session.refresh(user, ["password_hash", "failed_logins", "locked_until", "must_change_password"])
    locked = _locked(user, now)
    if locked is not None:
        _record_failure(locked, None, origin, user, user.username, "wrong_current_password")
        return locked
    if not user.check_password(current):
        failure, locks_until = _failed(user, now)
        _record_failure(failure, locks_until, origin, user, user.username, "wrong_current_password")
        return InvalidInput("The current password is wrong.",
                            {"current_password": [gettext("The current password is wrong.")]})
    problems = [p.translated() for p in password_problems(user.username, new)]
    if new == current:
        problems.append(gettext("not the current password"))
    if problems:
        return InvalidInput("The new password does not meet the password policy.", {"new_password": problems})
    set_password(user, new, origin, own=True)
    return None


def note_logout(user: User, origin: Origin) -> None:
    """A browser session was ended by its user (for the security log)."""
    security_log.record("logout", origin, user=user)


def _record_failure(failure: AppError, locks_until: datetime | None, origin: Origin, user: User | None,
                    username: str, reason: str) -> None:
    """``login_refused`` (already locked: the password was not even checked), ``login_locked``
    (this failure started the lock) or ``login_failed``."""
    if isinstance(failure, TooManyAttempts):
        kind, data = "login_refused", {"locked_until": failure.errors["locked_until"]}
    elif locks_until is not None:
        kind, data = "login_locked", {"reason": reason, "locked_until": locks_until.isoformat()}
    else:
        kind, data = "login_failed", {"reason": reason}
    security_log.record(kind, origin, user=user, name=username, data=data)


def _locked(holder: User | LoginThrottle, now) -> TooManyAttempts | None:
    if holder.locked_until is not None and holder.locked_until > now:
        return TooManyAttempts(
            f"Too many failed logins: the account is locked until {holder.locked_until.isoformat()}.",
            {"locked_until": holder.locked_until.isoformat()})
    return None


def _failed(holder: User | LoginThrottle, now) -> tuple[AppError, datetime | None]:
    """Count one wrong password (unless locked already); the error to answer, and the end of the
    lock this failure started (None: it started none)."""
    locked = _locked(holder, now)
    if locked is not None:
        return locked, None
    holder.failed_logins = (holder.failed_logins or 0) + 1
    locks = holder.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]
    if locks:
        holder.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
        holder.failed_logins = 0
    db.session.flush()
    wrong = Unauthorized("Wrong username or password.", error="invalid_credentials")
    return wrong, holder.locked_until if locks else None


def throttle_of(key: str, now) -> LoginThrottle:
    """The locked counter row of ``key`` in ``login_throttles`` (made at its first use), after
    deleting rows that have counted nothing for a while: the login counters of names without an
    account, and other counters of failed guesses under their own key prefix (reviews)."""
    return _throttle_of(key, now)


def _throttle_of(username: str, now) -> LoginThrottle:
    """The locked counter row of a name that is no active user's (created at its first failure).

    Rows untouched for ``LOGIN_THROTTLE_RETENTION_HOURS`` that lock nothing are deleted first, so a
    spray of made-up names leaves at most that many hours of rows behind."""
    kept = now - timedelta(hours=current_app.config["LOGIN_THROTTLE_RETENTION_HOURS"])
    db.session.execute(delete(LoginThrottle).where(
        LoginThrottle.updated_at < kept,
        or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now))
        .execution_options(synchronize_session=False))
    key = _hash(username)
    row = db.session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    if row is None:  # two first failures at once: the loser's insert is replayed (transaction.run)
        row = LoginThrottle(name_hash=key, failed_logins=0)
        db.session.add(row)
    row.updated_at = now
    return row


@functools.cache
def _stand_in_hash(method: str) -> str:
    """A hash of a random password, checked for names without an account (same cost as a user's)."""
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# Scopes of tokens made for other systems: the API paths each allows (prefixes under /api/v1).
TOKEN_SCOPES = {
    "work-orders": ("/work-orders", "/knowledge"),
    "kpis": ("/kpis", "/reports"),
    "reviews": ("/reviews",),
}


def token_allows(scopes, path: str, prefix: str = "/api/v1") -> bool:
    """Whether a token with ``scopes`` (None: unrestricted) may call ``path``."""
    if not scopes:
        return True
    allowed = [prefix + p for scope in scopes for p in TOKEN_SCOPES.get(scope, ())]
    return any(path == p or path.startswith(p + "/") for p in allowed)


def issue_token(user: User, name: str | None = None, days: int | None = None,
                scopes: list[str] | None = None, origin: Origin = security_log.CLI) -> tuple[str, ApiToken]:
    """Create a bearer token for ``user``; return the raw token (shown once) and its row.

    ``name`` labels a token made for another system; ``days`` overrides the session lifetime
    (``TOKEN_TTL_HOURS``) for such integration tokens."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    ttl = timedelta(days=days) if days else timedelta(hours=current_app.config["TOKEN_TTL_HOURS"])
    unknown = [s for s in scopes or [] if s not in TOKEN_SCOPES]
    if unknown:
        raise ValueError(f"unknown token scope(s): {', '.join(unknown)} (known: {', '.join(TOKEN_SCOPES)})")
    token = ApiToken(user_id=user.id, token_hash=_hash(raw), created_at=now, name=name, expires_at=now + ttl,
                     scopes=list(scopes) if scopes else None)
    db.session.add(token)
    db.session.flush()
    security_log.record("token_issued", origin, user=user, data={
        "token_id": token.id, "name": name, "scopes": token.scopes, "expires_at": token.expires_at.isoformat()})
    return raw, token


class LiveToken(NamedTuple):
    """A valid bearer token as a request needs it: its id, its user (in the session) and scopes."""
    id: int
    user: User
    scopes: list[str] | None


def token_for(raw: str) -> LiveToken | None:
    """Return a valid, unexpired, unrevoked token of an active user, else None."""
    # Every API request asks: the token, its user and the user's groups (nearly every call checks
    # them) in one statement. The token comes as columns: nothing of it is changed here, and an
    # entity costs its identity-map bookkeeping on every request.
    row = db.session.execute(_token_query(), {"token_hash": _hash(raw)}).unique(_first_column).first()
    if row is None:
        return None
    token_id, revoked_at, expires_at, scopes, user, *tokens = row
    config_cache.note(dict(zip(config_cache.TABLES, tokens, strict=True)))
    if revoked_at is not None or expires_at <= utcnow() or not user.active:
        return None
    return LiveToken(token_id, user, scopes)


def _first_column(row):
    """The rows of one token (one per group of its user) are told apart by the token's id: the
    scopes are JSON, which ``unique()`` cannot hash."""
    return row[0]


@functools.cache
def _token_query():
    """Built once: a statement object keeps its cache key, so a run only binds the hash."""
    # The tokens of the reference data kept in memory come with it (services/config_cache.py).
    return (select(ApiToken.id, ApiToken.revoked_at, ApiToken.expires_at, ApiToken.scopes, User,
                   *(config_cache.token_column(name) for name in config_cache.TABLES))
            .join(User, ApiToken.user_id == User.id).options(joinedload(User.groups))
            .where(ApiToken.token_hash == bindparam("token_hash")))


def user_for_token(raw: str) -> User | None:
    """Return the user of a valid, unexpired, unrevoked token, else None."""
    token = token_for(raw)
    return token.user if token is not None else None


def revoke_token(raw: str, origin: Origin = security_log.CLI) -> bool:
    """Revoke a token; return whether it existed and was live."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(raw)))
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    security_log.record("token_revoked", origin, user=token.user, data={"token_id": token.id, "name": token.name})
    db.session.flush()
    return True


def groups_by_lane(names: set[str]) -> dict[str, Group]:
    """Map each lane name to the group whose code or display name equals it."""
    if not names:
        return {}
    rows = db.session.scalars(select(Group).where(or_(Group.code.in_(names), Group.name.in_(names)))).all()
    result = {}
    for group in rows:
        for name in (group.code, group.name):
            if name in names:
                result[name] = group
    return result


def groups_by_code(codes) -> dict[str, Group]:
    """Return ``{code: Group}`` for the known codes among ``codes``."""
    codes = set(codes)
    if not codes:
        return {}
    return {g.code: g for g in db.session.scalars(_groups_by_code_query(), {"codes": sorted(codes)})}


@functools.cache
def _groups_by_code_query():
    return select(Group).where(Group.code.in_(bindparam("codes", expanding=True)))


def group_ids_by_code(codes) -> dict[str, int]:
    """Return ``{code: group id}`` for the known codes among ``codes`` (kept in memory while the
    groups do not change, see services/config_cache.py)."""
    codes = set(codes)
    result, missing = {}, []
    for code in sorted(codes):
        known = config_cache.lookup("groups", code)
        if known is config_cache.MISS:
            missing.append(code)
        elif known is not None:
            result[code] = known
    if not missing:
        return result
    rows = db.session.execute(_group_ids_query(), {"codes": missing}).all()
    if not rows:  # no version row (a database older than its migration): read them plainly
        return {code: group.id for code, group in groups_by_code(codes).items()}
    found = {code: group_id for _token, code, group_id in rows if code is not None}
    for code in missing:
        config_cache.store("groups", rows[0][0], code, found.get(code))
    result.update(found)
    return result


@functools.cache
def _group_ids_query():
    versions = config_cache.CONFIG_VERSIONS
    return (select(versions.c.token, Group.code, Group.id)
            .select_from(versions.outerjoin(Group, Group.code.in_(bindparam("codes", expanding=True))))
            .where(versions.c.name == "groups"))


def has_active_members(group_codes) -> bool:
    """Whether any active user belongs to one of these groups."""
    if not group_codes:
        return False
    return db.session.scalar(
        select(User.id).join(group_memberships, group_memberships.c.user_id == User.id)
        .join(Group, Group.id == group_memberships.c.group_id)
        .where(Group.code.in_(list(group_codes)), User.active.is_(True)).limit(1)) is not None


def first_admin() -> User | None:
    """The longest-standing active administrator (tasks nobody else can take go to them)."""
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id))
    return next((u for u in users if u.has_role("admin")), None)


def member_usernames(group_code: str) -> list[str]:
    """Usernames of a group's active members, sorted (diagrams: ``group_members(code)``)."""
    return list(db.session.scalars(
        select(User.username).join(group_memberships, group_memberships.c.user_id == User.id)
        .join(Group, Group.id == group_memberships.c.group_id)
        .where(Group.code == group_code, User.active.is_(True)).order_by(User.username)))


def active_users_by_username(usernames) -> dict[str, int]:
    """``{username: id}`` of the active users among ``usernames``."""
    names = [u for u in usernames if u]
    if not names:
        return {}
    return dict(db.session.execute(select(User.username, User.id).where(User.username.in_(names),
                                                                          User.active.is_(True))).all())


def users_with_role(role: str) -> list[tuple[str, str]]:
    """(username, display name) of the active users with ``role``, by username."""
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.username))
    return [(u.username, u.display_name or u.username) for u in users if u.has_role(role)]


def group_names() -> dict[str, str]:
    """``{group code: display name}`` of every group."""
    return dict(db.session.execute(select(Group.code, Group.name)).all())
