"""How the JSON transcoder stores what a snapshot's state holds beyond plain JSON: int-keyed
dicts, tuples, and lists of dicts by columns (domain.base.Columns says why)."""

from __future__ import annotations

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
        return dict(zip(data[0], data[1]))


class TupledAsList(Transcoding):
    type = Tupled
    name = "tuple"

    def encode(self, obj: Tupled) -> list[Any]:
        return obj.items

    def decode(self, data: list[Any]) -> tuple[Any, ...]:
        return tuple(data)


_CONVERT = {Columns.DATETIME: datetime.fromisoformat, Columns.DATE: date.fromisoformat}


class ColumnsAsLists(Transcoding):
    type = Columns
    name = "columns"

    def encode(self, obj: Columns) -> list[Any]:
        return [obj.groups, obj.order]

    def decode(self, data: list[Any]) -> list[dict[str, Any]]:
        groups, order = data
        built = []
        for keys, kinds, columns in groups:
            converted = [
                column if kind is None else list(map(_CONVERT[kind], column))
                for kind, column in zip(kinds, columns)
            ]
            built.append(list(map(dict, map(zip, repeat(keys), zip(*converted)))))
        if order is None:
            return built[0]
        members = [iter(group) for group in built]
        return [next(members[index]) for index in order]


SNAPSHOT_TRANSCODINGS = (IntKeyedAsLists(), TupledAsList(), ColumnsAsLists())
