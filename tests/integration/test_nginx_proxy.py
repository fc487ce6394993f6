"""The nginx configuration of docs/deploy.md, run for real in front of gunicorn with the production
settings the document names (``PROXY_FIX=1``, ``SESSION_COOKIE_SECURE=1``): the document's own
block is read, only addresses, ports and paths are swapped for this machine's, so a change to
the document that breaks the deployment breaks this test.

What it shows: nginx's request id reaches the app and comes back, and a client cannot forge it;
the app knows the request came over TLS (HSTS, secure cookies); a client cannot forge its address
with its own ``X-Forwarded-For`` (the security log records the real peer); plain HTTP is
redirected to HTTPS; static files come from nginx."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import SecurityEvent
from support import PASSWORD, ROOT

HOST = "zwfw.changzhi.example"  # the document's server_name
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
STATIC = ROOT / "app" / "static"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nginx() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
    if found is None:
        raise RuntimeError("nginx not found: install the Debian package 'nginx' (.ci/run does)")
    return found


def documented_config() -> str:
    """The ```nginx block of docs/deploy.md."""
    blocks = re.findall(r"```nginx\n(.*?)```", (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "docs/deploy.md should hold exactly one nginx block"
    return blocks[0]


def local_config(doc: str, *, upstream: int, https: int, plain: int, cert: Path, key: Path) -> str:
    """The document's block with this machine's addresses, ports and paths; nothing else changes."""
    def swap(pattern: str, replacement: str, text: str, count: int) -> str:
        text, made = re.subn(pattern, replacement, text)
        assert made == count, f"docs/deploy.md nginx block: expected {count} × {pattern!r}, found {made}"
        return text

    upstream_block = re.search(r"upstream approval \{.*?\}", doc, re.S)
    assert upstream_block, "docs/deploy.md nginx block: no 'upstream approval' block"
    servers = re.sub(r"(?m)^(\s*)server \S+;\n(?:\s*server \S+;\n)*", rf"\1server 127.0.0.1:{upstream};\n",
                     upstream_block.group(0), count=1)
    text = doc.replace(upstream_block.group(0), servers)
    text = swap(r"listen 443 ssl", f"listen 127.0.0.1:{https} ssl", text, 1)
    text = swap(r"listen 80;", f"listen 127.0.0.1:{plain};", text, 1)
    text = swap(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", text, 1)
    text = swap(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", text, 1)
    return swap(r"alias /opt/approval/app/static/;", f"alias {ROOT / 'app' / 'static'}/;", text, 1)


def _wait_for(port: int, proc: subprocess.Popen, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not start: {detail}")


@pytest.fixture(scope="module")
def site(app, database_url):
    """gunicorn with the production settings behind nginx with the documented configuration."""
    tmp = Path(tempfile.mkdtemp(prefix="nginx-test-"))
    os.chmod(tmp, 0o755)  # nginx's workers (nobody, when started by root) write temp files here
    cert, key = tmp / "zwfw.crt", tmp / "zwfw.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    upstream, https, plain = _free_port(), _free_port(), _free_port()
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="test-secret", PORT=str(upstream),
               WEB_CONCURRENCY="2", GUNICORN_ACCESS_LOG="/dev/null", PROXY_FIX="1", SESSION_COOKIE_SECURE="1",
               PASSWORD_HASH_METHOD="pbkdf2:sha256:1000")
    gunicorn_log = tmp / "gunicorn.log"
    with open(gunicorn_log, "wb") as log:
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
                                "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    server = local_config(documented_config(), upstream=upstream, https=https, plain=plain, cert=cert, key=key)
    conf = tmp / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\nhttp {{\n"
        + "    include /etc/nginx/mime.types;\n"
        + "".join(f"    {kind}_temp_path {tmp}/{kind};\n" for kind in TEMP_PATHS)
        + "    log_format ids '$request_id $status \"$request\"';\n"
        + f"    access_log {tmp}/access.log ids;\n"
        + server + "}\n", encoding="utf-8")
    proxy = subprocess.Popen([_nginx(), "-c", str(conf), "-p", str(tmp)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    try:
        _wait_for(upstream, web, "gunicorn", gunicorn_log)
        _wait_for(https, proxy, "nginx", tmp / "error.log")
        yield {"https": https, "plain": plain, "dir": tmp}
    finally:
        proxy.send_signal(signal.SIGQUIT)
        web.terminate()
        for proc in (proxy, web):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proxy.stderr.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _https(site, method, path, body=None, headers=None):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", site["https"], context=context, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def _access_log_ids(site) -> list[str]:
    log = site["dir"] / "access.log"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # nginx writes the line after the answer
        lines = log.read_text().splitlines() if log.exists() else []
        if lines:
            return [line.split()[0] for line in lines]
        time.sleep(0.05)
    return []


def test_the_documented_configuration_passes_nginx_own_check(tmp_path):
    cert = key = tmp_path / "none.pem"
    server = local_config(documented_config(), upstream=8000, https=8443, plain=8080, cert=cert, key=key)
    server = re.sub(r"ssl_certificate(_key)? \S+;\n", "", server)  # -t reads the files; the fixture makes real ones
    server = server.replace(" ssl http2;", ";")
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                    f"http {{\n{server}}}\n", encoding="utf-8")
    checked = subprocess.run([_nginx(), "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_nginx_request_id_reaches_the_app_and_a_client_cannot_forge_it(site):
    status, headers, _ = _https(site, "GET", "/healthz", headers={"X-Request-ID": "forged-by-client"})
    assert status == 200
    request_id = headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert request_id in _access_log_ids(site)  # the id nginx logged is the one the app answered with


def test_the_app_knows_it_is_behind_tls(site):
    status, headers, _ = _https(site, "GET", "/login")
    assert status == 200
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    cookies = headers.get_all("Set-Cookie") or []
    assert cookies, "the login page sets the session cookie (its CSRF token)"
    for cookie in cookies:
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite=lax"} <= flags, cookie


def test_plain_http_answers_a_redirect_to_https(site):
    conn = http.client.HTTPConnection("127.0.0.1", site["plain"], timeout=30)
    try:
        conn.request("GET", "/inbox?view=mine", headers={"Host": HOST})
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status == 301
    assert response.headers["Location"] == f"https://{HOST}/inbox?view=mine"


def test_a_client_cannot_forge_its_address_through_the_proxy(app, db_clean, site):
    body = f'{{"username": "window1", "password": "not-{PASSWORD}"}}'
    status, headers, _ = _https(site, "POST", "/api/v1/auth/token", body=body,
                                headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.9",
                                         "User-Agent": "nginx-test"})
    assert status == 401
    with app.app_context():
        event = db.session.scalars(select(SecurityEvent).where(SecurityEvent.user_agent == "nginx-test")).one()
        assert (event.event_type, event.channel) == ("login_failed", "api")
        assert event.remote_addr == "127.0.0.1"  # nginx's peer, not the address the client claimed
        assert event.request_id == headers["X-Request-ID"]
        db.session.remove()


def test_static_files_come_from_nginx(site):
    name = next(p.relative_to(STATIC).as_posix() for p in sorted((STATIC / "css").glob("*.css")))
    status, headers, body = _https(site, "GET", f"/static/{name}")
    assert status == 200
    assert body == (STATIC / name).read_bytes()
    assert "X-Request-ID" not in headers  # served by nginx, the app never saw it
    assert headers["Cache-Control"] == "max-age=604800"
