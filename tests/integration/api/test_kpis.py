"""KPIs (issue 8) on small hand-computed fixtures: real cases of the 即办件 bundle (promised 0
working days: due at the end of the acceptance day; statutory 20) moved through time with the clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from support import ROOT

SH = ZoneInfo("Asia/Shanghai")
FILES = (ROOT / "bpmn" / "taxi_driver_licence.bpmn", ROOT / "forms" / "taxi_driver_application.json",
         ROOT / "forms" / "taxi_driver_decision.json")
APPLICATION = {"driving_licence_no": "140402199001011234", "exam_certificate_no": "KS2025-0001",
               "no_bad_record_pledge": True}
ISSUE = {"decision": "issue", "licence_no": "CZ-TAXI-0001", "decision_opinion": "材料齐全，当场核发"}
WEEK = "/api/v1/kpis?from=2026-11-23&to=2026-11-27"


def at(day, hour, minute=0):
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


@pytest.fixture()
def week(api, clock):
    """Mon 23 – Fri 27 Nov 2026 (all working days):

    A  started Mon 10:00, decided Mon 11:00  -> same day, on time, 0 working days
    B  started Mon 10:30, decided Tue 09:00  -> late (due Mon 23:59), within statutory, 1 working day
    C  started Mon 12:00, still running      -> overdue from Tue on
    D  started Tue 10:00, decided Thu 16:00  -> late, 2 working days
    E  started Mon 30 Nov (next week), decided the same day
    """
    assert api.deploy(*FILES).status_code == 201
    ids = {}

    def start(name, when):
        clock.set_time(when)
        r = api.start("taxi_driver_licence", APPLICATION)
        assert r.status_code == 201, r.get_json()
        ids[name] = r.get_json()["id"]

    def decide(name, when):
        clock.set_time(when)
        api.do("window1", "window_decision", ISSUE, ids[name])

    start("A", at(23, 10))
    start("B", at(23, 10, 30))
    start("C", at(23, 12))
    decide("A", at(23, 11))
    decide("B", at(24, 9))
    start("D", at(24, 10))
    decide("D", at(26, 16))
    start("E", at(30, 9))
    decide("E", at(30, 10))
    return ids


def test_week_figures_match_the_hand_computation(api, week):
    r = api.get(WEEK, "supervisor")
    assert r.status_code == 200, r.get_json()
    k = r.get_json()
    assert (k["from"], k["to"]) == ("2026-11-23", "2026-11-27")
    assert k["cases_received"] == 4                 # A B C D
    assert k["cases_completed"] == 3                # A B D
    assert k["immediate_cases"] == 1                # A
    assert k["immediate_rate"] == 0.25              # 1 / 4 received
    assert k["on_time_completed"] == 1
    assert k["on_time_rate"] == pytest.approx(0.3333)  # 1 / 3 completed
    assert k["statutory_on_time_rate"] == 1.0
    assert k["avg_processing_working_days"] == 1.0  # (0 + 1 + 2) / 3
    assert k["overdue_open"] == 1                   # C, as of now (30 Nov)
    assert k["help_count"] == 0
    window = next(d for d in k["departments"] if d["group"] == "window")
    assert window["tasks_completed"] == 3 and window["on_time_rate"] == pytest.approx(0.3333)


def test_next_week_holds_only_case_e(api, week):
    k = api.get("/api/v1/kpis?from=2026-11-30&to=2026-12-06", "leader1").get_json()
    assert (k["cases_received"], k["cases_completed"], k["immediate_rate"], k["on_time_rate"]) == (1, 1, 1.0, 1.0)
    assert k["avg_processing_working_days"] == 0.0


def test_a_case_spanning_periods_counts_where_each_event_happened(api, week):
    """D was received on Tuesday and completed on Thursday."""
    tuesday = api.get("/api/v1/kpis?from=2026-11-24&to=2026-11-24", "supervisor").get_json()
    thursday = api.get("/api/v1/kpis?from=2026-11-26&to=2026-11-26", "supervisor").get_json()
    assert (tuesday["cases_received"], tuesday["cases_completed"]) == (1, 1)  # D received, B completed
    assert (thursday["cases_received"], thursday["cases_completed"]) == (0, 1)  # D completed


def test_zero_denominators_give_null_rates(api, week):
    k = api.get("/api/v1/kpis?from=2026-01-05&to=2026-01-09", "supervisor").get_json()
    assert k["cases_received"] == 0 and k["cases_completed"] == 0
    for rate in ("immediate_rate", "on_time_rate", "statutory_on_time_rate", "satisfaction_rate",
                 "direct_handling_rate", "closure_24h_rate"):
        assert k[rate] is None, rate
    assert k["avg_processing_working_days"] is None
    assert k["overdue_open"] == 1  # a snapshot: C is still overdue today


def test_filters_by_bundle_and_group(api, week):
    other = api.get(WEEK + "&process_key=newborn", "supervisor").get_json()
    assert (other["cases_received"], other["overdue_open"], other["departments"]) == (0, 0, [])
    by_window = api.get(WEEK + "&group=window&process_key=taxi_driver_licence", "supervisor").get_json()
    assert by_window["cases_received"] == 4
    # The snapshot with a group: C is overdue and waits at the window (not in health).
    assert by_window["overdue_open"] == 1
    rows = api.get("/api/v1/kpis/drilldown?from=2026-11-23&to=2026-11-27&metric=overdue_open&group=window",
                   "supervisor").get_json()["items"]
    assert [r["case_id"] for r in rows] == [week["C"]]
    assert api.get("/api/v1/kpis/drilldown?from=2026-11-23&to=2026-11-27&metric=overdue_open&group=health",
                   "supervisor").get_json()["items"] == []
    health = api.get(WEEK + "&group=health", "supervisor").get_json()
    assert (health["cases_received"], health["overdue_open"]) == (0, 0)


def test_a_paused_case_is_not_overdue_and_its_pause_is_not_processing_time(api, clock):
    """C' paused for 补正 from Mon to Wed: 2 working days of 3 are the applicant's, not the bureau's."""
    assert api.deploy(*FILES).status_code == 201
    clock.set_time(at(23, 10))
    case_id = api.start("taxi_driver_licence", APPLICATION).get_json()["id"]
    clock.set_time(at(23, 11))
    r = api.post(f"/api/v1/cases/{case_id}/pause", "window1", json={"kind": "inspection", "reason": "现场核查"})
    assert r.status_code == 200, r.get_json()
    clock.set_time(at(25, 9))
    assert api.get(WEEK, "supervisor").get_json()["overdue_open"] == 0  # the clock is stopped
    assert api.post(f"/api/v1/cases/{case_id}/resume", "window1").status_code == 200
    clock.set_time(at(26, 10))
    api.do("window1", "window_decision", ISSUE, case_id)
    k = api.get(WEEK, "supervisor").get_json()
    assert k["avg_processing_working_days"] == 1.0  # Mon -> Thu is 3 working days, 2 of them paused
    assert k["on_time_rate"] == 0.0  # due Mon + 2 paused days = Wed 23:59; decided Thu


def test_catalogue_speedup_rate_is_weighted(api, app):
    """平均提速率 = 1 − Σ promised / Σ statutory over the items of the imported catalogue."""
    import tomllib

    runner = app.test_cli_runner()
    assert runner.invoke(args=["catalogue", "import", str(ROOT / "catalogue")]).exit_code == 0
    data = tomllib.loads((ROOT / "catalogue" / "newborn.toml").read_text(encoding="utf-8"))
    items = [i for i in data["items"] if i["statutory_days"] > 0]
    expected = 1 - sum(i["promised_days"] for i in items) / sum(i["statutory_days"] for i in items)
    k = api.get("/api/v1/kpis?from=2026-11-23&to=2026-11-27&process_key=newborn", "supervisor").get_json()
    assert k["speedup_rate"] == pytest.approx(expected, abs=1e-4)
    assert k["catalogue_items"] == len(data["items"])
    assert k["on_the_spot_item_share"] == 0.0


@pytest.mark.parametrize("user", ["window1", "health1", "designer", "helper1"])
def test_only_supervisors_leaders_and_admins_see_kpis(api, user):
    assert api.get(WEEK, user).status_code == 403


@pytest.mark.parametrize(("query", "field"), [
    ("from=2026-11-27&to=2026-11-23", "to"),
    ("from=2026-11-23", "to"),
    ("from=yesterday&to=2026-11-23", "from"),
    ("from=2026-11-23&to=2026-11-27&group=nope", "group"),
])
def test_bad_periods_get_field_errors(api, query, field):
    r = api.get(f"/api/v1/kpis?{query}", "supervisor")
    assert r.status_code == 422
    body = r.get_json()
    assert any(field in key for key in body["errors"]), body


# -- series, drill-down, exports, 六减 --------------------------------------------------------------

def test_daily_series_lists_every_day_with_its_counts(api, week):
    series = api.get(WEEK.replace("/kpis?", "/kpis/series?"), "supervisor").get_json()
    assert [d["day"] for d in series["daily"]] == [f"2026-11-{d}" for d in range(23, 28)]
    assert [(d["received"], d["completed"]) for d in series["daily"]] == [(3, 1), (1, 1), (0, 0), (0, 1), (0, 0)]
    assert [r["level"] for r in series["reviews_by_level"]] == [5, 4, 3, 2, 1]


@pytest.mark.parametrize(("metric", "expected"), [
    ("received", {"A", "B", "C", "D"}), ("completed", {"A", "B", "D"}), ("immediate", {"A"}),
    ("on_time", {"A"}), ("late", {"B", "D"}), ("overdue_open", {"C"}),
])
def test_each_figure_drills_down_to_its_cases(api, week, metric, expected):
    r = api.get(WEEK.replace("/kpis?", "/kpis/drilldown?") + f"&metric={metric}", "leader1")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["kind"] == "cases" and body["total"] == len(expected)
    names = {name for name, case_id in week.items() if case_id in {i["case_id"] for i in body["items"]}}
    assert names == expected
    figures = api.get(WEEK, "leader1").get_json()
    counted = {"received": "cases_received", "completed": "cases_completed", "immediate": "immediate_cases",
               "on_time": "on_time_completed", "overdue_open": "overdue_open"}
    if metric in counted:
        assert figures[counted[metric]] == body["total"]


def test_exports_as_csv_and_xlsx(api, week):
    import io

    from openpyxl import load_workbook

    r = api.get(WEEK.replace("/kpis?", "/kpis/export?") + "&table=daily&format=xlsx", "supervisor")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"].startswith('attachment; filename="daily_2026-11-23_2026-11-27.xlsx')
    sheet = load_workbook(io.BytesIO(r.data)).active
    assert [c.value for c in sheet[1]] == ["day", "received", "completed"]
    assert [c.value for c in sheet[2]] == ["2026-11-23", 3, 1]
    assert sheet.max_row == 6
    summary = load_workbook(io.BytesIO(api.get(WEEK.replace("/kpis?", "/kpis/export?") + "&table=summary",
                                               "supervisor").data)).active
    values = {row[0].value: row[1].value for row in summary.iter_rows(min_row=2)}
    assert values["cases_received"] == 4 and values["immediate_rate"] == 0.25 and values["satisfaction_rate"] is None
    csv = api.get(WEEK.replace("/kpis?", "/kpis/export?") + "&table=departments&format=csv", "supervisor")
    text = csv.data.decode("utf-8-sig").splitlines()
    assert text[0] == "group,name,tasks_completed,on_time_rate" and text[1].startswith("window,综合窗口,3,0.3333")
    assert api.get(WEEK.replace("/kpis?", "/kpis/export?") + "&table=nope", "supervisor").status_code == 422
    assert api.get(WEEK.replace("/kpis?", "/kpis/export?") + "&table=daily", "window1").status_code == 403


def test_six_reductions_between_catalogue_revisions(api, app):
    """A leaner second revision of one bundle: its items, materials and days removed, and the total."""
    import io

    assert app.test_cli_runner().invoke(args=["catalogue", "import", str(ROOT / "catalogue")]).exit_code == 0
    text = (ROOT / "catalogue" / "business_startup.toml").read_text(encoding="utf-8")
    leaner = text.replace('promised_days = 1\nstatutory_days = 6', 'promised_days = 0\nstatutory_days = 6', 1)
    leaner = leaner[:leaner.index("[[materials]]\ncode = \"M7\"")]
    r = api.client.post("/api/v1/catalogue", headers=api.headers("designer"),
                        data={"file": [(io.BytesIO(leaner.encode()), "business_startup.toml")]},
                        content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    report = api.get("/api/v1/reports/reductions", "leader1").get_json()
    row = next(b for b in report["bundles"] if b["key"] == "business_startup")
    assert (row["from_revision"], row["to_revision"], row["promised_days_reduced"]) == (1, 2, 1)
    assert row["materials_removed"] >= 1
    assert report["total"]["materials_removed"] == row["materials_removed"]
    assert report["total"]["promised_days_reduced"] == 1


def test_the_clerk_filter_and_the_drilldown_export(api, week):
    """All of the week's cases were accepted by window1; window2 accepted none."""
    assert api.get(WEEK + "&clerk=window1", "supervisor").get_json()["cases_received"] == 4
    assert api.get(WEEK + "&clerk=window2", "supervisor").get_json()["cases_received"] == 0
    r = api.get(WEEK + "&clerk=nobody", "supervisor")
    assert r.status_code == 422 and "clerk" in r.get_json()["errors"]
    csv = api.get(WEEK.replace("/kpis?", "/kpis/export?") + "&table=drilldown&metric=late&format=csv", "leader1")
    lines = csv.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "number,title,status,started_at,ended_at,due_at" and len(lines) == 3  # B and D
