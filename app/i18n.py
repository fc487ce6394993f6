"""Locale and time zone selection for Flask-Babel.

The browser UI speaks Chinese unless the user switched (stored in the session). API
clients get English messages unless they ask for Chinese with Accept-Language.
"""

from __future__ import annotations

from flask import current_app, has_request_context, request, session


def select_locale() -> str:
    """Pick zh_CN or en for this request (the default outside requests: CLI, workers)."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if request.path.startswith("/api/"):
        best = request.accept_languages.best_match(["en", "zh_CN", "zh"])
        return "zh_CN" if best in ("zh_CN", "zh") else "en"
    chosen = session.get("lang")
    return chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def init_i18n(app) -> None:
    """Bind Flask-Babel with our selector."""
    from .extensions import babel

    babel.init_app(app, locale_selector=select_locale)
