"""The inbox pages (待办) through the Flask test client: tabs, counts, filters, pages, claim and release."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlalchemy import event, select

from support import DATA

LOOP = DATA / "parallel_loop" / "parallel_loop.bpmn"
JOINT = (DATA / "api_checks" / "joint_review.bpmn", DATA / "api_checks" / "joint_review_form.json")
APPLICANT = {"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}
MASKED_ID = "1404**********1234"


def start_loop(api, n: int = 1, applicant: dict | None = None) -> list[dict]:
    cases = []
    for _ in range(n):
        r = api.start("parallel_loop", applicant=applicant or APPLICANT)
        assert r.status_code == 201, r.get_json()
        cases.append(r.get_json())
    return cases


@pytest.fixture()
def loop(api):
    """The parallel review diagram deployed: review_a for health, review_b for police, fix for the starter."""
    assert api.deploy(LOOP).status_code == 201
    return api


def task_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="task-(\d+)"', html)]


def counts(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'id="count-(\w+)"[^>]*>(\d+)<', html)}


def test_inbox_sends_logged_out_visitors_to_login(client):
    """GET / without a session redirects to the login page."""
    r = client.get("/")
    assert r.status_code == 302
    assert urlsplit(r.headers["Location"]).path == "/login"


def test_available_tab_lists_my_groups_tasks_with_masked_applicant(loop, login):
    """待认领 shows the group's open tasks: receipt and task links, bundle, masked ID, never the raw ID."""
    cases = start_loop(loop, 2)
    html = login("health1").html("/")
    assert len(task_ids(html)) == 2
    for case in cases:
        assert f'href="/cases/{case["id"]}">{case["receipt_no"]}</a>' in html
    assert "卫健审查" in html and "公安审查" not in html
    assert "并联审批与补正循环" in html
    assert MASKED_ID in html and APPLICANT["id_number"] not in html
    for task_id in task_ids(html):
        assert f'href="/tasks/{task_id}"' in html
    assert "<title>To claim · Inbox" in html


def test_applicant_lane_task_is_available_to_the_starter_only(loop, login):
    """The correction task of the 申请人 lane shows in the starter's 待认领, not in a colleague's."""
    case = start_loop(loop)[0]
    loop.do("health1", "review_a", {"a_ok": True}, case_id=case["id"])
    loop.do("police1", "review_b", {"b_ok": False}, case_id=case["id"])
    assert "补正材料" in login("window1").html("/")
    assert "补正材料" not in login("window2").html("/")


def test_every_tab_shows_its_count(loop, login):
    """Counts for 待认领, 我的待办, 已办, 我发起的 and 抄送我的 appear on every tab."""
    cases = start_loop(loop, 3)
    loop.do("health1", "review_a", {"a_ok": True}, case_id=cases[0]["id"])
    task = loop.find_task("health1", "review_a", cases[1]["id"])
    assert loop.post(f"/api/v1/tasks/{task['id']}/claim", "health1").status_code == 200
    health = login("health1")
    for tab in ("available", "mine", "completed", "started", "copied"):
        assert counts(health.html(f"/?tab={tab}")) == {"available": 1, "mine": 1, "completed": 1, "started": 0,
                                                       "copied": 0}
    assert counts(login("window1").html("/"))["started"] == 3


def test_mine_and_completed_tabs(loop, login):
    """我的待办 lists what I hold (with a release button); 已办 what I completed."""
    cases = start_loop(loop, 2)
    loop.do("health1", "review_a", {"a_ok": True}, case_id=cases[0]["id"])
    task = loop.find_task("health1", "review_a", cases[1]["id"])
    loop.post(f"/api/v1/tasks/{task['id']}/claim", "health1")
    health = login("health1")
    mine = health.html("/?tab=mine")
    assert task_ids(mine) == [task["id"]]
    assert f'/tasks/{task["id"]}/unclaim' in mine and "/claim" not in mine.replace("/unclaim", "")
    done = health.html("/?tab=completed")
    assert len(task_ids(done)) == 1 and cases[0]["receipt_no"] in done and cases[1]["receipt_no"] not in done


def test_started_tab_lists_my_cases_with_status_and_waiting_tasks(loop, login):
    """我发起的 rows are cases: status, and the tasks waiting now with who holds them."""
    case = start_loop(loop)[0]
    task = loop.find_task("police1", "review_b", case["id"])
    loop.post(f"/api/v1/tasks/{task['id']}/claim", "police1")
    html = login("window1").html("/?tab=started")
    row = re.search(rf'<tr id="case-{case["id"]}">(.*?)</tr>', html, re.S).group(1)
    assert case["receipt_no"] in row and "In progress" in row
    assert "卫健审查" in row and "unclaimed" in row
    assert "公安审查" in row and "公安审查员" in row
    assert "<title>Started by me · Inbox" in html
    assert login("health1").html("/?tab=started").count('<tr id="case-') == 0


def test_filter_by_bundle_and_task_name(loop, login):
    """The bundle and task selects narrow the list, together too; their options come from the data."""
    assert loop.deploy(*JOINT).status_code == 201
    start_loop(loop, 2)
    assert loop.start("joint_review").status_code == 201
    health = login("health1")
    html = health.html("/")
    assert len(task_ids(html)) == 3
    assert '<option value="joint_review"' in html and '<option value="卫健公安联合审查"' in html
    assert len(task_ids(health.html("/?bundle=joint_review"))) == 1
    assert len(task_ids(health.html("/?task=卫健审查"))) == 2
    assert task_ids(health.html("/?bundle=joint_review&task=卫健审查")) == []
    assert "No tasks match." in health.html("/?bundle=joint_review&task=卫健审查")


def test_search_matches_receipt_prefix_or_applicant_name(loop, login):
    """Free text finds a receipt number by its beginning (any case) or an applicant by part of the name."""
    first = start_loop(loop, applicant={"name": "张三丰", "id_number": "140402199001011111"})[0]
    start_loop(loop, applicant={"name": "李四", "id_number": "140402199001012222"})
    health = login("health1")
    assert len(task_ids(health.html("/?q=三丰"))) == 1
    assert len(task_ids(health.html(f"/?q={first['receipt_no']}"))) == 1
    assert len(task_ids(health.html(f"/?q={first['receipt_no'][:6].lower()}"))) == 2
    assert task_ids(health.html("/?q=王五")) == []
    assert task_ids(health.html("/?q=%25")) == []  # LIKE wildcards are literal


def test_sort_oldest_newest_and_by_receipt(loop, login):
    """Oldest first by default; newest first reverses; receipt number sorts by receipt."""
    start_loop(loop, 3)
    health = login("health1")
    oldest = task_ids(health.html("/"))
    assert oldest == sorted(oldest)
    assert task_ids(health.html("/?sort=newest")) == list(reversed(oldest))
    assert task_ids(health.html("/?sort=receipt")) == oldest
    assert 'value="oldest" selected' in health.html("/")
    assert 'value="newest" selected' in health.html("/?tab=completed")  # history reads newest first


def test_pages_of_twenty_keep_the_filters(loop, login):
    """23 tasks: page 1 has 20, page 2 has 3; prev/next and tab links keep the filters."""
    start_loop(loop, 23)
    health = login("health1")
    first = health.html("/?bundle=parallel_loop&q=王&sort=newest")
    assert len(task_ids(first)) == 20
    assert "Page 1 of 2" in first and "23 results" in first
    nxt = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    args = parse_qs(urlsplit(nxt).query)
    assert args == {"bundle": ["parallel_loop"], "q": ["王"], "sort": ["newest"], "page": ["2"]}
    second = health.html(nxt)
    assert len(task_ids(second)) == 3 and "Page 2 of 2" in second and 'rel="prev"' in second
    assert not set(task_ids(first)) & set(task_ids(second))
    tab_link = re.search(r'href="([^"]*tab=mine[^"]*)"', second).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(tab_link).query) == {"bundle": ["parallel_loop"], "q": ["王"], "sort": ["newest"],
                                                  "tab": ["mine"]}
    assert "Page 2 of 2" in health.html("/?page=99")  # past the end: the last page
    assert "Page 1 of 2" in health.html("/?page=abc")


def test_htmx_claim_returns_a_confirmation_row_and_new_counts(loop, login):
    """An htmx claim answers with the row to swap in ("Claimed — Work on it") and out-of-band counts."""
    start_loop(loop, 2)
    health = login("health1")
    task_id = task_ids(health.html("/"))[0]
    r = health.post(f"/tasks/{task_id}/claim", htmx=True)
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert body.lstrip().startswith(f'<tr id="task-{task_id}"')
    assert "Claimed" in body and f'href="/tasks/{task_id}"' in body and "Work on it" in body
    assert "<html" not in body
    assert re.search(r'id="count-available" hx-swap-oob="true">1<', body)
    assert re.search(r'id="count-mine" hx-swap-oob="true">1<', body)
    assert task_ids(health.html("/?tab=mine")) == [task_id]


def test_plain_claim_redirects_back_to_next_with_a_message(loop, login):
    """Without JavaScript the form posts, and the user returns to the list they came from."""
    start_loop(loop)
    health = login("health1")
    task_id = task_ids(health.html("/"))[0]
    r = health.post(f"/tasks/{task_id}/claim", {"next": "/?tab=available&q=王"})
    assert r.status_code == 302 and unquote(r.headers["Location"]) == "/?tab=available&q=王"
    assert "You claimed the task." in health.html("/?tab=available&q=王")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:x"])
def test_claim_ignores_an_unsafe_next(loop, login, target):
    """``next`` must be a path on this site; anything else goes to the inbox."""
    start_loop(loop)
    health = login("health1")
    task_id = task_ids(health.html("/"))[0]
    r = health.post(f"/tasks/{task_id}/claim", {"next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_htmx_claim_of_a_task_someone_else_took_shows_the_message(loop, login, make_user):
    """Two reviewers of one group: the second claimer gets a row saying someone else has it (status 200)."""
    start_loop(loop)
    first, second = login("health1"), login("health2")
    task_id = task_ids(second.html("/"))[0]  # health2's page, soon stale
    assert first.post(f"/tasks/{task_id}/claim", htmx=True).status_code == 200
    r = second.post(f"/tasks/{task_id}/claim", htmx=True)
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "Someone else has already claimed this task." in body and 'role="alert"' in body
    assert re.search(r'id="count-available" hx-swap-oob="true">0<', body)
    assert task_ids(second.html("/")) == []


def test_plain_claim_of_a_taken_task_flashes_the_message(loop, login, make_user):
    """Without htmx the conflict is a flash message on the page the user came from."""
    start_loop(loop)
    first, second = login("health1"), login("health2")
    task_id = task_ids(second.html("/"))[0]
    first.post(f"/tasks/{task_id}/claim", htmx=True)
    r = second.post(f"/tasks/{task_id}/claim", {"next": "/"})
    assert r.status_code == 302
    assert "Someone else has already claimed this task." in second.html("/")


def test_claiming_another_groups_task_is_a_friendly_message(loop, login):
    """A police reviewer posting a health task's claim sees why it failed, not an error page."""
    start_loop(loop)
    task_id = task_ids(login("health1").html("/"))[0]
    r = login("police1").post(f"/tasks/{task_id}/claim", htmx=True)
    assert r.status_code == 200
    assert "not for your groups" in r.get_data(as_text=True)
    r = login("police1").post("/tasks/99999/claim", htmx=True)
    assert "does not exist" in r.get_data(as_text=True)


def test_claiming_a_completed_task_says_so(loop, login):
    """A stale claim of a task already completed explains that it is no longer waiting."""
    case = start_loop(loop)[0]
    health = login("health1")
    task_id = task_ids(health.html("/"))[0]
    loop.do("health1", "review_a", {"a_ok": True}, case_id=case["id"])
    r = health.post(f"/tasks/{task_id}/claim", htmx=True)
    assert "no longer waiting" in r.get_data(as_text=True)


def test_release_with_htmx_and_without(loop, login):
    """我的待办: releasing swaps in a confirmation row; a plain post redirects; the task is open again."""
    start_loop(loop, 2)
    health = login("health1")
    first, second = task_ids(health.html("/"))
    health.post(f"/tasks/{first}/claim", htmx=True)
    health.post(f"/tasks/{second}/claim", htmx=True)
    r = health.post(f"/tasks/{first}/unclaim", htmx=True)
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and body.lstrip().startswith(f'<tr id="task-{first}"') and "Released" in body
    assert re.search(r'id="count-mine" hx-swap-oob="true">1<', body)
    r = health.post(f"/tasks/{second}/unclaim", {"next": "/?tab=mine"})
    assert r.status_code == 302 and unquote(r.headers["Location"]) == "/?tab=mine"
    assert sorted(task_ids(health.html("/"))) == sorted([first, second])
    # Releasing again (a double click) is a harmless no-op, not an error.
    again = health.post(f"/tasks/{second}/unclaim", htmx=True).get_data(as_text=True)
    assert 'role="alert"' not in again and "Released" in again


def test_claim_without_csrf_token_is_refused(loop, login):
    """A claim post without the CSRF token gets the 400 page and claims nothing."""
    start_loop(loop)
    health = login("health1")
    task_id = task_ids(health.html("/"))[0]
    r = health.post(f"/tasks/{task_id}/claim", {"next": "/"}, csrf=False)
    assert r.status_code == 400
    assert "Your form expired" in r.get_data(as_text=True)
    r = health.post(f"/tasks/{task_id}/claim", htmx=True, csrf=False)
    assert r.status_code == 400
    assert task_ids(health.html("/?tab=mine")) == []


def test_htmx_claim_after_the_session_ended_goes_to_login(app, loop, login):
    """An htmx claim without a session gets HX-Redirect to the login page instead of a login form in a row."""
    start_loop(loop)
    health = login("health1")
    task_id = task_ids(health.html("/"))[0]
    health.post("/logout")
    r = health.client.post(f"/tasks/{task_id}/claim",
                           headers={"HX-Request": "true", "X-CSRFToken": health.token,
                                    "HX-Current-URL": "http://localhost/?tab=available"})
    assert r.status_code == 200
    assert r.headers["HX-Redirect"].startswith("/login?next=")
    r = health.post(f"/tasks/{task_id}/claim", {"next": "/"})
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/login"


def test_lists_never_read_workflow_state_or_process_files(app, loop, login):
    """Every inbox tab and the case search read task, case and process rows only: no state, no files."""
    from app.extensions import db

    start_loop(loop, 3)
    health, window = login("health1"), login("window1")
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for tab in ("available", "mine", "completed"):
            health.html(f"/?tab={tab}&bundle=parallel_loop&q=王&task=卫健审查")
        window.html("/?tab=started")
        window.html("/cases?applicant_name=王")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements
    assert not [s for s in statements if "workflow_state" in s or "process_files" in s]


def test_available_query_agrees_with_the_task_service(app, loop, make_user):
    """queries.task_page('available') returns exactly what services.tasks.inbox does."""
    from app.extensions import db
    from app.models import User
    from app.services import queries, tasks

    loop.deploy(*JOINT)
    start_loop(loop, 2)
    loop.start("joint_review")
    case = start_loop(loop)[0]
    loop.do("health1", "review_a", {"a_ok": True}, case_id=case["id"])
    loop.do("police1", "review_b", {"b_ok": False}, case_id=case["id"])
    with app.app_context():
        for username in ("health1", "police1", "window1", "window2", "supervisor", "tax1"):
            user = db.session.scalar(select(User).where(User.username == username))
            for view in ("available", "mine", "completed"):
                expected = [t.id for t in tasks.inbox(user, view, 1, 100).items]
                got = queries.task_page(user, view, queries.InboxFilters(sort="oldest"), 1, 100)
                assert sorted(t.id for t in got.items) == sorted(expected), (username, view)
