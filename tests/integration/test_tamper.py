"""The tamper matrix: each way of rewriting history with SQL is caught, at the right position.

Every case builds a 12-event log with a signed head at every size, tampers the tables
directly as someone with database access would, and runs the verifier.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.findings import Discrepancy, Finding, Verification
from infrastructure.signing import TreeHeadSigner
from infrastructure.verify import verify_log
from projections.merkle_log import TreeHead
from tests.backends import scratch_schema
from tests.integration.merkle_logs import SmallLog, record_events, small_log

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SmallLog]:
    if request.param == "sqlite":
        with small_log("sqlite", tmp_path) as built:
            record_events(built)
            yield built
        return
    url = request.getfixturevalue("postgres_database")
    with scratch_schema(url) as schema, small_log("postgres", tmp_path, (url, schema)) as built:
        record_events(built)
        yield built


def verify(log: SmallLog, outside_head: TreeHead | None = None) -> Verification:
    return verify_log(
        log.recorder, log.store, log.signer.public_key, outside_head=outside_head, batch_size=5
    )


def found(log: SmallLog, outside_head: TreeHead | None = None) -> Finding:
    """What verification finds in a tampered log: something, always."""
    finding = verify(log, outside_head).finding
    assert finding is not None
    return finding


def rebuild_leaves_as_an_intruder(log: SmallLog, keep_heads_below: int | None = None) -> None:
    """Recomputes leaves, subtrees and tracking from the (tampered) events, as someone who
    knows the leaf format would; with ``keep_heads_below``, also drops the heads from that
    size on and lets the service sign the rewritten log afresh."""
    log.sql("DELETE FROM merkle_leaves")
    log.sql("DELETE FROM merkle_nodes")
    log.sql("UPDATE merkle_tracking SET position=0, tree_size=0, frontier=?", b"")
    if keep_heads_below is not None:
        log.sql("DELETE FROM merkle_heads WHERE tree_size >= ?", keep_heads_below)
    log.fresh_projection().catch_up()


def test_an_untampered_log_passes(log: SmallLog) -> None:
    result = verify(log, outside_head=log.store.head(7))
    assert result.intact, result.summary()
    assert result.events_checked == 12
    assert result.heads_checked == 12  # sizes 1 to 12
    assert result.unlogged_events == 0


def test_events_not_yet_folded_in_are_not_tampering(log: SmallLog) -> None:
    from tests.integration.merkle_logs import Counter

    log.app.save(Counter(name="late"))
    result = verify(log)
    assert result.intact, result.summary()
    assert result.unlogged_events == 1


def test_a_changed_byte_in_a_state_is_caught_at_its_position(log: SmallLog) -> None:
    position = log.positions()[4]
    (state,) = log.sql(
        f"SELECT state FROM {log.events_table} WHERE {log.position_column}=?", position
    )[0]
    changed = bytearray(state)
    changed[len(changed) // 2] ^= 0x01
    log.sql(
        f"UPDATE {log.events_table} SET state=? WHERE {log.position_column}=?",
        bytes(changed),
        position,
    )

    finding = found(log)
    assert (finding.kind, finding.position, finding.leaf_index) == (Discrepancy.EVENT_CHANGED, position, 4)


def test_a_changed_topic_is_caught_at_its_position(log: SmallLog) -> None:
    position = log.positions()[6]
    log.sql(
        f"UPDATE {log.events_table} SET topic = replace(topic, 'Counted', 'Started') "
        f"WHERE {log.position_column}=?",
        position,
    )
    finding = found(log)
    assert (finding.kind, finding.position) == (Discrepancy.EVENT_CHANGED, position)


@pytest.mark.parametrize("index", [0, 5, 11])
def test_a_deleted_event_is_caught_at_its_position(log: SmallLog, index: int) -> None:
    position = log.positions()[index]
    log.sql(f"DELETE FROM {log.events_table} WHERE {log.position_column}=?", position)
    finding = found(log)
    assert (finding.kind, finding.position, finding.leaf_index) == (Discrepancy.EVENT_DELETED, position, index)


def test_an_event_inserted_into_history_is_caught_at_its_position(log: SmallLog) -> None:
    # Room is made the way an intruder keeping positions dense would: every later event
    # moves up by one, and the new one takes the freed position.
    positions = log.positions()
    position = positions[3]
    column = log.position_column
    (originator_id,) = log.sql(
        f"SELECT originator_id FROM {log.events_table} WHERE {column}=?", positions[0]
    )[0]
    log.sql(
        f"UPDATE {log.events_table} SET {column} = {column} + 1000 WHERE {column} >= ?", position
    )
    log.sql(
        f"UPDATE {log.events_table} SET {column} = {column} - 999 WHERE {column} >= ?",
        position + 1000,
    )
    log.sql(
        f"INSERT INTO {log.events_table} "
        f"(originator_id, originator_version, topic, state, {column}) "
        "VALUES (?, 99, 'tests.integration.merkle_logs:Counter.Counted', ?, ?)",
        originator_id,
        b'{"by":1000,"note":"x"}',
        position,
    )
    finding = found(log)
    assert (finding.kind, finding.position) == (Discrepancy.EVENT_CHANGED, position)


def test_an_event_inserted_before_the_first_is_caught_at_its_position(log: SmallLog) -> None:
    (originator_id,) = log.sql(f"SELECT originator_id FROM {log.events_table} LIMIT 1")[0]
    log.sql(
        f"INSERT INTO {log.events_table} "
        f"(originator_id, originator_version, topic, state, {log.position_column}) "
        "VALUES (?, 99, 'tests.integration.merkle_logs:Counter.Counted', ?, 0)",
        originator_id,
        b"{}",
    )
    finding = found(log)
    assert (finding.kind, finding.position, finding.leaf_index) == (Discrepancy.EVENT_INSERTED, 0, 0)


def test_two_swapped_events_are_caught_at_the_first(log: SmallLog) -> None:
    positions = log.positions()
    first, second = positions[2], positions[8]
    column = log.position_column
    log.sql(f"UPDATE {log.events_table} SET {column} = -1 WHERE {column}=?", first)
    log.sql(f"UPDATE {log.events_table} SET {column} = ? WHERE {column}=?", first, second)
    log.sql(f"UPDATE {log.events_table} SET {column} = ? WHERE {column}=-1", second)
    finding = found(log)
    assert (finding.kind, finding.position) == (Discrepancy.EVENT_CHANGED, first)


def test_a_rewritten_leaf_is_caught_at_its_position(log: SmallLog) -> None:
    position = log.positions()[9]
    log.sql("UPDATE merkle_leaves SET leaf_hash=? WHERE leaf_index=9", b"\x00" * 32)
    finding = found(log)
    assert (finding.kind, finding.position, finding.leaf_index) == (Discrepancy.EVENT_CHANGED, position, 9)


def test_events_and_leaves_rewritten_together_are_caught_by_the_signed_heads(log: SmallLog) -> None:
    position = log.positions()[5]
    log.sql(
        f"UPDATE {log.events_table} SET state=? WHERE {log.position_column}=?",
        b'{"by":7,"note":"x"}',
        position,
    )
    rebuild_leaves_as_an_intruder(log)
    finding = found(log)
    # A head was signed after every event, so the range the heads leave is one event.
    assert finding.kind == Discrepancy.HEAD_ROOT
    assert (finding.position, finding.through_position, finding.leaf_index) == (position, position, 5)


def test_a_rewritten_subtree_is_caught(log: SmallLog) -> None:
    log.sql("UPDATE merkle_nodes SET hash=? WHERE level=2 AND node_index=1", b"\x01" * 32)
    finding = found(log)
    assert (finding.kind, finding.position, finding.leaf_index) == (Discrepancy.NODE, log.positions()[4], 4)


def test_a_head_rewritten_without_the_key_is_caught_by_its_signature(log: SmallLog) -> None:
    log.sql("UPDATE merkle_heads SET root_hash=? WHERE tree_size=8", b"\x02" * 32)
    finding = found(log)
    assert (finding.kind, finding.position) == (Discrepancy.HEAD_SIGNATURE, log.positions()[7])


def test_a_rewritten_head_table_is_caught_against_an_outside_head(log: SmallLog) -> None:
    outside = log.store.head(9)
    assert outside is not None
    positions = log.positions()
    log.sql(
        f"UPDATE {log.events_table} SET state=? WHERE {log.position_column}=?",
        b'{"by":7,"note":"x"}',
        positions[6],
    )
    # The intruder rewrites leaves, drops every head that covered the change, and lets
    # the service (its key included) sign the rewritten log.
    rebuild_leaves_as_an_intruder(log, keep_heads_below=7)

    assert verify(log).intact, "without an outside head the rewrite is consistent"
    finding = found(log, outside_head=outside)
    assert finding.kind == Discrepancy.OUTSIDE_HEAD
    # The last head before the change still holds, so the change lies between it and the
    # end of the outside head.
    assert (finding.position, finding.through_position) == (positions[6], positions[8])


def test_a_log_cut_short_is_caught_against_an_outside_head(log: SmallLog) -> None:
    outside = log.store.head(12)
    assert outside is not None
    positions = log.positions()
    log.sql(f"DELETE FROM {log.events_table} WHERE {log.position_column} >= ?", positions[10])
    log.sql("DELETE FROM merkle_heads WHERE tree_size > 10")
    rebuild_leaves_as_an_intruder(log)

    assert verify(log).intact
    finding = found(log, outside_head=outside)
    assert (finding.kind, finding.position) == (Discrepancy.EVENT_DELETED, positions[9] + 1)


def test_an_outside_head_signed_by_another_key_is_refused(log: SmallLog, tmp_path: Path) -> None:
    stranger = TreeHeadSigner.load_or_create(tmp_path / "stranger.pem")
    genuine = log.store.head(5)
    assert genuine is not None
    forged = TreeHead(
        genuine.tree_size, genuine.root_hash, genuine.timestamp, stranger.sign(genuine.message())
    )
    result = verify(log, outside_head=forged)
    assert result.finding is not None
    assert result.finding.kind == Discrepancy.OUTSIDE_HEAD_SIGNATURE


def test_progress_is_reported_at_every_page_of_events_checked(log: SmallLog) -> None:
    seen: list[int] = []
    result = verify_log(log.recorder, log.store, log.signer.public_key, batch_size=5, on_progress=seen.append)
    assert result.intact, result.summary()
    assert seen == [5, 10]
