"""An uploaded spreadsheet (.xlsx or .csv) as rows of cell strings, within fixed bounds.

The grid keeps the sheet's own row numbering (row ``i`` of the list is spreadsheet row
``i + 1``, blank rows included) so that a refusal can name the row a person sees in Excel.
Cells are returned as written; cleaning them is the reader of the grid's business.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import PurePath
from typing import IO
from xml.parsers import expat

import openpyxl
from openpyxl.utils.cell import range_boundaries

from domain.base import InvalidCommand

Grid = list[list[str]]

# A real 问题清单 has tens of rows and under a dozen columns; the bounds leave room for
# a whole district's lists while keeping a hostile file from exhausting the server.
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 24 * 1024 * 1024
MAX_ZIP_MEMBERS = 500
MAX_ROWS = 5000
MAX_COLUMNS = 64
MAX_SHEET_CELLS = 200_000
MAX_MERGED_CELLS = MAX_ROWS * 16

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and .xlsx encrypted with a password


class UnreadableSpreadsheet(InvalidCommand):
    """The upload is not a spreadsheet this ledger can read, or exceeds its bounds."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(rule, f"无法读取文件：{message}")


def read_grid(data: bytes, filename: str) -> Grid:
    """The cells of ``filename``'s first table: the active sheet of a workbook, or the CSV.

    The extension says what the file claims to be; the content decides how it is read,
    because offices rename workbooks to .csv and back.
    """
    kind = _claimed_kind(filename)
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableSpreadsheet(
            "spreadsheet_within_size", f"文件超过 {MAX_FILE_BYTES // (1024 * 1024)} MB 上限"
        )
    if not data.strip():
        raise UnreadableSpreadsheet("spreadsheet_not_empty", "文件是空的")
    if data.startswith(OLE_MAGIC):
        raise UnreadableSpreadsheet(
            "spreadsheet_format_supported",
            "这是旧版 .xls 工作簿或加了密码的工作簿，请在 Excel 中另存为 .xlsx（不设密码）后再导入",
        )
    if data.startswith(ZIP_MAGIC):
        rows = _read_xlsx(data)
    elif kind == "xlsx":
        raise UnreadableSpreadsheet("spreadsheet_readable", "不是有效的 .xlsx 工作簿")
    else:
        rows = _read_csv(data)
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    return rows


def _claimed_kind(filename: str) -> str:
    suffix = PurePath(filename or "").suffix.lower()
    if suffix == ".xlsx":
        return "xlsx"
    if suffix == ".csv":
        return "csv"
    if suffix == ".xls":
        raise UnreadableSpreadsheet(
            "spreadsheet_format_supported", "不支持旧版 .xls 格式，请在 Excel 中另存为 .xlsx 或 .csv"
        )
    shown = f"扩展名为“{suffix}”" if suffix else "没有扩展名"
    raise UnreadableSpreadsheet(
        "spreadsheet_format_supported", f"只支持 .xlsx 和 .csv 文件，收到的文件{shown}"
    )


# ---- CSV ---------------------------------------------------------------------------------


def _read_csv(data: bytes) -> Grid:
    text = _decode(data)
    sample = text[:65536]
    # Excel writes commas; a table pasted out of Word or a web page arrives with tabs.
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    rows: Grid = []
    try:
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if len(rows) >= MAX_ROWS:
                raise _too_many_rows()
            rows.append(_within_columns(record))
    except csv.Error as error:
        raise UnreadableSpreadsheet(
            "spreadsheet_readable", f"CSV 格式有误（第 {len(rows) + 1} 行：{error}）"
        ) from None
    return rows


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encodings = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        # Excel on Chinese Windows saves "CSV" in the ANSI code page, i.e. GBK, of which
        # GB18030 is the superset; UTF-8 is tried first because it rarely decodes by accident.
        encodings = ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableSpreadsheet(
        "spreadsheet_encoding_known", "文件编码无法识别（支持 UTF-8 和 GB18030/GBK），请另存为 .xlsx 后再导入"
    )


def _within_columns(cells: list[str]) -> list[str]:
    if len(cells) > MAX_COLUMNS:
        if any(cell.strip() for cell in cells[MAX_COLUMNS:]):
            raise UnreadableSpreadsheet(
                "spreadsheet_within_columns", f"表格超过 {MAX_COLUMNS} 列上限"
            )
        return cells[:MAX_COLUMNS]
    return cells


def _too_many_rows() -> UnreadableSpreadsheet:
    return UnreadableSpreadsheet("spreadsheet_within_rows", f"表格超过 {MAX_ROWS} 行上限")


# ---- XLSX --------------------------------------------------------------------------------


def _read_xlsx(data: bytes) -> Grid:
    _check_archive(data)
    # openpyxl fails on malformed workbooks with whatever its parsers raise (KeyError,
    # ValueError, TypeError, zlib.error …); for the person uploading they all mean one thing.
    try:
        return _read_workbook(data)
    except UnreadableSpreadsheet:
        raise
    except Exception:
        raise UnreadableSpreadsheet("spreadsheet_readable", "不是有效的 .xlsx 工作簿") from None


def _check_archive(data: bytes) -> None:
    """Refuse zip bombs before anything inflates them.

    zipfile never inflates a member past the size its header declares, so bounding the
    declared sizes bounds what openpyxl and the scan below can be made to read.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except Exception:  # BadZipFile, NotImplementedError for unknown zip versions, struct errors …
        raise UnreadableSpreadsheet("spreadsheet_readable", "不是有效的 .xlsx 工作簿") from None
    if len(members) > MAX_ZIP_MEMBERS or sum(m.file_size for m in members) > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableSpreadsheet("spreadsheet_within_size", "工作簿解压后超过大小上限")


def _read_workbook(data: bytes) -> Grid:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = book.active
        path = getattr(sheet, "_worksheet_path", None)
        if path is None:  # a chart sheet is active: fall back to the first table
            sheet = next((ws for ws in book.worksheets if hasattr(ws, "_worksheet_path")), None)
            if sheet is None:
                raise UnreadableSpreadsheet("spreadsheet_has_sheet", "工作簿中没有表格工作表")
            path = sheet._worksheet_path
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(path) as part:
            shape = _SheetShape.scan(part)
        if shape.rows == 0:
            return []
        rows: Grid = [
            [_cell_text(value) for value in values]
            for values in sheet.iter_rows(
                min_row=1, max_row=shape.rows, min_col=1, max_col=shape.columns, values_only=True
            )
        ]
    finally:
        book.close()
    _fill_merged(rows, shape.merged)
    return rows


class _SheetShape:
    """One streaming pass over a worksheet's XML: how far its values reach, and its merges.

    openpyxl's read-only mode streams values but forgets merged ranges and trusts the
    sheet's declared dimension; this pass supplies both, in constant memory, and refuses
    a sheet that would make the read itself expensive.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.columns = 0
        self.merged: list[tuple[int, int, int, int]] = []
        self._cells = 0
        self._row = 0
        self._column = 0
        self._in_cell = False

    @classmethod
    def scan(cls, part: IO[bytes]) -> _SheetShape:
        shape = cls()
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.StartElementHandler = shape._start
        parser.EndElementHandler = shape._end
        # OOXML never needs a DTD; refusing one rules out entity expansion tricks.
        parser.StartDoctypeDeclHandler = _refuse_doctype
        parser.EntityDeclHandler = _refuse_doctype
        try:
            while chunk := part.read(65536):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except expat.ExpatError:
            raise UnreadableSpreadsheet("spreadsheet_readable", "工作表内容已损坏") from None
        return shape

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(" ")[2]
        if local == "row":
            self._row = _positive(attrs.get("r")) or self._row + 1
            self._column = 0
        elif local == "c":
            self._cells += 1
            if self._cells > MAX_SHEET_CELLS:
                raise UnreadableSpreadsheet(
                    "spreadsheet_within_cells", f"工作表超过 {MAX_SHEET_CELLS} 个单元格上限"
                )
            reference = attrs.get("r")
            self._column = _column_of(reference) if reference else self._column + 1
            self._in_cell = True
        elif local in ("v", "is") and self._in_cell:
            self._note_value(self._row, self._column)
        elif local == "mergeCell":
            self._note_merge(attrs.get("ref", ""))

    def _end(self, name: str) -> None:
        if name.rpartition(" ")[2] == "c":
            self._in_cell = False

    def _note_value(self, row: int, column: int) -> None:
        if row > MAX_ROWS:
            raise _too_many_rows()
        if column > MAX_COLUMNS:
            raise UnreadableSpreadsheet("spreadsheet_within_columns", f"表格超过 {MAX_COLUMNS} 列上限")
        self.rows = max(self.rows, row)
        self.columns = max(self.columns, column)

    def _note_merge(self, reference: str) -> None:
        try:
            min_col, min_row, max_col, max_row = range_boundaries(reference)
        except (ValueError, TypeError):
            return  # a merge Excel itself would drop; its cells still read as written
        if None in (min_col, min_row, max_col, max_row) or len(self.merged) >= MAX_MERGED_CELLS:
            return
        self.merged.append((min_row, min_col, max_row, max_col))  # type: ignore[arg-type]


def _refuse_doctype(*_: object) -> None:
    raise UnreadableSpreadsheet("spreadsheet_readable", "工作表含有不允许的文档类型声明")


def _positive(text: str | None) -> int:
    # Nine digits reach past Excel's last row; longer strings are not worth converting.
    return int(text) if text and len(text) <= 9 and text.isdigit() and text.isascii() else 0


def _column_of(reference: str) -> int:
    column = 0
    for char in reference:
        if "A" <= char <= "Z":
            column = column * 26 + ord(char) - 64
        elif "a" <= char <= "z":
            column = column * 26 + ord(char) - 96
        else:
            break
        if column > 16384:  # Excel's last column is XFD
            break
    return column


def _fill_merged(rows: Grid, merged: list[tuple[int, int, int, int]]) -> None:
    """A merged range reads everywhere as its top-left cell, as a person sees it."""
    if not rows:
        return
    height, width = len(rows), max(len(r) for r in rows)
    budget = MAX_ROWS * MAX_COLUMNS  # overlapping hostile merges cannot multiply the work
    for min_row, min_col, max_row, max_col in merged:
        if min_row > height or min_col > width:
            continue
        value = rows[min_row - 1][min_col - 1] if min_col <= len(rows[min_row - 1]) else ""
        for r in range(min_row, min(max_row, height) + 1):
            row = rows[r - 1]
            for c in range(min_col, min(max_col, width) + 1):
                budget -= 1
                if budget < 0:
                    raise UnreadableSpreadsheet("spreadsheet_within_cells", "合并单元格过多")
                if c > len(row):
                    row.extend([""] * (c - len(row)))
                row[c - 1] = value


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # 序号 typed as a number is stored as 1.0; a person wrote "1".
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)
