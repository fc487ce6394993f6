"""Security headers on every response (issue 9): a Content-Security-Policy without inline
scripts, no framing, no MIME sniffing, no caching of pages and answers, and HSTS when the request
came over TLS."""

from __future__ import annotations

from flask import Flask, request

# Scripts only from our own files (vendor files come from npm into app/static/vendor); styles may
# be set inline because bpmn-js, ECharts and htmx style the elements they draw.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
HSTS = "max-age=31536000; includeSubDomains"


def init_security(app: Flask) -> None:
    if app.config.get("PROXY_FIX"):  # behind nginx: trust X-Forwarded-For/-Proto from one proxy
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)  # downloads set a stricter one themselves
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        # Pages and answers hold case data and personal data, and a window terminal is shared:
        # no copy in the browser's cache (the back button after a logout, the next clerk) or in a
        # proxy. Static files and downloads set their own.
        if request.endpoint != "static":
            headers.setdefault("Cache-Control", "no-store")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
