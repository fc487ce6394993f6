"""Tables as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese) or XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Font

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def table_bytes(title: str, columns: list[tuple[str, str]], rows: list[dict], fmt: str) -> bytes:
    """``columns``: (key, heading). Numbers stay numbers in XLSX; rates are fractions (0–1)."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([heading for _key, heading in columns])
        for row in rows:
            writer.writerow([_cell(row.get(key)) for key, _heading in columns])
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([heading for _key, heading in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(row.get(key)) for key, _heading in columns])
    for index, (_key, heading) in enumerate(columns, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(10, len(heading) * 2 + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
