"""Domain errors and the one place that turns them into HTTP responses.

Services raise these; routes never build error responses themselves. Under ``/api``
every error is JSON ``{"code", "error", "message", "errors"}``; elsewhere a short HTML
page. The session is rolled back first, so a failed step stores nothing.

A 5xx answer also names the request id (``"request_id"`` in the JSON, a reference line on the
page), which the log lines of that request carry: a 5xx is ours to look up, a 4xx is the
client's to correct, and keeps the four keys (every answer has the id in its header anyway).
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys

from flask import jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .extensions import db
from .request_ids import current_request_id
from .transaction import end_read_only

log = logging.getLogger(__name__)


class AppError(Exception):
    """Base of errors a user can cause; ``error`` is a stable machine code."""

    status = 400
    error = "bad_request"

    def __init__(self, message: str, errors=None, error: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        if error:
            self.error = error


class BadRequest(AppError):
    status, error = 400, "bad_request"


class Unauthorized(AppError):
    status, error = 401, "unauthorized"


class TooManyAttempts(AppError):
    """Login refused while the account is locked after repeated failures."""

    status, error = 429, "account_locked"


class Forbidden(AppError):
    status, error = 403, "forbidden"


class NotFound(AppError):
    status, error = 404, "not_found"


class Conflict(AppError):
    status, error = 409, "conflict"


class InvalidInput(AppError):
    """Invalid data; ``errors`` maps dotted field paths to lists of messages."""

    status, error = 422, "invalid_input"


class InvalidDiagram(AppError):
    """A deployment was refused; ``errors`` is a list of {file, line, element, message}."""

    status, error = 422, "invalid_diagram"


class RetryableConflict(Exception):
    """A concurrent update touched the same case; the unit of work should be retried."""


_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "invalid_input", 429: "too_many_requests", 500: "internal_error", 503: "unavailable",
}

# What people see on HTML error pages, in the UI's language; service messages stay for the API.
_PAGE_TITLES = {
    400: _l("Bad request"), 401: _l("Please log in"), 403: _l("Not allowed"), 404: _l("Not found"),
    409: _l("Conflict"), 413: _l("Upload too large"), 422: _l("Invalid input"), 500: _l("Something went wrong"),
    503: _l("Service unavailable"),
}
_PAGE_MESSAGES = {
    "claimed_by_other": _l("Someone else has already claimed this task."),
    "task_not_open": _l("This task has already been completed or is no longer waiting."),
    "not_claimed_by_you": _l("Claim the task before completing it."),
    "task_not_claimed": _l("This task is not claimed."),
    "csrf_failed": _l("Your form expired. Reload the page and try again."),
    "forbidden": _l("You are not allowed to do this, or this task is not for your groups."),
    "not_found": _l("The page or record does not exist, or you may not see it."),
    "payload_too_large": _l("The upload is larger than the allowed limit."),
    "internal_error": _l("An unexpected error occurred. It has been logged; please try again."),
    "unavailable": _l("The database is not available right now. Please try again shortly."),
}


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow/webargs nested messages into ``{"a.b": [..]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                flat.update(flatten_messages(value, path))
            else:
                flat.setdefault(path, []).extend(value if isinstance(value, list) else [str(value)])
    elif isinstance(messages, list):
        flat.setdefault(prefix or "_schema", []).extend(str(m) for m in messages)
    return flat


def _wants_json() -> bool:
    return request.path == "/api" or request.path.startswith(("/api/", "/healthz/")) or request.path == "/healthz"


def _respond(status: int, error: str, message: str, errors=None):
    reference = current_request_id() if status >= 500 else None
    if _wants_json():
        body = {"code": status, "error": error, "message": message, "errors": errors}
        if reference:
            body["request_id"] = reference
        return jsonify(body), status
    title = _PAGE_TITLES.get(status, _l("Error"))
    text = _PAGE_MESSAGES.get(error) or _PAGE_MESSAGES.get(_HTTP_CODES.get(status, ""), message)
    try:
        return render_template("errors/error.html", code=status, title=title, message=text,
                               reference=reference), status
    except Exception:  # the error page itself must never fail (e.g. the database is down)
        log.exception("error page failed")
        # (the id has only letters, digits and ".:_-", so it needs no escaping)
        line = f"<p>Reference: {reference}</p>" if reference else ""
        return f"<!doctype html><title>{status}</title><h1>{status}</h1>{line}", status


def _discard_session(exc: BaseException | None = None, *, read_only_commit: bool = False) -> None:
    """Roll back and remove the request's session; a connection the database dropped is
    invalidated by SQLAlchemy, and the pool opens a fresh one for the next request.

    ``read_only_commit``: a request that ended without error commits a transaction that only
    read (``transaction.end_read_only``) instead of rolling it back."""
    if read_only_commit and exc is None:
        try:
            end_read_only()
        except SQLAlchemyError as error:  # then the rollback below ends it (or finds the connection gone)
            log.warning("could not commit a read-only transaction: %s", error)
    try:
        db.session.remove()
    except DBAPIError as exc:
        log.warning("database connection lost while closing the session: %s", exc.orig)
        db.session.registry.clear()


def _has_nul(value) -> bool:
    return isinstance(value, str) and "\x00" in value


def _has_lone_surrogate(value) -> bool:
    # A JSON escape like "\ud800" without its pair decodes to a surrogate code point, which no UTF-8
    # encoder takes: neither database stores it, and an answer naming it could not be written.
    return isinstance(value, str) and _SURROGATE.search(value) is not None


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # how one comes in a JSON body


def _json_paths(value, bad, path: str = "") -> list[str]:
    """Where a decoded JSON value holds a scalar or a key for which ``bad`` is true."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            found += [here] if bad(key) else _json_paths(item, bad, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _json_paths(item, bad, f"{path}.{index}" if path else str(index))
    elif bad(value):
        found.append(path or "_schema")
    return found


def _printable(path: str) -> str:
    """A field path the error answer can carry: a lone surrogate in it written as its escape (\\ud800)."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


# How deep a JSON body may nest. Python's decoder recurses per level and fails (a 500) about a
# thousand levels deep, depending on how deep the stack already is; no request of ours nests near 200.
JSON_MAX_DEPTH = 200
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def _json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub(b"", data)):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def reject_too_deep_json() -> None:
    """400 malformed_json for a JSON body nested deeper than JSON_MAX_DEPTH, before anything decodes it."""
    if not request.is_json:
        return
    data = request.get_data(cache=True)
    if data.count(b"[") + data.count(b"{") > JSON_MAX_DEPTH and _json_depth(data) > JSON_MAX_DEPTH:
        raise BadRequest("The request body is not valid JSON.", error="malformed_json")


class _TooLong:
    """Stands in, while the body is searched, for an integer too long for Python to read."""


class _NotFinite:
    """Stands in, while the body is searched, for NaN, Infinity or a float beyond 1.8e308."""


def _read_int(text: str):
    digits = len(text) - text.startswith("-")
    limit = sys.get_int_max_str_digits()  # 0: no limit
    return _TooLong if 0 < limit < digits else int(text)


def _read_float(text: str):
    value = float(text)
    return value if math.isfinite(value) else _NotFinite


# What a body needs to hold one: a NaN or Infinity literal, a three-digit exponent, or 309+ digits in a row.
# The run of digits is only tried where one starts (the lookbehind): tried at every digit, a body of
# 308-digit runs costs quadratic time (1.4 s of CPU for 1 MB, measured), on routes anyone may call.
_MAYBE_UNREADABLE = re.compile(r"NaN|Infinity|[eE][+-]?\d{3}|(?<!\d)\d{309}")


def reject_unreadable_numbers() -> None:
    """422 naming the fields for a JSON number nothing can use: an integer longer than Python
    converts (4,300 digits by default: the decoder would raise, a 500 wherever it reads the body,
    even on the public login), and NaN, Infinity or a float beyond 1.8e308, which Python's decoder
    accepts but which are not JSON (PostgreSQL's jsonb stores none; an answer with one is no JSON)."""
    if not request.is_json:
        return
    data = request.get_data(cache=True)
    try:
        text = data.decode(json.detect_encoding(data))
    except (UnicodeDecodeError, LookupError):
        return  # not text: whoever decodes it answers 400 malformed_json
    if not _MAYBE_UNREADABLE.search(text):
        return
    try:
        body = json.loads(text, parse_int=_read_int, parse_float=_read_float,
                          parse_constant=lambda _name: _NotFinite)
    except ValueError:
        return  # malformed: 400 where it is read
    errors = {}
    for marker, message in ((_TooLong, _l("This number has too many digits.")),
                            (_NotFinite, _l("Not a finite number."))):
        errors.update({_printable(path): [str(message)]
                       for path in _json_paths(body, lambda value, marker=marker: value is marker)})
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors)


def reject_unstorable_text() -> None:
    """No text may hold a NUL character: PostgreSQL stores none (a string or JSON value with one is
    an error there), and no form or diagram field, path or file name means one. Nor may JSON text
    hold an unpaired UTF-16 surrogate escape, which no database stores. 422 naming the fields, on
    any database."""
    def nul(text) -> bool:
        return isinstance(text, str) and "\x00" in text

    fields = [str(key) for key, value in (request.view_args or {}).items() if nul(value)]  # the path
    fields += [str(key) for key, value in request.args.items(multi=True) if nul(key) or nul(value)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # (a malformed multipart part may even come without a name: werkzeug gives None)
        fields += [str(key) for key, value in request.form.items(multi=True) if nul(key) or nul(value)]
        fields += [str(key) for key, upload in request.files.items(multi=True) if nul(key) or nul(upload.filename)]
    # In JSON a NUL or a surrogate can only come escaped (a raw control character is malformed JSON,
    # a raw surrogate malformed UTF-8), so a body with neither escape nor a zero byte (as every
    # UTF-16 or UTF-32 body has) holds none.
    data = request.get_data(cache=True) if request.is_json else b""
    surrogates = []
    if b"\\u0000" in data or b"\x00" in data or _SURROGATE_ESCAPE.search(data):
        body = request.get_json(silent=True)
        if body is not None:
            fields += _json_paths(body, _has_nul)
            surrogates = [_printable(path) for path in _json_paths(body, _has_lone_surrogate)]
    if fields or surrogates:
        message = str(_l("Text may not contain NUL characters."))
        errors = {_printable(field): [message] for field in fields}
        if surrogates:
            message = str(_l("Text may not contain unpaired UTF-16 surrogates (\\ud800-\\udfff)."))
            errors.update({field: [message] for field in surrogates})
        raise InvalidInput(message, errors)


def register_error_handlers(app) -> None:
    """Install the handlers that map errors to responses."""

    @app.errorhandler(AppError)
    def _app_error(exc: AppError):
        db.session.rollback()
        return _respond(exc.status, exc.error, exc.message, exc.errors)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        db.session.rollback()
        return _respond(400, "csrf_failed", f"CSRF token missing or invalid: {exc.description}")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        db.session.rollback()
        status = exc.code or 500
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages") if isinstance(data, dict) else None
        if status == 400 and messages:
            return _respond(400, "malformed_json", "The request body is not valid JSON.")
        if status == 422 and messages:
            # webargs nests by location: {"json": {...}} / {"query": {...}}
            flat = {}
            for location, msgs in messages.items():
                flat.update(flatten_messages(msgs) if location in ("json", "query", "form") else
                            flatten_messages(msgs, location))
            return _respond(422, "invalid_input", "The request data is invalid.", flat)
        if status == 413:
            return _respond(413, "payload_too_large", "The upload is larger than the allowed limit.")
        return _respond(status, _HTTP_CODES.get(status, "error"), exc.description or exc.name)

    @app.errorhandler(OperationalError)
    def _db_down(exc: OperationalError):
        _discard_session()
        log.warning("database error: %s", exc)
        return _respond(503, "unavailable", "The database is not available; try again shortly.")

    @app.teardown_appcontext
    def _close_session(exc):
        """Runs before Flask-SQLAlchemy's own teardown: closing a session whose connection died
        (a database restart) must not turn an answered request into a 500."""
        _discard_session(exc, read_only_commit=True)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error")
        return _respond(500, "internal_error", "An unexpected error occurred; it has been logged.")
