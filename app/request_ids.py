"""Request ids: one id per request, to tie what a user saw to the log lines of that request.

nginx sends its ``$request_id`` as ``X-Request-ID`` (docs/deploy.md); a request without a usable
one gets a fresh id here. The id goes back in the ``X-Request-ID`` response header of every answer
(gunicorn's access log shows it from there), into every log record of the app's loggers, and into
the body of 5xx answers (app/errors.py), so that "the page said something went wrong" leads to
the log line of that very request, on whichever host served it.
"""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, has_request_context, request
from flask.logging import wsgi_errors_stream

HEADER = "X-Request-ID"
# An incoming id is kept only when it is short and plain: it is written into log lines and pages,
# so nothing that could forge a log line or markup (spaces, newlines, quotes, brackets) gets in.
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The look of gunicorn's error log lines, which share the stream, plus the request id and logger.
LOG_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] [req %(request_id)s] %(name)s: %(message)s"
LOG_DATE_FORMAT = "[%Y-%m-%d %H:%M:%S %z]"


def _incoming_or_new() -> str:
    """The request's ``X-Request-ID`` when it is valid, else a new random id."""
    incoming = request.headers.get(HEADER, "")
    return incoming if _VALID.fullmatch(incoming) else uuid.uuid4().hex


def current_request_id() -> str | None:
    """This request's id, or None outside a request.

    Assigned on first use as well as before the request, so an error raised by a check that ran
    before the assignment still answers with an id."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        g.request_id = _incoming_or_new()
    return g.request_id


class RequestIdFilter(logging.Filter):
    """Give every record a ``request_id`` (``"-"`` outside a request) for ``%(request_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


def _app_log_handler() -> logging.Handler:
    """Flask's own default handler, with the request id: to the WSGI server's error stream
    during a request (gunicorn's ``errorlog``), to stderr outside one (``flask run``, commands)."""
    handler = logging.StreamHandler(wsgi_errors_stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT))
    return handler


# One handler per process: create_app runs more than once in a process (tests, commands).
_HANDLER = _app_log_handler()


def _assign_request_id() -> None:
    g.request_id = _incoming_or_new()


def _echo_request_id(response):
    response.headers[HEADER] = current_request_id()
    return response


def init_request_ids(app: Flask) -> None:
    """Assign the id before every other check of a request, echo it on every response, and log it.

    The handler goes on the app's logger (``app``, Flask's ``app.logger``), the parent of every
    module logger (``app.errors`` …), whose records would otherwise reach no handler under
    gunicorn or ``flask run`` (only Python's last resort: the bare message on stderr). Its filter
    runs before the records propagate to the root logger, so handlers there (pytest's caplog, a
    deployment's own logging set-up) see ``record.request_id`` too."""
    app.before_request_funcs.setdefault(None, []).insert(0, _assign_request_id)
    app.after_request(_echo_request_id)
    logger = logging.getLogger(app.name)
    if _HANDLER not in logger.handlers:
        logger.addHandler(_HANDLER)
