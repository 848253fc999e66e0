"""Commands on an issue are tried on the copy a process holds from its last save, without
reading it first; whatever is answered is still decided on the stored state. Two processes
are two sets of services on one store (each its own runner and held copies)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from application.commands import Command
from application.errors import IdempotencyKeyReused, NotFound, VersionMismatch
from application.held import Held
from domain.base import RuleViolated
from domain.idempotency import answer_id
from interfaces import bootstrap
from tests.district import Clock, District, assigned_issue


@pytest.fixture
def other(settings, clock: Clock, district: District) -> Iterator[District]:  # type: ignore[no-untyped-def]
    """Another worker's services on the same store, acting for the same users."""
    with closing(bootstrap.build(settings, clock=clock)) as built:
        yield District(built, actors=district.actors, tokens=district.tokens)


def events_of(district: District, issue: UUID) -> list[Any]:
    return list(district.ledger.repository.event_store.get(issue))


def urge(district: District, issue: UUID, message: str = "请尽快报送", **kw: Any) -> Any:
    return district.issues.urge(district.cmd("supervisor", **kw), issue, unit="pf", message=message,
                                reply_by=date(2019, 12, 1))


def test_a_command_after_a_save_does_not_read_the_issue_again(district: District) -> None:
    issue = assigned_issue(district)
    urge(district, issue)
    loads: list[UUID] = []
    real = district.ledger.repository.get
    district.ledger.repository.get = lambda i, **kw: (loads.append(i), real(i, **kw))[1]  # type: ignore[method-assign]
    try:
        accepted = urge(district, issue, "再次催办")
    finally:
        district.ledger.repository.get = real  # type: ignore[method-assign]
    assert issue not in loads
    assert accepted.version == district.issues.issue(issue).version
    assert accepted.position == district.ledger.index.positions(issue)[accepted.version]


def test_a_stale_held_issue_is_loaded_again_and_the_command_applied_once(district: District, other: District) -> None:
    issue = assigned_issue(district)
    urge(district, issue, "一")  # held here at this version
    urge(other, issue, "二")  # appended elsewhere: the copy held here is stale
    accepted = urge(district, issue, "三")
    stored = events_of(district, issue)
    assert [getattr(e, "message", None) for e in stored[-3:]] == ["一", "二", "三"]
    assert accepted.version == stored[-1].originator_version
    assert accepted.position == district.ledger.index.positions(issue)[accepted.version]
    # And the copy held after the retry is current: the next command needs no retry.
    assert urge(district, issue, "四").version == accepted.version + 1


def test_a_stale_held_issue_never_accepts_what_the_stored_one_refuses(district: District, other: District) -> None:
    issue = assigned_issue(district)
    held = urge(district, issue)
    other.issues.complete_measure(other.cmd("pf-clerk"), issue, "M1", summary="已完成")
    other.issues.close_issue(other.cmd("supervisor"), issue, summary="销号")
    before = len(events_of(district, issue))
    with pytest.raises(RuleViolated):
        urge(district, issue, "已销号的问题")  # the held copy is open and would accept
    with pytest.raises(VersionMismatch):
        urge(district, issue, expected_version=held.version)  # the held copy's version, stale
    assert len(events_of(district, issue)) == before


def test_a_stale_held_issue_that_would_refuse_does_not_answer_the_refusal(district: District, other: District) -> None:
    issue = assigned_issue(district)
    urge(district, issue)
    # Elsewhere: a new measure (unknown to the copy held here) and a version it has not seen.
    m2 = other.issues.adopt_measure(other.cmd("pf-clerk"), issue, unit="pf", text="第二项", due=None).extra["measure_id"]
    current = other.issues.issue(issue).version
    accepted = district.issues.report_progress(district.cmd("pf-clerk", expected_version=current), issue, m2,
                                               summary="进展", evidence=[])
    assert accepted.version == current + 1 == district.issues.issue(issue).version


def test_a_refused_command_leaves_no_half_changed_issue_held(district: District) -> None:
    issue = assigned_issue(district)
    urge(district, issue)
    assert district.runner.held.take(issue) is not None and district.runner.held.take(issue) is None
    urge(district, issue)
    with pytest.raises(NotFound):
        district.issues.report_progress(district.cmd("pf-clerk"), issue, "M9", summary="x", evidence=[])
    assert district.runner.held.take(issue) is None


def test_a_conflict_that_is_the_commands_own_committed_save_is_answered_once(district: District) -> None:
    """A dropped connection can report a committed insert as a conflict on the library's
    retry: the command is not applied again on the fresh load."""
    issue = assigned_issue(district)
    urge(district, issue)
    real = district.ledger.save

    def committed_then_conflict(*objs: Any, **kw: Any) -> Any:
        real(*objs, **kw)
        raise IntegrityError("duplicate key")

    district.ledger.save = committed_then_conflict  # type: ignore[method-assign]
    try:
        accepted = urge(district, issue, "只一次")
    finally:
        district.ledger.save = real  # type: ignore[method-assign]
    stored = events_of(district, issue)
    assert [getattr(e, "message", None) for e in stored].count("只一次") == 1
    assert accepted.version == stored[-1].originator_version


def test_the_held_issues_are_bounded() -> None:
    held: Held[Any] = Held(maxsize=2)

    class Agg:
        def __init__(self, n: int, version: int = 1) -> None:
            self.id, self.version = UUID(int=n), version

    for n in range(3):
        held.give(Agg(n))  # type: ignore[arg-type]
    assert len(held) == 2 and held.take(UUID(int=0)) is None
    held.give(Agg(1, version=5))  # type: ignore[arg-type]
    held.give(Agg(1, version=3))  # type: ignore[arg-type]  # an older save, given back later
    taken = held.take(UUID(int=1))
    assert taken is not None and taken.version == 5


# ---- Idempotency-Key: the answer inserted with the events, read only on a conflict ----------


def keyed(district: District, who: str, key: str, **kw: Any) -> Command:
    return district.cmd(who, idempotency_key=key, fingerprint="f-" + key, **kw)


def test_a_keyed_command_on_an_issue_reads_no_kept_answer_first(district: District) -> None:
    issue = assigned_issue(district)
    urge(district, issue)
    assert district.runner.read_legacy_answers() == frozenset()  # what a thread reads once per process
    reads: list[str] = []
    real = district.runner.kept_answer
    district.runner.kept_answer = lambda owner, key: (reads.append(key), real(owner, key))[1]  # type: ignore[method-assign]
    try:
        district.issues.urge(keyed(district, "supervisor", "k-new"), issue, unit="pf", message="新的",
                             reply_by=date(2019, 12, 1))
    finally:
        district.runner.kept_answer = real  # type: ignore[method-assign]
    assert reads == []


def test_a_keyed_retry_after_a_lost_answer_gets_the_first_answer(district: District, other: District) -> None:
    issue = assigned_issue(district)

    def send(where: District, **kw: Any) -> Any:
        return where.issues.urge(keyed(where, "supervisor", "k-1", **kw), issue, unit="pf", message="催办",
                                 reply_by=date(2019, 12, 1))

    first = send(district, expected_version=district.issues.issue(issue).version)
    size = len(events_of(district, issue))
    # Retried here (on the copy held from the first), in another worker (on a fresh load),
    # and with the If-Match the first was sent with, which the state has since moved past.
    for again in (send(district), send(other), send(district, expected_version=first.version - 1)):
        assert (again.id, again.version, again.position, again.extra) == (first.id, first.version, first.position,
                                                                          first.extra)
    assert len(events_of(district, issue)) == size


def test_a_keyed_retry_the_state_now_refuses_gets_the_first_answer(district: District) -> None:
    issue = assigned_issue(district)
    cmd = keyed(district, "pf-clerk", "k-done")
    first = district.issues.complete_measure(cmd, issue, "M1", summary="已完成")
    again = district.issues.complete_measure(cmd, issue, "M1", summary="已完成")  # a second completion is refused
    assert (again.version, again.position) == (first.version, first.position)


def test_a_key_reused_for_another_command_on_an_issue_is_refused_and_stores_nothing(district: District) -> None:
    issue = assigned_issue(district)
    urge(district, issue)
    district.issues.urge(keyed(district, "supervisor", "k-2"), issue, unit="pf", message="一", reply_by=date(2019, 12, 1))
    size = district.ledger.recorder.max_notification_id()
    reused = district.cmd("supervisor", idempotency_key="k-2", fingerprint="another request")
    with pytest.raises(IdempotencyKeyReused):
        district.issues.urge(reused, issue, unit="pf", message="二", reply_by=date(2019, 12, 1))
    with pytest.raises(IdempotencyKeyReused):  # and where the state refuses it too
        district.issues.report_progress(reused, issue, "M9", summary="x", evidence=[])
    assert district.ledger.recorder.max_notification_id() == size


def test_an_answer_kept_before_keys_were_keyed_still_answers_a_retry_on_an_issue(
    settings, clock: Clock, district: District,  # type: ignore[no-untyped-def]
) -> None:
    from tests.e2e.test_idempotency_privacy import keep_plain_answer

    issue = assigned_issue(district)
    first = urge(district, issue)
    keep_plain_answer(district.ledger, district.actors["supervisor"], "sent-before-upgrade", "f-plain",
                      {"id": str(issue), "version": first.version, "urging_id": first.extra["urging_id"]})
    with closing(bootstrap.build(settings, clock=clock)) as built:  # a worker started after the upgrade
        restarted = District(built, actors=district.actors)
        assert built.runner.legacy_answers() is None  # not read yet: the retry is looked up first
        size = built.ledger.recorder.max_notification_id()
        cmd = restarted.cmd("supervisor", idempotency_key="sent-before-upgrade", fingerprint="f-plain")
        again = built.issues.urge(cmd, issue, unit="pf", message="催办", reply_by=date(2019, 12, 1))
        assert (again.version, again.position, again.extra) == (first.version, first.position, first.extra)
        assert built.ledger.recorder.max_notification_id() == size
        # and once the ids are read, on the grounds that its id is among them
        assert built.runner.read_legacy_answers() == {answer_id(district.actors["supervisor"].name, "sent-before-upgrade")}
        again = built.issues.urge(cmd, issue, unit="pf", message="催办", reply_by=date(2019, 12, 1))
        assert (again.version, again.position) == (first.version, first.position)
        assert built.ledger.recorder.max_notification_id() == size


def test_a_worker_whose_held_issues_are_often_stale_asks_the_version_before_saving(
    district: District, other: District,
) -> None:
    issue = assigned_issue(district)
    for n in range(6):  # the two workers take turns: every copy held here is stale
        urge(district, issue, f"这里{n}")
        urge(other, issue, f"那里{n}")
    assert district.runner.held.checking()
    saves: list[int] = []
    real = district.ledger.save
    district.ledger.save = lambda *objs, **kw: (saves.append(1), real(*objs, **kw))[1]  # type: ignore[method-assign]
    try:
        accepted = urge(district, issue, "再次")
    finally:
        district.ledger.save = real  # type: ignore[method-assign]
    assert saves == [1]  # found stale by the version read, not by a save that lost
    assert accepted.version == district.issues.issue(issue).version
    for n in range(40):  # alone again: its copies are current, and it stops asking
        urge(district, issue, f"独自{n}")
    assert not district.runner.held.checking()


def test_the_held_issues_are_bounded_by_their_events_too() -> None:
    held: Held[Any] = Held(maxsize=100, max_events=1_000)

    class Agg:
        def __init__(self, n: int, version: int) -> None:
            self.id, self.version = UUID(int=n), version

    held.give(Agg(1, 600))  # type: ignore[arg-type]
    held.give(Agg(2, 300))  # type: ignore[arg-type]
    held.give(Agg(2, 350))  # type: ignore[arg-type]  # saved again: counted once, at its new version
    assert len(held) == 2
    held.give(Agg(3, 200))  # type: ignore[arg-type]  # 1,150 events: the least recently given goes
    assert held.take(UUID(int=1)) is None and len(held) == 2
    assert held.take(UUID(int=2)) is not None
    held.give(Agg(4, 800))  # type: ignore[arg-type]  # 200 + 800: within the bound
    assert len(held) == 2
