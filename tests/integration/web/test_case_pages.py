"""Case search (办件查询), the case page and its diagram through the Flask test client."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from support import DATA

LOOP = DATA / "parallel_loop" / "parallel_loop.bpmn"
JOINT = (DATA / "api_checks" / "joint_review.bpmn", DATA / "api_checks" / "joint_review_form.json")
APPLICANT = {"name": "王小明", "id_number": "140402199001011234", "phone": "13812341234"}
OTHER = {"name": "李四", "id_number": "14040219850505678X", "phone": "13900001111"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def search_id(browser, id_number: str, page: int | None = None):
    """Search by full ID number (a POST, so the number never lands in a URL)."""
    data = {"id_number": id_number}
    if page:
        data["page"] = page
    return browser.post("/cases/search", data)


@pytest.fixture()
def deployed(api):
    """The parallel review loop and the joint review (health + police candidate groups) deployed."""
    assert api.deploy(LOOP).status_code == 201
    assert api.deploy(*JOINT).status_code == 201
    return api


def start(api, key: str = "parallel_loop", applicant: dict = APPLICANT, user: str = "window1") -> dict:
    r = api.start(key, applicant=applicant, user=user)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def result_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="case-(\d+)"', html)]


def test_search_needs_a_login(client):
    """Logged out, the search and case pages send people to the login page."""
    for path in ("/cases", "/cases/1", "/cases/1/diagram.bpmn"):
        r = client.get(path)
        assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/login"


def test_search_by_receipt_prefix_and_applicant_name(deployed, login):
    """Receipt number: exact or its beginning (any letter case). Applicant: any part of the name."""
    first = start(deployed)
    second = start(deployed, applicant=OTHER)
    window = login("window1")
    assert result_ids(window.html(f"/cases?receipt_no={first['receipt_no']}")) == [first["id"]]
    assert sorted(result_ids(window.html(f"/cases?receipt_no={first['receipt_no'][:10].lower()}"))) == sorted(
        [first["id"], second["id"]])
    assert result_ids(window.html("/cases?applicant_name=四")) == [second["id"]]
    assert result_ids(window.html("/cases?applicant_name=四&receipt_no=" + first["receipt_no"])) == []
    html = window.html("/cases")
    assert sorted(result_ids(html)) == sorted([first["id"], second["id"]])
    assert "1404**********1234" in html and APPLICANT["id_number"] not in html
    assert "In progress" in html and "并联审批与补正循环" in html and "<title>Case search" in html


def test_search_by_full_id_number_is_posted_and_masked(deployed, login):
    """The full ID number finds the applicant's cases; partial numbers do not; it is never echoed back."""
    mine = start(deployed)
    start(deployed, applicant=OTHER)
    window = login("window1")
    r = search_id(window, APPLICANT["id_number"])
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and result_ids(html) == [mine["id"]]
    assert "Cases of ID number 1404**********1234" in html
    assert APPLICANT["id_number"] not in html
    assert result_ids(search_id(window, APPLICANT["id_number"][:10]).get_data(as_text=True)) == []
    lower_x = search_id(window, OTHER["id_number"].lower()).get_data(as_text=True)
    assert len(result_ids(lower_x)) == 1
    assert "Enter an ID number" in search_id(window, "").get_data(as_text=True)
    r = window.client.post("/cases/search", data={"id_number": APPLICANT["id_number"]})
    assert r.status_code == 400  # no CSRF token


def test_search_shows_only_cases_the_user_may_see(deployed, login):
    """Reviewers find cases their groups worked on; another group's reviewer finds nothing; supervisors all."""
    loop_case = start(deployed)
    joint_case = start(deployed, "joint_review")
    assert sorted(result_ids(login("supervisor").html("/cases"))) == sorted([loop_case["id"], joint_case["id"]])
    assert sorted(result_ids(login("police1").html("/cases"))) == sorted([loop_case["id"], joint_case["id"]])
    assert result_ids(login("medins1").html("/cases")) == []
    assert result_ids(login("medins1").html(f"/cases?receipt_no={loop_case['receipt_no']}")) == []
    assert result_ids(search_id(login("medins1"), APPLICANT["id_number"]).get_data(as_text=True)) == []
    assert sorted(result_ids(login("window2").html("/cases"))) == []  # same group as the starter, no task


def test_visible_cases_filter_matches_the_permission_rule(app, deployed, make_user):
    """queries.visible_cases (SQL) agrees with services.cases.get_case for every user and case."""
    from app.errors import NotFound
    from app.extensions import db
    from app.models import Case, User
    from app.services import cases, queries

    make_user("nobody", ["reviewer"], [])
    loop_case = start(deployed)
    start(deployed, "joint_review", user="window2")
    deployed.do("health1", "review_a", {"a_ok": True}, case_id=loop_case["id"])
    deployed.do("police1", "review_b", {"b_ok": False}, case_id=loop_case["id"])
    with app.app_context():
        every_case = list(db.session.scalars(select(Case)))
        for user in db.session.scalars(select(User)):
            sql = set(db.session.scalars(select(Case.id).where(queries.visible_cases(user))))
            allowed = set()
            for case in every_case:
                try:
                    cases.get_case(user, case.id)
                except NotFound:
                    continue
                allowed.add(case.id)
            assert sql == allowed, user.username


def test_case_page_shows_header_tasks_data_and_history(deployed, login):
    """Header with masked ID and phone, waiting tasks with groups and holders, data as written, timeline."""
    case = start(deployed)
    deployed.do("police1", "review_b", {"b_ok": False, "note": "缺少出生证明", "mother_id": "140402199203045678"},
                case_id=case["id"])
    task = deployed.find_task("health1", "review_a", case["id"])
    deployed.post(f"/api/v1/tasks/{task['id']}/claim", "health1")
    html = login("police1").html(f"/cases/{case['id']}")
    assert f"<title>{case['receipt_no']} · Case" in html
    header = re.search(r'<dl class="kv" id="case-header">(.*?)</dl>', html, re.S).group(1)
    assert "王小明" in header and "1404**********1234" in header and "138****1234" in header
    assert "并联审批与补正循环" in header and "version 1" in header and "综窗受理员一" in header
    assert "In progress" in html
    waiting = re.search(r'<ul class="timeline" id="open-tasks">(.*?)</ul>', html, re.S).group(1)
    assert "卫健审查" in waiting and "卫生健康" in waiting and "held by 卫健审查员" in waiting
    assert f'href="/tasks/{task["id"]}"' in waiting
    data = re.search(r'<dl class="kv" id="case-data">(.*?)</dl>', html, re.S).group(1)
    assert "<dt>note</dt>" in data and "缺少出生证明" in data and "<dt>b_ok</dt>" in data and "No" in data
    assert "1404**********5678" in data and "140402199203045678" not in html
    assert APPLICANT["id_number"] not in html and APPLICANT["phone"] not in html
    history = re.search(r'<ol class="timeline" id="history">(.*?)</ol>', html, re.S).group(1)
    for label in ("Case started", "Task claimed", "Task completed"):
        assert label in history
    assert "公安审查员" in history and "公安审查" in history
    assert 'data-src="/cases/{}/diagram.bpmn"'.format(case["id"]) in html
    assert "data-current='[\"review_a\"]'" in html
    assert "bpmn-navigated-viewer.production.min.js" in html and "bpmn-js.css" in html


def test_finished_case_shows_its_end_and_outcome(deployed, login):
    """A completed case: status Completed, outcome as written in the diagram, the case-completed event."""
    case = start(deployed)
    deployed.do("health1", "review_a", {"a_ok": True}, case_id=case["id"])
    deployed.do("police1", "review_b", {"b_ok": True}, case_id=case["id"])
    html = login("window1").html(f"/cases/{case['id']}")
    assert "Completed" in html and "办结" in html and "Nothing is waiting." in html
    assert "Case completed" in html
    ended = re.search(r"<dt>Ended</dt>\s*<dd>([^<]*)</dd>", html).group(1)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d", ended)


def test_case_page_lists_attachments(app, deployed, login, tmp_path, monkeypatch):
    """Attachments are listed with links to their download route."""
    from app import transaction
    from app.extensions import db
    from app.models import Case, User
    from app.services import attachments

    monkeypatch.setitem(app.config, "ATTACHMENT_DIR", str(tmp_path))
    case = start(deployed)
    with app.app_context():
        clerk = db.session.scalar(select(User).where(User.username == "window1"))
        added = transaction.run(attachments.add, db.session.get(Case, case["id"]), clerk, "出生证明.png", PNG)
        attachment_id = added.id
    html = login("window1").html(f"/cases/{case['id']}")
    assert f'href="/cases/{case["id"]}/attachments/{attachment_id}" download>出生证明.png</a>' in html
    assert "Attachment added" in html


def test_invisible_and_missing_cases_are_404(deployed, login):
    """Another group's reviewer gets the 404 page for the case and its diagram, as for a missing case."""
    case = start(deployed)
    medins = login("medins1")
    for path in (f"/cases/{case['id']}", f"/cases/{case['id']}/diagram.bpmn", "/cases/99999"):
        r = medins.client.get(path)
        assert r.status_code == 404
        assert "does not exist" in r.get_data(as_text=True)


def test_diagram_route_serves_the_bpmn_safely(deployed, login):
    """The diagram XML of the case's version, as an attachment-disposition document that cannot run scripts."""
    case = start(deployed)
    r = login("health1").client.get(f"/cases/{case['id']}/diagram.bpmn")
    assert r.status_code == 200
    assert r.mimetype == "application/xml"
    assert b'<bpmn:process id="parallel_loop"' in r.data
    assert "sandbox" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["ETag"]
    again = login("health1").client.get(f"/cases/{case['id']}/diagram.bpmn",
                                        headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_id_search_pages_are_posted(deployed, login):
    """More than 20 cases of one applicant: the pager posts the next page, no ID number in any link."""
    for _ in range(21):
        start(deployed)
    window = login("window1")
    first = search_id(window, APPLICANT["id_number"]).get_data(as_text=True)
    assert len(result_ids(first)) == 20 and "Page 1 of 2" in first
    assert not re.search(r'href="[^"]*id_number', first)
    second = search_id(window, APPLICANT["id_number"], page=2).get_data(as_text=True)
    assert len(result_ids(second)) == 1 and "Page 2 of 2" in second


def test_search_counts_up_to_a_limit_and_pages_within_it(app, deployed, login, monkeypatch):
    """Beyond SEARCH_COUNT_LIMIT matches the page says "more than …" and pages through that many;
    a page past the results shows the last one; a search that fits on one page is not counted."""
    from app.extensions import db
    from app.models import User
    from app.services import queries

    ids = [start(deployed, applicant={**OTHER, "name": f"欧阳{n}号"})["id"] for n in range(22)]
    newest_first = list(reversed(ids))

    def search(page, name="欧阳"):
        with app.test_request_context():
            user = db.session.scalar(select(User).where(User.username == "window1"))
            return queries.search_cases(user, queries.CaseCriteria(applicant_name=name), page, per_page=2)

    monkeypatch.setattr(queries, "SEARCH_COUNT_LIMIT", 4)
    first = search(1)
    assert (first.total, first.capped, first.pages, [c.id for c in first.items]) == (4, True, 2, newest_first[:2])
    last = search(2)
    assert [c.id for c in last.items] == newest_first[2:4] and not last.has_next
    assert search(99).page == 2  # clamped into the counted pages
    one = search(1, "欧阳3号")  # one match: on the first page, nothing else to count
    assert (one.total, one.capped, [c.id for c in one.items]) == (1, False, [ids[3]])

    monkeypatch.setattr(queries, "SEARCH_COUNT_LIMIT", 21)
    window = login("window1")
    html = window.html("/cases?applicant_name=欧阳")
    assert 'id="results-capped"' in html and "More than 21 results" in html
    assert result_ids(html) == newest_first[:20]
    monkeypatch.setattr(queries, "SEARCH_COUNT_LIMIT", 22)
    html = window.html("/cases?applicant_name=欧阳")
    assert 'id="results-capped"' not in html and "22 results" in html


@pytest.mark.parametrize("part", ["阳", "欧阳", "阳5号", "欧阳5号", "5号"])
def test_search_finds_name_parts_of_any_length(deployed, login, part):
    """Short parts (one or two characters: a scan) and longer ones (trigram index on PostgreSQL)
    find the same cases."""
    ids = {n: start(deployed, applicant={**OTHER, "name": f"欧阳{n}号"})["id"] for n in (4, 5)}
    start(deployed, applicant={**OTHER, "name": "Ada Lovelace"})
    window = login("window1")
    expected = [ids[5]] if "5" in part else sorted(ids.values(), reverse=True)
    assert result_ids(window.html(f"/cases?applicant_name={part}")) == expected
    assert result_ids(window.html("/cases?applicant_name=LOVE")) != []  # letters: any case


def test_history_says_when_a_calendar_change_moved_the_due_dates(api, login):
    """The admin declares the case's due day a day off: the timeline shows the recompute, its
    actor and the day, in the page's language."""
    from datetime import datetime

    assert api.deploy(DATA / "moves" / "moves.bpmn").status_code == 201
    case = start(api, key="moves")
    due_day = datetime.fromisoformat(case["due_at"]).date().isoformat()
    r = api.client.put(f"/api/v1/calendar/overrides/{due_day}", headers=api.headers("admin"),
                       json={"is_working_day": False, "note": "临时调休"})
    assert r.status_code == 200, r.get_json()
    window = login("window1")
    history = re.search(r'<ol class="timeline" id="history">(.*?)</ol>', window.html(f"/cases/{case['id']}"), re.S)
    assert "Due dates recomputed" in history.group(1) and f"calendar changed for {due_day}" in history.group(1)
    window.client.get("/lang/zh_CN")
    history = re.search(r'<ol class="timeline" id="history">(.*?)</ol>', window.html(f"/cases/{case['id']}"), re.S)
    assert "重新计算办理期限" in history.group(1) and f"工作日历调整：{due_day}" in history.group(1)


def test_search_terms_longer_than_any_stored_value_find_nothing(deployed, login):
    """Not a database error (SQLite refuses LIKE patterns over 50,000 bytes): no case can match."""
    start(deployed)
    browser = login("window1")
    assert len(result_ids(browser.html("/cases?applicant_name=王"))) == 1
    for query in ("receipt_no=" + "C" * 100_000, "applicant_name=" + "王" * 50_000):
        assert result_ids(browser.html("/cases?" + query)) == []


def test_nested_personal_data_is_masked_on_the_case_page(api, login):
    """A message payload (a JSON object in the case data) with a phone and an ID number: the case
    page masks them at any depth, as the API does."""
    assert api.deploy(DATA / "messages" / "two_catches.bpmn").status_code == 201
    case = start(api, "msgtest")
    payload = {"result": "done", "contact_phone": "13712345678", "holder_id_number": "140402198805051234",
               "holders": [{"id_number": "140402197707071234"}]}
    r = api.post(f"/api/v1/cases/{case['id']}/messages", "utilities1",
                 json={"name": "water_transferred", "payload": payload})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["water_transferred"]["contact_phone"] == "137****5678"  # the API masks
    html = login("window1").html(f"/cases/{case['id']}")
    for raw in ("13712345678", "140402198805051234", "140402197707071234"):
        assert raw not in html
    assert "137****5678" in html and "1404**********1234" in html
