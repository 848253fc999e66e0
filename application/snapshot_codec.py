"""How the JSON transcoder stores what a snapshot's state holds beyond plain JSON: int-keyed
dicts, tuples, and lists of dicts by columns (domain.base.Columns says why)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from itertools import repeat
from typing import Any

from eventsourcing.persistence import Transcoding

from domain.base import Columns, IntKeyed, Tupled


class IntKeyedAsLists(Transcoding):
    type = IntKeyed
    name = "int_keyed"

    def encode(self, obj: IntKeyed) -> list[Any]:
        return [obj.keys, obj.values]

    def decode(self, data: list[Any]) -> dict[int, Any]:
        return dict(zip(data[0], data[1], strict=True))


class TupledAsList(Transcoding):
    type = Tupled
    name = "tuple"

    def encode(self, obj: Tupled) -> list[Any]:
        return obj.items

    def decode(self, data: list[Any]) -> tuple[Any, ...]:
        return tuple(data)


_CONVERT = {Columns.DATETIME: datetime.fromisoformat, Columns.DATE: date.fromisoformat}


def _column(kind: str | None, column: list[Any]) -> list[Any]:
    if kind is None:
        return column
    if kind.startswith(Columns.REPEATED):
        distinct, indexes = column
        kind = kind.removeprefix(Columns.REPEATED)
        if kind != Columns.TEXT:
            distinct = list(map(_CONVERT[kind], distinct))
        return list(map(distinct.__getitem__, indexes))
    return list(map(_CONVERT[kind], column))

_FIELD = re.compile(r"[a-z_][a-z0-9_]{0,63}")
_builders: dict[tuple[str, ...], Callable[[Iterable[tuple[Any, ...]]], list[dict[str, Any]]]] = {}


def _builder(keys: tuple[str, ...]) -> Callable[[Iterable[tuple[Any, ...]]], list[dict[str, Any]]]:
    """Builds the dicts of one shape from rows of values. A dict display in a comprehension
    is about twice as fast as ``dict(zip(keys, row))``, so each shape whose keys are plain
    field names (checked: the text compiled holds nothing but those names, quoted) gets
    one, compiled once per process; any other shape takes ``dict(zip())``."""
    built = _builders.get(keys)
    if built is None:
        if keys and len(keys) <= 32 and all(_FIELD.fullmatch(k) for k in keys):
            names = [f"v{i}" for i in range(len(keys))]
            display = ", ".join(f"'{k}': {n}" for k, n in zip(keys, names, strict=True))
            source = f"lambda rows: [{{{display}}} for {', '.join(names)}, in rows]"
            built = eval(compile(source, "<snapshot columns>", "eval"), {"__builtins__": {}})  # noqa: S307
        else:
            built = lambda rows: list(map(dict, map(zip, repeat(keys), rows)))  # noqa: E731
        if len(_builders) < 1024:
            _builders[keys] = built
    return built


class ColumnsAsLists(Transcoding):
    type = Columns
    name = "columns"

    def encode(self, obj: Columns) -> list[Any]:
        return [obj.groups, obj.order]

    def decode(self, data: list[Any]) -> list[dict[str, Any]]:
        groups, order = data
        built = []
        for keys, kinds, columns in groups:
            converted = [_column(kind, column) for kind, column in zip(kinds, columns, strict=True)]
            built.append(_builder(tuple(keys))(zip(*converted, strict=True)))
        if order is None:
            return built[0]
        members = [iter(group) for group in built]
        return [next(members[index]) for index in order]


SNAPSHOT_TRANSCODINGS = (IntKeyedAsLists(), TupledAsList(), ColumnsAsLists())
