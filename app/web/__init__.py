"""Browser-facing routes. The full workbench comes with the web UI; this holds health checks."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from ..extensions import db

bp = Blueprint("web", __name__)


@bp.get("/healthz")
def healthz():
    """200 once the database answers."""
    db.session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})


def init_web(app) -> None:
    """Register the browser blueprints."""
    app.register_blueprint(bp)
