"""Unit codes and the names people read (区教育局 beside ``edu``): one lookup for every
answer, export and page that names a unit.

A field that holds unit codes keeps its code(s) and gains a name field beside it, by one
rule (``unit_key`` / ``name_key``): ``unit`` → ``unit_name``, ``lead_unit`` →
``lead_unit_name``, ``units`` → ``unit_names``, ``co_units`` → ``co_unit_names``; the
fields of a report that name the accepting and dispatching unit (``accepted_by``,
``dispatched_by``) likewise. Clients that read the codes read them as before.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from application.errors import NotFound

# What the ledger itself records as the unit of its own entries (application.ledger.SYSTEM).
SYSTEM_UNIT = "system"
SYSTEM_UNIT_NAME = "系统"
# Fields naming a unit that the suffix rule does not catch.
OTHER_UNIT_KEYS = frozenset({"accepted_by", "dispatched_by"})
# Nested values shown as recorded, never added to: a Merkle leaf is hashed as stored,
# personal data is the case's own, and a correction's changes are what was asked.
AS_RECORDED = frozenset({"leaf", "personal", "changes"})
CONTAINERS = (Mapping, list, tuple)
# A view joins several units in one cell with this (projections.queries).
JOIN = "、"


def unit_key(key: str) -> bool:
    """Whether a field of this name holds a unit code (or a list of them)."""
    return key in ("unit", "units") or key.endswith(("_unit", "_units")) or key in OTHER_UNIT_KEYS


def name_key(key: str) -> str:
    """The field beside ``key`` holding the name(s): ``units`` → ``unit_names``."""
    return f"{key[:-1]}_names" if key.endswith("units") else f"{key}_name"


@functools.lru_cache(maxsize=1024)
def _beside(key: str) -> str | None:
    return name_key(key) if unit_key(key) else None


class UnitNames:
    """Code → name of every registered unit. Units are registered once and never renamed,
    so a name once read is kept for the life of the process; a code not registered (a
    group's code, or an entry of the ledger's own) is shown as it is."""

    def __init__(self, load: Callable[[str], Any]) -> None:
        # ``load(code)`` answers the unit (with a ``name``) or raises NotFound.
        self._load = load
        self._names: dict[str, str] = {SYSTEM_UNIT: SYSTEM_UNIT_NAME}
        self._lock = threading.Lock()

    def name(self, code: str) -> str:
        found = self._names.get(code)
        if found is not None:
            return found
        try:
            found = str(self._load(code).name)
        except NotFound:
            return code
        with self._lock:
            self._names[code] = found
        return found

    __call__ = name

    def of(self, codes: Iterable[str]) -> dict[str, str]:
        return {code: self.name(code) for code in dict.fromkeys(codes)}

    def names_of(self, value: Any) -> Any:
        """The name(s) for a field's value: a code, a list of codes, or codes joined by 、."""
        if isinstance(value, str):
            return JOIN.join(self.name(c) for c in value.split(JOIN)) if JOIN in value else self.name(value)
        if isinstance(value, list):
            return [self.names_of(v) for v in value]
        return None

    def annotate(self, value: Any) -> Any:
        """``value`` (an answer: dicts, lists, scalars) with a name field beside every unit
        field, at any depth; new containers, the given ones left as they were."""
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if key in AS_RECORDED:
                    out[key] = item
                    continue
                out[key] = self.annotate(item) if isinstance(item, CONTAINERS) else item
                name = _beside(key) if isinstance(key, str) else None
                if name is not None and name not in value:
                    out[name] = self.names_of(item)
            return out
        if isinstance(value, (list, tuple)):
            return [self.annotate(v) if isinstance(v, CONTAINERS) else v for v in value]
        return value

    def _table(self, table: Mapping[str, Any], previous: Memo, fresh: Memo) -> dict[str, Any]:
        """A view's table (``columns`` and ``rows``) with a name column in place of each unit
        column, under its label, and the codes in a column of their own just after it
        (labelled …代码). Rows are new dicts; other values are shared with ``table``."""
        spec = table["columns"]
        keys = [c["key"] for c in spec if unit_key(c["key"])]
        if not keys:
            return dict(table)
        columns: list[dict[str, str]] = []
        for column in spec:
            if unit_key(column["key"]):
                columns.append({"key": name_key(column["key"]), "label": column["label"]})
                columns.append({"key": column["key"], "label": f"{column['label']}代码"})
            else:
                columns.append(column)
        pairs = [(k, name_key(k)) for k in keys]

        def named(row: Mapping[str, Any]) -> dict[str, Any]:
            copy = dict(row)
            for key, name in pairs:
                value = row.get(key)
                copy[name] = self.names_of(value) if value is not None else None
            return copy

        rows: list[dict[str, Any]] = []
        # Rows made of kept chunks (projections.kept.Rows): one named copy per chunk list,
        # reused while the chunk is the same list, so a view recomputed after one write
        # copies one chunk's rows, not 19,000.
        parts: list[Any] | None = getattr(table["rows"], "parts", None)
        for part in parts or []:
            if not part:
                continue
            # A chunk is known by its first row's id (an issue's) or object: a chunk with one
            # row changed is the same chunk, its other rows' copies reused one by one.
            head = ("chunk", part[0].get("id") or id(part[0]))
            kept = previous.get(head)
            if kept is None or kept[0] is not part:
                before = kept[2] if kept is not None else {}
                by_row, copies = {}, []
                for row in part:
                    found = before.get(id(row))
                    found = by_row[id(row)] = found if found is not None and found[0] is row else (row, named(row))
                    copies.append(found[1])
                kept = (part, copies, by_row)
            fresh[head] = kept
            rows.extend(kept[1])
        for row in table["rows"] if parts is None else []:
            kept = previous.get(id(row))
            if kept is None or kept[0] is not row:
                kept = (row, named(row))
            fresh[id(row)] = kept
            rows.append(kept[1])
        return {**table, "columns": columns, "rows": rows}

    def view(self, answer: Mapping[str, Any], memo: Memo | None = None) -> dict[str, Any]:
        """A view's answer with names in each of its tables: the main one, those under a
        key (due_soon), and its sections. A ``memo`` (of the previous answer) gives the named
        copy of each row by the row's identity: a view recomputed after one write shares all
        but a few rows with the previous answer (projections.kept.Kept), and those are not
        copied again. It is left holding the rows of this answer only."""
        previous = memo if memo is not None else {}
        fresh: Memo = {}
        named = (self._table(answer, previous, fresh) if "columns" in answer and "rows" in answer
                 else dict(answer))
        for key, value in answer.items():
            if isinstance(value, Mapping) and "columns" in value and "rows" in value:
                named[key] = self._table(value, previous, fresh)
        if isinstance(answer.get("sections"), Mapping):
            named["sections"] = {k: self._table(t, previous, fresh) for k, t in answer["sections"].items()}
        if memo is not None:
            memo.clear()
            memo.update(fresh)
        return named


# A row's identity → (the row, its named copy), or a chunk's list of rows → (the list, its
# named rows); what is keyed is held, so its id is not reused.
Memo = dict[Any, tuple[Any, ...]]
