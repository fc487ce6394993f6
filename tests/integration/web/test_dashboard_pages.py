"""The dashboard, its drill-down and the monthly report without a browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TAXI = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
        ROOT / "forms" / "taxi_driver_decision.json")
APPLICATION = {"driving_licence_no": "140402199001011234", "exam_certificate_no": "KS2025-0001",
               "no_bad_record_pledge": True}


def _cases(api, n=3):
    assert api.deploy(*TAXI).status_code == 201
    for _ in range(n):
        case = api.start("taxi_driver_licence", APPLICATION).get_json()
        api.do("window1", "window_decision", {"decision": "issue", "licence_no": "X", "decision_opinion": "ok"},
               case["id"])


def test_the_dashboard_is_for_supervisors_leaders_and_admins(api, login):
    _cases(api)
    for user in ("supervisor", "leader1", "admin"):
        html = login(user).html("/dashboard?period=day")
        assert 'data-kpi="cases_received" data-raw="3"' in html, user
        assert 'href="/dashboard"' in html
    assert login("window1").get("/dashboard").status_code == 403
    assert 'href="/dashboard"' not in login("window1").html("/")


def test_numbers_link_to_the_cases_behind_them(api, login):
    _cases(api, 2)
    leader = login("leader1")
    html = leader.html("/dashboard?period=day")
    assert "/dashboard/drilldown?metric=received" in html
    drill = leader.html("/dashboard/drilldown?metric=immediate&period=day")
    assert 'id="drill-total">2<' in drill and drill.count("/cases/") >= 2
    assert leader.get("/dashboard/drilldown?metric=nonsense&period=day").status_code == 422


def test_monthly_report_prints_the_headlines(api, login):
    _cases(api)
    html = login("supervisor").html("/reports/monthly")
    assert 'id="report-headlines"' in html and "100.0%" in html
    assert login("supervisor").get("/reports/monthly?month=2026-13").status_code == 422


def test_the_export_links_work_with_the_browser_session(api, login):
    _cases(api)
    leader = login("leader1")
    html = leader.html("/dashboard?period=day")
    link = html.split('href="/api/v1/kpis/export?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    r = leader.get("/api/v1/kpis/export?" + link)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/vnd.openxmlformats")


def test_monthly_report_as_pdf(api, login):
    """fpdf2 with the installed CJK font: a PDF download of the month (CI installs fonts-wqy-microhei)."""
    _cases(api)
    leader = login("leader1")
    assert "/reports/monthly.pdf?month=" in leader.html("/reports/monthly")
    r = leader.get("/reports/monthly.pdf?month=2026-11")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF-") and b"/FontFile2" in r.data  # the CJK font is embedded
    assert r.headers["Content-Disposition"] == 'attachment; filename="monthly_report_2026-11.pdf"'
    assert login("window1").get("/reports/monthly.pdf").status_code == 403


def test_without_a_chinese_font_the_pdf_is_refused_clearly(api, app, login, monkeypatch):
    from app.services import reports

    monkeypatch.setattr(reports, "CANDIDATES", ())
    monkeypatch.setitem(app.config, "REPORT_FONT", "/nonexistent/font.ttc")
    leader = login("leader1")
    r = leader.get("/reports/monthly.pdf?month=2026-11")
    assert r.status_code == 302 and r.headers["Location"].endswith("/reports/monthly?month=2026-11")
    assert "REPORT_FONT" in leader.html("/reports/monthly?month=2026-11")  # the flash says why


def test_the_dashboard_says_when_no_timer_worker_is_running(app, login, clock):
    """Timers and time-limit warnings stop while no ``flask worker`` runs: supervisors are told."""
    from datetime import timedelta

    supervisor = login("supervisor")
    html = supervisor.html("/dashboard")
    assert 'id="worker-down"' in html and "No timer worker has run yet" in html
    assert "定时任务进程从未运行" in login("supervisor", english=False).html("/dashboard")
    assert app.test_cli_runner().invoke(args=["worker", "--once"]).exit_code == 0
    assert 'id="worker-down"' not in supervisor.html("/dashboard")
    clock.shift(timedelta(minutes=3))
    html = supervisor.html("/dashboard")
    assert 'id="worker-down"' in html and "The timer worker is not running" in html and "Last heard from" in html
    assert "定时任务进程未在运行" in login("supervisor", english=False).html("/dashboard")


def test_a_figure_of_a_chosen_period_drills_down_into_that_period(api, login):
    """The dashboard's links carry the chosen dates (from, to): the list behind a figure of a custom
    period or of a week is that period's, not the current month's."""
    _cases(api, 2)
    leader = login("leader1")
    html = leader.html("/dashboard?period=custom&from=2020-01-01&to=2020-01-31")
    link = html.split('href="/dashboard/drilldown?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    drill = leader.html("/dashboard/drilldown?" + link)
    assert "2020-01-01 ~ 2020-01-31" in drill
    assert 'id="drill-total">0<' in drill
    # the next page keeps the period as well
    assert leader.html("/dashboard/drilldown?" + link + "&page=2").count("2020-01-01 ~ 2020-01-31") == 1


def test_the_drilldown_names_its_figure_and_the_states_in_words(api, login):
    """The list behind a figure is headed by the figure's name and shows each case's state as the
    case pages do, not the codes of the query string and the database."""
    _cases(api, 1)
    drill = login("leader1").html("/dashboard/drilldown?metric=received&period=day")
    heading = drill.split('id="drill-heading">', 1)[1].split("</h1>", 1)[0]
    assert "Cases received" in heading and "received" not in heading.replace("Cases received", "")
    rows = drill.split('id="drill-rows">', 1)[1].split("</table>", 1)[0]
    assert "<td>Completed</td>" in rows and "<td>completed</td>" not in rows


@pytest.mark.parametrize("english", [False, True])
def test_the_monthly_report_names_its_warnings_in_words(login, english):
    html = login("supervisor", english=english).html("/reports/monthly?month=2026-11")
    warnings = html.split('id="report-warnings">', 1)[1].split("</ul>", 1)[0]
    assert "deadline_warning" not in warnings, warnings
    names = (("Case time-limit warning", "Task time-limit warning", "12345 order time-limit warning") if english
             else ("审批案件时限预警", "环节时限预警", "12345工单时限预警"))
    for name in names:
        assert f"<li>{name}：" in warnings, (name, warnings)


@pytest.mark.parametrize(("english", "heading"), [(True, "Monthly report · 2026-03"), (False, "月度报告 · 2026年03月")])
def test_the_monthly_report_heading_writes_the_month_in_the_pages_language(login, english, heading):
    html = login("supervisor", english=english).html("/reports/monthly?month=2026-03")
    assert f'<h1 id="report-heading">{heading}</h1>' in html


def test_the_export_list_names_its_tables_in_words(login):
    """Each export is named as the dashboard names the figures (总体指标, 各部门…), not by the
    API's table code (summary, departments…)."""
    html = login("leader1", english=False).html("/dashboard?period=day")
    exports = html.split('id="exports">', 1)[1].split("</ul>", 1)[0]
    items = re.findall(r"<li>\s*(.*?):", exports)
    assert len(items) == 6, exports
    for code in ("summary", "departments", "daily", "units", "categories", "reductions"):
        assert code not in items, items


def test_a_later_page_of_the_drilldown_links_back(api, login):
    _cases(api, 1)
    drill = login("leader1").html("/dashboard/drilldown?metric=received&period=day&page=2")
    link = re.search(r'<a href="([^"]*)" rel="prev">', drill)
    assert link and "page=1" in link.group(1) and "metric=received" in link.group(1)
