"""The views' .xlsx twins: Chinese headers, frozen header row, print titles, landscape A4.

Row 1 of each sheet holds the headers and every later row one row of the JSON view, in
the same order and with the same values, so a spreadsheet and its JSON agree cell by cell;
only a yes/no reads 是/否, as a person writes it, never TRUE/FALSE.
"""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

LIGHT_FILLS = {"红": "FFC7CE", "黄": "FFEB9C", "绿": "C6EFCE"}
WIDE = {"problem", "last_progress", "grades", "flags", "id"}


def cell_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


def _sheet(ws: Worksheet, title: str, table: dict[str, Any], heading: str) -> None:
    ws.title = title
    columns = table["columns"]
    ws.append([c["label"] for c in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in table["rows"]:
        ws.append([cell_value(row.get(c["key"])) for c in columns])
    for index, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = 36 if column["key"] in WIDE else 14
        if column["key"] == "light":
            for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                if cell.value in LIGHT_FILLS:
                    cell.fill = PatternFill("solid", fgColor=LIGHT_FILLS[cell.value])
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.oddHeader.center.text = heading
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def workbook(view: dict[str, Any], title: str) -> bytes:
    """One sheet per table of the view: the main table, then any named sub-tables."""
    book = Workbook()
    moment = view.get("as_of") or ""
    heading = f"{title}（截至 {moment}）" if moment else title
    _sheet(book.active, title[:31], view, heading)
    for key, table in view.items():
        if isinstance(table, dict) and "columns" in table and "rows" in table:
            _sheet(book.create_sheet(), SHEET_TITLES.get(key, key)[:31], table, f"{SHEET_TITLES.get(key, key)}（截至 {moment}）")
    for name, table in view.get("sections", {}).items():
        _sheet(book.create_sheet(), SHEET_TITLES.get(name, name)[:31], table, SHEET_TITLES.get(name, name))
    out = BytesIO()
    book.save(out)
    return out.getvalue()


SHEET_TITLES = {"due_soon": "临近提醒"}


def content_disposition(chinese_name: str, ascii_name: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266 / RFC 5987)."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(chinese_name, safe='')}"


def file_names(view: str, year: int | None = None) -> tuple[str, str]:
    """(Chinese title, ASCII fallback) of a view's spreadsheet, without the extension."""
    if view == "evaluation":
        return f"{year}年度年终考核", f"evaluation-{year}"
    return DOWNLOAD_TITLES[view]


# Characters Windows, macOS or a browser refuse or rewrite in a file name.
UNSAFE_IN_FILE_NAMES = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|]+')
DOWNLOAD_TITLES = {
    "supervision": ("督查督办台账", "supervision"),
    "units": ("督查督办台账（按单位）", "supervision-units"),
    "evaluation": ("年终考核", "evaluation"),
    "ledger": ("信息台账", "child-ledger"),
    "problem-list": ("问题清单", "problem-list"),
}


def safe_file_name_part(text: str) -> str:
    """``text`` usable in a file name on any desktop: unsafe characters become ``_``."""
    return UNSAFE_IN_FILE_NAMES.sub("_", text)[:80].strip(" ._") or "_"


def download_names(kind: str, day: date | str, qualifier: str | int | None = None) -> tuple[str, str]:
    """(Chinese, ASCII fallback) file names of a download: what it is, the plan number or
    year it is of, and the (Beijing) day it speaks for, so that two downloads of different
    views, plans, years or days never overwrite each other: 督查督办台账_2026-12-04.xlsx."""
    chinese, ascii_name = DOWNLOAD_TITLES[kind]
    day_text = day.isoformat() if isinstance(day, date) else str(day)[:10]
    parts = [chinese] + ([str(qualifier)] if qualifier is not None else []) + [day_text]
    fallback = [ascii_name] + ([str(qualifier)] if isinstance(qualifier, int) else []) + [day_text]
    return (
        "_".join(safe_file_name_part(p) for p in parts) + ".xlsx",
        "_".join(safe_file_name_part(p) for p in fallback) + ".xlsx",
    )
