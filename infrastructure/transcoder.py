"""The library's JSON transcoder, decoding with orjson.

Decoding stored events was the largest cost of following the log, rebuilding the views
and checking snapshots: the stdlib's decoder calls the transcoder's Python hook for every
JSON object it builds. Here orjson builds the objects, then one walk hands every object
(innermost first, as the stdlib's hook sees them) to the library's own hook, so the
tagged values (dates, ids, the snapshots' columns) come back exactly as before. A tagged
string whose transcoding is one of the library's plain ones (a datetime, a date, a UUID)
is converted without the hook's lookups: most of an event's objects are such tags. A
snapshot's lists of dicts stored by columns (application.snapshot_codec) are walked only in
their untyped columns: a typed column holds strings or small indexes by construction, and
scanning each of them took a fifth of decoding a long issue's snapshot.

Whatever orjson refuses and the stdlib accepts (NaN, lone surrogates) takes the library's
own path, and so does any state holding a number with a fraction or an exponent: orjson
gives an integer beyond 64 bits as a float, where the stdlib keeps it exact, and nothing
careledger stores has floats. So no stored state decodes differently or stops decoding.
Encoding is the library's, unchanged: the bytes hashed into the Merkle log are its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Transcoding, UUIDAsHex

from application.ledger import DateAsISO
from application.snapshot_codec import ColumnsAsLists

# Transcodings whose decode is exactly this function of a string (after asserting a str).
_PLAIN: dict[type[Transcoding], Callable[[str], Any]] = {
    DatetimeAsISO: datetime.fromisoformat,
    DateAsISO: date.fromisoformat,
    UUIDAsHex: UUID,
}


class _LibraryPath(Exception):
    """The state holds a float: decoded by the library's own transcoder instead."""


class FastJSONTranscoder(JSONTranscoder):
    def __init__(self) -> None:
        super().__init__()
        self._strings: dict[str, Callable[[str], Any]] = {}
        self._columns: str | None = None

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        if type(transcoding) is ColumnsAsLists:
            self._columns = transcoding.name
        convert = _PLAIN.get(type(transcoding))
        if convert is None:
            self._strings.pop(transcoding.name, None)
        else:
            self._strings[transcoding.name] = convert

    def decode(self, data: bytes) -> Any:
        try:
            value = orjson.loads(data)
            kind = type(value)
            if kind is dict:
                return self._objects_in(value)
            if kind is list:
                self._lists_in(value)
            elif kind is float:
                raise _LibraryPath
            return value
        except (orjson.JSONDecodeError, _LibraryPath):
            return super().decode(data)

    def _objects_in(self, obj: dict[str, Any]) -> Any:
        strings = self._strings
        for key, value in obj.items():
            kind = type(value)
            if kind is dict:
                if len(value) == 2:
                    name, data = value.get("_type_"), value.get("_data_")
                    if type(data) is str and type(name) is str and name in strings:
                        obj[key] = strings[name](data)
                        continue
                    if name == self._columns and self._untyped_columns_in(data):
                        obj[key] = self._decode_obj(value)
                        continue
                obj[key] = self._objects_in(value)
            elif kind is list:
                if value:
                    self._lists_in(value)
            elif kind is float:
                raise _LibraryPath
        # The library's hook: a {"_type_", "_data_"} pair becomes its value, other objects stay.
        return self._decode_obj(obj) if len(obj) == 2 else obj

    def _lists_in(self, items: list[Any]) -> None:
        if len(items) > 8:
            kinds = set(map(type, items))
            if float in kinds:
                raise _LibraryPath
            if dict not in kinds and list not in kinds:
                return  # a snapshot's long columns of strings and numbers: nothing to walk
        for index, value in enumerate(items):
            kind = type(value)
            if kind is dict:
                items[index] = self._objects_in(value)
            elif kind is list:
                if value:
                    self._lists_in(value)
            elif kind is float:
                raise _LibraryPath

    def _untyped_columns_in(self, data: Any) -> bool:
        """Walks the untyped columns of a snapshot's columns (``[groups, order]``, each group
        ``[keys, kinds, columns]``); False, having walked nothing, for any other shape (the
        whole value is then walked as any other)."""
        if type(data) is not list or len(data) != 2 or type(data[0]) is not list:
            return False
        untyped = []
        for group in data[0]:
            if type(group) is not list or len(group) != 3 or type(group[1]) is not list or type(group[2]) is not list \
                    or len(group[1]) != len(group[2]) or not all(type(k) is str for k in group[0]):
                return False
            for kind, column in zip(group[1], group[2], strict=True):
                if kind is None:
                    if type(column) is not list:
                        return False
                    untyped.append(column)
                elif type(kind) is not str:
                    return False
        for column in untyped:
            if column:
                self._lists_in(column)
        return True
