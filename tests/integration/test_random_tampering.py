"""Random tamperings of the stored tables, each caught by the verifier against a tree head kept
outside; the same logs, untouched, never raise an alarm.

Each example builds a 12-event log (SQLite) with a signed head at every size, keeps its last
head outside, checks the untouched log passes, then makes one random change the way someone
with database access would — a flipped bit in an event, a deleted row, two rows swapped, a
range reordered, the log truncated with its leaves and heads re-made to match, an event
rewritten with its leaves re-hashed and the later heads re-signed, a leaf or a topic rewritten —
and checks `verify_log` finds it.

Normal suite: 40 tamperings. Long run (1,000, marked slow, in `make crash-test`):
    CARELEDGER_TAMPER_EXAMPLES=1000 .venv/bin/pytest -p no:xdist tests/integration/test_random_tampering.py
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter as Tally
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from tests.integration.merkle_logs import SmallLog, record_events, small_log
from tests.integration.test_tamper import rebuild_leaves_as_an_intruder, verify

EVENTS = 12
KINDS = ["flip", "delete", "swap", "reorder", "truncate", "rehash", "leaf", "topic"]


def _move(log: SmallLog, frm: int, to: int) -> None:
    log.sql(f"UPDATE {log.events_table} SET {log.position_column}=? WHERE {log.position_column}=?", to, frm)


def tamper(log: SmallLog, kind: str, data: st.DataObject) -> None:
    positions = log.positions()
    table, column = log.events_table, log.position_column
    index = data.draw(st.integers(0, EVENTS - 1), label="index")
    position = positions[index]
    if kind in ("flip", "rehash"):
        (state,) = log.sql(f"SELECT state FROM {table} WHERE {column}=?", position)[0]
        changed = bytearray(state)
        offset = data.draw(st.integers(0, len(changed) - 1), label="byte")
        changed[offset] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        log.sql(f"UPDATE {table} SET state=? WHERE {column}=?", bytes(changed), position)
        if kind == "rehash":  # leaves re-made to match, heads from the change on re-signed
            rebuild_leaves_as_an_intruder(log, keep_heads_below=index + 1)
    elif kind == "delete":
        log.sql(f"DELETE FROM {table} WHERE {column}=?", position)
    elif kind == "swap":
        other = positions[data.draw(st.integers(0, EVENTS - 1).filter(lambda i: i != index), label="other")]
        _move(log, position, -1)
        _move(log, other, position)
        _move(log, -1, other)
    elif kind == "reorder":
        length = data.draw(st.integers(2, EVENTS - index if index < EVENTS - 1 else 2), label="length")
        start = min(index, EVENTS - length)
        span = positions[start:start + length]
        order = data.draw(st.permutations(span).filter(lambda p: list(p) != span), label="order")
        for n, p in enumerate(span):
            _move(log, p, -1 - n)
        for n, p in enumerate(order):
            _move(log, -1 - span.index(p), span[n])
    elif kind == "truncate":  # the tail cut off, leaves and heads made to match what is left
        keep = max(index, 1)
        log.sql(f"DELETE FROM {table} WHERE {column} >= ?", positions[keep])
        log.sql("DELETE FROM merkle_heads WHERE tree_size > ?", keep)
        rebuild_leaves_as_an_intruder(log)
    elif kind == "leaf":
        forged = data.draw(st.binary(min_size=32, max_size=32), label="hash")
        (current,) = log.sql("SELECT leaf_hash FROM merkle_leaves WHERE leaf_index=?", index)[0]
        if bytes(current) == forged:
            forged = bytes(b ^ 0xFF for b in forged)
        log.sql("UPDATE merkle_leaves SET leaf_hash=? WHERE leaf_index=?", forged, index)
    elif kind == "topic":
        log.sql(f"UPDATE {table} SET topic = topic || 'x' WHERE {column}=?", position)


def run_tamperings(examples: int) -> Tally[str]:
    caught: Tally[str] = Tally()

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(kind=st.sampled_from(KINDS), data=st.data())
    def one(kind: str, data: st.DataObject) -> None:
        with tempfile.TemporaryDirectory() as directory, small_log("sqlite", Path(directory)) as log:
            record_events(log)
            outside = log.store.head(EVENTS)
            assert outside is not None
            untouched = verify(log, outside_head=outside)
            assert untouched.intact, f"false alarm on an untouched log: {untouched.summary()}"
            tamper(log, kind, data)
            result = verify(log, outside_head=outside)
            assert not result.intact, f"{kind} not caught"
            caught[kind] += 1

    one()
    return caught


def test_random_tamperings_are_all_caught_and_untouched_logs_all_pass() -> None:
    caught = run_tamperings(int(os.environ.get("CARELEDGER_TAMPER_EXAMPLES", "40")))
    assert sum(caught.values()) >= 40 and len(caught) >= 5, caught


@pytest.mark.slow
def test_a_thousand_random_tamperings_are_all_caught() -> None:
    caught = run_tamperings(1000)
    print("tamperings caught, by kind:", dict(caught))
    assert sum(caught.values()) == 1000 and set(caught) == set(KINDS), caught
