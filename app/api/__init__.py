"""The JSON API under /api/v1: parse -> one service call -> commit -> dump."""

from __future__ import annotations

from flask import current_app, g, jsonify, request

from ..auth import authenticated_user, protect_unsafe_session_request
from ..errors import Forbidden, NotFound, Unauthorized
from ..extensions import api
from ..services import org
from ..services.org import token_allows
from .schemas import MAX_ID

PREFIX = "/api/v1"


def public(view):
    """Mark a view as reachable without a token or session."""
    view._public = True
    return view


def requires(*roles: str):
    """Declare the roles an endpoint needs; checked before the body is parsed (403 before 422)."""

    def mark(view):
        view._required_roles = roles
        return view

    return mark


# What a session whose user must choose a new password may still call (pages: web/__init__.py).
_BEFORE_NEW_PASSWORD = {"auth.change_password", "auth.delete_session", "auth.me"}


def _guard():
    if not request.path.startswith(PREFIX + "/"):
        return None
    view = current_app.view_functions.get(request.endpoint)
    if view is None or getattr(view, "_public", False):
        return None
    user = authenticated_user()
    if user is None:
        raise Unauthorized("Log in or send a bearer token.")
    if not token_allows(g.get("token_scopes"), request.path, PREFIX):
        raise Forbidden("This token's scope does not allow this call.", error="token_scope")
    if (g.get("auth_via") == "session" and request.endpoint not in _BEFORE_NEW_PASSWORD
            and org.password_change_due(user) is not None):
        raise Forbidden("Choose a new password first (POST /auth/password).", error="password_change_required")
    roles = getattr(view, "_required_roles", None)
    if roles and not user.has_role(*roles):
        raise Forbidden("Your role does not allow this.")
    protect_unsafe_session_request()
    # Ids are 32-bit integers on PostgreSQL: a larger one in the path names no row (and would fail there).
    if any(isinstance(v, int) and v > MAX_ID for v in (request.view_args or {}).values()):
        raise NotFound("No such record.")
    return None


def init_api(app) -> None:
    """Register the API blueprints, the auth guard and the OpenAPI document."""
    from . import auth, cases, drafts, processes, tasks
    from . import designer as designer_api
    from .schemas import ErrorSchema

    api.ERROR_SCHEMA = ErrorSchema
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearerAuth": []}]
    for blp in (auth.blp, processes.blp, cases.blp, tasks.blp, drafts.blp, designer_api.blp):
        api.register_blueprint(blp, url_prefix=PREFIX)
    from . import migration as migration_api

    api.register_blueprint(migration_api.blp, url_prefix=PREFIX)
    from . import assisted as assisted_api
    from . import calendar as calendar_api
    from . import catalogue as catalogue_api
    from . import kpis as kpis_api
    from . import moves
    from . import oversight as oversight_api
    from . import work_orders as work_orders_api

    api.register_blueprint(calendar_api.blp, url_prefix=PREFIX)
    api.register_blueprint(catalogue_api.blp, url_prefix=PREFIX)
    api.register_blueprint(assisted_api.blp, url_prefix=PREFIX)
    api.register_blueprint(moves.blp, url_prefix=PREFIX)
    api.register_blueprint(kpis_api.blp, url_prefix=PREFIX)
    api.register_blueprint(work_orders_api.blp, url_prefix=PREFIX)
    api.register_blueprint(oversight_api.blp, url_prefix=PREFIX)
    app.before_request(_guard)

    @app.get(PREFIX + "/openapi.json")
    @public
    def openapi_document():
        """The OpenAPI 3 description of this API, generated from the schemas."""
        return jsonify(api.spec.to_dict())
