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
import html
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

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


# ---- cleaning cells ----------------------------------------------------------------------

_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:br|p|div|li|tr|h[1-6]|ul|ol|table)\b[^<>]*>", re.IGNORECASE)
_TAG = re.compile(r"<!--.*?(?:-->|$)|<\s*/?\s*[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?\s*>", re.DOTALL)
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"\s+")
# Two or more clause marks in a row (。；  ；。  。。  ，。), left by tables that join cells
# or end every item with both: the strongest stands (。 over ； over ，). 、 is left alone:
# "1、" numbers measures.
_DOUBLED_MARKS = re.compile(r"[。；，](?: ?[。；，])+")
_STRONGEST = "。；，"


def _strongest_mark(run: re.Match[str]) -> str:
    return next(mark for mark in _STRONGEST if mark in run.group())


def clean_cell(value: str) -> str:
    """Cell text as a person reads it: no markup, NFC, single spaces, no blank lines, no
    doubled clause marks.

    Markup is removed until none is left (``&amp;lt;p&amp;gt;`` included), so cleaning is
    idempotent and an exported cell reads back exactly as it was written.
    """
    text = str(value)
    for _ in range(16):
        stripped = _strip_markup(text)
        if stripped == text:
            break
        text = stripped
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    lines = (_DOUBLED_MARKS.sub(_strongest_mark, line) for line in lines)
    return "\n".join(line for line in lines if line)


def _strip_markup(text: str) -> str:
    text = html.unescape(_TAG.sub("", _BLOCK_TAG.sub("\n", text)))
    text = "".join(_visible(char) for char in _LINE_BREAKS.sub("\n", text))
    return unicodedata.normalize("NFC", text)


def _visible(char: str) -> str:
    if char == "\n":
        return char
    category = unicodedata.category(char)
    if category == "Cc":
        return " " if char == "\t" else ""
    if category in ("Cf", "Cs"):  # zero-width spaces, BOMs, lone surrogates
        return ""
    return char


def _header_key(value: str) -> str:
    return re.sub(r"[\s*＊:：]", "", clean_cell(value))


_LABELS = {label: key for key, label in COLUMNS.items()}


# ---- the unit registry as the import sees it ---------------------------------------------


@dataclass(frozen=True)
class _Ref:
    """A responsible unit as the list names it: a unit, or every member of a group."""

    label: str
    codes: tuple[str, ...]
    group: str | None = None


@dataclass(frozen=True)
class _Candidate:
    text: str
    ref: _Ref
    repaired: bool


@dataclass(frozen=True, eq=False)
class UnitDirectory:
    """Registered units by name and groups by code, as the ledger holds them.

    ``units`` maps a unit's name to its code; ``groups`` maps a group's code (its name,
    e.g. 司法所) to the codes of its members, in order.
    """

    units: Mapping[str, str]
    groups: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def name_of(self, code: str) -> str:
        return self._names.get(code, code)

    @cached_property
    def _names(self) -> dict[str, str]:
        return {code: name for name, code in self.units.items()}

    @cached_property
    def _refs(self) -> dict[str, _Ref]:
        """Every way a cell may name a unit or a group, exactly."""
        refs: dict[str, _Ref] = {}
        for code, members in self.groups.items():
            group = _Ref(f"各{code}", tuple(dict.fromkeys(members)), group=code)
            refs[group.label] = group
            refs.setdefault(code, group)
        for name, code in self.units.items():
            refs[name] = _Ref(name, (code,))  # a unit's own name beats a group's bare code
        return refs

    @cached_property
    def _index(self) -> dict[str, list[_Candidate]]:
        """Candidates by first character: exact names, then names broken with a repeat.

        A name broken across a line often repeats the end of the first fragment at the
        start of the second ("公共法律服务 / 务管理科"): ``name[:p] + name[p - k:]``.
        """
        candidates = [_Candidate(text, ref, repaired=False) for text, ref in self._refs.items()]
        seen = set(self._refs)
        for text, ref in self._refs.items():
            if text != ref.label:
                continue  # a bare group code is too short to guess a repair of
            for p in range(1, len(text)):
                for k in range(1, p + 1):
                    variant = text[:p] + text[p - k:]
                    if variant not in seen:
                        seen.add(variant)
                        candidates.append(_Candidate(variant, ref, repaired=True))
        index: dict[str, list[_Candidate]] = {}
        for candidate in candidates:
            index.setdefault(candidate.text[0], []).append(candidate)
        return index

    def responsible_labels(self, codes: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
        """What a measure's text may name to be owned: each unit's name, and 各X for every
        group with members among ``codes`` (standing for those members)."""
        present = set(codes)
        labels: list[tuple[str, tuple[str, ...]]] = [(self.name_of(code), (code,)) for code in dict.fromkeys(codes)]
        for group, members in self.groups.items():
            owners = tuple(m for m in dict.fromkeys(members) if m in present)
            if owners:
                labels.append((f"各{group}", owners))
        return labels

    def other_labels(self) -> Iterable[str]:
        yield from self.units
        for group in self.groups:
            yield f"各{group}"


# ---- resolving a 责任单位 cell -------------------------------------------------------------

_HARD_SEPARATORS = frozenset("、，,；;/／|｜。")
_LEAD_NOTE = re.compile(r"[（(]\s*牵头(?:单位)?\s*[)）]")
_LEAD_MARK = "\x00"  # cleaning removed every control character, so this one is free
_UNKNOWN_COST = 1000


@dataclass
class ResolvedUnits:
    """What one 责任单位 cell names: known units and groups, unknown fragments, repairs."""

    refs: list[_Ref] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lead: _Ref | None = None

    @property
    def codes(self) -> list[str]:
        ordered = ([self.lead] if self.lead else []) + self.refs
        return list(dict.fromkeys(code for ref in ordered for code in ref.codes))

    @property
    def labels(self) -> list[str]:
        ordered = ([self.lead] if self.lead else []) + self.refs
        return list(dict.fromkeys(ref.label for ref in ordered)) + self.unknown


def resolve_units(text: str, directory: UnitDirectory) -> ResolvedUnits:
    """Split a cell into the units it names, repairing names broken across a line.

    The cell is read as one string with the separators remembered: punctuation (、，；)
    always separates; whitespace separates too, unless joining across it is the only way
    to make a registered name, which is then reported as a warning. The cheapest reading
    wins: exact names, then repaired ones, then as few unknown fragments as possible.
    """
    chars: list[str] = []
    soft: set[int] = set()
    hard: set[int] = {0}
    lead_at: int | None = None
    pending_soft = False
    for char in _LEAD_NOTE.sub(_LEAD_MARK, text):
        if char == _LEAD_MARK:
            lead_at = len(chars)
            hard.add(len(chars))
        elif char in _HARD_SEPARATORS:
            hard.add(len(chars))
        elif char.isspace():
            pending_soft = True
            continue
        else:
            if pending_soft:
                soft.add(len(chars))
            chars.append(char)
        pending_soft = False
    s = "".join(chars)
    n = len(s)
    hard.add(n)
    cuts = sorted(hard | soft)

    def spans(points: set[int], i: int, j: int) -> bool:
        return any(i < p < j for p in points)

    def token_end(i: int) -> int:
        return next(p for p in cuts if p > i)

    # best[i]: (cost, previous position, piece) of the cheapest reading of s[:i]
    best: list[tuple[int, int, tuple[str, Any]] | None] = [None] * (n + 1)
    best[0] = (0, -1, ("", None))
    for i in range(n):
        if best[i] is None:
            continue
        cost_here = best[i][0]  # type: ignore[index]
        moves: list[tuple[int, int, tuple[str, Any]]] = []
        for candidate in directory._index.get(s[i], ()):
            j = i + len(candidate.text)
            if j > n or not s.startswith(candidate.text, i) or spans(hard, i, j):
                continue
            broken = spans(soft, i, j)
            cost = (5 if candidate.repaired else 0) + (1 if broken else 0)
            kind = "repaired" if candidate.repaired or broken else "ref"
            moves.append((j, cost, (kind, candidate.ref)))
        end = token_end(i)
        # Of two readings with as many unknown names, the one leaving fewer characters
        # unknown names the culprit more precisely ("等" rather than "普法和依法治理科等").
        moves.append((end, _UNKNOWN_COST + end - i, ("unknown", s[i:end])))
        for j, cost, piece in moves:
            total = cost_here + cost
            if best[j] is None or total < best[j][0]:  # type: ignore[index]
                best[j] = (total, i, piece)

    pieces: list[tuple[int, int, str, Any]] = []
    j = n
    while j > 0:
        _, i, (kind, value) = best[j]  # type: ignore[misc]
        pieces.append((i, j, kind, value))
        j = i
    pieces.reverse()

    resolution = ResolvedUnits()
    for i, j, kind, value in pieces:
        if kind == "unknown":
            resolution.unknown.append(_with_breaks(s, soft, i, j))
            continue
        if kind == "repaired":
            written = _with_breaks(s, soft, i, j)
            resolution.warnings.append(
                f"责任单位“{written}”疑为跨行断开的名称，已识别为“{value.label}”，请核对"
            )
        resolution.refs.append(value)
        if lead_at is not None and j == lead_at:
            resolution.lead = value
    return resolution


def _with_breaks(s: str, soft: set[int], i: int, j: int) -> str:
    return "".join((" " if k in soft and k != i else "") + s[k] for k in range(i, j))


# ---- splitting numbered measures ---------------------------------------------------------

_MARKER = re.compile(
    r"(?P<circled>[\u2460-\u2473])"
    r"|[（(]\s*(?P<paren>\d{1,2})\s*[)）]"
    r"|[（(]\s*(?P<cparen>[一二三四五六七八九十]{1,3})\s*[)）]"
    r"|(?P<num>\d{1,2})\s*(?:(?P<dun>、)|(?P<dot>[.．])(?!\d)|(?P<half>[)）]))"
)
_BOUNDARY = frozenset("。；;：:！？!?，,")


def split_measures(text: str) -> list[str]:
    """``1、… 2、…`` (also ``1.`` ``1）`` ``（1）`` ``（一）`` ``①``) as separate measures.

    Markers count only in sequence from 1, in one style (the style of the first "1"), at
    the start of the text or after a space or a sentence mark; so "2019年1.5万元" and a
    nested ``（1）`` inside ``1、`` stay text. Text before the first marker is kept with the
    first measure when it introduces the list ("措施如下：1、…"); otherwise the cell is one
    measure, because splitting it would drop the words before the numbers.
    """
    markers = []
    for match in _MARKER.finditer(text):
        style, number = _marker_style(match)
        if number is None:
            continue
        start = match.start()
        if style != "circled" and start > 0 and not (
            text[start - 1].isspace() or text[start - 1] in _BOUNDARY
        ):
            continue
        markers.append((start, match.end(), style, number))
    first = next((m for m in markers if m[3] == 1), None)
    if first is None:
        return [text] if text else []
    accepted = []
    expected = 1
    for marker in markers:
        if marker[2] == first[2] and marker[3] == expected and marker[0] >= first[0]:
            accepted.append(marker)
            expected += 1
    preamble = text[: first[0]].strip()
    if preamble and not preamble.endswith(("：", ":")):
        return [text]
    bounds = [m[1] for m in accepted]
    ends = [m[0] for m in accepted[1:]] + [len(text)]
    parts = [text[b:e].strip() for b, e in zip(bounds, ends, strict=True)]
    if preamble:
        parts[0] = preamble + parts[0]
    return [part for part in parts if part]


# The numbering styles a joined cell may use, most familiar first.
_NUMBERINGS: tuple[tuple[str, Callable[[int], str]], ...] = (
    ("dun", lambda n: f"{n}、"),
    ("paren", lambda n: f"（{n}）"),
    ("dot", lambda n: f"{n}."),
    ("circled", lambda n: chr(0x2460 + n - 1)),
)


def join_measures(texts: Sequence[str]) -> str:
    """One 整改措施 cell for ``texts``, such that ``split_measures`` gives them back.

    A single measure is written as it is unless its own words would be read as numbered;
    several are numbered one per line, in the first style none of their words can be
    mistaken for (a text may itself say "（1）…").
    """
    distinct = [text for text in dict.fromkeys(t.strip() for t in texts) if text]
    if len(distinct) == 1 and split_measures(distinct[0]) == distinct:
        return distinct[0]
    for style, marker in _NUMBERINGS:
        if style == "circled" and len(distinct) > 20:
            continue
        joined = "\n".join(marker(n) + text for n, text in enumerate(distinct, start=1))
        if split_measures(joined) == distinct:
            return joined
    return "\n".join(f"{n}、{text}" for n, text in enumerate(distinct, start=1))


def _marker_style(match: re.Match[str]) -> tuple[str, int | None]:
    if match["circled"]:
        return "circled", ord(match["circled"]) - 0x2460 + 1
    if match["paren"]:
        return "paren", int(match["paren"])
    if match["cparen"]:
        return "cparen", _chinese_number(match["cparen"])
    style = "dun" if match["dun"] else "dot" if match["dot"] else "half"
    return style, int(match["num"])


def _chinese_number(text: str) -> int | None:
    """一 … 九十九, as numbered headings write them."""
    digits = "一二三四五六七八九"
    tens, ten, ones = text.partition("十")
    if not ten:
        return digits.index(text) + 1 if len(text) == 1 else None
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    high = digits.index(tens) + 1 if tens else 1
    low = digits.index(ones) + 1 if ones else 0
    return high * 10 + low


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
