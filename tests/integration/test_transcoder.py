"""The ledger decodes stored states with orjson (infrastructure/transcoder.py): every event
and snapshot must come back exactly as the library's own JSON transcoder gives it."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

from infrastructure.dialect import Database
from infrastructure.transcoder import FastJSONTranscoder
from tests.district import Clock, District
from tests.integration.test_snapshots import case_history, issue_history, snapshotting


def library_transcoder(ledger: Any) -> JSONTranscoder:
    transcoder = JSONTranscoder()
    ledger.register_transcodings(transcoder)
    return transcoder


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (a date is not a datetime, a tuple not a list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or repr(a) == repr(b)  # NaN equals nothing, itself included


def test_every_stored_event_and_snapshot_decodes_as_the_library_decodes_it(district: District, clock: Clock) -> None:
    ledger = district.ledger
    assert type(ledger.mapper.transcoder) is FastJSONTranscoder
    snapshotting(ledger, 3)
    issue_history(district, clock)
    case_history(district, clock)
    db = Database(ledger.recorder.datastore)
    with db.read() as c:
        states = [bytes(r[0]) for r in c.execute("SELECT state FROM {events}", events=ledger.recorder.events_table_name).fetchall()]
        snapshots = [bytes(r[0]) for r in c.execute("SELECT state FROM {snapshots}",
                                                    snapshots=ledger.snapshots.recorder.events_table_name).fetchall()]
    assert len(states) > 50 and len(snapshots) > 5
    library = library_transcoder(ledger)
    for state in states + snapshots:
        assert same(ledger.mapper.transcoder.decode(state), library.decode(state)), state


@pytest.mark.parametrize("state", [
    b'{"x": NaN, "y": -Infinity}',  # the stdlib's JSON, not orjson's
    b'{"big": 123456789012345678901234567890, "small": [1, 2.5, 1e3]}',  # orjson makes the first a float
    b'[1, 2, 3, 4, 5, 6, 7, 8, 9, 123456789012345678901234567890]',
    b'{"s": "\\ud800"}',  # a lone surrogate
    b'[{"_type_": "date_iso", "_data_": "2019-05-01"}, [{"_type_": "uuid_hex", "_data_": "' + b"0" * 32 + b'"}]]',
    b'{"_type_": "datetime_iso", "other": 1}',  # two keys, not a tag
    b'{"a": {"_type_": "tuple", "_data_": [1, {"_type_": "date_iso", "_data_": "2019-05-01"}]}}',
    b'{"b": [[], [[]], {}], "c": [1, 2, 3, 4, 5, 6, 7, 8, 9, {"_type_": "date_iso", "_data_": "2019-05-01"}]}',
    # a snapshot's list of dicts by columns: only the untyped column holds tags to decode
    b'{"u": {"_type_": "columns", "_data_": [[[["a", "b", "c"], [null, "date", "repeated text"], '
    b'[[{"_type_": "date_iso", "_data_": "2019-05-01"}, [1, {"_type_": "tuple", "_data_": [2]}]], '
    b'["2019-05-02", "2019-05-03"], [["x"], [0, 0]]]]], null]}}',
    b'{"u": {"_type_": "columns", "_data_": [[[["a"], [null], [[123456789012345678901234567890]]]], null]}}',
    # shapes the codec never writes: walked as any other value
    b'{"u": {"_type_": "columns", "_data_": [[[["a"], {"_type_": "tuple", "_data_": [null]}, '
    b'[[{"_type_": "date_iso", "_data_": "2019-05-01"}]]]], null]}}',
    b'{"u": {"_type_": "columns", "_data_": [[[["a"], [null], {"k": {"_type_": "date_iso", "_data_": "2019-05-01"}}]], null]}}',
])
def test_states_decode_as_the_library_decodes_them(district: District, state: bytes) -> None:
    assert same(district.ledger.mapper.transcoder.decode(state), library_transcoder(district.ledger).decode(state))


@pytest.mark.parametrize("state", [
    b'{"a": 1', b'{"a": {"_type_": "nobody", "_data_": "x"}}', b'{"a": {"_type_": 1, "_data_": "x"}}', b"\xff",
])
def test_a_state_the_library_cannot_decode_fails_as_it_does(district: District, state: bytes) -> None:
    with pytest.raises(Exception) as library_error:
        library_transcoder(district.ledger).decode(state)
    with pytest.raises(type(library_error.value)):
        district.ledger.mapper.transcoder.decode(state)
    assert library_error.type in (TranscodingNotRegisteredError, UnicodeDecodeError) or isinstance(library_error.value, ValueError)
