"""The serving process's collector policy (interfaces.collector): a slow full collection
freezes what survived it, a fast one or a younger generation's does nothing, and once the
thaw interval has passed the frozen objects are thawed for one collection instead."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from interfaces import collector


class FakeGc:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.callbacks: list[object] = []
        self.threshold = (700, 10, 10)

    def get_threshold(self) -> tuple[int, int, int]:
        return self.threshold

    def set_threshold(self, *threshold: int) -> None:
        self.threshold = threshold  # type: ignore[assignment]

    def freeze(self) -> None:
        self.calls.append("freeze")

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")


def test_slow_full_collections_freeze_and_the_frozen_are_thawed_once_an_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    fake, clock = FakeGc(), [1000.0]
    monkeypatch.setattr(collector, "gc", fake)
    monkeypatch.setattr(collector, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    monkeypatch.setattr(collector, "_started", [])
    monkeypatch.setattr(collector, "_thawed", [])

    def collection(generation: int, seconds: float) -> None:
        collector._on_collection("start", {"generation": generation})
        clock[0] += seconds
        collector._on_collection("stop", {"generation": generation, "collected": 0, "uncollectable": 0})

    collection(2, 0.005)  # a fast full collection
    collection(1, 0.5)  # a younger generation's
    assert fake.calls == []
    collection(2, 0.3)
    assert fake.calls == ["freeze"]
    clock[0] += collector.THAW_SECONDS / 2
    collection(2, 0.3)
    assert fake.calls == ["freeze", "freeze"]
    clock[0] += collector.THAW_SECONDS
    collection(2, 0.3)  # an hour on: thawed, so the next full collection walks and frees everything
    assert fake.calls[-1] == "unfreeze"
    collection(2, 1.2)
    assert fake.calls[-1] == "freeze"
    # Once all is frozen the full collections are quick: the hourly thaw comes all the same.
    clock[0] += collector.THAW_SECONDS + 1
    collection(2, 0.001)
    assert fake.calls[-1] == "unfreeze"


def test_installing_the_policy_once_hooks_the_collections_and_makes_full_ones_rarer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeGc()
    monkeypatch.setattr(collector, "gc", fake)
    collector.settle_long_lived()
    collector.settle_long_lived()
    assert fake.callbacks == [collector._on_collection]
    assert fake.threshold == (700, 10, collector.FULL_EVERY)
