"""问题清单 import, the pure part: from a grid of cell strings to rows ready to register.

A problem list is kept by offices in Word and Excel and reaches the ledger messy: HTML
tags inside cells, the header row repeated before every row, blank rows, several units in
one cell, groups written as 各司法所, and unit names broken across a line with the break
repeating a character ("公共法律服务 / 务管理科"). This module reads all of that into a
report of rows, each either accepted (with resolved unit codes and measures owned by one
unit each) or refused with the reason a person can act on. It does no I/O and stores
nothing: the application decides what to register.

Decisions worth knowing:

* Columns are found by their header text wherever they stand; every header row re-maps
  them, so blocks may even order columns differently. Rows before the first header are
  a title and are skipped. 序号, 责任单位, 工作职责, 存在问题 and 整改措施 must be present;
  备注 may be missing (remarks are then empty).
* Lines sharing a 序号 with the same 工作职责 and 存在问题, or a line with no 序号, 工作职责
  or 存在问题 right after a row, continue that row: that is how merged cells spanning one
  issue's several measure lines read once unmerged. A 序号 repeated with other content is
  refused, never merged.
* A measure is owned by the first responsible unit its text names; 各X in its text means
  *each* responsible member of group X, so the measure is repeated once per member unit
  (the ledger gives every measure exactly one owner, and each 司法所 reports on its own).
  A measure naming no responsible unit belongs to the lead unit of its line.
* The fingerprint covers what the office wrote (序号, the units as named, duty, problem,
  measure texts, remarks), after cleaning; it does not depend on who is in a group today,
  so re-importing the same rows is recognised as unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from application.cell_text import clean_cell
from application.measure_text import split_measures
from application.unit_resolution import UnitDirectory, resolve_units
from domain.base import InvalidCommand
from domain.free_text import holds_id_or_mobile_number

SEQ, UNITS, DUTY, PROBLEM, MEASURES, REMARKS = (
    "seq", "units", "duty", "problem", "measures", "remarks",
)
COLUMNS: dict[str, str] = {
    SEQ: "序号",
    UNITS: "责任单位",
    DUTY: "工作职责",
    PROBLEM: "存在问题",
    MEASURES: "整改措施",
    REMARKS: "备注",
}
REQUIRED_COLUMNS = (SEQ, UNITS, DUTY, PROBLEM, MEASURES)

MAX_SEQ = 99_999
# A responsible-units cell names a handful of units; resolving is quadratic in its length.
MAX_UNITS_TEXT = 300


class ProblemListRefused(InvalidCommand):
    """The file as a whole cannot be read as a problem list (no header, missing column)."""


def _header_key(value: str) -> str:
    return re.sub(r"[\s*＊:：]", "", clean_cell(value))


_LABELS = {label: key for key, label in COLUMNS.items()}


# ---- the report --------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One measure and the code of the unit that owns it (empty only on refused rows)."""

    unit: str
    text: str


@dataclass(frozen=True)
class ProblemRow:
    """One issue as the list states it; ``refused`` says why it cannot be registered."""

    lines: tuple[int, ...]  # spreadsheet rows (1-based) it was read from
    seq: int | None
    units: tuple[str, ...]  # codes, groups expanded; the first is the lead unit
    unit_names: tuple[str, ...]  # as the list names them: unit names and 各X groups
    duty: str
    problem: str
    measures: tuple[Measure, ...]
    remarks: str
    warnings: tuple[str, ...]
    refused: str | None
    fingerprint: str

    @property
    def accepted(self) -> bool:
        return self.refused is None

    @property
    def lead_unit(self) -> str | None:
        return self.units[0] if self.units else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": list(self.lines),
            "seq": self.seq,
            "units": list(self.units),
            "unit_names": list(self.unit_names),
            "duty": self.duty,
            "problem": self.problem,
            "measures": [{"unit": m.unit, "text": m.text} for m in self.measures],
            "remarks": self.remarks,
            "warnings": list(self.warnings),
            "refused": self.refused,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class ProblemListReport:
    rows: tuple[ProblemRow, ...]

    @property
    def accepted(self) -> tuple[ProblemRow, ...]:
        return tuple(row for row in self.rows if row.accepted)

    @property
    def refused(self) -> tuple[ProblemRow, ...]:
        return tuple(row for row in self.rows if not row.accepted)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": [row.as_dict() for row in self.rows]}


def fingerprint(
    *,
    seq: int | None,
    unit_names: Sequence[str],
    duty: str,
    problem: str,
    measures: Sequence[str],
    remarks: str,
) -> str:
    """SHA-256 (hex) of a row's cleaned content; equal content, equal fingerprint."""
    content = [seq, list(unit_names), duty, problem, list(measures), remarks]
    encoded = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


# ---- reading a grid ----------------------------------------------------------------------


@dataclass
class _Line:
    number: int
    cells: dict[str, str]


@dataclass
class _Draft:
    seq: int | None
    lines: list[_Line]
    refused: str | None = None

    @property
    def duty(self) -> str:
        return self.lines[0].cells[DUTY]

    @property
    def problem(self) -> str:
        return self.lines[0].cells[PROBLEM]

    def continues_with(self, line: _Line) -> bool:
        return line.cells[DUTY] in ("", self.duty) and line.cells[PROBLEM] in ("", self.problem)


def read_problem_list(grid: Sequence[Sequence[str]], directory: UnitDirectory) -> ProblemListReport:
    """Every problem row of ``grid``, accepted or refused with a reason.

    Raises ``ProblemListRefused`` when the grid has no header row, a header row lacks a
    required column, or no row follows a header.
    """
    drafts = _drafts(_data_lines(grid))
    if not drafts:
        raise ProblemListRefused("problem_list_has_rows", "表头下面没有任何问题行")
    return ProblemListReport(tuple(_finish(draft, directory) for draft in drafts))


def _data_lines(grid: Sequence[Sequence[str]]) -> list[_Line | None]:
    """The rows under a header, cleaned and keyed by column; ``None`` marks a header."""
    columns: dict[str, int] | None = None
    lines: list[_Line | None] = []
    for number, row in enumerate(grid, start=1):
        found: dict[str, int] = {}
        for index, cell in enumerate(row):
            # Labels are short; a long cell is data and need not be cleaned twice.
            key = _LABELS.get(_header_key(cell)) if 0 < len(cell) <= 40 else None
            if key is not None:
                found.setdefault(key, index)
        if len(found) >= 2:
            missing = [COLUMNS[key] for key in REQUIRED_COLUMNS if key not in found]
            if missing:
                named = "、".join(f"“{label}”" for label in missing)
                raise ProblemListRefused(
                    "problem_list_columns_present",
                    f"第 {number} 行的表头缺少{named}列；问题清单须有 {_required_labels()} 各列",
                )
            columns = found
            lines.append(None)
            continue
        if columns is None:
            continue  # a title above the table
        cells = {key: clean_cell(row[i]) if i < len(row) else "" for key, i in columns.items()}
        cells.setdefault(REMARKS, "")
        if any(cells.values()):
            lines.append(_Line(number, cells))
    if columns is None:
        raise ProblemListRefused(
            "problem_list_header_found",
            f"没有找到表头行：问题清单须有一行写明 {_required_labels()}、备注 各列的标题",
        )
    return lines


def _required_labels() -> str:
    return "、".join(COLUMNS[key] for key in REQUIRED_COLUMNS)


def _drafts(lines: list[_Line | None]) -> list[_Draft]:
    drafts: list[_Draft] = []
    by_seq: dict[int, _Draft] = {}
    current: _Draft | None = None
    for line in lines:
        if line is None:  # a repeated header ends whatever row came before it
            current = None
            continue
        seq_text = line.cells[SEQ]
        if not seq_text:
            if current is not None and current.continues_with(line):
                current.lines.append(line)
            else:
                drafts.append(_Draft(None, [line], "缺少序号"))
                current = None
            continue
        seq = _seq(seq_text)
        if seq is None:
            drafts.append(_Draft(None, [line], f"序号“{_shown(seq_text)}”不是正整数"))
            current = None
        elif seq in by_seq and by_seq[seq].continues_with(line):
            current = by_seq[seq]
            current.lines.append(line)
        elif seq in by_seq:
            first = by_seq[seq].lines[0].number
            drafts.append(
                _Draft(seq, [line], f"序号 {seq} 与第 {first} 行重复，但工作职责或存在问题不同")
            )
            current = None
        else:
            current = by_seq[seq] = _Draft(seq, [line])
            drafts.append(current)
    return drafts


_SEQ = re.compile(r"(\d{1,6})(?:\.0+)?[、.．]?")


def _seq(text: str) -> int | None:
    match = _SEQ.fullmatch(text.strip())
    if match is None:
        return None
    value = int(match[1])
    return value if 1 <= value <= MAX_SEQ else None


def _shown(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass
class _RowUnits:
    codes: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    lead_of_line: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def _finish(draft: _Draft, directory: UnitDirectory) -> ProblemRow:
    units = _units_of(draft, directory)
    reasons = ([draft.refused] if draft.refused else []) + units.reasons
    if not draft.duty:
        reasons.append("工作职责为空")
    if not draft.problem:
        reasons.append("存在问题为空")
    texts, measures, measure_warnings = _measures_of(draft, units, directory)
    remarks = "\n".join(dict.fromkeys(line.cells[REMARKS] for line in draft.lines if line.cells[REMARKS]))
    if any(holds_id_or_mobile_number(t) for t in (draft.duty, draft.problem, remarks, *texts)):
        # Refused here, row by row, rather than by the issue halfway through an import.
        reasons.append("含身份证号码或手机号码（问题清单不加密，不能填写个人信息）")
    return ProblemRow(
        lines=tuple(line.number for line in draft.lines),
        seq=draft.seq,
        units=tuple(units.codes),
        unit_names=tuple(units.labels),
        duty=draft.duty,
        problem=draft.problem,
        measures=tuple(measures),
        remarks=remarks,
        warnings=tuple(dict.fromkeys(units.warnings + measure_warnings)),
        refused="；".join(dict.fromkeys(reasons)) or None,
        fingerprint=fingerprint(
            seq=draft.seq,
            unit_names=units.labels,
            duty=draft.duty,
            problem=draft.problem,
            measures=texts,
            remarks=remarks,
        ),
    )


def _units_of(draft: _Draft, directory: UnitDirectory) -> _RowUnits:
    """The units of every line of the row, in order; each line's first is its lead."""
    units = _RowUnits()
    for line in draft.lines:
        text = line.cells[UNITS]
        if not text:
            continue
        if len(text) > MAX_UNITS_TEXT:
            units.reasons.append(f"责任单位一栏超过 {MAX_UNITS_TEXT} 字")
            units.labels.append(_shown(text))
            continue
        resolved = resolve_units(text, directory)
        units.warnings.extend(resolved.warnings)
        if resolved.unknown:
            named = "、".join(f"“{_shown(name)}”" for name in resolved.unknown)
            units.reasons.append(f"责任单位{named}未登记")
        units.reasons.extend(
            f"单位组“{ref.group}”没有成员单位" for ref in resolved.refs if ref.group and not ref.codes
        )
        units.labels.extend(resolved.labels)
        units.codes.extend(resolved.codes)
        if resolved.codes:
            units.lead_of_line[line.number] = resolved.codes[0]
    units.codes = list(dict.fromkeys(units.codes))
    units.labels = list(dict.fromkeys(units.labels))
    if not units.codes and not units.reasons:
        units.reasons.append("责任单位为空")
    return units


def _measures_of(
    draft: _Draft, units: _RowUnits, directory: UnitDirectory
) -> tuple[list[str], list[Measure], list[str]]:
    """The row's distinct measure texts, the measures with their owners, and warnings."""
    texts: list[str] = []
    measures: list[Measure] = []
    warnings: list[str] = []
    seen_cells: set[str] = set()
    responsible = directory.responsible_labels(units.codes)
    for line in draft.lines:
        cell = line.cells[MEASURES]
        if not cell or cell in seen_cells:
            continue  # a merged 整改措施 cell reads on every line it spans
        seen_cells.add(cell)
        lead = units.lead_of_line.get(line.number, units.codes[0] if units.codes else "")
        for text in split_measures(cell):
            if text in texts:
                continue
            texts.append(text)
            owners = _owners(text, responsible)
            if owners is None:
                owners = (lead,)
                stray = _first_named(text, [(label, ()) for label in directory.other_labels()])
                if stray is not None and units.codes:
                    warnings.append(
                        f"整改措施提到的“{stray[0]}”不是本行的责任单位，该措施由"
                        f"“{directory.name_of(lead)}”负责"
                    )
            measures.extend(Measure(owner, text) for owner in owners)
    return texts, measures, warnings


def _owners(text: str, labels: list[tuple[str, tuple[str, ...]]]) -> tuple[str, ...] | None:
    named = _first_named(text, labels)
    return named[1] if named else None


def _first_named(
    text: str, labels: Iterable[tuple[str, tuple[str, ...]]]
) -> tuple[str, tuple[str, ...]] | None:
    """The label occurring first in ``text``; of two starting together, the longer."""
    best: tuple[int, int, str, tuple[str, ...]] | None = None
    for label, codes in labels:
        at = text.find(label) if label else -1
        if at >= 0 and (best is None or (at, -len(label)) < (best[0], best[1])):
            best = (at, -len(label), label, codes)
    return (best[2], best[3]) if best else None
