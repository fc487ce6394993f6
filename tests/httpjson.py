"""A minimal JSON-over-HTTP client (urllib) for tests against a real server process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    body: dict | list | None


def request(method: str, url: str, body=None, token: str | None = None, timeout: float = 30,
            headers: dict | None = None) -> Response:
    """Send one request; return status and parsed JSON body (HTTP errors are returned, not raised)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {**({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return Response(resp.status, json.loads(raw) if raw else None)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = {"raw": raw.decode(errors="replace")}
        return Response(exc.code, parsed)


def get(url: str, token: str | None = None) -> Response:
    return request("GET", url, token=token)


def post(url: str, body=None, token: str | None = None, headers: dict | None = None) -> Response:
    return request("POST", url, body, token=token, headers=headers)
