"""The monthly report as PDF (fpdf2), for the 《民声"数"递》-style publication.

fpdf2 embeds (a subset of) a TrueType font; Chinese needs a CJK one. ``REPORT_FONT`` names a
.ttf or .ttc file; otherwise the usual Debian locations are tried (fonts-wqy-microhei,
fonts-noto-cjk). A .ttc collection's first face is extracted once with fontTools.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from ..errors import AppError

CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


class NoReportFont(AppError):
    status, error = 503, "no_report_font"


@lru_cache(maxsize=2)
def _ttf(path: str) -> str:
    """A .ttf file for ``path`` (a .ttc collection's first face is extracted to a temp file)."""
    if not path.lower().endswith(".ttc"):
        return path
    from fontTools.ttLib import TTCollection

    out = Path(tempfile.gettempdir()) / f"approval-report-font-{Path(path).stem}.ttf"
    if not out.exists():
        TTCollection(path).fonts[0].save(str(out))
    return str(out)


def font_path() -> str:
    configured = current_app.config.get("REPORT_FONT")
    for candidate in ([configured] if configured else []) + list(CANDIDATES):
        if candidate and Path(candidate).is_file():
            return _ttf(candidate)
    raise NoReportFont(_("No Chinese font is installed for PDF reports (install fonts-wqy-microhei or set "
                         "REPORT_FONT); print the HTML report instead."))


def _pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def monthly_pdf(month, k: dict, categories: list[dict], slow_departments: list[dict], slow_units: list[dict],
                warnings: list[dict], reductions: dict) -> bytes:
    """One A4 page or more: headline figures, top categories, slowest units, warnings, 六减."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.add_font("cjk", fname=font_path())
    pdf.set_font("cjk", size=16)
    pdf.cell(0, 10, text=f"长治市行政审批服务管理局 月度数据报告（{month.year}年{month.month}月）",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    pdf.cell(0, 6, text="数据根据办件和工单实时统计。", new_x="LMARGIN", new_y="NEXT")

    def heading(text):
        pdf.ln(2)
        pdf.set_font("cjk", size=12)
        pdf.cell(0, 8, text=text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=10)

    def rows(pairs):
        for label, value in pairs:
            pdf.cell(70, 6, text=label)
            pdf.cell(0, 6, text=str(value), new_x="LMARGIN", new_y="NEXT")

    heading("一、主要指标")
    rows([("受理量", k["cases_received"]), ("办结量", k["cases_completed"]), ("即办率", _pct(k["immediate_rate"])),
          ("按时办结率", _pct(k["on_time_rate"])), ("平均办理工作日", k["avg_processing_working_days"] or "—"),
          ("好差评满意率", _pct(k["satisfaction_rate"])), ("回访满意率", _pct(k["callback_satisfaction_rate"])),
          ("帮办量", k["help_count"]), ("12345工单受理量", k["orders_received"]),
          ("直办率", _pct(k["direct_handling_rate"])), ("24小时办结率", _pct(k["closure_24h_rate"])),
          ("工单满意率", _pct(k["order_satisfaction_rate"])), ("后评价问题发现率", _pct(k["post_eval_problem_rate"]))])
    heading("二、诉求热点")
    rows([(c["category"], c["orders"]) for c in categories] or [("—", "")])
    heading("三、办理较慢的单位")
    rows([(d["name"], _pct(d["on_time_rate"])) for d in slow_departments]
         + [(f"{u['name']}（12345）", _pct(u["on_time_rate"])) for u in slow_units] or [("—", "")])
    heading("四、发出的预警")
    names = {"deadline_warning": "审批案件时限预警", "task_deadline_warning": "环节时限预警",
             "order_deadline_warning": "12345工单时限预警"}
    rows([(names.get(w["kind"], w["kind"]), w["count"]) for w in warnings])
    heading("五、“六减”成效")
    total = reductions["total"]
    rows([("减环节", total["items_removed"]), ("减材料", total["materials_removed"]),
          ("减承诺时限（工作日）", total["promised_days_reduced"])])
    return bytes(pdf.output())
