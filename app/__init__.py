"""Application factory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine as SAEngine

from config import Config

from .extensions import csrf, db, migrate


def _secret_key(app: Flask) -> str:
    """Use SECRET_KEY, else a key kept in instance/secret_key (created once)."""
    if app.config.get("SECRET_KEY"):
        return app.config["SECRET_KEY"]
    path = Path(app.instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        os.chmod(path, 0o600)
    return path.read_text().strip()


@event.listens_for(SAEngine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL, a busy timeout and foreign keys for SQLite; nothing for other databases."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_app(config: type[Config] | dict | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, error handlers."""
    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent.parent / "instance"))
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    app.config["SECRET_KEY"] = _secret_key(app)
    app.json.ensure_ascii = False
    if (app.config.get("CLOSING_TIME") or "").strip():  # refuse a bad setting now, not at the first case
        from .services.calendar import _parse_closing

        _parse_closing(app.config["CLOSING_TIME"].strip())

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    csrf.init_app(app)
    from .i18n import init_i18n
    from .services import kpi_rollups  # noqa: F401  (its session events keep the KPI rollups current)
    init_i18n(app)

    from .auth import init_auth
    init_auth(app)

    from .api import init_api
    init_api(app)

    from .web import init_web
    init_web(app)

    from .errors import register_error_handlers
    register_error_handlers(app)

    from .security import init_security
    init_security(app)

    from .cli import init_cli
    init_cli(app)
    return app
