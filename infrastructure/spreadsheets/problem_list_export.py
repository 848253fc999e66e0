"""A plan's issues as a 问题清单 workbook, in the layout offices keep and the import reads.

The six source columns come first, exactly as the import finds them (序号, 责任单位,
工作职责, 存在问题, 整改措施, 备注), then the ledger's status columns, which the import
ignores. So a list exported here and imported into another plan gives the same issues:
units are written by name, measures numbered ``1、… 2、…`` one per line (the import's
own ``join_measures``, its inverse).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from application.measure_text import join_measures
from application.problem_list import COLUMNS
from projections.queries import STATUS_LABELS

# The layout is the import's own, so the two cannot drift apart.
SOURCE_COLUMNS = tuple(COLUMNS.values())
STATUS_COLUMNS = ("状态", "牵头单位", "整改期限", "措施完成数")
HEADERS = SOURCE_COLUMNS + STATUS_COLUMNS
WIDTHS = (6, 22, 48, 36, 56, 16, 10, 18, 12, 10)


def problem_list_workbook(
    issues: Iterable[Mapping[str, Any]], *, title: str | None = None
) -> bytes:
    """The issues as .xlsx bytes, one row each, in the order given.

    Each issue is a mapping with ``seq``, ``units`` (unit names, the lead first), ``duty``,
    ``problem``, ``measures`` (texts, or mappings with a ``text``), ``remarks``, and for
    the status columns ``status`` (an identifier such as ``rectifying``, or a label),
    ``lead_unit`` (a name), ``deadline`` (a date or ISO text), ``measures_done`` and
    ``measures_total``. Missing status keys leave their cells empty.

    A measure the ledger holds once per member of a group (各司法所) is written once: the
    import gives it back to each member because its text names the group.
    """
    book = Workbook()
    sheet = book.active
    sheet.title = "问题清单"
    if title:
        sheet.append([_safe(title)])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
        sheet.cell(1, 1).font = Font(bold=True, size=14)
        sheet.cell(1, 1).alignment = Alignment(horizontal="center")
    sheet.append(HEADERS)
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    wrapped = Alignment(vertical="top", wrap_text=True)
    for issue in issues:
        sheet.append(_row(issue))
        for cell in sheet[sheet.max_row]:
            cell.alignment = wrapped
            if isinstance(cell.value, str) and cell.value.startswith("="):
                # Text that looks like a formula stays text: no formula runs from the ledger.
                cell.data_type = "s"
    for index, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = sheet.cell(header_row + 1, 1)
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _row(issue: Mapping[str, Any]) -> list[Any]:
    status = issue.get("status")
    return [
        issue.get("seq"),
        _safe("、".join(str(unit) for unit in issue.get("units", ()))),
        _safe(issue.get("duty", "")),
        _safe(issue.get("problem", "")),
        _safe(measures_cell(issue.get("measures", ()))),
        _safe(issue.get("remarks", "") or ""),
        STATUS_LABELS.get(status, status) if status else None,
        _safe(issue.get("lead_unit") or ""),
        _day(issue.get("deadline")),
        _done(issue.get("measures_done"), issue.get("measures_total")),
    ]


def measures_cell(measures: Iterable[str | Mapping[str, Any]]) -> str:
    return join_measures([str(m["text"] if isinstance(m, Mapping) else m) for m in measures])


def _safe(value: Any) -> str:
    # openpyxl refuses control characters that an API-entered text may still carry.
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def _day(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if value else None


def _done(done: Any, total: Any) -> str | int | None:
    if done is None:
        return None
    return f"{done}/{total}" if total is not None else done
