"""Group commit: concurrent commands share a transaction, and each is still all or nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

from application.audit import AuditTrail
from application.commands import CommandRunner
from application.errors import ConcurrentWrite
from application.issues import Issues
from application.ledger import Ledger
from application.registry import Registry
from domain.plan import plan_id
from tests.district import District


def _issues(district: District, count: int) -> list[UUID]:
    district.issues.register_plan(district.cmd("supervisor"), number="P", title="t", issuer_unit="bgs", year=2019)
    return [
        district.issues.register_issue(district.cmd("supervisor"), plan=plan_id("P"), seq=n, duty="d", problem="p",
                              units=["pf"]).id
        for n in range(1, count + 1)
    ]


def _held_first_commit(ledger: Ledger, queued: int) -> threading.Event:
    """Holds the next commit until ``queued`` more saves wait behind it; answers an event
    set once the first commit has been let go."""
    group = ledger.group_commit
    real = group._record
    released = threading.Event()

    def record(processing: Any) -> Any:
        if not released.is_set():
            assert group.waiting(queued, timeout=30), "the other commands never queued"
            released.set()
        return real(processing)

    group._record = record  # type: ignore[method-assign]
    return released


def _race(commands: list[Callable[[], Any]]) -> list[Any]:
    results: list[Any] = [None] * len(commands)

    def run(i: int) -> None:
        try:
            results[i] = commands[i]()
        except Exception as error:  # the outcome under test
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(commands))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def _urge(district: District, issue: UUID, message: str, **kw: Any) -> Callable[[], Any]:
    return lambda: district.issues.urge(
        district.cmd("supervisor", **kw), issue, unit="pf", message=message, reply_by=date(2019, 4, 1)
    )


def test_commands_arriving_during_a_commit_are_committed_together_each_stored_once(district: District) -> None:
    ledger = district.ledger
    issues = _issues(district, 6)
    before = ledger.recorder.max_notification_id() or 0
    batches = ledger.group_commit.batches
    _held_first_commit(ledger, queued=5)

    results = _race([_urge(district, issue, f"催办{n}") for n, issue in enumerate(issues)])

    assert all(not isinstance(r, Exception) for r in results), results
    # The first commit went alone; the five that queued behind it shared one transaction.
    assert ledger.group_commit.batches - batches == 2
    positions = sorted(r.position for r in results)
    assert positions == list(range(before + 1, before + 7))
    for n, issue in enumerate(issues):
        urgings = [e for e in district.trail.history(issue) if e["type"] == "Urged"]
        assert [u["fields"]["message"] for u in urgings] == [f"催办{n}"]


def test_two_commands_on_one_version_in_a_batch_one_wins_and_the_loser_stores_nothing(
    district: District,
) -> None:
    ledger = district.ledger
    target, first, other = _issues(district, 3)
    _held_first_commit(ledger, queued=3)
    version = district.issues.issue(target).version
    before = ledger.recorder.max_notification_id() or 0

    # All four load before any commits (the first commit waits for three queued behind it),
    # so 甲 and 乙 both pass the If-Match check and race for the same version.
    results = _race([
        _urge(district, first, "先行"),
        _urge(district, target, "甲", expected_version=version),
        _urge(district, target, "乙", expected_version=version),
        _urge(district, other, "并行"),
    ])

    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], ConcurrentWrite), results
    assert not isinstance(results[0], Exception) and not isinstance(results[3], Exception)
    messages = [e["fields"]["message"] for e in district.trail.history(target) if e["type"] == "Urged"]
    assert len(messages) == 1 and messages[0] in ("甲", "乙")
    assert district.issues.issue(target).version == version + 1
    # (PostgreSQL may skip ids a rolled-back batch drew: count what is stored, not the ids.)
    assert len(ledger.recorder.select_notifications(start=before + 1, limit=100)) == 3


def test_an_idempotent_command_in_a_batch_keeps_its_answer(district: District) -> None:
    ledger = district.ledger
    issues = _issues(district, 3)
    _held_first_commit(ledger, queued=2)

    results = _race([_urge(district, issue, f"催办{n}", idempotency_key=f"k{n}", fingerprint="f")
                     for n, issue in enumerate(issues)])

    again = [_urge(district, issue, f"催办{n}", idempotency_key=f"k{n}", fingerprint="f")()
             for n, issue in enumerate(issues)]
    assert [(a.id, a.version, a.position) for a in again] == [(r.id, r.version, r.position) for r in results]


def test_a_batch_that_conflicts_with_another_writer_refuses_only_the_conflicting_command(
    district: District,
) -> None:
    ledger = district.ledger
    target, first, other = _issues(district, 3)
    version = district.issues.issue(target).version
    elsewhere = Ledger(ledger.env, clock=ledger.clock)  # another serving process on the same store
    runner = CommandRunner(elsewhere)
    issues_elsewhere = Issues(runner, Registry(runner), AuditTrail(elsewhere))
    group = ledger.group_commit
    real = group._record
    held = threading.Event()

    def record(processing: Any) -> Any:
        if not held.is_set():
            held.set()
            assert group.waiting(2, timeout=30)
            # While this commit is held, the other process takes the target's next version.
            issues_elsewhere.urge(district.cmd("supervisor"), target, unit="pf", message="别处", reply_by=date(2019, 4, 1))
        return real(processing)

    group._record = record  # type: ignore[method-assign]
    try:
        results = _race([
            _urge(district, first, "先行"),
            _urge(district, target, "迟到"),
            _urge(district, other, "并行"),
        ])
    finally:
        elsewhere.close()

    outcome = {r.id if not isinstance(r, Exception) else "refused" for r in results}
    late = [r for r in results if isinstance(r, Exception)]
    if late:  # 迟到 loaded before 别处 was stored, so its version was taken
        assert len(late) == 1 and isinstance(late[0], ConcurrentWrite)
    assert first in outcome and other in outcome
    messages = [e["fields"]["message"] for e in district.trail.history(target) if e["type"] == "Urged"]
    assert messages[0] == "别处" and len(messages) == (1 if late else 2)
    assert district.issues.issue(target).version == version + len(messages)
