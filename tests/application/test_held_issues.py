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
from application.errors import NotFound, VersionMismatch
from application.held import Held
from domain.base import RuleViolated
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
