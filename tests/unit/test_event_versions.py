"""Stored events are a versioned contract: each stored event class declares the version of
its shape, and every version after the first comes with the upcasters from the ones before."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from eventsourcing.domain import event

from domain.base import LedgerAggregate, LedgerSnapshot, recording_at, versioned
from tests.events import stored_event_classes
from tests.unit.test_case_rules import T0, register, stamp
from tests.unit.test_free_text_fields import issue


def declared_version(cls: type) -> int | None:
    """The class_version set on the event class itself (or on the class of the same name its
    @event was given), not one inherited from a base shared by other events."""
    for k in cls.__mro__:
        if k.__name__ == cls.__name__ and "class_version" in vars(k):
            return int(vars(k)["class_version"])
    return None


@pytest.mark.parametrize("cls", stored_event_classes(), ids=lambda c: c.__qualname__)
def test_every_stored_event_class_declares_its_version(cls: type) -> None:
    version = declared_version(cls)
    assert version is not None and version >= 1, f"{cls.__qualname__} declares no class_version"
    for v in range(1, version):
        assert callable(getattr(cls, f"upcast_v{v}_v{v + 1}", None)), f"{cls.__qualname__} lacks upcast_v{v}_v{v + 1}"


def test_there_are_stored_events_to_check() -> None:
    assert len(stored_event_classes()) > 40


def test_an_aggregate_whose_new_event_is_not_versioned_is_refused() -> None:
    with pytest.raises(TypeError, match="missing \\['Noted'\\]"):
        @versioned(Kept=1)
        class Note(LedgerAggregate):
            @event("Kept")
            def keep(self, *, user: str, unit: str, occurred_at: datetime) -> None: ...

            @event("Noted")
            def note(self, *, user: str, unit: str, occurred_at: datetime) -> None: ...


@pytest.mark.parametrize(("declared", "upcaster", "refusal"), [
    pytest.param(2, False, "upcast_v1_v2", id="a_new_version_without_its_upcaster"),
    pytest.param(1, True, "class_version 1", id="a_version_other_than_the_one_its_class_declares"),
])
def test_an_event_of_version_2_is_refused_without_its_upcaster_or_declared_as_another_version(
    declared: int, upcaster: bool, refusal: str,
) -> None:
    with pytest.raises(TypeError, match=refusal):
        @versioned(Kept=declared)
        class Note(LedgerAggregate):
            class Kept(LedgerAggregate.Event):
                class_version = 2
                if upcaster:
                    @staticmethod
                    def upcast_v1_v2(state: dict[str, Any]) -> None: ...

            @event(Kept)
            def keep(self, *, user: str, unit: str, occurred_at: datetime) -> None: ...


def as_version_1(aggregate: LedgerAggregate, entries: str, key: str) -> LedgerSnapshot:
    """A snapshot of ``aggregate`` as version 1 of its state kept it: no ``key`` in its ``entries``."""
    taken = LedgerSnapshot.take(aggregate)
    state = dict(taken.state)
    assert state.pop("class_version") == 2
    held = state[entries]
    for entry in held.values() if isinstance(held, dict) else held:
        del entry[key]
    return LedgerSnapshot(originator_id=taken.originator_id, originator_version=taken.originator_version,
                          timestamp=taken.timestamp, topic=taken.topic, state=state)  # type: ignore[call-arg]


def test_snapshots_taken_before_evidence_was_kept_upcast() -> None:
    old_issue = as_version_1(issue(measures_done=True), "measures", "completion_evidence")
    assert old_issue.mutate(None).measures["M1"]["completion_evidence"] == []
    case = register()
    with recording_at(T0):
        case.provide_service(stamp(), kind="subsidy", evidence=["ab" * 32])
    assert case.services[0]["evidence"] == ["ab" * 32]
    old_case = as_version_1(case, "services", "evidence")
    assert old_case.mutate(None).services[0]["evidence"] == []
