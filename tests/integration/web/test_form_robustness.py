"""Hostile input against every browser route: never a server error, never a stack trace.

The routes come from ``app.url_map`` (every rule outside ``/api/`` and ``static``), so a new page or
form post is covered without touching this file. Who calls each route, and with which objects,
comes from the authorization matrix (tests/integration/test_authorization_matrix.py): its probe
for the rule names the policy (the first permitted user is the caller), the ``World`` objects
that fill the URL (``at``) and whether a call needs a fresh object (``fresh``).

What is sent:

- form posts: no fields at all; every field of every form set to each hostile value at once; then,
  for each form the caller's pages show for that endpoint (``<input>``, ``<select>``, ``<textarea>``
  and named submit buttons, read from the GET pages) and for each action the view's source tests but
  no page shows (``action == "..."``, with the fields its branch reads): one field at a time set to
  each type-sensitive hostile value, every field but the action set to each hostile value, every
  field repeated, hostile upload names, and last the form as the page fills it (empty fields get a
  valid sample value, so that one hostile field is judged on its own).
- URL arguments: the real objects, then ids that name nothing (0, 999999999, 2**63) and hostile keys.
- GET pages: each query argument the page's GET forms or its view's source name (plus the matrix's
  query), one at a time and all at once, set to each hostile value.

Every answer must be below 500 and hold no ``Traceback``. All failures are gathered and reported
together (grouped by cause, then each one with the exception the app logged). One world is built for
the module; an endpoint that uses up its object (a case it pauses, a task it hands over, an extension
it decides) gets a fresh one per form and again after each call that succeeded.
"""

from __future__ import annotations

import inspect
import io
import logging
import re
import sys
import textwrap
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.integration import test_authorization_matrix as matrix

HUGE = 2**63
NO_SUCH_ID = 999_999_999
# (label, value): what a hostile or careless browser may send in any field.
HOSTILE = (
    ("empty", ""),
    ("blank", "   "),
    ("100k", "x" * 100_000),
    ("text", "abc"),
    ("minus-one", "-1"),
    ("int32+1", str(2**31)),  # beyond PostgreSQL's integer columns
    ("huge-int", str(HUGE)),  # beyond any 64-bit integer
    ("1e309", "1e309"),
    ("nan", "NaN"),
    ("bad-date", "2026-13-45"),
    ("path", "../../etc/passwd"),
    ("script", "<script>alert(1)</script>"),
    ("nul", "a\x00b"),
    ("unicode", "𠮷😀"),
)
# One field at a time: the values whose meaning depends on the field's type (numbers, dates, lengths).
TYPED = {"empty", "100k", "text", "minus-one", "huge-int", "1e309", "nan", "bad-date"}
# One field at a time on long forms (the intake forms, all checked by one schema validator).
TYPED_LONG_FORM, LONG_FORM = {"empty", "100k", "text", "huge-int", "bad-date"}, 12
# One query argument at a time: the typed values and the injections.
QUERY_ONE = TYPED | {"path", "script", "nul"}
HOSTILE_KEYS = ("no_such_key", "<script>", "𠮷😀", "..", "a\x00b", "x" * 300)
HOSTILE_FILENAMES = ("../../etc/passwd", "a\x00b.pdf", "𠮷😀.pdf", "<script>.pdf", "x" * 300 + ".pdf", ".")
# Pages a form lives on that no matrix probe opens (the intake forms of a bundle).
EXTRA_PAGES = ("/cases/new?process_key=newborn", "/assist/new?process_key=newborn")
# Query arguments tried on pages whose view reads none by name.
GENERIC_ARGS = ("page", "next", "q", "sort")
# URL arguments that differ from the matrix probe's: authz_message has two deployed versions, so
# its migration page has a form to move cases (newborn has one version, so only a 400).
AT = {"web_migration.page": {"key": "authz_message"}, "web_migration.run": {"key": "authz_message"}}

# Valid values for text fields the pages leave empty, so one hostile field is judged on its own.
SAMPLE = {
    **{f"data.{k}": ("true" if v is True else str(v)) for k, v in matrix.APPLICATION.items()},
    **{f"applicant.{k}": v for k, v in matrix.APPLICANT.items()},
    **{f"data.{k}": v for k, v in matrix.FORMAL_CHECK.items()},
    "reason": "需现场核查", "working_days": "2", "body": "请核对", "note": "备注", "material": "出生医学证明",
    "problem": "缺原件", "opinion": "材料有误", "message": "请尽快办理", "name": "过滤器", "receipt_no": "NX",
    "phone": "13800000000", "level": "5", "comment": "很好", "category": "道路破损",
    "address": "长治市潞州区英雄中路88号", "content": "小区门口道路塌陷", "caller_name": "李女士",
    "caller_phone": "13912345678", "remark": "请补充", "schema": '{"type": "object"}', "username": "window2",
    "password": matrix.PASSWORD, "legal_basis": "《行政许可法》第三十二条", "position": "after", "priority": "1",
    "follow_up_on": "2026-12-01", "data.birth_cert_opinion": "同意", "data.birth_cert_number": "A140000001",
    "data.birth_cert_issue_date": "2026-11-02",
}


def _newborn_case(world) -> dict:
    """World.newborn_case without its inbox look-up (this test's cases soon fill window1's first page)."""
    case = world.call("POST", "/api/v1/cases", "window1",
                      json={"process_key": "newborn", "applicant": matrix.APPLICANT, "data": matrix.APPLICATION})
    check = next(t["id"] for t in case["tasks"] if t["bpmn_id"] == "formal_check")
    world.claim("window1", check)
    after = world.call("POST", f"/api/v1/tasks/{check}/complete", "window1", json={"data": matrix.FORMAL_CHECK})
    return {"case": case["id"], "formal_check": check, **{t["bpmn_id"]: t["id"] for t in after["tasks"]}}


def _task_held_by_health1(world) -> dict:
    task = world.newborn_case()["birth_cert"]
    world.claim("health1", task)
    return {"t_h1": task}


def _submitted_application(world) -> dict:
    return {"app_submitted": world.assisted_application()}


OWN_TASK = {"task_id": "@t_h1"}
# Endpoints whose moves use up their object although the matrix probe (a refused or 409 call) did
# not need a fresh one: (URL arguments, how to make a fresh object).
FRESH = {
    "web_tasks.task": (OWN_TASK, _task_held_by_health1),
    "web_moves.task_action": (OWN_TASK, _task_held_by_health1),
    "web_moves.task_attachments": (OWN_TASK, _task_held_by_health1),
    "web_assist.decide": ({"draft_id": "@app_submitted"}, _submitted_application),
}
PERMITTED = (matrix.OK, matrix.FLASH_OK)


# -- reading pages ----------------------------------------------------------------------------------


@dataclass
class Form:
    method: str
    action: str
    multipart: bool
    fields: dict = field(default_factory=dict)  # name -> the values the page fills in
    choices: dict = field(default_factory=dict)  # checkbox/radio name -> every value offered
    radios: set = field(default_factory=set)
    hidden: set = field(default_factory=set)
    files: set = field(default_factory=set)
    buttons: list = field(default_factory=list)  # (name, value) of named submit buttons


class _FormParser(HTMLParser):
    """The forms of a page: named controls with the values a browser would send untouched."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.by_id: dict[str, Form] = {}
        self.current: Form | None = None
        self.orphans: list[tuple[str, dict]] = []  # controls after their form, naming it with form=
        self.select: tuple[Form, str, list] | None = None
        self.textarea: tuple[Form, str, list] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.current = Form((a.get("method") or "get").lower(), a.get("action") or "",
                                "multipart" in (a.get("enctype") or ""))
            self.forms.append(self.current)
            if a.get("id"):
                self.by_id[a["id"]] = self.current
        elif tag in ("input", "button", "select", "textarea") and a.get("name"):
            owner = self.by_id.get(a["form"]) if a.get("form") else self.current
            if owner is None:
                self.orphans.append((tag, a))
            else:
                self._control(owner, tag, a)
        elif tag == "option" and self.select is not None:
            self.select[2].append((a.get("value", ""), "selected" in a))

    def _control(self, form: Form, tag: str, a: dict) -> None:
        name, kind = a["name"], (a.get("type") or ("submit" if tag == "button" else "text")).lower()
        if name == "csrf_token":
            return
        if tag == "select":
            self.select = (form, name, [])
        elif tag == "textarea":
            self.textarea = (form, name, [])
        elif kind in ("submit", "image"):
            form.buttons.append((name, a.get("value", "")))
        elif kind == "file":
            form.files.add(name)
        elif kind in ("checkbox", "radio"):
            values = form.fields.setdefault(name, [])
            form.choices.setdefault(name, []).append(a.get("value") or "on")
            if kind == "radio":
                form.radios.add(name)
            if "checked" in a and (kind == "checkbox" or not values):
                values.append(a.get("value") or "on")
        else:
            if kind == "hidden":
                form.hidden.add(name)
            form.fields.setdefault(name, []).append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select" and self.select is not None:
            form, name, options = self.select
            chosen = [v for v, selected in options if selected] or [next((v for v, _s in options if v), "")]
            form.fields.setdefault(name, []).extend(chosen)
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            form, name, text = self.textarea
            form.fields.setdefault(name, []).append("".join(text))
            self.textarea = None

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[2].append(data)

    def close(self):
        super().close()
        for tag, a in self.orphans:
            if a.get("form") in self.by_id:
                self._control(self.by_id[a["form"]], tag, a)


def page_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


# -- reading view sources ---------------------------------------------------------------------------

_READ = re.compile(r"\b(args|form|source)\s*(?:\.(?:get|getlist)\(\s*|\[\s*)[\"']([^\"'{}]+)[\"']")
_CALL = re.compile(r"\b([A-Za-z_]\w*)\(")
_ASSIGN = re.compile(r"\b(\w+)\s*=\s*(?:request\.)?form\.get\(\s*\"(\w+)\"")
_GET_EQ = re.compile(r"form\.get\(\s*\"(\w+)\"\s*\)\s*==\s*\"([\w-]+)\"")


def _own_source(func) -> str:
    try:
        return inspect.getsource(inspect.unwrap(func))
    except (OSError, TypeError):
        return ""


def view_source(view, depth: int = 2) -> str:
    """The view's source and that of the same-module functions it calls (``depth`` levels)."""
    func = inspect.unwrap(view)
    module = sys.modules[func.__module__]
    seen, sources, todo = set(), [], [(func, 0)]
    while todo:
        fn, level = todo.pop(0)
        if fn in seen:
            continue
        seen.add(fn)
        text = _own_source(fn)
        sources.append(text)
        if level < depth:
            for name in _CALL.findall(text):
                target = getattr(module, name, None)
                if inspect.isfunction(target) and target.__module__ == module.__name__:
                    todo.append((target, level + 1))
    return "\n".join(sources)


def read_names(source: str, where: tuple[str, ...] = ("form", "source")) -> set[str]:
    """Request fields the source reads by name: form fields (``form``, or ``source`` that is either),
    or query arguments with ``where=("args", "source")``."""
    return {name for kind, name in _READ.findall(source) if kind in where}


def actions_in(view) -> dict[str, dict[str, set[str]]]:
    """The values the view tests a form field against (``action == "x"``, ``action in ("a", "b")``,
    ``action not in (...)``), each with the field names its branch reads."""
    own, everything = _own_source(view), view_source(view)
    found: dict[str, dict[str, set[str]]] = defaultdict(dict)
    for var, name in _ASSIGN.findall(own):
        tests = [(m.start(), [m.group(1)]) for m in re.finditer(rf"\b{var}\s*==\s*\"([\w-]+)\"", own)]
        tests += [(m.start(), re.findall(r"\"([\w-]+)\"", m.group(1)))
                  for m in re.finditer(rf"\b{var}\s+(?:not\s+)?in\s+\(([^)]*)\)", own)]
        tests.sort()
        for index, (start, values) in enumerate(tests):
            end = tests[index + 1][0] if index + 1 < len(tests) else len(own)
            branch = read_names(own[start:end]) - {name}
            for value in values:
                found[name].setdefault(value, set()).update(branch)
    for name, value in _GET_EQ.findall(everything):
        found[name].setdefault(value, set())
    return found


# -- bookkeeping ------------------------------------------------------------------------------------


class _Errors(logging.Handler):
    """What the app logs while answering (app/errors.py logs every unhandled exception)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def take(self) -> str:
        parts = [_excerpt(r.exc_info) if r.exc_info else r.getMessage()[:400] for r in self.records]
        self.records.clear()
        return "\n".join(parts)


def _excerpt(exc_info) -> str:
    """The exception and the frames of the app (and the last library frame) that led to it."""
    _type, exc, tb = exc_info
    frames = traceback.extract_tb(tb)
    mine = [f for f in frames if "/app/" in f.filename and "site-packages" not in f.filename]
    shown = mine[-6:] + [f for f in frames[-1:] if f not in mine]
    lines = [f"{f.filename.split('/work/main/')[-1]}:{f.lineno} in {f.name}: {f.line}" for f in shown]
    return "Traceback (app frames):\n" + "\n".join(lines) + "\n" + "".join(
        traceback.format_exception_only(type(exc), exc)).strip()


def _cause(detail: str) -> str:
    """The deepest app frame and the exception of a failure (or the page title when nothing was logged)."""
    lines = detail.strip().splitlines()
    frames = [line for line in lines if line.startswith("app/")]
    if frames:
        return f"{frames[-1].split(': ')[0]}: {lines[-1][:160]}"
    if lines and not lines[0].startswith("<"):  # a logged message (e.g. a database error)
        return lines[0][:160]
    title = re.search(r"<title>([^<]*)</title>", detail)
    return (title.group(1) if title else "?")[:160]


def _short(value) -> str:
    if isinstance(value, FileStorage):
        return f"file({_short(value.filename)})"
    text = str(value)
    return repr(text[:20]) + f"…({len(text)} chars)" if len(text) > 60 else repr(text)


def describe(data) -> str:
    if not data:
        return "{}"
    items = data.items(multi=True) if isinstance(data, MultiDict) else data.items()
    return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in items) + "}"


@dataclass
class Target:
    """One route and method as one user with its URL arguments (World object names or values)."""

    endpoint: str
    rule: str
    method: str
    user: str
    at: dict
    query: dict
    body: dict
    fresh: object = None  # callable(world) -> {object name: id}
    own_login: bool = False
    upload: bool = False


class Run:
    """Sends the requests and keeps what came back."""

    def __init__(self, world, errors: _Errors):
        self.world = world
        self.errors = errors
        self.adapter = world.app.url_map.bind("localhost")
        self.sent = 0
        self.statuses: Counter = Counter()
        self.by_endpoint: dict[str, Counter] = defaultdict(Counter)
        self.failures: list[str] = []
        self.causes: dict[str, list[str]] = defaultdict(list)
        self.flashes: dict[str, list] = defaultdict(list)
        self.variants: dict[str, list[str]] = {}
        self.seconds: Counter = Counter()
        self.query_names: dict[str, set[str]] = {}

    def path(self, target: Target, ids: dict, override: dict | None = None) -> str:
        def value(match) -> str:
            name = match.group(1)
            raw = (override or {}).get(name, target.at.get(name, 1))
            return quote(str(matrix._fill(raw, ids, target.user)), safe="")

        return matrix._RULE_PARAM.sub(value, target.rule)

    def send(self, target: Target, path: str, mode: str, *, query=None, data=None, multipart=False,
             htmx=False) -> tuple[int | None, list]:
        world = self.world
        browser = world.new_browser(target.user) if target.own_login else world.browser(target.user)
        headers: dict[str, str] = {}
        kw = {"query_string": query, "headers": headers}
        if target.method != "GET":
            form = MultiDict(data or {})
            if htmx:
                headers.update({"HX-Request": "true", "X-CSRFToken": browser.csrf})
            else:
                form.add("csrf_token", browser.csrf)
            kw["data"] = form
            if multipart:
                # Encoded here: the test client spools a large multipart body to a temporary file
                # it never closes (a ResourceWarning, an error under this suite's warning filter).
                boundary, body = encode_multipart(form)
                kw.update(data=body, content_type=f"multipart/form-data; boundary={boundary}")
        self.errors.records.clear()
        self.sent += 1
        label = f"{target.method} {path}{_query_text(query)} as {target.user} [{mode}]"
        try:
            r = browser.client.open(path, method=target.method, **kw)
        except Exception:  # an error that escaped every handler
            self._fail(label, data, "raised", traceback.format_exc()[-3000:])
            return None, []
        status = r.status_code
        self.statuses[status] += 1
        self.by_endpoint[target.endpoint][status] += 1
        text = (r.mimetype or "").startswith(("text/", "application/json", "application/xml"))
        body = r.get_data(as_text=True) if text else ""
        with browser.client.session_transaction() as session:
            flashes = session.pop("_flashes", [])
        if flashes and len(self.flashes[target.endpoint]) < 3:
            self.flashes[target.endpoint].append((label, status, flashes[0]))
        if status >= 500 or "Traceback" in body:
            self._fail(label, data, status, self.errors.take() or body[:500])
        return status, flashes

    def _fail(self, label: str, data, status, detail: str) -> None:
        self.failures.append(f"{label} -> {status}\n    payload: {describe(data)}\n"
                             + textwrap.indent(detail.strip(), "    | "))
        self.causes[_cause(detail)].append(f"{label} -> {status}")

    def cause_summary(self) -> str:
        return "\n".join(f"  {len(labels)}× {cause}\n      e.g. {labels[0][:240]}"
                         for cause, labels in sorted(self.causes.items(), key=lambda item: -len(item[1])))


def _query_text(query) -> str:
    if not query:
        return ""
    items = query.items(multi=True) if isinstance(query, MultiDict) else query.items()
    return "?" + "&".join(f"{k}={_short(v)}" for k, v in items)


# -- the route table --------------------------------------------------------------------------------


def page_rules(app) -> list[tuple[str, str, str]]:
    """(endpoint, rule, method) of every browser route and method."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, rule.rule, method))
    return sorted(found)


def target_for(endpoint: str, rule: str, method: str) -> Target:
    """Who calls the route with which objects, from the authorization matrix (admin when it has no probe)."""
    probe = next((p for p in matrix._probes(matrix.ACCESS.get(endpoint, ()))
                  if p.rule == rule and p.method == method), None)
    if probe is None:
        return Target(endpoint, rule, method, "admin", dict(AT.get(endpoint, {})), {}, {})
    permitted = [u for u in (*matrix.CORE, *probe.policy.extra) if probe.policy.expect(u) in PERMITTED]
    at = {**probe.at, **AT.get(endpoint, {})}
    fresh = getattr(matrix.World, f"fresh_{probe.fresh}") if probe.fresh else None
    if method != "GET" and endpoint in FRESH:
        override, fresh = FRESH[endpoint]
        at.update(override)
    return Target(endpoint, rule, method, (permitted or ["admin"])[0], at, dict(probe.query or {}),
                  dict(probe.body or {}), fresh, probe.own_login, probe.upload)


def _rule_args(rule: str) -> set[str]:
    return set(matrix._RULE_PARAM.findall(rule))


# -- the world and the crawl ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(app, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(app.config, "ATTACHMENT_DIR", str(tmp_path_factory.mktemp("form_robustness_attachments")))
        built = matrix.World(app)
        built.build()
        built.newborn_case = lambda: _newborn_case(built)  # also for the World's fresh_* objects
        yield built


def crawl(run: Run, targets: list[Target]) -> tuple[dict, dict]:
    """The forms the callers' pages show: endpoint -> POST forms, endpoint -> GET query names.

    Every user who calls a route opens every page a GET probe opens (and EXTRA_PAGES); the caller
    of a form post also opens the pages whose URL arguments its own object fills (the task page of
    the task it works on)."""
    ids = run.world.ids
    gets = [t for t in targets if t.method == "GET"]
    pages = [run.path(t, ids) + ("?" + urlencode(t.query) if t.query else "") for t in gets] + list(EXTRA_PAGES)
    visits = {(user, page) for user in {t.user for t in targets} for page in pages}
    for post in (t for t in targets if t.method != "GET"):
        for get in gets:
            if _rule_args(get.rule) <= _rule_args(post.rule):
                derived = Target(get.endpoint, get.rule, "GET", post.user, {**get.at, **post.at}, {}, {})
                visits.add((post.user, run.path(derived, ids)))
    posts: dict[str, list[Form]] = defaultdict(list)
    query_names: dict[str, set[str]] = defaultdict(set)
    for user, page in sorted(visits):
        browser = run.world.browser(user)
        r = browser.client.get(page)
        if r.status_code != 200 or r.mimetype != "text/html":
            continue
        for form in page_forms(r.get_data(as_text=True)):
            action = urlsplit(form.action or page)
            try:
                endpoint, _args = run.adapter.match(action.path, method=form.method.upper())
            except Exception:  # a form posting outside the app's routes
                continue
            if form.method == "get":
                query_names[endpoint].update(form.fields)
                query_names[endpoint].update(k for k, _v in parse_qsl(action.query))
            else:
                posts[endpoint].append(form)
    for user in {u for u, _p in visits}:
        with run.world.browser(user).client.session_transaction() as session:
            session.pop("_flashes", None)
    return posts, query_names


# -- payloads ---------------------------------------------------------------------------------------


@dataclass
class Variant:
    """One way to fill a form: field -> values, the fields that pick the action, upload fields."""

    fields: dict
    fixed: dict
    files: set
    multipart: bool
    label: str


def _baseline(form: Form, name: str, values: list) -> list:
    """What a valid submission sends for a field the page leaves empty."""
    if any(v != "" for v in values):
        return list(values)
    if name in form.choices:  # a radio group: its first choice; checkboxes: all ticked
        return form.choices[name][:1] if name in form.radios else list(form.choices[name])
    return [SAMPLE[name]] if name in SAMPLE else list(values)


def variants_for(target: Target, forms: list[Form], view) -> list[Variant]:
    """The page's forms (one per named submit button) and the actions only the source names."""
    actions = actions_in(view)
    declared_as_input = {n for f in forms for n in f.fields if n not in f.hidden}
    actions = {n: v for n, v in actions.items() if n not in declared_as_input}  # a checkbox, not an action
    source_names = read_names(view_source(view))
    found: dict[tuple, Variant] = {}

    def add(fields: dict, fixed: dict, files: set, multipart: bool, label: str) -> None:
        fields = {k: list(v) for k, v in fields.items() if k not in fixed}
        for name, value in target.body.items():
            if name not in actions and isinstance(value, str | int) and not any(fields.get(name, [])):
                fields[name] = [str(matrix._fill(value, {}, target.user))]
        key = (tuple(sorted(fixed.items())), frozenset(fields))
        found.setdefault(key, Variant(fields, fixed, set(files), multipart, label))

    # Names the view reads outside any action's branch that no form shows: sent with every form.
    common = source_names - set(actions) - {n for branches in actions.values() for names in branches.values()
                                            for n in names}
    unshown = {n: [SAMPLE.get(n, "")] for n in sorted(common - {n for f in forms for n in f.fields})}
    for form in forms:
        for button in [(n, v) for n, v in form.buttons if n] or [None]:
            fixed = {n: v[0] for n, v in form.fields.items() if n in actions and v}
            if button:
                fixed[button[0]] = button[1]
            fields = {**unshown, **{n: _baseline(form, n, v) for n, v in form.fields.items()}}
            label = ",".join(f"{k}={v}" for k, v in sorted(fixed.items())) or "form"
            add(fields, fixed, form.files, form.multipart, label)
    covered = {(k, v) for variant in found.values() for k, v in variant.fixed.items()}
    for name, branches in sorted(actions.items()):
        for value, branch_names in sorted(branches.items()):
            if (name, value) not in covered:
                fields = {n: [SAMPLE.get(n, "")] for n in sorted((common | branch_names) - set(actions))}
                add(fields, {name: value}, {"file"} if target.upload else set(), target.upload,
                    f"{name}={value} (source)")
    if not found:
        fields = {n: [SAMPLE.get(n, "")] for n in sorted(source_names)}
        fields.update({k: [str(v)] for k, v in target.body.items() if isinstance(v, str | int)})
        add(fields, {}, {"file"} if target.upload else set(), target.upload, "source")
    # The same form on two pages (a new and a saved draft): keep the one with the most fields.
    kept = list(found.values())
    return [v for v in kept if not any(o is not v and o.fixed == v.fixed and set(v.fields) < set(o.fields)
                                       for o in kept)]


def _data(fields: dict, fixed: dict, override: dict | None = None) -> MultiDict:
    data = MultiDict()
    for name, values in fields.items():
        value = override[name] if override and name in override else values
        for v in value if isinstance(value, list) else [value]:
            data.add(name, v)
    for name, value in fixed.items():
        data.add(name, value)
    return data


def _with_files(data: MultiDict, files: set, filename: str = "scan.pdf", content: bytes = matrix.PDF):
    for name in sorted(files):
        data.add(name, FileStorage(io.BytesIO(content), filename=filename, content_type="application/pdf"))
    return data


# -- the requests -----------------------------------------------------------------------------------


def fuzz_post(run: Run, target: Target, forms: list[Form]) -> None:
    world = run.world
    view = world.app.view_functions[target.endpoint]
    htmx = "is_htmx" in inspect.getsource(sys.modules[inspect.unwrap(view).__module__])
    variants = variants_for(target, forms, view)
    run.variants[target.endpoint] = [f"{v.label} ({len(v.fields)} fields{', upload' if v.files else ''})"
                                     for v in variants]

    def objects() -> dict:
        return {**world.ids, **target.fresh(world)} if target.fresh else world.ids

    # Nothing at all, and every field of every form hostile at once.
    path = run.path(target, objects())
    run.send(target, path, "no fields")
    if htmx:
        run.send(target, path, "no fields, htmx", htmx=True)
    every = {name for v in variants for name in (*v.fields, *v.fixed)}
    if len(variants) > 1 or variants[0].fixed:  # else the same as the one form's "all fields" below
        for label, value in HOSTILE:
            run.send(target, path, f"every field={label}", data=dict.fromkeys(every, value))

    for variant in variants:
        state = {"ids": objects()}

        def post(mode, data, with_files=True, _variant=variant, _state=state, **kw):
            if with_files and _variant.multipart:  # the form's files as a browser sends them
                data = _with_files(data, _variant.files)
            status, flashes = run.send(target, run.path(target, _state["ids"]), f"{_variant.label}: {mode}",
                                       data=data, multipart=_variant.multipart, **kw)
            if target.fresh and any(category != "error" for category, _m in flashes):
                _state["ids"] = objects()  # it worked: the next call gets an object it has not used up

        fields, fixed = variant.fields, variant.fixed
        typed = TYPED_LONG_FORM if len(fields) > LONG_FORM else TYPED
        for name in fields:
            for label, value in HOSTILE:
                if label in typed:
                    post(f"{name}={label}", _data(fields, fixed, {name: value}))
        for label, value in HOSTILE:
            post(f"all fields={label}", _data(fields, fixed, dict.fromkeys(fields, value)))
        post("every field twice", _data(fields, fixed, {n: [*(v or ["1"]), "2"] for n, v in fields.items()}))
        for name in variant.files:
            others = variant.files - {name}
            for filename in HOSTILE_FILENAMES:
                post(f"upload {name} named {_short(filename)}",
                     _with_files(_with_files(_data(fields, fixed), others), {name}, filename), with_files=False)
            post(f"upload {name} empty", _with_files(_with_files(_data(fields, fixed), others), {name},
                                                     "empty.pdf", b""), with_files=False)
        if htmx:
            post("as the page fills it, htmx", _data(fields, fixed), htmx=True)
        post("as the page fills it", _data(fields, fixed))

    # URL arguments that name nothing (or are not what the route expects).
    first = variants[0]
    for name, values in bogus_arguments(target).items():
        for value in values:
            path = run.path(target, world.ids, {name: value})
            run.send(target, path, f"{name}={_short(value)}: no fields")
            data = _data(first.fields, first.fixed)
            run.send(target, path, f"{name}={_short(value)}: {first.label}",
                     data=_with_files(data, first.files) if first.multipart else data, multipart=first.multipart)


def bogus_arguments(target: Target) -> dict[str, list]:
    """URL arguments to try instead of the real ones: ids that name nothing, hostile keys."""
    result = {}
    for converter, name in re.findall(r"<(?:([^:<>]+):)?([^<>]+)>", target.rule):
        result[name] = [0, NO_SUCH_ID, HUGE] if converter == "int" else list(HOSTILE_KEYS)
    return result


def fuzz_get(run: Run, target: Target, names: set[str]) -> None:
    world = run.world
    view = world.app.view_functions[target.endpoint]
    names = (set(names) | read_names(view_source(view), ("args", "source")) | set(target.query)) - {"csrf_token"}
    path = run.path(target, world.ids)
    base = dict(target.query)
    run.send(target, path, "as the matrix calls it", query=base or None)
    for label, value in HOSTILE:
        run.send(target, path, f"all args={label}", query={**base, **dict.fromkeys(names or GENERIC_ARGS, value)})
    for name in sorted(names):
        for label, value in HOSTILE:
            if label in QUERY_ONE:
                run.send(target, path, f"{name}={label}", query={**base, name: value})
                if base and name not in base:  # the matrix's own arguments may filter everything out
                    run.send(target, path, f"{name}={label} alone", query={name: value})
        run.send(target, path, f"{name} twice", query=MultiDict([*base.items(), (name, "1"), (name, "abc")]))
    for name, values in bogus_arguments(target).items():
        for value in values:
            run.send(target, run.path(target, world.ids, {name: value}), f"{name}={_short(value)}",
                     query=base or None)


# -- the test ---------------------------------------------------------------------------------------


def test_hostile_input_never_gives_a_server_error(app, world):
    """Every browser route, fed hostile form fields, query arguments and URL arguments, answers below 500
    and never shows a stack trace."""
    started = time.monotonic()
    errors = _Errors()
    app_log = logging.getLogger("app")
    mp = pytest.MonkeyPatch()
    # Catch what the app logs (every unhandled exception), and keep it off the console: the failure
    # report shows it.
    mp.setattr(app_log, "propagate", False)
    app_log.addHandler(errors)
    try:
        run = Run(world, errors)
        rules = page_rules(app)
        targets = [target_for(*r) for r in rules]
        began = time.monotonic()
        posts, query_names = crawl(run, targets)
        run.seconds["crawl"] = time.monotonic() - began
        run.query_names = query_names
        # GET pages first: the posts change the world (they create, pause, hand over...).
        for target in [t for t in targets if t.method == "GET"] + [t for t in targets if t.method != "GET"]:
            began = time.monotonic()
            if target.method == "GET":
                fuzz_get(run, target, query_names.get(target.endpoint, set()))
            else:
                fuzz_post(run, target, posts.get(target.endpoint, []))
            run.seconds[f"{target.method} {target.endpoint}"] += time.monotonic() - began
    finally:
        app_log.removeHandler(errors)
        mp.undo()

    hit = sorted(run.by_endpoint)
    summary = (f"{run.sent} requests to {len(hit)} endpoints ({len(rules)} routes×methods) in "
               f"{time.monotonic() - started:.0f}s; statuses: {dict(sorted(run.statuses.items()))}")
    print("\n" + summary)
    for endpoint in hit:
        print(f"  {endpoint}: {dict(sorted(run.by_endpoint[endpoint].items()))}")
    for name, seconds in run.seconds.most_common(15):
        print(f"  slowest: {name} {seconds:.1f}s")
    for endpoint, names in sorted(run.query_names.items()):
        print(f"  GET form args {endpoint}: {sorted(names)}")
    for endpoint, labels in sorted(run.variants.items()):
        print(f"  forms {endpoint}: {'; '.join(labels)}")
    for endpoint, shown in sorted(run.flashes.items()):
        label, status, flash = shown[0]
        print(f"  flash {endpoint}: {status} {flash} <- {label[:140]}")
    missed = sorted({e for e, _r, _m in rules} - set(hit))
    assert not missed, f"routes never called: {missed}"
    assert not run.failures, (f"{len(run.failures)} of {run.sent} requests answered with a server error or a "
                              f"stack trace. By cause:\n{run.cause_summary()}\n\nEvery one:\n\n"
                              + "\n\n".join(run.failures) + "\n\n" + summary)
