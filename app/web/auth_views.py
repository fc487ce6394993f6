"""Login, logout and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from .. import transaction
from ..auth import begin_session, request_origin
from ..errors import TooManyAttempts
from ..services import org

bp = Blueprint("web_auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only follow relative redirects within this site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("web_inbox.inbox") if "web_inbox.inbox" in current_app.view_functions else "/"


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; log in on valid credentials."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    error = None
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        user, failure = transaction.run(org.attempt_login, username, request.form.get("password", ""),
                                        request_origin("web"))
        if isinstance(failure, TooManyAttempts):
            error, status = _("Too many failed logins. The account is locked for a while; try again later."), 429
        elif failure is not None:
            error, status = _("Wrong username or password."), 401
        else:
            begin_session(user)  # nothing from before the login survives it (no session fixation)
            return redirect(_safe_next(request.args.get("next")))
        return render_template("web/login.html", error=error, username=username), status
    return render_template("web/login.html", error=error, username=username), 200


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """A user replaces their own password (the current one proves it is them); the page every
    other page sends a user to whose password must be replaced (web/__init__.py)."""
    user = current_user._get_current_object()
    errors, status = {}, 200
    if request.method == "POST":
        new = request.form.get("new_password", "")
        if new != request.form.get("confirm_password", ""):
            errors, status = {"confirm_password": [_("The two new passwords differ.")]}, 422
        else:
            failure = transaction.run(org.change_own_password, user, request.form.get("current_password", ""), new,
                                      request_origin("web"))
            if failure is None:
                begin_session(user)  # this session goes on with the new password; every other one has ended
                flash(_("Your password has been changed."), "success")
                return redirect(_safe_next(None))
            if isinstance(failure, TooManyAttempts):
                errors = {"current_password": [_("Too many failed logins. The account is locked for a while; "
                                                 "try again later.")]}
            else:
                errors = failure.errors
            status = failure.status
    fields = [("current_password", _("Current password"), "current-password"),
              ("new_password", _("New password"), "new-password"),
              ("confirm_password", _("New password again"), "new-password")]
    return render_template("web/account_password.html", errors=errors, fields=fields,
                           due=org.password_change_due(user), max_age_days=current_app.config["PASSWORD_MAX_AGE_DAYS"],
                           min_length=current_app.config["PASSWORD_MIN_LENGTH"]), status


@bp.post("/logout")
@login_required
def logout():
    """Log out and go back to the login page."""
    transaction.run(org.note_logout, current_user._get_current_object(), request_origin("web"))
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("web_auth.login"))


@bp.get("/lang/<code>")
def set_language(code):
    """Switch the interface language (zh_CN or en) and return to the page."""
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next") or request.referrer and urlsplit(request.referrer).path))
