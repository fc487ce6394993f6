"""Settings, read once from the environment. Every setting is documented here."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


class Config:
    """Production-safe defaults; override with environment variables."""

    # Signing key for sessions and CSRF tokens. `make run` writes one to instance/secret_key.
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    # SQLite at instance/app.db by default; PostgreSQL: postgresql+psycopg://user:pw@host/db
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'instance' / 'app.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # PostgreSQL connection pool per worker process (each gunicorn sync worker serves one request
    # at a time; the timer worker uses one connection): size, overflow, seconds to wait for a free
    # connection, and seconds after which a connection is replaced.
    DB_POOL_SIZE = _int("DB_POOL_SIZE", 3)
    DB_MAX_OVERFLOW = _int("DB_MAX_OVERFLOW", 2)
    DB_POOL_TIMEOUT = _float("DB_POOL_TIMEOUT", 10.0)
    DB_POOL_RECYCLE = _int("DB_POOL_RECYCLE", 1800)
    # A pooled connection that has rested this many seconds is tested (a round trip) before a
    # request gets it, so one the server dropped meanwhile (restart, failover, idle kill) is
    # replaced unseen. A connection handed back moments ago is not: a busy worker would test on
    # every checkout. -1 tests every checkout (SQLAlchemy's pool_pre_ping).
    DB_PING_AFTER_IDLE_SECONDS = _float("DB_PING_AFTER_IDLE_SECONDS", 5.0)
    # PostgreSQL: a web request's statement running longer than this is cancelled (503), and a
    # connection idle inside a transaction this long is closed. CLI commands, migrations and the
    # timer worker are not limited. 0 turns a limit off.
    DB_STATEMENT_TIMEOUT_MS = _int("DB_STATEMENT_TIMEOUT_MS", 15000)
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS = _int("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60000)
    # PostgreSQL: a statement a connection has run this many times becomes a server-side prepared
    # statement (psycopg), so it is no longer parsed and planned on every run. 0 turns that off
    # (needed behind a pooler in transaction mode, e.g. PgBouncer before 1.21).
    DB_PREPARE_THRESHOLD = _int("DB_PREPARE_THRESHOLD", 5)
    # Bearer tokens from POST /api/v1/auth/token live this many hours.
    TOKEN_TTL_HOURS = _int("TOKEN_TTL_HOURS", 8)
    # Uploads (diagram deployments) larger than this get 413.
    MAX_CONTENT_LENGTH = _int("MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
    # Case attachments (PDF/JPEG/PNG) are stored here by checksum, outside the database.
    ATTACHMENT_DIR = os.environ.get("ATTACHMENT_DIR") or str(BASE_DIR / "instance" / "attachments")
    ATTACHMENT_MAX_BYTES = _int("ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024)
    # Wall-clock limit for one diagram script or condition, in seconds.
    SCRIPT_TIME_LIMIT = _float("SCRIPT_TIME_LIMIT", 1.0)
    # Memory one diagram script or condition may allocate, in MB (0: no limit); beyond, it fails.
    SCRIPT_MEMORY_LIMIT_MB = _float("SCRIPT_MEMORY_LIMIT_MB", 256)
    # Compiled process versions kept in memory per worker.
    SPEC_CACHE_SIZE = _int("SPEC_CACHE_SIZE", 128)
    # Receipt numbers use this calendar day.
    TIMEZONE = os.environ.get("APP_TIMEZONE", "Asia/Shanghai")
    # 12345 work-order time limits by request type and category (app/services/work_orders.py).
    HOTLINE_SLA_FILE = os.environ.get("HOTLINE_SLA_FILE", str(BASE_DIR / "hotline" / "sla.toml"))
    # 重复诉求率: an order repeats one from the same phone in the same category this many days before.
    HOTLINE_REPEAT_DAYS = _int("HOTLINE_REPEAT_DAYS", 30)
    # 行政审批行为后评价 (app/services/evaluation.py): cases drawn each week; items with at least
    # EVALUATION_FREQUENT_CASES completed cases in EVALUATION_FREQUENCY_DAYS are mid/high-frequency;
    # the timer worker draws each week's sample when EVALUATION_AUTO is on.
    EVALUATION_SAMPLE_SIZE = _int("EVALUATION_SAMPLE_SIZE", 5)
    EVALUATION_FREQUENT_CASES = _int("EVALUATION_FREQUENT_CASES", 10)
    EVALUATION_FREQUENCY_DAYS = _int("EVALUATION_FREQUENCY_DAYS", 90)
    EVALUATION_AUTO = os.environ.get("EVALUATION_AUTO", "1") not in ("0", "false", "no")
    # Case/task time-limit warnings: yellow when at most this many working days remain before the
    # due time (red once it has passed). See app/services/deadlines.py.
    WARNING_WORKING_DAYS = _int("WARNING_WORKING_DAYS", 1)
    # Business closing time due dates end at ("17:30"); empty: the end of the day (24:00).
    CLOSING_TIME = os.environ.get("CLOSING_TIME", "")
    # Groups of the comprehensive window: an immediate (即办) bundle may only have their tasks.
    WINDOW_GROUPS = tuple(g.strip() for g in os.environ.get("WINDOW_GROUPS", "window").split(",") if g.strip())
    # How many times a transition is retried after a concurrent update of the same case.
    TRANSACTION_RETRIES = _int("TRANSACTION_RETRIES", 8)
    # Four-eyes publication: a designer's deploy (process modeler, /api/v1/drafts/<id>/deploy,
    # POST /api/v1/pending-deployments) only takes effect after a second designer or an admin
    # approves it; the requester can never approve their own. Off by default; production sets
    # FOUR_EYES_DEPLOY=1. `flask processes deploy` (operators, `make run`) is not affected.
    FOUR_EYES_DEPLOY = _bool("FOUR_EYES_DEPLOY", False)

    # werkzeug's hash method for passwords (scrypt by default).
    PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    # Behind TLS (production): cookies only over HTTPS; PROXY_FIX=1 trusts one reverse proxy's
    # X-Forwarded-* headers (so HSTS is sent and redirects keep https).
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PROXY_FIX = _bool("PROXY_FIX", False)
    # 登录连接超时自动退出 (GB/T 22239-2019, 等保 2.0): a browser session ends after this many minutes
    # without a request, and this many hours after its login in any case (0: no limit). The next
    # request asks for a new login and says why; the security log records it. API tokens keep
    # their own expiry (TOKEN_TTL_HOURS).
    SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 30)
    SESSION_MAX_HOURS = _int("SESSION_MAX_HOURS", 12)
    # A .ttf/.ttc font with Chinese glyphs for PDF reports (default: the usual Debian CJK fonts).
    REPORT_FONT = os.environ.get("REPORT_FONT", "")
    # New passwords (flask users set-password): length, and three kinds of characters.
    PASSWORD_MIN_LENGTH = _int("PASSWORD_MIN_LENGTH", 10)
    # A password older than this many days must be replaced at the next page (0: never; 等保 2.0:
    # 身份鉴别信息…定期更换). A password an administrator set must be replaced at once.
    PASSWORD_MAX_AGE_DAYS = _int("PASSWORD_MAX_AGE_DAYS", 90)
    # Login throttling (counted in the database, so it holds across hosts).
    LOGIN_MAX_FAILURES = _int("LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCK_MINUTES = _int("LOGIN_LOCK_MINUTES", 15)
    # 好差评 (public): this many receipt numbers or phones in a row that match no case, for one receipt
    # number or from one client address, lock further tries for this many minutes.
    REVIEW_MAX_MISMATCHES = _int("REVIEW_MAX_MISMATCHES", 10)
    REVIEW_LOCK_MINUTES = _int("REVIEW_LOCK_MINUTES", 15)
    # How long failures under names without an account are kept when they lock nothing.
    LOGIN_THROTTLE_RETENTION_HOURS = _int("LOGIN_THROTTLE_RETENTION_HOURS", 24)
    # A timer worker (`flask worker`) that has not written its heartbeat for this many seconds
    # counts as down: /healthz/worker answers 503 and the supervisors' dashboard warns.
    WORKER_STALE_SECONDS = _int("WORKER_STALE_SECONDS", 120)
    # Heartbeat rows of workers silent this many days are deleted by the running workers.
    WORKER_HEARTBEAT_RETENTION_DAYS = _int("WORKER_HEARTBEAT_RETENTION_DAYS", 7)
    WTF_CSRF_CHECK_DEFAULT = False  # checked in app/auth for session-authenticated unsafe requests
    WTF_CSRF_TIME_LIMIT = None

    # The UI speaks Chinese by default; English is the second locale.
    LANGUAGES = ("zh_CN", "en")
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "app" / "translations")

    API_TITLE = "长治市政务服务审批平台 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = None  # served by our own route at /api/v1/openapi.json
    JSON_AS_ASCII = False


class TestConfig(Config):
    """Used by the test suite; DATABASE_URL comes from TEST_DATABASE_URL when set."""

    TESTING = True
    SECRET_KEY = "test-secret"
    # Hashing the demo users' passwords with scrypt before every test would cost seconds.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    # Tests that need four-eyes turn it on themselves; the developer's environment must not.
    FOUR_EYES_DEPLOY = False
    # Time-limit tests move the application clock by days (app/clock.py); tokens must outlive that.
    TOKEN_TTL_HOURS = 24 * 60
    # The same for browser sessions (the limits themselves are checked on every request all the same).
    SESSION_IDLE_MINUTES = 10 * 365 * 24 * 60
    SESSION_MAX_HOURS = 10 * 365 * 24
    PASSWORD_MAX_AGE_DAYS = 10 * 365
