"""Authentication: flask-login sessions for browsers, bearer tokens for API clients."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, g, request, session
from flask_babel import gettext as _
from flask_login import current_user, login_user

from .. import clock
from ..extensions import csrf, db, login_manager
from ..models import User
from ..request_ids import current_request_id
from ..services import org, security_log


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@login_manager.user_loader
def _load_session_user(user_id: str) -> User | None:
    # A bearer token, when given, decides alone: a stale session cookie must not override it.
    if _bearer() is not None:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or not hmac.compare_digest(session.get(_AUTH_HASH, ""), _auth_hash(user)):
        return None
    now = int(clock.now().timestamp())
    ended = _session_end(now)
    if ended is not None:
        _end_session(user, ended)
        return None
    if now - session[_SEEN] >= _SEEN_STEP:
        session[_SEEN] = now
    g.auth_via = "session"
    return user


# 登录连接超时自动退出 (GB/T 22239-2019, 等保 2.0): a browser session ends after SESSION_IDLE_MINUTES
# without a request and SESSION_MAX_HOURS after its login. The session (a signed cookie) holds
# when it began and, to the minute, when it was last used: the cookie is sent again at most once
# a minute for that, not with every answer.
_STARTED, _SEEN = "_started", "_seen"
_SEEN_STEP = 60


def _session_end(now: int) -> str | None:
    """Why this browser session is over ('idle', 'max_age'), or None while it may go on."""
    started, seen = session.get(_STARTED), session.get(_SEEN)
    if not isinstance(started, int) or not isinstance(seen, int):
        return "idle"  # a session from before these limits: log in again
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    if 0 < idle <= now - seen:
        return "idle"
    longest = current_app.config["SESSION_MAX_HOURS"] * 3600
    if 0 < longest <= now - started:
        return "max_age"
    return None


def _end_session(user: User, reason: str) -> None:
    """Record the end in the security log and empty the session (its language stays); the login
    page then says why (``_login_message``)."""
    from .. import transaction

    channel = "api-session" if request.path.startswith("/api/") else "web"
    transaction.run(security_log.record, "session_expired", request_origin(channel), user=user,
                    data={"reason": reason})
    _fresh_session()
    g.session_ended = reason


def _login_message(message):
    """flask-login's "please log in", or why the session ended when it just did."""
    reason = g.get("session_ended")
    if reason == "idle":
        return _("For your security you were logged out after %(minutes)d minutes without activity. "
                 "Please log in again.", minutes=current_app.config["SESSION_IDLE_MINUTES"])
    if reason == "max_age":
        return _("Your session has reached its maximum length of %(hours)d hours. Please log in again.",
                 hours=current_app.config["SESSION_MAX_HOURS"])
    return message


# A browser session holds a digest of its user's password hash from the login: a new password
# (org.set_password) ends every session signed in with the old one, on every host, although the
# cookie itself cannot be taken back.
_AUTH_HASH = "_auth_hash"


def _auth_hash(user: User) -> str:
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, (user.password_hash or "").encode(), hashlib.sha256).hexdigest()


@login_manager.request_loader
def _load_token_user(req) -> User | None:
    raw = _bearer()
    if raw is None:
        return None
    token = org.token_for(raw)
    if token is None:
        return None
    if token.scopes and not req.path.startswith("/api/"):
        # A scoped token (an integration's) is limited to its part of the JSON API; the browser
        # pages would otherwise let it do whatever its user may. The API checks the scope itself
        # (api._guard), answering 403 token_scope.
        return None
    g.auth_via = "token"
    g.token_scopes = token.scopes
    return token.user


def _fresh_session() -> None:
    """Empty the cookie session except the chosen language: nothing from before a login (a CSRF
    token someone planted, anything else) survives it."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def request_origin(channel: str) -> security_log.Origin:
    """Where this request comes from, for the security log: the client's address (the proxy's
    ``X-Forwarded-For`` when ``PROXY_FIX`` trusts it), its user agent and the request id."""
    return security_log.Origin(channel, request.remote_addr, request.headers.get("User-Agent"),
                               current_request_id())


def begin_session(user: User) -> None:
    """Log ``user`` in to a browser session that starts afresh (no session fixation)."""
    _fresh_session()
    login_user(user)
    session[_AUTH_HASH] = _auth_hash(user)
    session[_STARTED] = session[_SEEN] = int(clock.now().timestamp())


def authenticated_user() -> User | None:
    """Return the user of this request (session or token), or None."""
    return current_user if current_user.is_authenticated else None


def protect_unsafe_session_request() -> None:
    """Require a CSRF token for unsafe methods authenticated by a session cookie."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if g.get("auth_via") == "session":
        csrf.protect()


def init_auth(app) -> None:
    """Wire flask-login into the app."""
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    login_manager.localize_callback = _login_message
