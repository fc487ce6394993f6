"""Application factory."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from flask import Flask, has_request_context
from sqlalchemy import event
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from config import Config

from .extensions import csrf, db, migrate
from .transaction import track_writes


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


def _engine_options(config) -> dict:
    """The pool settings for PostgreSQL (SQLite keeps SQLAlchemy's own pool).

    On every database a database error's text leaves out the statement's parameters: they are
    case data and personal data (ID numbers, phones), and that text reaches the logs."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("hide_parameters", True)
    if float(config["DB_PING_AFTER_IDLE_SECONDS"]) < 0:
        options.setdefault("pool_pre_ping", True)
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        options.setdefault("pool_size", config["DB_POOL_SIZE"])
        options.setdefault("max_overflow", config["DB_MAX_OVERFLOW"])
        options.setdefault("pool_timeout", config["DB_POOL_TIMEOUT"])
        options.setdefault("pool_recycle", config["DB_POOL_RECYCLE"])
        connect_args = dict(options.get("connect_args") or {})
        idle = int(config["DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"])
        if idle > 0:
            connect_args["options"] = f"{connect_args.get('options', '')} -c idle_in_transaction_session_timeout={idle}"
        if make_url(config["SQLALCHEMY_DATABASE_URI"]).get_driver_name() == "psycopg":
            from .pgcursor import LazyDescriptionCursor

            prepare = int(config["DB_PREPARE_THRESHOLD"])
            connect_args.setdefault("prepare_threshold", prepare if prepare > 0 else None)
            connect_args.setdefault("cursor_factory", LazyDescriptionCursor)
        options["connect_args"] = connect_args
    return options


_CHECKED_IN_AT = "changzhi.checked_in_at"


def _ping_rested_connections(app: Flask, engine) -> None:
    """Test a pooled connection before handing it out when it has rested in the pool for
    ``DB_PING_AFTER_IDLE_SECONDS``: one the server ended meanwhile is replaced, and the request
    never sees it. A connection given back moments ago is handed out as it is; should the server
    have gone in those moments, the request answers 503 and the pool starts afresh (the same as
    for a server that goes away while a request runs).

    SQLAlchemy's ``pool_pre_ping`` tests on every checkout: a round trip on each, and a request
    usually checks out twice (its unit of work, then the reads of its answer)."""
    rest = float(app.config["DB_PING_AFTER_IDLE_SECONDS"])
    if rest < 0:  # pool_pre_ping, set in _engine_options
        return
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _resting(dbapi_connection, connection_record):
        if connection_record is not None:
            connection_record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, connection_record, connection_proxy):
        since = connection_record.info.pop(_CHECKED_IN_AT, None)
        if since is None or time.monotonic() - since < rest:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError(str(exc)) from exc  # the pool replaces it and tries again
            raise


def _request_timeouts(app: Flask, engine) -> None:
    """On PostgreSQL, a connection a web request takes from the pool has ``statement_timeout``;
    one taken outside a request (worker, migrations, ``flask`` commands) has none. A cancelled
    statement answers 503.

    The setting is a session setting, committed at once (a rollback cannot undo it) and
    remembered with the pooled connection, so it is only sent when a connection changes sides,
    not on every transaction."""
    limit = int(app.config["DB_STATEMENT_TIMEOUT_MS"])
    if engine.dialect.name != "postgresql" or limit <= 0:
        return

    @event.listens_for(engine, "checkout")
    def _limit(dbapi_connection, connection_record, connection_proxy):
        wanted = limit if has_request_context() else 0
        if connection_record.info.get("statement_timeout") == wanted:
            return
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {wanted}")
        dbapi_connection.commit()
        connection_record.info["statement_timeout"] = wanted


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

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(app.config)
    db.init_app(app)
    with app.app_context():
        _ping_rested_connections(app, db.engine)  # before any other checkout hook uses the connection
        _request_timeouts(app, db.engine)
        track_writes(db.engine)
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

    from .errors import (
        register_error_handlers,
        reject_too_deep_json,
        reject_unreadable_numbers,
        reject_unstorable_text,
    )
    register_error_handlers(app)
    app.before_request_funcs.setdefault(None, []).insert(0, reject_unstorable_text)
    # Before anything decodes the body, in this order: too deep (the decoder's recursion), numbers.
    app.before_request_funcs[None].insert(0, reject_unreadable_numbers)
    app.before_request_funcs[None].insert(0, reject_too_deep_json)

    from .request_ids import init_request_ids
    init_request_ids(app)  # after reject_unstorable_text: the id is assigned before that check

    from .security import init_security
    init_security(app)

    from .cli import init_cli
    init_cli(app)
    return app
