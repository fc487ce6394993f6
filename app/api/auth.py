"""Tokens and browser sessions."""

from __future__ import annotations

from flask import g, request
from flask_login import current_user, logout_user
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf

from .. import transaction
from ..auth import begin_session, request_origin
from ..errors import AppError, BadRequest
from ..services import org
from . import public
from .schemas import MeSchema, PasswordChangeSchema, TokenRequestSchema, TokenResponseSchema

blp = Blueprint("auth", __name__, description="Log in: bearer tokens and sessions")


@blp.route("/auth/token", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(TokenRequestSchema)
@blp.response(200, TokenResponseSchema)
@public
def create_token(body):
    """Exchange username and password for a bearer token (expires; revocable)."""

    origin = request_origin("api")

    def _issue():
        user, failure = org.attempt_login(body["username"], body["password"], origin)
        if failure is not None:
            return failure
        raw, token = org.issue_token(user, origin=origin)
        return {"token": raw, "expires_at": token.expires_at, "user": user}

    result = transaction.run(_issue)  # a failed attempt is committed too: it counts towards the lock
    if isinstance(result, AppError):
        raise result
    return result


@blp.route("/auth/token", methods=["DELETE"])
@blp.response(204)
def revoke_token():
    """Revoke the bearer token used for this request."""
    raw = request.headers.get("Authorization", "").partition(" ")[2].strip()
    if not raw:
        raise BadRequest("Send the bearer token to revoke in the Authorization header.", error="no_token")
    transaction.run(org.revoke_token, raw, request_origin("api"))


@blp.route("/auth/session", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(TokenRequestSchema)
@blp.response(200, MeSchema)
@public
def create_session(body):
    """Log in a browser session (cookie); returns the CSRF token to send as X-CSRFToken."""
    user, failure = transaction.run(org.attempt_login, body["username"], body["password"],
                                    request_origin("api-session"))
    if failure is not None:
        raise failure
    begin_session(user)  # a fresh session: nothing planted before the login survives it
    return {"user": user, "csrf_token": generate_csrf()}


@blp.route("/auth/session", methods=["DELETE"])
@blp.response(204)
def delete_session():
    """Log out the browser session."""
    if g.get("auth_via") == "session":
        transaction.run(org.note_logout, current_user._get_current_object(), request_origin("api-session"))
    logout_user()


@blp.route("/auth/password", methods=["POST"])
@blp.arguments(PasswordChangeSchema)
@blp.response(200, MeSchema)
def change_password(body):
    """Replace your own password (the current one proves it is you). Ends your other sessions and
    revokes your API tokens, the one of this request too; a session goes on, with the new CSRF
    token returned. Five wrong current passwords lock the account like failed logins."""
    user = current_user._get_current_object()
    session_call = g.get("auth_via") == "session"
    failure = transaction.run(org.change_own_password, user, body["current_password"], body["new_password"],
                              request_origin("api-session" if session_call else "api"))
    if failure is not None:  # a wrong current password is committed too: it counts towards the lock
        raise failure
    if session_call:
        begin_session(user)
    return {"user": user, "csrf_token": generate_csrf() if session_call else None}


@blp.route("/auth/me", methods=["GET"])
@blp.response(200, MeSchema)
def me():
    """The current user and a CSRF token for session-cookie clients."""
    return {"user": current_user, "csrf_token": generate_csrf()}
