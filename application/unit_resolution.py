"""The 责任单位 cell of a problem list: unit names, groups (各司法所) and a lead unit, read
against the registry as the import sees it (names → codes, groups → members), including
names broken across a line."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


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
