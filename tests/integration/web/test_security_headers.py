"""Security headers (issue 9): CSP without inline scripts on every page, no framing or sniffing,
HSTS only over TLS; templates carry no inline script or event-handler attribute."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[3] / "app" / "templates"


def test_pages_and_api_answers_carry_the_headers(client, login):
    for response in (client.get("/login"), login("window1").get("/"), client.get("/api/v1/openapi.json")):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in response.headers


def test_pages_and_answers_are_not_cached_but_static_files_may_be(client, login, api):
    """A window terminal is shared: after a logout, the back button or the next clerk must not
    find case data in the browser's cache."""
    browser = login("window1")
    for response in (browser.get("/"), browser.get("/cases"), client.get("/login"),
                     api.get("/api/v1/tasks?view=available", "window1"), client.get("/api/v1/auth/me")):
        assert response.headers["Cache-Control"] == "no-store", response.request.path
    static = client.get("/static/css/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
    static.close()


def test_hsts_over_tls(client):
    response = client.get("/login", base_url="https://approval.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_template_has_an_inline_script_or_handler():
    for path in TEMPLATES.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", html), path.name
        assert "javascript:" not in html, path.name


def test_every_page_names_an_icon_that_is_served(client):
    """The browser asks for no /favicon.ico (a 404 in every console) when the page names its icon."""
    html = client.get("/login").get_data(as_text=True)
    href = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html).group(1)
    r = client.get(href)
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    r.close()
