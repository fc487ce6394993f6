"""Browser-facing routes: the workbench for window clerks and department reviewers."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import text

from ..extensions import csrf, db, login_manager

bp = Blueprint("web", __name__)


@bp.get("/healthz")
def healthz():
    """200 once the database answers."""
    db.session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


@bp.get("/healthz/worker")
def healthz_worker():
    """200 while some timer worker has written its heartbeat within ``WORKER_STALE_SECONDS``;
    503 when none has (timers and time-limit warnings are on hold). For a monitor; the web hosts'
    own health is ``/healthz``."""
    from ..services import workers

    state = workers.summary()
    return jsonify({
        "status": "ok" if state.alive else "down",
        "alive": state.alive,
        "last_beat_at": state.last_beat_at.isoformat() if state.last_beat_at else None,
        "stale_after_seconds": state.stale_after_seconds,
    }), 200 if state.alive else 503


def _csrf_for_forms():
    # Every unsafe browser request (forms and htmx) carries the CSRF token; the API has its own guard.
    if request.method not in ("GET", "HEAD", "OPTIONS") and not request.path.startswith("/api/"):
        csrf.protect()


def _no_huge_ids():
    """A page id beyond the integer id columns (32-bit on PostgreSQL) names no row: 404, not a 500."""
    from ..api.schemas import MAX_ID
    from ..errors import NotFound

    if not request.path.startswith("/api/") and any(
            isinstance(v, int) and v > MAX_ID for v in (request.view_args or {}).values()):
        raise NotFound("No such record.")


# What a user who must choose a new password may still open (the rest sends them to the form).
_BEFORE_NEW_PASSWORD = {"web_auth.password", "web_auth.logout", "web_auth.login", "web_auth.set_language", "static",
                        "web.healthz", "web.healthz_worker"}


def _new_password_first():
    """A browser session whose password an administrator set, or that has grown too old, goes to
    the password form first (API sessions: api._guard)."""
    from flask import g, redirect, url_for

    from ..auth import authenticated_user
    from ..services import org

    if request.path.startswith("/api/") or request.endpoint in _BEFORE_NEW_PASSWORD or request.endpoint is None:
        return None
    user = authenticated_user()
    if user is None or g.get("auth_via") != "session" or org.password_change_due(user) is None:
        return None
    target = url_for("web_auth.password")
    if request.headers.get("HX-Request"):
        return "", 204, {"HX-Redirect": target}
    return redirect(target)


def init_web(app) -> None:
    """Register the browser blueprints and their helpers."""
    from flask_babel import lazy_gettext

    from . import attachments as attachment_views
    from . import auth_views, cases, filters, inbox, modeler
    from . import designer as designer_views
    from . import new_case as new_case_views
    from . import tasks as task_views

    login_manager.login_view = "web_auth.login"
    login_manager.login_message = lazy_gettext("Please log in to continue.")
    login_manager.login_message_category = "info"
    app.before_request(_csrf_for_forms)
    app.before_request(_no_huge_ids)
    app.before_request(_new_password_first)
    app.register_blueprint(bp)
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(task_views.bp)
    app.register_blueprint(new_case_views.bp)
    app.register_blueprint(attachment_views.bp)
    app.register_blueprint(modeler.bp)
    app.register_blueprint(designer_views.bp)
    from . import migration as migration_views

    app.register_blueprint(migration_views.bp)
    from . import assist as assist_views
    from . import dashboard as dashboard_views
    from . import guide as guide_views
    from . import hotline as hotline_views
    from . import moves as move_views
    from . import reviews as reviews_views

    app.register_blueprint(move_views.bp)
    app.register_blueprint(guide_views.bp)
    app.register_blueprint(assist_views.bp)
    app.register_blueprint(hotline_views.bp)
    app.register_blueprint(reviews_views.bp)
    app.register_blueprint(dashboard_views.bp)
    from . import admin as admin_views

    app.register_blueprint(admin_views.bp)
    filters.init_filters(app)
