"""A logged-in browser session over the Flask test client, for page tests."""

from __future__ import annotations

import re

import pytest

from support import PASSWORD


class Session:
    """One user's test client (UI in ``lang``) with the CSRF token of the session."""

    def __init__(self, client, token: str):
        self.client = client
        self.token = token

    def get(self, path: str):
        return self.client.get(path)

    def html(self, path: str) -> str:
        r = self.client.get(path)
        assert r.status_code == 200, r.status_code
        return r.get_data(as_text=True)

    def post(self, path: str, data: dict | None = None, follow: bool = True):
        return self.client.post(path, data={**(data or {}), "csrf_token": self.token}, follow_redirects=follow)


@pytest.fixture()
def session_for(app, db_clean):
    """session_for('window1', lang='en') -> a Session logged in through the login form."""

    def _login(username: str, lang: str = "en") -> Session:
        client = app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"',
                          client.get("/login").get_data(as_text=True)).group(1)
        r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 302
        client.get(f"/lang/{lang}")
        return Session(client, token)

    return _login
