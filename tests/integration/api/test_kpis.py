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
