"""A snapshot's state comes back from the store exactly as it went in: int keys stay ints,
tuples stay tuples, and lists of dicts stored by columns come back in order with their
dates and datetimes."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given, settings, strategies as st

from application.ledger import DateAsISO
from application.snapshot_codec import SNAPSHOT_TRANSCODINGS
from domain.base import _portable


def transcoder() -> JSONTranscoder:
    made = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO(), *SNAPSHOT_TRANSCODINGS):
        made.register(transcoding)
    return made


def round_trip(value: Any) -> Any:
    codec = transcoder()
    return codec.decode(codec.encode({"v": _portable(value)}))["v"]


def exact(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (a date equals no datetime, but 1 == 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(exact(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(exact(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(timezone.utc))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=5),
                    st.dates(min_value=date(2000, 1, 1)), moments)
keys = st.sampled_from(["version", "unit", "due", "at", "type", "单位"])
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.dictionaries(keys, inner, min_size=1, max_size=3), max_size=6),
        st.dictionaries(st.integers(0, 50), inner, max_size=4),
        st.tuples(inner, inner),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_any_snapshot_value_round_trips_exactly(value: Any) -> None:
    assert exact(round_trip(value), value)


def test_a_list_of_dicts_of_different_shapes_keeps_its_order() -> None:
    start = datetime(2019, 3, 1, tzinfo=timezone.utc)
    entries = {v: {"type": "Urged", "user": "a", "unit": "b"} if v % 3 else
               {"type": "ProgressReported", "user": "a", "unit": "b", "measure_id": f"M{v}", "at": start + timedelta(v)}
               for v in range(1, 40)}
    back = round_trip(entries)
    assert exact(back, entries)
