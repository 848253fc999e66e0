"""The read router's choices between a standby and the primary (infrastructure.read_replica),
with a standby that is only a function: the real one is in tests/integration/test_read_replica.py."""

from __future__ import annotations

from typing import Any

import psycopg.errors
import pytest
from eventsourcing.persistence import OperationalError

from infrastructure.read_replica import ReadRouter, replica_datastore
from infrastructure.settings import Settings


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def router(clock: Ticks, wait: float = 0.0) -> ReadRouter:
    return ReadRouter(datastore=None, wait_seconds=wait, retry_seconds=5.0, clock=clock)  # type: ignore[arg-type]


def failing() -> Any:
    raise OperationalError("connection refused")


def test_a_standby_that_fails_a_read_is_answered_by_the_primary_and_left_alone_until_the_retry_interval() -> None:
    clock = Ticks()
    reads = router(clock)
    asked: list[str] = []

    def standby() -> str:
        asked.append("standby")
        return failing()  # type: ignore[no-any-return]

    assert reads.read(lambda: True, standby, lambda: "primary") == "primary"
    clock.now = 4.9
    assert reads.read(lambda: True, standby, lambda: "primary") == "primary"
    assert asked == ["standby"]  # resting: not asked again
    assert reads.probe() == {"state": "down", "reason": "OperationalError"}
    clock.now = 5.0
    assert reads.read(lambda: True, lambda: "standby", lambda: "primary") == "standby"
    assert reads.reads == {"replica": 1, "behind": 0, "down": 2}


def test_a_query_cancelled_by_replay_goes_to_the_primary_without_resting_the_standby() -> None:
    reads = router(Ticks())

    def cancelled() -> str:
        try:
            raise psycopg.errors.SerializationFailure("canceling statement due to conflict with recovery")
        except psycopg.Error as error:
            raise OperationalError(str(error)) from error  # as the library wraps it

    assert reads.read(lambda: True, cancelled, lambda: "primary") == "primary"
    assert reads.available()
    assert reads.read(lambda: True, lambda: "standby", lambda: "primary") == "standby"


def test_a_standby_that_fails_while_being_checked_counts_as_down_not_behind() -> None:
    reads = router(Ticks())
    assert reads.read(failing, lambda: "standby", lambda: "primary", wait=True) == "primary"
    assert reads.reads == {"replica": 0, "behind": 0, "down": 1} and not reads.available()


def test_a_standby_behind_the_position_asked_is_given_the_wait_then_the_primary_answers() -> None:
    clock = Ticks()
    reads = router(clock, wait=0.05)
    looks: list[float] = []

    def behind() -> bool:
        looks.append(clock.now)
        clock.now += 0.02
        return False

    assert reads.read(behind, lambda: "standby", lambda: "primary", wait=True) == "primary"
    assert looks == [0.0, 0.02, 0.04]  # asked again until the wait (0.05) ended
    assert reads.reads == {"replica": 0, "behind": 1, "down": 0} and reads.available()
    # Without waiting (a read with no position asked, or after the wait was spent) one look.
    looks.clear()
    assert reads.read(behind, lambda: "standby", lambda: "primary") == "primary"
    assert len(looks) == 1


def test_a_read_replica_is_only_a_postgresql_standby_of_a_postgresql_primary(tmp_path) -> None:  # type: ignore[no-untyped-def]
    standby = "postgresql://careledger@standby:5432/careledger"
    with pytest.raises(ValueError, match="needs a PostgreSQL"):
        replica_datastore(Settings(database_url=f"sqlite:///{tmp_path / 'x.sqlite'}", read_database_url=standby))
    with pytest.raises(ValueError, match="must be"):
        replica_datastore(Settings(database_url=standby, read_database_url=f"sqlite:///{tmp_path / 'x.sqlite'}"))
    made = replica_datastore(Settings(database_url="postgresql://careledger@primary/careledger",
                                      read_database_url=standby, database_schema="d420112"))
    assert made.schema == "d420112"  # the primary's schema, on the standby
    made.close()
