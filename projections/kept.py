"""Each view is a sum over summaries of what each one contributes: ``Kept`` holds those
contributions, so that after one write a view recomputes one contribution, not thousands
(projections.queries, projections.cases)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, TypeVar

Summary = dict[str, Any]
T = TypeVar("T")


class Kept:
    """Contributions of summaries, by (part, summary id): reused only for the very same
    summary object and equal inputs. Answers handed out share them: never change them."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], tuple[Summary, Any, Any]] = {}
        self._whole: dict[str, tuple[list[Summary], Any, Any]] = {}

    def get(self, part: str, s: Summary, inputs: Any, compute: Callable[[], T]) -> T:
        key = (part, s["id"])
        kept = self._kept.get(key)
        if kept is not None and kept[0] is s and kept[1] == inputs:
            return kept[2]  # type: ignore[no-any-return]
        value = compute()
        self._kept[key] = (s, inputs, value)
        return value


    def whole(self, part: str, summaries: list[Summary], inputs: Any, compute: Callable[[], T]) -> T:
        """A part computed from all of ``summaries``, reused while they are the very same
        objects (an urging leaves every case as it was)."""
        kept = self._whole.get(part)
        if (kept is not None and kept[1] == inputs and len(kept[0]) == len(summaries)
                and all(map(operator.is_, kept[0], summaries))):
            return kept[2]  # type: ignore[no-any-return]
        value = compute()
        self._whole[part] = (summaries, inputs, value)
        return value


def contribution(kept: Kept | None, part: str, s: Summary, inputs: Any, compute: Callable[[], T]) -> T:
    return compute() if kept is None else kept.get(part, s, inputs, compute)


def whole(kept: Kept | None, part: str, summaries: list[Summary], inputs: Any, compute: Callable[[], T]) -> T:
    return compute() if kept is None else kept.whole(part, summaries, inputs, compute)
