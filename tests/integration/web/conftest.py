"""Logged-in browser sessions over the Flask test client, shared by the page tests."""

from __future__ import annotations

import re

import pytest

from support import PASSWORD

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Browser:
    """One user's test client with the CSRF token of their session.

    ``post`` adds the token as a form field (or, for htmx, as the header) and, when
    ``follow`` is set (``session_for``), follows the redirect to the page that shows the outcome.
    """

    def __init__(self, client, token: str, follow: bool = False):
        self.client = client
        self.token = token
        self.follow = follow

    def get(self, path: str):
        return self.client.get(path)

    def html(self, path: str) -> str:
        r = self.client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        return r.get_data(as_text=True)

    def post(self, path: str, data: dict | None = None, *, htmx: bool = False, csrf: bool = True,
             follow: bool | None = None):
        form, headers = dict(data or {}), {}
        if csrf and htmx:
            headers["X-CSRFToken"] = self.token
        elif csrf:
            form["csrf_token"] = self.token
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(path, data=form, headers=headers,
                                follow_redirects=self.follow if follow is None else follow)

    def meta_token(self, path: str = "/cases") -> str:
        """The CSRF token a page carries in its <meta> tag (for JSON calls with a session)."""
        return _CSRF_META.search(self.html(path)).group(1)


def csrf_token(html: str) -> str:
    """The CSRF token of a page's first form."""
    return _CSRF_FIELD.search(html).group(1)


def log_in(app, username: str, english: bool = True, follow: bool = False) -> Browser:
    """Log ``username`` in through the login form; English UI unless ``english`` is False."""
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    if english:
        client.get("/lang/en")
    # Logging in starts a fresh session, so the forms carry a new CSRF token from now on.
    token = _CSRF_META.search(client.get("/cases").get_data(as_text=True)).group(1)
    return Browser(client, token, follow)


@pytest.fixture()
def login(app, db_clean):
    """login('window1') -> a Browser (English UI; english=False keeps the default Chinese)."""

    def _login(username: str, english: bool = True) -> Browser:
        return log_in(app, username, english)

    return _login


@pytest.fixture()
def session_for(app, db_clean):
    """session_for('window1', lang='en') -> a Browser whose posts follow the redirect."""

    def _login(username: str, lang: str = "en") -> Browser:
        return log_in(app, username, english=lang == "en", follow=True)

    return _login
