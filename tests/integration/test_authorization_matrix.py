"""Authorization matrix over the whole route table.

``ACCESS`` declares, for every endpoint of ``app.url_map``, who may call it; the first tests make
sure the table and the route table name the same endpoints, rules and methods (a new route
without a rule fails, so does a rule left behind by a removed route). ``test_access`` then calls
every endpoint as every role through the Flask test client (API: bearer tokens; pages: a
logged-in session with its CSRF token) and checks the outcome class:

- anonymous: the API answers 401 JSON ``unauthorized``; pages redirect to the login page.
- refused: 403, or 404 where the code hides that the object exists (cases, orders, assisted
  applications, saved filters), or 409 where it treats "not the holder" as a conflict. The
  case-clock, notice, task-move, message and inbox-claim forms report a refusal as an error
  flash on a redirect, so there "refused" is a redirect carrying an error message.
- permitted: not 401/403 and never a server error; where a probe names statuses, exactly those.
  Probes of permitted users are built so that a check *after* the permission check answers
  (a 409 on a task someone else holds, a 422 on a blank reason, a 404 on an unknown id behind a
  role guard), which shows the permission check passed and keeps the shared data unchanged.
  Moves that cannot fail after the check get their own fresh case, task or filter (``fresh``).

Roles: ``CORE`` users for every endpoint, plus the users a rule names in ``extra`` where they
are the interesting side (section chiefs, a second health reviewer holding a task, the
dispatcher, the callback desk, the legal section, the utility that sends a message, a second
designer). The objects (a newborn case with tasks held by health1 and health2, extensions,
notices, a message wait, a work order handled by health, assisted applications, process drafts
and deployment requests) are built once per module in ``World``.
"""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app.services import demo
from support import PASSWORD, ROOT, truncate

ANON = "anonymous"
# A window clerk, a department reviewer (health) and one of another department (police), the
# designer, the supervisor, a leader, the admin, the 12345 hotline agent and the assisted-filing helper.
CORE = (ANON, "window1", "health1", "police1", "designer", "supervisor", "leader1", "admin", "hotline1", "helper1")

# Endpoints without a rule, and why.
SKIPPED = {
    "static": "Flask's static files (CSS, JS, fonts, vendor libraries): public assets, no data, no checks",
}

# Outcome classes.
OK, LOGIN, DENY, HIDE, BUSY, FLASH_OK, FLASH_ERR = "permitted", "login", "403", "404", "409", "done", "refused"

# The demo organisation, plus a second designer (made by World.build) for the drafts' author rule
# and the four-eyes rule (never approve your own deployment request).
USERS = {name: (frozenset(roles), frozenset(groups)) for name, _display, roles, groups in demo.USERS}
USERS["designer2"] = (frozenset({"designer"}), frozenset())
_IGNORED_METHODS = {"HEAD", "OPTIONS"}


# -- policies ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """Who may call a route: ``public``, ``authenticated``, ``role`` (roles or group membership,
    others 403) or ``object`` (per user, for the probe's object; unlisted users get ``rest``)."""

    kind: str
    describe: str
    roles: frozenset = frozenset()
    groups: frozenset = frozenset()
    ok: frozenset = frozenset()
    deny: frozenset = frozenset()
    hide: frozenset = frozenset()
    busy: frozenset = frozenset()
    rest: str = DENY
    extra: tuple = ()
    flash: bool = False

    def expect(self, user: str) -> str:
        if user == ANON:
            return OK if self.kind == "public" else LOGIN
        if self.kind in ("public", "authenticated"):
            return OK
        if self.kind == "role":
            roles, groups = USERS[user]
            return OK if roles & self.roles or groups & self.groups else DENY
        if user in self.ok:
            return FLASH_OK if self.flash else OK
        for outcome, users in ((DENY, self.deny), (HIDE, self.hide), (BUSY, self.busy)):
            if user in users:
                return outcome
        return self.rest


PUBLIC = Policy("public", "anyone, no login needed")
AUTHENTICATED = Policy("authenticated", "any logged-in user (what they get is filtered to them)")


def role(*roles: str, groups=(), extra=()) -> Policy:
    who = ", ".join([*roles, *(f"group {g}" for g in groups)])
    return Policy("role", f"role-based: {who}; everyone else 403", roles=frozenset(roles),
                  groups=frozenset(groups), extra=tuple(extra))


def obj(describe: str, ok, *, rest: str, deny=(), hide=(), busy=(), extra=(), flash=False) -> Policy:
    return Policy("object", describe, ok=frozenset(ok), deny=frozenset(deny), hide=frozenset(hide),
                  busy=frozenset(busy), rest=rest, extra=tuple(extra), flash=flash)


DESIGNERS = role("designer", "admin")
KPI_VIEWERS = role("supervisor", "leader", "admin")
CLERKS = role("clerk")
ADMINS = role("admin")

# Newborn cases after 形式审查: tasks for health (held by health1 and health2) and medical insurance.
# Who reads them: the accepting clerk (window1), the groups with a task (health1), supervisor, leader, admin.
CASE_READERS = {"window1", "health1", "supervisor", "leader1", "admin"}
NOT_CASE_READERS = {"police1", "designer", "hotline1", "helper1"}
HANDLERS = {"window1", "health1"}  # the accepting clerk and groups with a live task
WATCHERS = {"supervisor", "leader1", "admin"}  # read every case, act on none
TASK_READERS = {"health1"} | WATCHERS  # a health task: its group (and holder), the read-all roles

SEES_CASE = obj("case visibility: starter, groups with a task in it, supervisor/leader/admin; others 404 (hidden)",
                CASE_READERS, rest=HIDE)
HANDLES_CASE = obj("handles the case (starter, or a group with a live task); other readers 403; others 404",
                   HANDLERS, deny=WATCHERS, rest=HIDE)
HANDLES_CASE_FLASH = obj("handles the case; other readers get an error flash; others 404",
                         HANDLERS, hide=NOT_CASE_READERS, rest=FLASH_ERR, flash=True)
SEES_TASK = obj("task visibility: its groups, its holder, supervisor/leader/admin; others 403",
                TASK_READERS, rest=DENY)
HOLDS_TASK = obj("the task's holder; others who may see it 409 not_claimed_by_you; others 403",
                 {"health1"}, busy=WATCHERS, rest=DENY)
DECIDES_EXTENSION = obj("section chief of a group with a task in the case, or admin; others 403",
                        {"admin", "healthchief", "chief1"}, rest=DENY, extra=("healthchief", "chief1"))
REASSIGNS = obj("role section_chief/admin (guard), then a section chief of the task's group or admin; others 403",
                {"admin", "healthchief"}, rest=DENY, extra=("healthchief", "chief1"))
WINDOW_HANDLER = obj("role clerk (guard), then a clerk handling the case; clerks who cannot see it 404; others 403",
                     {"window1"}, rest=DENY)
MESSAGE_SENDER = obj("a member of the message's sender group (utilities); other readers 403; others 404",
                     {"utilities1"}, deny={"window1"} | WATCHERS, rest=HIDE, extra=("utilities1",))
ORDER_READERS = {"hotline1", "supervisor", "leader1", "admin", "health1"}  # the centre, read-all roles, the unit
SEES_ORDER = obj("work order visibility: hotline centre and supervisor/leader/admin, the handling unit; other units "
                 "404; users without a group 403", ORDER_READERS, deny={"designer", "helper1"}, rest=HIDE)
HAS_ORDER_SCOPE = obj("users with a group, or supervisor/leader/admin (units see their own orders); no group 403",
                      {"window1", "health1", "police1", "hotline1"} | WATCHERS, rest=DENY)
SEES_APPLICATION = obj("its helper; window clerks once it is submitted; others 404 (hidden)",
                       {"helper1", "window1"}, rest=HIDE)
OWNS_APPLICATION = obj("role helper, then the helper who prepared it; others 403", {"helper1"}, rest=DENY)
DRAFT_AUTHOR = obj("role designer/admin (guard), then the draft's author or an admin; other designers 403",
                   {"designer", "admin"}, rest=DENY, extra=("designer2",))
NOT_THE_REQUESTER = obj("role designer/admin (guard), then anyone but who requested the deployment (403 own_request)",
                        {"admin", "designer2"}, rest=DENY, extra=("designer2",))
OWNS_FILTER = obj("the user's own saved filter; other users' are 404 (hidden)", {"window1"}, rest=HIDE)


# -- probes ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One request to one rule: path parameters (``@name``: a World object), query, JSON or form
    body (``@user``: the caller's name), the statuses a permitted caller gets, and whether
    permitted callers (or all: ``fresh_all``) need a fresh object (World.fresh_<name>) or their
    own new login (``own_login``: the call ends or replaces it). A second probe of the same rule
    and method (another object, another rule of the code) is a ``variant``."""

    method: str
    rule: str
    policy: Policy
    at: dict = field(default_factory=dict)
    query: dict | None = None
    body: dict | None = None
    upload: bool = False
    ok: tuple = ()
    fresh: str | None = None
    fresh_all: bool = False
    own_login: bool = False
    variant: str = ""

    @property
    def api(self) -> bool:
        return self.rule.startswith("/api/")


def get(rule, policy, **kw) -> Probe:
    return Probe("GET", rule, policy, **kw)


def post(rule, policy, **kw) -> Probe:
    return Probe("POST", rule, policy, **kw)


def put(rule, policy, **kw) -> Probe:
    return Probe("PUT", rule, policy, **kw)


def delete(rule, policy, **kw) -> Probe:
    return Probe("DELETE", rule, policy, **kw)


CASE = {"case_id": "@case_a"}
HELD_BY_HEALTH1 = {"task_id": "@t_h1"}
HELD_BY_HEALTH2 = {"task_id": "@t_h2"}
FORMAL_CHECK_DONE = {"task_id": "@t_done"}
NEWBORN_V1 = {"key": "newborn", "version": 1}
STALE_DRAFT = {"draft_id": "@draft_stale"}
NO_SUCH = 999999
KPI_QUERY = {"from": "2026-01-01", "to": "2026-01-31"}
LOGIN_BODY = {"username": "@user", "password": PASSWORD}

# endpoint -> its probes (one per rule and method). Keep in step with app.url_map.
ACCESS: dict[str, Probe | tuple[Probe, ...]] = {
    # -- public ----------------------------------------------------------------------------------
    "web.healthz": get("/healthz", PUBLIC, ok=(200,)),
    "web.healthz_worker": get("/healthz/worker", PUBLIC, ok=(200,)),
    "web_admin.system": get("/admin/system", ADMINS, ok=(200,)),
    "openapi_document": get("/api/v1/openapi.json", PUBLIC, ok=(200,)),
    "web_auth.login": (get("/login", PUBLIC, ok=(200, 302)),
                       post("/login", PUBLIC, body=LOGIN_BODY, ok=(302,), own_login=True)),
    "web_auth.set_language": get("/lang/<code>", PUBLIC, at={"code": "en"}, ok=(302,)),
    "web_guide.guide_index": get("/guide", PUBLIC, ok=(200,)),
    "web_guide.guide": get("/guide/<key>", PUBLIC, at={"key": "newborn"}, ok=(200,)),
    "web_reviews.review": (get("/review", PUBLIC, ok=(200,)),
                           post("/review", PUBLIC, body={"receipt_no": "NX-NONE", "phone": "13800000000",
                                                         "level": "5"}, ok=(422,))),
    "auth.create_token": post("/api/v1/auth/token", PUBLIC, body=LOGIN_BODY, ok=(200,)),
    "auth.create_session": post("/api/v1/auth/session", PUBLIC, body=LOGIN_BODY, ok=(200,)),
    "catalogue.list_entries": get("/api/v1/catalogue", PUBLIC, ok=(200,)),
    "catalogue.get_entry": get("/api/v1/catalogue/<key>", PUBLIC, at={"key": "newborn"}, ok=(200,)),
    "catalogue.checklist": post("/api/v1/catalogue/<key>/checklist", PUBLIC, at={"key": "newborn"},
                                body={"answers": {"allowance": "no"}}, ok=(200,)),
    "catalogue.reductions": get("/api/v1/catalogue/<key>/reductions", PUBLIC, at={"key": "newborn"},
                                query={"from": 1, "to": 1}, ok=(200,)),
    "oversight.review_case": post("/api/v1/reviews", PUBLIC, body={"receipt_no": "NX-NONE", "phone": "13800000000",
                                                                   "level": 5}, ok=(422,)),
    # -- any logged-in user ----------------------------------------------------------------------
    "auth.me": get("/api/v1/auth/me", AUTHENTICATED, ok=(200,)),
    "auth.revoke_token": delete("/api/v1/auth/token", AUTHENTICATED, ok=(204,), own_login=True),
    "auth.delete_session": delete("/api/v1/auth/session", AUTHENTICATED, ok=(204,)),
    "web_auth.logout": post("/logout", AUTHENTICATED, ok=(302,), own_login=True),
    "web_auth.password": (get("/account/password", AUTHENTICATED, ok=(200,)),
                          post("/account/password", AUTHENTICATED,
                               body={"new_password": "a", "confirm_password": "b"}, ok=(422,))),
    "auth.change_password": post("/api/v1/auth/password", AUTHENTICATED, body={}, ok=(422,)),
    "processes.list_processes": get("/api/v1/processes", AUTHENTICATED, ok=(200,)),
    "tasks.list_tasks": get("/api/v1/tasks", AUTHENTICATED, ok=(200,)),
    "tasks.list_saved_filters": get("/api/v1/saved-filters", AUTHENTICATED, ok=(200,)),
    "tasks.save_filter": post("/api/v1/saved-filters", AUTHENTICATED, body={}, ok=(422,)),
    "calendar.due": get("/api/v1/calendar/due", AUTHENTICATED,
                        query={"start": "2026-03-02T09:00:00+08:00", "working_days": 3}, ok=(200,)),
    "calendar.list_overrides": get("/api/v1/calendar/overrides", AUTHENTICATED, ok=(200,)),
    "moves.pending_extensions": get("/api/v1/extensions", AUTHENTICATED, ok=(200,)),
    "moves.waiting_messages": get("/api/v1/messages", AUTHENTICATED, ok=(200,)),
    "work_orders.search_knowledge": get("/api/v1/knowledge", AUTHENTICATED, query={"q": "新生儿"}, ok=(200,)),
    "assisted.list_applications": get("/api/v1/assisted-applications", AUTHENTICATED, ok=(200,)),
    "web_inbox.inbox": get("/", AUTHENTICATED, ok=(200,)),
    "web_inbox.save_filter": post("/saved-filters", AUTHENTICATED, body={"name": "", "tab": "mine"}, ok=(302,)),
    "web_cases.search": (get("/cases", AUTHENTICATED, query={"receipt_no": "NX"}, ok=(200,)),
                         post("/cases/search", AUTHENTICATED, body={"id_number": "140402199001011234"}, ok=(200,))),
    "web_moves.messages_page": get("/messages", AUTHENTICATED, ok=(200,)),
    "web_assist.index": get("/assist", AUTHENTICATED, ok=(200,)),
    "web_assist.new": get("/assist/new", AUTHENTICATED, query={"process_key": "newborn"}, ok=(200,)),
    # -- designers and admins --------------------------------------------------------------------
    "processes.deploy_process": post("/api/v1/processes", DESIGNERS, upload=True, ok=(422,)),
    "processes.validate_process": post("/api/v1/processes/validate", DESIGNERS, upload=True, ok=(422,)),
    "catalogue.import_entries": post("/api/v1/catalogue", DESIGNERS, upload=True, ok=(422,)),
    "designer.list_versions": get("/api/v1/processes/<key>/versions", DESIGNERS, at={"key": "newborn"}, ok=(200,)),
    "designer.get_version": get("/api/v1/processes/<key>/versions/<int:version>", DESIGNERS, at=NEWBORN_V1,
                                ok=(200,)),
    "designer.version_file": get("/api/v1/processes/<key>/versions/<int:version>/files/<filename>", DESIGNERS,
                                 at={**NEWBORN_V1, "filename": "newborn.bpmn"}, ok=(200,)),
    "designer.diff_versions": get("/api/v1/processes/<key>/diff", DESIGNERS, at={"key": "newborn"}),
    "designer.list_deployments": get("/api/v1/deployments", role("designer", "admin", "supervisor"), ok=(200,)),
    "migration.preview": get("/api/v1/processes/<key>/migration", DESIGNERS, at={"key": "newborn"},
                             query={"from": 1, "to": 2}, ok=(404,)),
    "migration.migrate": post("/api/v1/processes/<key>/migration", DESIGNERS, at={"key": "newborn"}, body={},
                              ok=(422,)),
    "drafts.list_drafts": get("/api/v1/drafts", DESIGNERS, ok=(200,)),
    "drafts.create_draft": post("/api/v1/drafts", DESIGNERS, body={}, ok=(422,)),
    "drafts.validate_files": post("/api/v1/drafts/validate", DESIGNERS, body={}, ok=(422,)),
    # A draft by designer whose base version is no longer the latest; requests by designer (one rejected).
    "drafts.get_draft": get("/api/v1/drafts/<int:draft_id>", DESIGNERS, at=STALE_DRAFT, ok=(200,)),
    "drafts.update_draft": put("/api/v1/drafts/<int:draft_id>", DRAFT_AUTHOR, at=STALE_DRAFT, body={"files": {}},
                               ok=(422,)),
    "drafts.delete_draft": delete("/api/v1/drafts/<int:draft_id>", DRAFT_AUTHOR, at=STALE_DRAFT, ok=(204,),
                                  fresh="draft"),
    "drafts.validate_draft": post("/api/v1/drafts/<int:draft_id>/validate", DESIGNERS, at=STALE_DRAFT, ok=(200,)),
    "drafts.deploy_draft": post("/api/v1/drafts/<int:draft_id>/deploy", DRAFT_AUTHOR, at=STALE_DRAFT, body={},
                                ok=(409,)),
    "drafts.list_pending": get("/api/v1/pending-deployments", DESIGNERS, ok=(200,)),
    "drafts.request_deployment": post("/api/v1/pending-deployments", DESIGNERS, upload=True, ok=(422,)),
    "drafts.get_pending": get("/api/v1/pending-deployments/<int:pending_id>", DESIGNERS,
                              at={"pending_id": "@pending_stale"}, ok=(200,)),
    "drafts.approve_pending": post("/api/v1/pending-deployments/<int:pending_id>/approve", NOT_THE_REQUESTER,
                                   at={"pending_id": "@pending_stale"}, body={}, ok=(409,)),
    "drafts.reject_pending": post("/api/v1/pending-deployments/<int:pending_id>/reject", DESIGNERS,
                                  at={"pending_id": "@pending_done"}, body={}, ok=(409,)),
    "web_designer.library": get("/designer", DESIGNERS, ok=(200,)),
    "web_designer.version": get("/designer/<key>/v/<int:version>", DESIGNERS, at=NEWBORN_V1, ok=(200,)),
    "web_designer.diagram": get("/designer/<key>/v/<int:version>/diagram.bpmn", DESIGNERS, at=NEWBORN_V1,
                                ok=(200,)),
    "web_designer.file": get("/designer/<key>/v/<int:version>/files/<filename>", DESIGNERS,
                             at={**NEWBORN_V1, "filename": "newborn.bpmn"}, ok=(200,)),
    "web_designer.diff": get("/designer/<key>/diff", DESIGNERS, at={"key": "newborn"}),
    "web_migration.page": get("/designer/<key>/migrate", DESIGNERS, at={"key": "newborn"}, ok=(200,)),
    "web_migration.run": post("/designer/<key>/migrate", DESIGNERS, at={"key": "newborn"}, body={}, ok=(400,)),
    "web_modeler.edit": get("/designer/<key>/edit", DESIGNERS, at={"key": "newborn"}, ok=(200,)),
    "web_modeler.preview_form": post("/designer/<key>/edit/preview-form", DESIGNERS, at={"key": "newborn"},
                                     body={"schema": '{"type": "object"}'}, ok=(200,)),
    # -- admins ------------------------------------------------------------------------------------
    "calendar.put_override": put("/api/v1/calendar/overrides/<day>", ADMINS, at={"day": "2099-01-01"}, body={},
                                 ok=(422,)),
    "calendar.delete_override": delete("/api/v1/calendar/overrides/<day>", ADMINS, at={"day": "2099-01-01"},
                                       ok=(404,)),
    # -- KPIs and supervision: supervisor, leader, admin ------------------------------------------
    "kpis.get_kpis": get("/api/v1/kpis", KPI_VIEWERS, ok=(422,)),
    "kpis.get_series": get("/api/v1/kpis/series", KPI_VIEWERS, ok=(422,)),
    "kpis.get_drilldown": get("/api/v1/kpis/drilldown", KPI_VIEWERS, ok=(422,)),
    "kpis.export": get("/api/v1/kpis/export", KPI_VIEWERS, ok=(422,)),
    "kpis.reductions": get("/api/v1/reports/reductions", role("supervisor", "leader", "admin", "designer"),
                           ok=(200,)),
    "moves.overdue_cases": get("/api/v1/supervision/overdue", KPI_VIEWERS, ok=(200,)),
    "oversight.audit_trail": get("/api/v1/audit", KPI_VIEWERS, query=KPI_QUERY, ok=(200,)),
    "oversight.security_events": get("/api/v1/security-events", ADMINS, query=KPI_QUERY, ok=(200,)),
    "web_dashboard.dashboard": get("/dashboard", KPI_VIEWERS, ok=(200,)),
    "web_dashboard.drilldown": get("/dashboard/drilldown", KPI_VIEWERS, query={"metric": "received"}, ok=(200,)),
    "web_dashboard.monthly_report": get("/reports/monthly", KPI_VIEWERS, ok=(200,)),
    "web_dashboard.monthly_report_pdf": get("/reports/monthly.pdf", KPI_VIEWERS, ok=(200, 302)),
    "web_moves.overdue": get("/supervision/overdue", KPI_VIEWERS, ok=(200,)),
    # -- oversight loops: role or group ------------------------------------------------------------
    "oversight.list_samples": get("/api/v1/evaluation-samples",
                                  role("supervisor", "admin", groups=("legal_affairs",), extra=("legal1",)),
                                  ok=(200,)),
    "oversight.draw_sample": post("/api/v1/evaluation-samples",
                                  role("supervisor", "admin", groups=("legal_affairs",), extra=("legal1",)),
                                  body={"week": "2026-01-06"}, ok=(422,)),  # a Tuesday: refused after the check
    "oversight.get_sample": get("/api/v1/evaluation-samples/<int:sample_id>",
                                role("supervisor", "admin", groups=("legal_affairs",), extra=("legal1",)),
                                at={"sample_id": NO_SUCH}, ok=(404,)),
    "oversight.draw_callbacks": post("/api/v1/callbacks", role("supervisor", "admin", groups=("callback",),
                                                               extra=("callback1",)),
                                     body={"from": "2026-01-10", "to": "2026-01-01"}, ok=(422,)),
    "oversight.start_item": post("/api/v1/oversight/<kind>", role("supervisor", "admin", groups=("supervision",)),
                                 at={"kind": "supervision"}, body={"data": {}}, ok=(422,)),
    # -- starting cases: window clerks (role clerk) -----------------------------------------------
    "cases.start_case": post("/api/v1/cases", CLERKS, body={}, ok=(422,)),
    "web_new_case.new_case": (get("/cases/new", CLERKS, ok=(200,)),
                              post("/cases/new", CLERKS, body={"process_key": ""}, ok=(404,))),
    # -- cases: object level -----------------------------------------------------------------------
    "cases.get_case": get("/api/v1/cases/<int:case_id>", SEES_CASE, at=CASE, ok=(200,)),
    "moves.case_clock_view": get("/api/v1/cases/<int:case_id>/clock", SEES_CASE, at=CASE, ok=(200,)),
    "oversight.reveal_applicant": post("/api/v1/cases/<int:case_id>/reveal", SEES_CASE, at=CASE,
                                       body={"reason": "核对申请人身份"}, ok=(200,)),
    "web_cases.case": get("/cases/<int:case_id>", SEES_CASE, at=CASE, ok=(200,)),
    "web_cases.diagram": get("/cases/<int:case_id>/diagram.bpmn", SEES_CASE, at=CASE, ok=(200,)),
    "web_attachments.download": (
        get("/cases/<int:case_id>/attachments/<int:attachment_id>", SEES_CASE,
            at={**CASE, "attachment_id": "@attachment"}, ok=(200,)),
        get("/cases/<int:case_id>/attachments/<int:attachment_id>",
            obj("another case's attachment through a case one may see: 404 for everyone", (), rest=HIDE),
            at={**CASE, "attachment_id": "@attachment_other"}, ok=(200,), variant="other-case")),
    "web_moves.notice": get("/notices/<int:notice_id>", SEES_CASE, at={"notice_id": "@notice_open"}, ok=(200,)),
    # The case clock: on a case already paused / running / with a pending request, so handlers get 409.
    "moves.pause_case": post("/api/v1/cases/<int:case_id>/pause", HANDLES_CASE, at={"case_id": "@case_p"},
                             body={"kind": "hearing", "reason": "组织听证"}, ok=(409,)),
    "moves.resume_case": post("/api/v1/cases/<int:case_id>/resume", HANDLES_CASE, at=CASE, ok=(409,)),
    "moves.request_extension": post("/api/v1/cases/<int:case_id>/extensions", HANDLES_CASE, at=CASE,
                                    body={"working_days": 1, "reason": "需现场核查"}, ok=(409,)),
    "moves.approve_extension": post("/api/v1/extensions/<int:extension_id>/approve", DECIDES_EXTENSION,
                                    at={"extension_id": "@ext_decided"}, body={}, ok=(409,)),
    "moves.reject_extension": post("/api/v1/extensions/<int:extension_id>/reject", DECIDES_EXTENSION,
                                   at={"extension_id": "@ext_decided"}, body={}, ok=(409,)),
    "moves.issue_correction": post("/api/v1/cases/<int:case_id>/correction-notices", HANDLES_CASE,
                                   at={"case_id": "@case_c"},
                                   body={"items": [{"material": "出生医学证明", "problem": "缺原件"}]}, ok=(409,)),
    "moves.materials_received": post("/api/v1/notices/<int:notice_id>/received", HANDLES_CASE,
                                     at={"notice_id": "@notice_done"}, ok=(409,)),
    "moves.reject_case": post("/api/v1/cases/<int:case_id>/reject", WINDOW_HANDLER, at=CASE, body={"reason": " "},
                              ok=(422,)),
    "moves.withdraw_case": post("/api/v1/cases/<int:case_id>/withdraw", WINDOW_HANDLER, at=CASE,
                                body={"reason": " "}, ok=(422,)),
    "moves.deliver_message": post("/api/v1/cases/<int:case_id>/messages", MESSAGE_SENDER,
                                  at={"case_id": "@msg_case"}, body={"name": "water_transferred", "payload": {}},
                                  ok=(200,), fresh="message_case"),
    "web_moves.clock_action": post("/cases/<int:case_id>/clock", HANDLES_CASE_FLASH, at=CASE,
                                   body={"action": "pause", "kind": "hearing", "reason": "组织听证"}, fresh="case"),
    "web_moves.notice_action": post("/cases/<int:case_id>/notices", HANDLES_CASE_FLASH, at=CASE,
                                    body={"action": "correction", "material": "出生医学证明", "problem": "缺原件"},
                                    fresh="case"),
    "web_moves.materials_received": post("/notices/<int:notice_id>/received", HANDLES_CASE_FLASH,
                                         at={"notice_id": "@notice_open"}, fresh="open_notice"),
    "web_moves.decide_extension": post(
        "/extensions/<int:extension_id>/decide",
        obj("section chief of a group with a task in the case, or admin; other readers get an error flash; "
            "others 404", {"admin", "healthchief", "chief1"}, hide=NOT_CASE_READERS, rest=FLASH_ERR, flash=True,
            extra=("healthchief", "chief1")),
        at={"extension_id": "@ext_pending"}, body={"decision": "approve"}, fresh="pending_extension"),
    "web_moves.deliver_message": post(
        "/cases/<int:case_id>/messages",
        obj("a member of the message's sender group (utilities); other readers get an error flash; others 404",
            {"utilities1"}, hide=NOT_CASE_READERS | {"health1"}, rest=FLASH_ERR, flash=True, extra=("utilities1",)),
        at={"case_id": "@msg_case"}, body={"name": "water_transferred", "result": "done"}, fresh="message_case"),
    # -- tasks: object level -----------------------------------------------------------------------
    "tasks.get_task": get("/api/v1/tasks/<int:task_id>", SEES_TASK, at=HELD_BY_HEALTH2, ok=(200,)),
    "tasks.claim_task": post("/api/v1/tasks/<int:task_id>/claim",
                             obj("a member of the task's groups (409: a colleague holds it); others 403",
                                 {"health1"}, rest=DENY), at=HELD_BY_HEALTH2, ok=(409,)),
    "tasks.unclaim_task": post("/api/v1/tasks/<int:task_id>/unclaim",
                               obj("the task's holder or an admin; others 403", {"admin", "health2"}, rest=DENY,
                                   extra=("health2",)), at=HELD_BY_HEALTH2, ok=(200,), fresh="held_task"),
    "tasks.complete_task": post("/api/v1/tasks/<int:task_id>/complete",
                                obj("the task's holder (form errors come after the checks); others 403",
                                    {"health1"}, rest=DENY), at=HELD_BY_HEALTH1, body={"data": {}}, ok=(422,)),
    "moves.task_notes": get("/api/v1/tasks/<int:task_id>/notes", SEES_TASK, at=HELD_BY_HEALTH1, ok=(200,)),
    "moves.return_targets": get("/api/v1/tasks/<int:task_id>/return-targets", SEES_TASK, at=HELD_BY_HEALTH1,
                                ok=(200,)),
    "moves.comment_task": post("/api/v1/tasks/<int:task_id>/comments", SEES_TASK, at=HELD_BY_HEALTH1,
                               body={"body": " "}, ok=(422,)),
    "moves.copy_task": post("/api/v1/tasks/<int:task_id>/copies", SEES_TASK, at=HELD_BY_HEALTH1,
                            body={"user_ids": [NO_SUCH]}, ok=(422,)),
    "moves.delegate_task": post("/api/v1/tasks/<int:task_id>/delegate", HOLDS_TASK, at=HELD_BY_HEALTH1,
                                body={"user_id": NO_SUCH}, ok=(422,)),
    "moves.return_task": post("/api/v1/tasks/<int:task_id>/return", HOLDS_TASK, at=HELD_BY_HEALTH1,
                              body={"target_task_id": NO_SUCH, "opinion": "材料有误"}, ok=(422,)),
    "moves.reassign_task": post("/api/v1/tasks/<int:task_id>/reassign", REASSIGNS, at=HELD_BY_HEALTH2,
                                body={"user_id": NO_SUCH}, ok=(422,)),
    "moves.remove_signer": post("/api/v1/tasks/<int:task_id>/remove-signer", REASSIGNS, at=HELD_BY_HEALTH1,
                                body={"user_id": NO_SUCH}, ok=(422,)),
    "moves.add_signer": post("/api/v1/tasks/<int:task_id>/signers",
                             obj("the signer (holder), a section chief of the task's group, or admin; others 403",
                                 {"health1", "healthchief", "admin"}, rest=DENY, extra=("healthchief",)),
                             at=HELD_BY_HEALTH1, body={"user_id": NO_SUCH}, ok=(422,)),
    "moves.attach_to_task": post("/api/v1/tasks/<int:task_id>/attachments",
                                 obj("the holder or a member of the task's groups; others 403", {"health1"},
                                     rest=DENY), at=HELD_BY_HEALTH1, upload=True, ok=(422,)),
    "moves.urge_task": post("/api/v1/tasks/<int:task_id>/urge", role("supervisor", "admin"), at=FORMAL_CHECK_DONE,
                            body={}, ok=(409,)),
    "moves.recall_task": post("/api/v1/tasks/<int:task_id>/recall",
                              obj("who completed the step; others 403", {"window1"}, rest=DENY),
                              at=FORMAL_CHECK_DONE, ok=(409,)),
    "moves.prioritise_task": post("/api/v1/tasks/<int:task_id>/priority",
                                  obj("holder, a member of its groups, a section chief of them, or admin; others 403",
                                      {"window1", "admin"}, rest=DENY),
                                  at=FORMAL_CHECK_DONE, body={"priority": 1}, ok=(409,)),
    "web_tasks.task": (get("/tasks/<int:task_id>", SEES_TASK, at=HELD_BY_HEALTH2, ok=(200,)),
                       post("/tasks/<int:task_id>",
                            obj("claim: a member of the task's groups (409: a colleague holds it); others 403",
                                {"health1"}, rest=DENY), at=HELD_BY_HEALTH2, body={"action": "claim"}, ok=(409,))),
    "web_inbox.claim": post("/tasks/<int:task_id>/claim",
                            obj("a member of the task's groups; others get an error flash", {"health1"},
                                rest=FLASH_ERR, flash=True),
                            at={"task_id": "@t_open"}, body={"next": "/"}, fresh="open_task"),
    "web_inbox.unclaim": post("/tasks/<int:task_id>/unclaim",
                              obj("the task's holder or an admin; others get an error flash", {"admin", "health2"},
                                  rest=FLASH_ERR, flash=True, extra=("health2",)),
                              at=HELD_BY_HEALTH2, body={"next": "/"}, fresh="held_task"),
    "web_moves.task_action": post("/tasks/<int:task_id>/moves",
                                  obj("comment: who may see the task; others get an error flash", TASK_READERS,
                                      rest=FLASH_ERR, flash=True),
                                  at=HELD_BY_HEALTH1, body={"action": "comment", "body": "请核对出生医学证明"}),
    "web_moves.task_attachments": post("/tasks/<int:task_id>/attachments",
                                       obj("the holder or a member of the task's groups; others get an error flash",
                                           {"health1"}, rest=FLASH_ERR, flash=True),
                                       at=HELD_BY_HEALTH1, upload=True),
    # -- saved filters: own only -------------------------------------------------------------------
    "tasks.delete_filter": delete("/api/v1/saved-filters/<int:filter_id>", OWNS_FILTER, at={"filter_id": "@filter"},
                                  ok=(204,), fresh="filter", fresh_all=True),
    "web_inbox.delete_filter": post("/saved-filters/<int:filter_id>/delete", OWNS_FILTER,
                                    at={"filter_id": "@filter"}, ok=(302,), fresh="filter", fresh_all=True),
    # -- 12345 work orders -------------------------------------------------------------------------
    "work_orders.register": post("/api/v1/work-orders", role("admin", groups=("hotline",)), body={
        "request_type": "咨询", "category": "政务服务", "caller": {"name": "李女士", "phone": "13912345678"},
        "content": "新生儿落户怎么办理？"}, ok=(201,)),
    "work_orders.list_orders": get("/api/v1/work-orders", HAS_ORDER_SCOPE, ok=(200,)),
    "work_orders.get_order": get("/api/v1/work-orders/<int:order_id>", SEES_ORDER, at={"order_id": "@order"},
                                 ok=(200,)),
    "work_orders.list_extensions": get("/api/v1/work-orders/<int:order_id>/extensions", SEES_ORDER,
                                       at={"order_id": "@order"}, ok=(200,)),
    "work_orders.merge_order": post("/api/v1/work-orders/<int:order_id>/merge",
                                    role("admin", groups=("hotline", "dispatch"), extra=("dispatch1",)),
                                    at={"order_id": "@order"}, body={"into": "@order"}, ok=(422,)),
    "work_orders.request_extension": post("/api/v1/work-orders/<int:order_id>/extensions",
                                          obj("a member of the handling unit while it handles the order; others 403",
                                              {"health1"}, rest=DENY),
                                          at={"order_id": "@order"}, body={"days": 1, "reason": " "}, ok=(422,)),
    "work_orders.decide_extension": post("/api/v1/work-orders/<int:order_id>/extensions/<int:extension_id>/decision",
                                         role("admin", groups=("dispatch",), extra=("dispatch1",)),
                                         at={"order_id": "@order", "extension_id": NO_SUCH}, body={"approve": True},
                                         ok=(404,)),
    "work_orders.reveal_caller": (
        post("/api/v1/work-orders/<int:order_id>/reveal",
             obj("hotline centre and supervisor/leader/admin; the handling unit 403; other units 404; users without "
                 "a group 403", {"hotline1"} | WATCHERS, hide={"window1", "police1"}, rest=DENY),
             at={"order_id": "@order"}, body={"reason": "回访核实"}, ok=(200,)),
        post("/api/v1/work-orders/<int:order_id>/reveal",
             obj("a confidential caller (保密): supervisor/leader/admin only; the hotline centre 403; units 404",
                 WATCHERS, hide={"window1", "health1", "police1"}, rest=DENY, extra=("dispatch1",)),
             at={"order_id": "@order_confidential"}, body={"reason": "回访核实"}, ok=(200,), variant="confidential")),
    "web_hotline.index": get("/hotline", HAS_ORDER_SCOPE, ok=(200,)),
    "web_hotline.register": post("/hotline/orders", role("admin", groups=("hotline",)), body={}, ok=(422,)),
    "web_hotline.order": get("/hotline/orders/<int:order_id>", SEES_ORDER, at={"order_id": "@order"}, ok=(200,)),
    # -- 肩并肩 assisted filing ----------------------------------------------------------------------
    "assisted.create_application": post("/api/v1/assisted-applications", role("helper"),
                                        body={"process_key": "no_such_bundle"}, ok=(404,)),
    "assisted.get_application": get("/api/v1/assisted-applications/<int:draft_id>", SEES_APPLICATION,
                                    at={"draft_id": "@app_submitted"}, ok=(200,)),
    "assisted.update_application": put("/api/v1/assisted-applications/<int:draft_id>", OWNS_APPLICATION,
                                       at={"draft_id": "@app_submitted"}, body={"process_key": "newborn"}, ok=(409,)),
    "assisted.submit_application": post("/api/v1/assisted-applications/<int:draft_id>/submit", OWNS_APPLICATION,
                                        at={"draft_id": "@app_submitted"}, ok=(409,)),
    "assisted.accept_application": post("/api/v1/assisted-applications/<int:draft_id>/accept", CLERKS,
                                        at={"draft_id": "@app_returned"}, ok=(409,)),
    "assisted.return_application": post("/api/v1/assisted-applications/<int:draft_id>/return", CLERKS,
                                        at={"draft_id": "@app_returned"}, body={"remark": "请补充材料"}, ok=(409,)),
    # The helper gets the form (200); a clerk is sent to the read-only page (302; test_assist_pages).
    "web_assist.edit": get("/assist/<int:draft_id>/edit", SEES_APPLICATION, at={"draft_id": "@app_submitted"},
                           ok=(200, 302)),
    "web_assist.show": get("/assist/<int:draft_id>", SEES_APPLICATION, at={"draft_id": "@app_submitted"}, ok=(200,)),
    "web_assist.save": post("/assist/save", role("helper"), body={"process_key": "newborn", "action": "save"},
                            ok=(302,)),
    "web_assist.queue": get("/assist/queue", CLERKS, ok=(200,)),
    "web_assist.decide": post("/assist/<int:draft_id>/decide", CLERKS, at={"draft_id": "@app_returned"},
                              body={"decision": "accept"}, ok=(302,)),
}


def _probes(entry) -> tuple[Probe, ...]:
    return entry if isinstance(entry, tuple) else (entry,)


# -- the shared data -----------------------------------------------------------------------------

NEWBORN_BPMN = ROOT / "bpmn" / "newborn.bpmn"
HOTLINE_BPMN = ROOT / "bpmn" / "hotline_work_order.bpmn"
CATALOGUE = ROOT / "catalogue" / "newborn.toml"
APPLICANT = {"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}
APPLICATION = {
    "newborn_name": "王小宝", "newborn_sex": "female", "newborn_birth_date": "2026-11-01",
    "birth_place": "山西省长治市潞州区", "birth_hospital": "长治市妇幼保健院", "mother_name": "李丽",
    "mother_id_number": "140402199203045678", "father_name": "王明", "father_id_number": "140402198905061239",
    "marriage_cert_number": "J140402-2020-001234", "register_with": "mother",
    "household_address": "长治市潞州区英雄中路1号", "contact_phone": "13900001111", "data_sharing_consent": True,
    "apply_maternity_allowance": True, "bank_card_number": "6222020000000000000", "delivery_method": "window",
}
FORMAL_CHECK = {"check_decision": "accept", "check_opinion": "材料齐全，予以受理"}
ORDER = {"request_type": "投诉", "category": "道路破损", "urgency": "normal",
         "caller": {"name": "李女士", "phone": "13912345678", "confidential": False},
         "address": "长治市潞州区英雄中路88号", "content": "小区门口道路塌陷，存在安全隐患，请尽快修复。"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# A case that waits for a message from the utilities group (senderGroups), with no user task.
MESSAGE_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_authz"
    targetNamespace="http://example.invalid/tests">
  <bpmn:message id="Message_water" name="water_transferred" />
  <bpmn:process id="authz_message" name="authz message" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="water" />
    <bpmn:receiveTask id="water" name="water transfer" messageRef="Message_water">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="senderGroups" value="utilities" />
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:receiveTask>
    <bpmn:sequenceFlow id="f2" sourceRef="water" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def _message_bpmn(tag: str) -> bytes:
    """Another version of the message diagram (only its name differs)."""
    return MESSAGE_BPMN.replace(b'name="authz message"', f'name="authz message {tag}"'.encode())


_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_RULE_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _referenced_files(bpmn) -> list:
    names = sorted(set(re.findall(r'"([\w.-]+\.json)"', bpmn.read_text(encoding="utf-8"))))
    return [bpmn, *(ROOT / "forms" / name for name in names)]


@dataclass
class Browser:
    """One user's cookie jar and the CSRF token of its session."""

    client: object
    csrf: str


class World:
    """One seeded database with the objects the probes point at, tokens and logged-in sessions."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client(use_cookies=False)  # the API: bearer tokens only, no session
        self.adapter = app.url_map.bind("localhost")
        self.tokens: dict[str, str] = {}
        self.browsers: dict[str, Browser] = {}
        self.ids: dict[str, object] = {}
        self.serial = itertools.count(1)

    # -- API and page clients ------------------------------------------------------------------

    def new_token(self, user: str) -> str:
        r = self.client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
        assert r.status_code == 200, (user, r.get_json())
        return r.get_json()["token"]

    def token(self, user: str) -> str:
        if user not in self.tokens:
            self.tokens[user] = self.new_token(user)
        return self.tokens[user]

    def new_browser(self, user: str) -> Browser:
        client = self.app.test_client()
        token = _CSRF_FIELD.search(client.get("/login").get_data(as_text=True)).group(1)
        if user == ANON:
            return Browser(client, token)
        r = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 302, (user, r.status_code)
        client.get("/lang/en")
        # Logging in starts a fresh session, so forms carry a new CSRF token from now on.
        return Browser(client, _CSRF_META.search(client.get("/cases").get_data(as_text=True)).group(1))

    def browser(self, user: str) -> Browser:
        if user not in self.browsers:
            self.browsers[user] = self.new_browser(user)
        return self.browsers[user]

    def call(self, method: str, path: str, user: str, **kw):
        """A setup call through the API that must succeed; returns the JSON body."""
        r = self.client.open(path, method=method, headers={"Authorization": f"Bearer {self.token(user)}"}, **kw)
        assert r.status_code in (200, 201, 202, 204), (method, path, user, r.status_code, r.get_data(as_text=True))
        return r.get_json(silent=True)

    def upload(self, path: str, user: str, files: list[tuple[str, bytes]]):
        return self.call("POST", path, user, data={"file": [(io.BytesIO(content), name) for name, content in files]},
                         content_type="multipart/form-data")

    def deploy(self, paths) -> None:
        self.upload("/api/v1/processes", "designer", [(p.name, p.read_bytes()) for p in paths])

    # -- building blocks -------------------------------------------------------------------------

    def do(self, user: str, case_id: int, bpmn_id: str, data: dict) -> dict:
        """Claim and complete the case's open ``bpmn_id`` task as ``user``; return the case."""
        items = self.call("GET", "/api/v1/tasks", user, query_string={"view": "available", "per_page": 100})["items"]
        task = next(t for t in items if t["case_id"] == case_id and t["bpmn_id"] == bpmn_id)
        self.call("POST", f"/api/v1/tasks/{task['id']}/claim", user)
        return self.call("POST", f"/api/v1/tasks/{task['id']}/complete", user, json={"data": data})

    def newborn_case(self) -> dict:
        """A newborn case started and accepted by window1: health (×2) and medical-insurance tasks open."""
        case = self.call("POST", "/api/v1/cases", "window1",
                         json={"process_key": "newborn", "applicant": APPLICANT, "data": APPLICATION})
        after = self.do("window1", case["id"], "formal_check", FORMAL_CHECK)
        tasks = {t["bpmn_id"]: t["id"] for t in after["tasks"]}
        assert {"birth_cert", "birth_registration"} <= set(tasks), tasks
        return {"case": case["id"], "formal_check": case["tasks"][0]["id"], **tasks}

    def claim(self, user: str, task_id: int) -> None:
        self.call("POST", f"/api/v1/tasks/{task_id}/claim", user)

    def extension(self, case_id: int) -> int:
        return self.call("POST", f"/api/v1/cases/{case_id}/extensions", "window1",
                         json={"working_days": 2, "reason": "需现场核查"})["id"]

    def correction(self, case_id: int) -> int:
        return self.call("POST", f"/api/v1/cases/{case_id}/correction-notices", "window1",
                         json={"items": [{"material": "结婚证", "problem": "复印件不清晰"}]})["id"]

    def message_case(self) -> int:
        return self.call("POST", "/api/v1/cases", "window1",
                         json={"process_key": "authz_message", "applicant": APPLICANT, "data": {}})["id"]

    def assisted_application(self) -> int:
        """An application helper1 prepared (every material pre-reviewed) and handed to the window."""
        answers = {"allowance": "yes"}  # every material of the entry is then on the checklist
        codes = [m["code"] for m in self.call("GET", "/api/v1/catalogue/newborn", "helper1")["data"]["materials"]]
        draft = self.call("POST", "/api/v1/assisted-applications", "helper1", json={
            "process_key": "newborn", "applicant": APPLICANT, "data": APPLICATION, "answers": answers,
            "materials": {code: {"status": "ok"} for code in codes}})
        self.call("POST", f"/api/v1/assisted-applications/{draft['id']}/submit", "helper1")
        return draft["id"]

    def work_order(self) -> int:
        """An order dispatched to health, which signed for it: in progress, handled by health."""
        order = self.call("POST", "/api/v1/work-orders", "hotline1", json=ORDER)
        case_id = order["case_id"]
        self.do("hotline1", case_id, "triage", {"triage_decision": "dispatch", "triage_note": "需现场处置"})
        self.do("dispatch1", case_id, "dispatch", {"handling_unit": "health", "dispatch_note": "请核实处置"})
        self.do("health1", case_id, "sign_for", {"sign_decision": "sign"})
        assert self.call("GET", f"/api/v1/work-orders/{order['id']}", "hotline1")["status"] == "in_progress"
        return order["id"]

    def process_requests(self) -> dict:
        """Under FOUR_EYES_DEPLOY, designer asks twice to deploy authz_message (designer2 rejects one);
        then designer deploys a newer version directly, so a draft begun before and the open request
        are stale (deploying either answers 409 once the author and four-eyes checks passed)."""
        draft = self.call("POST", "/api/v1/drafts", "designer", json={"key": "authz_message"})["id"]
        before = self.app.config["FOUR_EYES_DEPLOY"]
        self.app.config["FOUR_EYES_DEPLOY"] = True
        try:
            stale, done = (self.upload("/api/v1/pending-deployments", "designer",
                                       [("authz_message.bpmn", _message_bpmn(tag))])["pending"]["id"] for tag in "AB")
        finally:
            self.app.config["FOUR_EYES_DEPLOY"] = before
        self.call("POST", f"/api/v1/pending-deployments/{done}/reject", "designer2", json={})
        self.upload("/api/v1/processes", "designer", [("authz_message.bpmn", _message_bpmn("C"))])
        return {"draft_stale": draft, "pending_stale": stale, "pending_done": done}

    def build(self) -> None:
        from app.extensions import db
        from app.models import User, WorkerHeartbeat
        from app.models.types import utcnow
        from app.services import runtime

        with self.app.app_context():
            truncate(db)
            demo.seed()
            second = User(username="designer2", display_name="流程设计员二", roles=["designer"], active=True)
            second.set_password(PASSWORD)
            db.session.add(second)
            # A running timer worker (/healthz/worker answers 200): its heartbeat is dated ahead, so
            # that it stays fresh however long the probes take.
            db.session.add(WorkerHeartbeat(name="authz-worker:1", beat_at=utcnow() + timedelta(days=1)))
            db.session.commit()
            runtime.spec_cache().clear()
        self.deploy(_referenced_files(NEWBORN_BPMN))
        self.deploy(_referenced_files(HOTLINE_BPMN))
        self.upload("/api/v1/processes", "designer", [("authz_message.bpmn", MESSAGE_BPMN)])
        requests = self.process_requests()
        self.upload("/api/v1/catalogue", "designer", [("newborn.toml", CATALOGUE.read_bytes())])

        a = self.newborn_case()
        self.claim("health1", a["birth_cert"])
        self.claim("health2", a["birth_registration"])
        decided = self.extension(a["case"])
        self.call("POST", f"/api/v1/extensions/{decided}/approve", "admin", json={})
        attachment = self.upload(f"/api/v1/tasks/{a['birth_cert']}/attachments", "health1", [("出生医学证明.pdf", PDF)])

        p = self.newborn_case()
        paused = p["case"]
        other = self.upload(f"/api/v1/tasks/{p['birth_cert']}/attachments", "health1", [("户口簿.pdf", PDF + b"p")])
        self.call("POST", f"/api/v1/cases/{paused}/pause", "window1", json={"kind": "hearing", "reason": "组织听证"})
        confidential = self.call("POST", "/api/v1/work-orders", "hotline1", json={
            **ORDER, "caller": {"name": "张先生", "phone": "13700001111", "confidential": True}})
        corrected = self.newborn_case()["case"]
        done = self.correction(corrected)
        self.call("POST", f"/api/v1/notices/{done}/received", "window1")

        returned = self.assisted_application()
        self.call("POST", f"/api/v1/assisted-applications/{returned}/return", "window1", json={"remark": "请补充"})
        self.ids = {
            "case_a": a["case"], "t_done": a["formal_check"], "t_h1": a["birth_cert"], "t_h2": a["birth_registration"],
            "ext_decided": decided, "ext_pending": self.extension(a["case"]), "attachment": attachment[0]["id"],
            "attachment_other": other[0]["id"], "order_confidential": confidential["id"],
            "t_open": self.newborn_case()["birth_cert"], "case_p": paused, "case_c": corrected, "notice_done": done,
            "notice_open": self.correction(corrected), "msg_case": self.message_case(), "order": self.work_order(),
            "app_submitted": self.assisted_application(), "app_returned": returned, **requests,
        }

    # -- objects for one probe (moves that cannot fail after the permission check) ---------------

    def fresh_case(self) -> dict:
        return {"case_a": self.newborn_case()["case"]}

    def fresh_pending_extension(self) -> dict:
        return {"ext_pending": self.extension(self.newborn_case()["case"])}

    def fresh_open_notice(self) -> dict:
        return {"notice_open": self.correction(self.newborn_case()["case"])}

    def fresh_open_task(self) -> dict:
        return {"t_open": self.newborn_case()["birth_cert"]}

    def fresh_held_task(self) -> dict:
        task = self.newborn_case()["birth_registration"]
        self.claim("health2", task)
        return {"t_h2": task}

    def fresh_message_case(self) -> dict:
        return {"msg_case": self.message_case()}

    def fresh_draft(self) -> dict:
        return {"draft_stale": self.call("POST", "/api/v1/drafts", "designer", json={"key": "authz_message"})["id"]}

    def fresh_filter(self) -> dict:
        saved = self.call("POST", "/api/v1/saved-filters", "window1",
                          json={"name": f"authz {next(self.serial)}", "query": {"tab": "mine"}})
        return {"filter": saved["id"]}

    # -- one probe as one user -------------------------------------------------------------------

    def request(self, endpoint: str, probe: Probe, user: str, expected: str):
        ids = self.ids
        if probe.fresh and (probe.fresh_all or expected in (OK, FLASH_OK)):
            ids = {**ids, **getattr(self, f"fresh_{probe.fresh}")()}
        path = _RULE_PARAM.sub(lambda m: str(_fill(probe.at[m.group(1)], ids, user)), probe.rule)
        routed, _args = self.adapter.match(path, method=probe.method)
        assert routed == endpoint, f"{probe.method} {path} is routed to {routed}, not {endpoint}"
        query, body = _fill(probe.query, ids, user), _fill(probe.body, ids, user)
        if probe.api:
            return path, self._api(probe, user, path, query, body), []
        return (path, *self._page(probe, user, path, query, body))

    def _api(self, probe: Probe, user: str, path: str, query, body):
        headers = {}
        if user != ANON:
            headers["Authorization"] = f"Bearer {self.new_token(user) if probe.own_login else self.token(user)}"
        kw = {"headers": headers, "query_string": query}
        if probe.upload:
            kw.update(data={}, content_type="multipart/form-data")
        elif body is not None:
            kw["json"] = body
        return self.client.open(path, method=probe.method, **kw)

    def _page(self, probe: Probe, user: str, path: str, query, body):
        browser = self.new_browser(user) if probe.own_login else self.browser(user)
        if probe.method == "GET":
            r = browser.client.get(path, query_string=query)
        else:
            form, kw = {**(body or {}), "csrf_token": browser.csrf}, {}
            if probe.upload:
                form["file"] = (io.BytesIO(PDF), "scan.pdf")
                kw["content_type"] = "multipart/form-data"
            r = browser.client.open(path, method=probe.method, data=form, query_string=query, **kw)
        with browser.client.session_transaction() as session:
            flashes = session.pop("_flashes", [])
        return r, flashes


def _fill(value, ids: dict, user: str):
    """Replace ``@name`` by the World object (``@user``: the caller, window2 for anonymous)."""
    if isinstance(value, str) and value.startswith("@"):
        return (user if user != ANON else "window2") if value == "@user" else ids[value[1:]]
    if isinstance(value, dict):
        return {k: _fill(v, ids, user) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids, user) for v in value]
    return value


@pytest.fixture(scope="module")
def world(app, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(app.config, "ATTACHMENT_DIR", str(tmp_path_factory.mktemp("authz_attachments")))
        # The public review probes (every role sends a receipt number that matches no case) would
        # otherwise lock that receipt number after ten tries (reviews.py); throttling has its own tests.
        mp.setitem(app.config, "REVIEW_MAX_MISMATCHES", 10_000)
        built = World(app)
        built.build()
        yield built


# -- judging a response ----------------------------------------------------------------------------


def _login_redirect(r) -> bool:
    """flask-login's answer to an anonymous page request: a redirect to /login?next=<page>."""
    target = urlsplit(r.headers.get("Location", ""))
    return r.status_code == 302 and target.path == "/login" and "next" in parse_qs(target.query)


def _problem(expected: str, probe: Probe, r, flashes) -> str | None:
    """None when the response belongs to the expected outcome class, else what is wrong."""
    status = r.status_code
    body = r.get_json(silent=True) if probe.api else None
    categories = {category for category, _message in flashes}
    if status >= 500:
        return f"server error {status}"
    if expected == LOGIN:
        if probe.api:
            return None if status == 401 and (body or {}).get("error") == "unauthorized" else "not 401 unauthorized"
        return None if _login_redirect(r) else "not a redirect to the login page"
    if _login_redirect(r):
        return "redirected to the login page"
    if expected in (DENY, HIDE, BUSY):
        if status != int(expected):
            return f"not {expected}"
        if probe.api and (body or {}).get("code") != status:
            return "not a JSON error body"
        return None
    if expected == FLASH_ERR:
        return None if status == 302 and "error" in categories and "success" not in categories else \
            "not a redirect with an error message"
    if expected == FLASH_OK:
        return None if status == 302 and "success" in categories and "error" not in categories else \
            "not a redirect with a success message"
    if status in (401, 403):
        return "refused"
    if probe.ok and status not in probe.ok:
        return f"not one of {probe.ok}"
    return None


# -- tests -------------------------------------------------------------------------------------------


def test_every_route_has_an_access_rule(app):
    """Every endpoint of the route table has a rule in ACCESS (or is skipped), and every rule a route."""
    routed = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(routed - set(ACCESS) - set(SKIPPED))
    stale = sorted(set(ACCESS) - routed)
    assert not missing and not stale, (
        f"Routes without an access rule in ACCESS (add one): {missing}; "
        f"rules in ACCESS for endpoints that no longer exist (remove them): {stale}")
    assert set(SKIPPED) <= routed, f"skipped endpoints that no longer exist: {sorted(set(SKIPPED) - routed)}"
    assert not set(SKIPPED) & set(ACCESS)


def test_every_rule_and_method_is_probed(app):
    """Each endpoint's probes cover exactly its URL rules and methods (a new method needs a probe too);
    a rule and method probed twice must name different variants."""
    routed: dict[str, set] = {}
    for rule in app.url_map.iter_rules():
        routed.setdefault(rule.endpoint, set()).update((rule.rule, m) for m in rule.methods - _IGNORED_METHODS)
    wrong = {}
    for endpoint, entry in ACCESS.items():
        probed = {(p.rule, p.method) for p in _probes(entry)}
        labels = [(p.rule, p.method, p.variant) for p in _probes(entry)]
        if len(labels) != len(set(labels)) or probed != routed.get(endpoint, set()):
            wrong[endpoint] = {"routed": sorted(routed.get(endpoint, set())), "probed": sorted(labels)}
    assert not wrong, f"probes do not match the route table: {wrong}"


def test_object_rules_name_the_permitted_outcome():
    """An object-level probe says what a permitted caller gets, so a hidden 404 cannot pass as permitted."""
    vague = [endpoint for endpoint, entry in ACCESS.items() for p in _probes(entry)
             if p.policy.kind == "object" and not p.policy.flash and not p.ok]
    assert not vague, f"object-level probes without ok statuses: {vague}"


def _matrix():
    for endpoint, entry in ACCESS.items():
        for probe in _probes(entry):
            for user in (*CORE, *probe.policy.extra):
                variant = f"/{probe.variant}" if probe.variant else ""
                yield pytest.param(endpoint, probe, user, id=f"{endpoint}[{probe.method}{variant}]-{user}")


@pytest.mark.parametrize(("endpoint", "probe", "user"), list(_matrix()))
def test_access(world, endpoint, probe, user):
    """The endpoint answers this role with the outcome its rule in ACCESS declares."""
    expected = probe.policy.expect(user)
    path, r, flashes = world.request(endpoint, probe, user, expected)
    problem = _problem(expected, probe, r, flashes)
    assert problem is None, (
        f"{probe.method} {path} as {user}: expected {expected} ({probe.policy.describe}); got {r.status_code}, "
        f"{problem}. Location: {r.headers.get('Location')}; flashes: {flashes}; body: {r.get_data(as_text=True)[:300]}")
