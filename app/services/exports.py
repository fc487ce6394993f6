"""Tables as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese) or XLSX (openpyxl).

What goes into these files is partly typed by people outside the bureau: a hotline caller's
complaint, an applicant's name, the user agent of a failed login. A spreadsheet program must show
it as the text it is, never run it as a formula (CWE-1236, "CSV injection"):

- XLSX: every string is stored as a string cell, also one that starts with ``=`` (openpyxl would
  store that as a formula); characters the file format cannot hold (C0 controls) are written as
  ``\\xNN`` instead of failing the whole export;
- CSV has no cell types, so a text that a spreadsheet program would read as a formula (it starts
  with ``=``, ``+``, ``-``, ``@``, a tab or a line break) gets a leading apostrophe, the usual
  marker for "text" that the programs hide.
"""

from __future__ import annotations

import csv
import io
import re

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


# Characters a spreadsheet program may take as the start of a formula (OWASP's list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
# The C0 controls that XML 1.0, and so an XLSX file, cannot hold (tab, newline and CR it can).
_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _csv_cell(value):
    value = _cell(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _xlsx_text(value: str) -> str:
    return _NOT_IN_XLSX.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def table_bytes(title: str, columns: list[tuple[str, str]], rows: list[dict], fmt: str) -> bytes:
    """``columns``: (key, heading). Numbers stay numbers in XLSX; rates are fractions (0–1)."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([heading for _key, heading in columns])
        for row in rows:
            writer.writerow([_csv_cell(row.get(key)) for key, _heading in columns])
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([heading for _key, heading in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        values = [_cell(row.get(key)) for key, _heading in columns]
        sheet.append([_xlsx_text(v) if isinstance(v, str) else v for v in values])
        for cell in sheet[sheet.max_row]:
            if cell.data_type == "f":  # text that starts with "=": keep it text
                cell.data_type = "s"
    for index, (_key, heading) in enumerate(columns, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(10, len(heading) * 2 + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
