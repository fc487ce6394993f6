"""flask demo generate: history made through the real services, so the dashboard has figures."""

from __future__ import annotations

from datetime import timedelta

from support import ROOT, local_today


def test_generated_history_feeds_the_dashboard(app, api):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["bpmn", "deploy", str(ROOT / "bpmn"), "--forms", str(ROOT / "forms")]).exit_code == 0
    out = runner.invoke(args=["demo", "generate", "--cases", "16", "--days", "10", "--seed", "7"])
    assert out.exit_code == 0, out.output
    assert "cases 16" in out.output and "orders 8" in out.output
    today = local_today()
    k = api.get(f"/api/v1/kpis?from={(today - timedelta(days=20)).isoformat()}&to={today.isoformat()}",
                "leader1").get_json()
    assert k["cases_received"] == 16 and 0 < k["cases_completed"] <= 16
    assert k["orders_received"] == 8 and k["direct_handling_rate"] is not None
    assert k["departments"] and k["avg_processing_working_days"] is not None
    # Every case went through the engine: its history starts with case_started, its steps were claimed.
    span = f"from={(today - timedelta(days=20)).isoformat()}&to={today.isoformat()}"
    rows = api.get(f"/api/v1/kpis/drilldown?{span}&metric=completed&per_page=200", "leader1").get_json()["items"]
    history = [e["type"] for e in api.get(f"/api/v1/cases/{rows[0]['case_id']}", "supervisor").get_json()["history"]]
    assert history[0] == "case_started" and "task_claimed" in history and history[-1] == "case_completed"
    again = runner.invoke(args=["demo", "generate", "--if-empty"])
    assert "nothing generated" in again.output
