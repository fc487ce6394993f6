"""The supervisors' and leaders' dashboard (统计分析), its drill-down lists and the printable monthly
report. Figures come from app/services/kpis.py, the same as GET /api/v1/kpis."""

from __future__ import annotations

import calendar as month_calendar
from datetime import date, timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import clock
from ..errors import Forbidden, InvalidInput
from ..services import calendar, kpis, org, permissions, processes, reports, workers
from . import params
from .hotline import status_labels as order_status_labels
from .labels import EXPORT_LABELS, METRIC_LABELS, STATUS_LABELS, WARNING_LABELS

bp = Blueprint("web_dashboard", __name__)
PRESETS = ("day", "week", "month", "year", "custom")


def _user():
    return current_user._get_current_object()


def preset_period(preset: str, today: date, start: str | None = None, end: str | None = None) -> tuple[date, date]:
    """The local dates of a preset (this day, week, month or year) or of a custom range."""
    if preset == "day":
        return today, today
    if preset == "week":
        monday = today - timedelta(days=today.weekday())
        return monday, monday + timedelta(days=6)
    if preset == "year":
        return date(today.year, 1, 1), date(today.year, 12, 31)
    if preset == "custom":
        try:
            return date.fromisoformat(start or ""), date.fromisoformat(end or "")
        except ValueError:
            raise InvalidInput(_("The period or a filter is not valid."),
                               {"from": [_("Enter a date as YYYY-MM-DD.")]}) from None
    last = month_calendar.monthrange(today.year, today.month)[1]
    return date(today.year, today.month, 1), date(today.year, today.month, last)


def _selection():
    """The chosen preset and its period. Links to the drill-down carry the dates alone (from, to):
    without a preset, dates given are a custom period."""
    args = request.args
    preset = args.get("period") or ("custom" if args.get("from") or args.get("to") else "month")
    preset = preset if preset in PRESETS else "month"
    today = calendar.local_date(clock.now())
    start, end = preset_period(preset, today, args.get("from"), args.get("to"))
    return preset, kpis.period(start, end, args.get("process_key") or None, args.get("group") or None,
                               args.get("clerk") or None)


def _query(p: kpis.Period, **extra) -> dict:
    query = {"from": p.start.isoformat(), "to": p.end.isoformat()}
    if p.process_key:
        query["process_key"] = p.process_key
    if p.group:
        query["group"] = p.group
    if p.clerk_id and request.args.get("clerk"):
        query["clerk"] = request.args["clerk"]
    return {**query, **extra}


@bp.get("/dashboard")
@login_required
def dashboard():
    user = _user()
    permissions.require_role(user, kpis.VIEWERS, _("see the KPIs"))
    try:
        preset, p = _selection()
    except InvalidInput as exc:
        preset, p = "month", kpis.period(*preset_period("month", calendar.local_date(clock.now())))
        errors = exc.errors
    else:
        errors = {}
    figures = kpis.compute(user, p)
    worker = workers.summary()
    series = {"daily": kpis.daily_series(p), "reviews": kpis.review_distribution(p),
              "departments": figures["departments"], "units": kpis.unit_league(p)}
    return render_template(
        "web/dashboard.html", preset=preset, period=p, k=figures, series=series, errors=errors,
        categories=kpis.top_categories(p), warnings=kpis.warnings_issued(p), query=_query(p),
        bundles=processes.bundle_names(), groups=sorted(org.group_names().items()),
        clerks=org.users_with_role("clerk"), clerk=request.args.get("clerk", ""),
        tables=[t for t in kpis.TABLES if t != "drilldown"], export_labels=EXPORT_LABELS,
        worker_down=None if worker.alive else worker)


@bp.get("/dashboard/drilldown")
@login_required
def drilldown():
    user = _user()
    try:
        _preset, p = _selection()
        metric = request.args.get("metric", "")
        page = params.page_number(request.args.get("page"))
        rows, total, kind = kpis.drilldown(user, p, metric, page)
    except (InvalidInput, ValueError):
        raise InvalidInput(_("The period or a filter is not valid."),
                           {"metric": [_("Choose one of the allowed values.")]}) from None
    return render_template("web/dashboard_drilldown.html", rows=rows, total=total, kind=kind, metric=metric,
                           metric_label=METRIC_LABELS.get(metric, metric), period=p, page=page,
                           status_labels=STATUS_LABELS if kind == "cases" else order_status_labels(),
                           query=_query(p, metric=metric))


@bp.get("/reports/monthly")
@login_required
def monthly_report():
    """《民声"数"递》-style monthly report: headline figures, top categories, slowest units, warnings."""
    context = _monthly_context()
    return render_template("web/monthly_report.html", warning_labels=WARNING_LABELS, **context)


@bp.get("/reports/monthly.pdf")
@login_required
def monthly_report_pdf():
    """The same report as a PDF download."""
    context = _monthly_context()
    try:
        body = reports.monthly_pdf(context["month"], context["k"], context["categories"],
                                   context["slow_departments"], context["slow_units"], context["warnings"],
                                   context["reductions"])
    except reports.NoReportFont as exc:  # say why, and offer the printable page instead
        flash(exc.message, "error")
        return redirect(url_for("web_dashboard.monthly_report", month=context["month"].strftime("%Y-%m")))
    name = f"monthly_report_{context['month'].strftime('%Y-%m')}.pdf"
    return Response(body, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _monthly_context() -> dict:
    user = _user()
    if not user.has_role(*kpis.VIEWERS):
        raise Forbidden(_("You may not see the KPIs."))
    raw = request.args.get("month") or calendar.local_date(clock.now()).strftime("%Y-%m")
    try:
        first = date.fromisoformat(raw + "-01")
    except ValueError:
        raise InvalidInput(_("The period or a filter is not valid."),
                           {"month": [_("Enter a month as YYYY-MM.")]}) from None
    last = date(first.year, first.month, month_calendar.monthrange(first.year, first.month)[1])
    p = kpis.period(first, last)
    figures = kpis.compute(user, p)
    slow_departments = sorted((d for d in figures["departments"] if d["on_time_rate"] is not None),
                              key=lambda d: (d["on_time_rate"], -d["tasks_completed"]))[:5]
    slow_units = sorted((u for u in kpis.unit_league(p) if u["on_time_rate"] is not None),
                        key=lambda u: (u["on_time_rate"], -u["orders_closed"]))[:5]
    return {"month": first, "k": figures, "categories": kpis.top_categories(p),
            "slow_departments": slow_departments, "slow_units": slow_units,
            "warnings": kpis.warnings_issued(p), "reductions": kpis.reductions_report()}
