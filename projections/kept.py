"""Each view is a sum over summaries of what each one contributes: ``Kept`` holds those
contributions, so that after one write a view recomputes one contribution, not thousands
(projections.queries, projections.cases).

At 10⁶ events a view sums 19,000 issues or 23,000 cases: even a loop that only finds each
contribution kept costs tens of milliseconds on a loaded machine. So the summaries are also
cut into chunks (``chunked``), each chunk's sum is kept while its summaries are the very
same objects (``parts``), and a view adds up a hundred chunk sums: after one write, one
chunk is summed again from its kept contributions. The cuts fall before the summaries whose
id hashes to a multiple of ``CHUNK``, so a summary added moves no cut but its own chunk's.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable
from itertools import chain, compress
from typing import Any, TypeVar

Summary = dict[str, Any]
T = TypeVar("T")

# The mean number of summaries in a chunk.
CHUNK = 256


class Kept:
    """Contributions of summaries, by (part, summary id): reused only for the very same
    summary object and equal inputs. Answers handed out share them: never change them."""

    def __init__(self, contributions: dict[tuple[str, str], tuple[Summary, Any, Any]] | None = None) -> None:
        self._kept: dict[tuple[str, str], tuple[Summary, Any, Any]] = {} if contributions is None else contributions
        self._whole: dict[str, tuple[list[Summary], Any, Any]] = {}
        self._orders: dict[str, _Order] = {}
        self._chunks: dict[str, dict[str, tuple[list[Summary], Any, Any]]] = {}
        self._scopes: dict[Hashable, Kept] = {}

    def get(self, part: str, s: Summary, inputs: Any, compute: Callable[[], T]) -> T:
        key = (part, s["id"])
        kept = self._kept.get(key)
        if kept is not None and kept[0] is s and kept[1] == inputs:
            return kept[2]  # type: ignore[no-any-return]
        value = compute()
        self._kept[key] = (s, inputs, value)
        return value

    def scoped(self, scope: Hashable) -> Kept:
        """A Kept sharing these contributions (a summary's part is the same whoever reads
        it) with wholes, orders and chunks of its own: a reader who sees some summaries
        sums other lists than one who sees them all."""
        found = self._scopes.get(scope)
        if found is None:
            found = self._scopes[scope] = Kept(self._kept)
        return found

    def whole(self, part: str, summaries: list[Summary], inputs: Any, compute: Callable[[], T]) -> T:
        """A part computed from all of ``summaries``, reused while they are the very same
        objects (an urging leaves every case as it was)."""
        kept = self._whole.get(part)
        if kept is not None and _same(kept[0], summaries) and kept[1] == inputs:
            return kept[2]  # type: ignore[no-any-return]
        value = compute()
        self._whole[part] = (summaries, inputs, value)
        return value

    def chunked(self, part: str, summaries: list[Summary], inputs: Any,
                key: Callable[[Summary], Any] | None) -> list[list[Summary]]:
        """``summaries`` in the order of ``key`` (as given when None; ties keep the given
        order), cut into chunks. The order found last is reused while only objects whose
        key is unchanged were replaced, so a write does not sort thousands again."""
        kept = self._orders.get(part)
        if kept is None or not kept.holds(summaries, inputs, key):
            kept = self._orders[part] = _Order(summaries, inputs, key)
        kept.summaries = summaries
        ordered = kept.arrange(summaries)
        return [ordered[start:end] for start, end in kept.cuts]

    def parts(self, part: str, chunks: list[list[Summary]], inputs: Any,
              compute: Callable[[list[Summary]], T]) -> list[T]:
        """``compute`` of each chunk, kept while the chunk holds the very same objects."""
        kept = self._chunks.setdefault(part, {})
        values, fresh = [], {}
        for chunk in chunks:
            head = chunk[0]["id"]
            found = kept.get(head)
            if found is None or not _same(found[0], chunk) or found[1] != inputs:
                found = (chunk, inputs, compute(chunk))
            fresh[head] = found
            values.append(found[2])
        if len(fresh) != len(kept) or fresh.keys() != kept.keys():
            self._chunks[part] = fresh  # cuts moved: the chunks no longer cut are let go
        else:
            kept.update(fresh)
        return values


class _Order:
    """The order of a list of summaries by a key, and where it is cut into chunks."""

    def __init__(self, summaries: list[Summary], inputs: Any, key: Callable[[Summary], Any] | None) -> None:
        self.summaries, self.inputs = summaries, inputs
        self.keys = [key(s) for s in summaries] if key is not None else None
        self.order = (sorted(range(len(summaries)), key=self.keys.__getitem__)
                      if self.keys is not None else None)
        ids = [s["id"] for s in self.arrange(summaries)]
        starts = [0, *(i for i in range(1, len(ids)) if hash(ids[i]) % CHUNK == 0)]
        self.cuts = list(zip(starts, [*starts[1:], len(ids)], strict=True)) if ids else []

    def holds(self, summaries: list[Summary], inputs: Any, key: Callable[[Summary], Any] | None) -> bool:
        if len(summaries) != len(self.summaries) or inputs != self.inputs:
            return False
        replaced = compress(range(len(summaries)), map(operator.is_not, self.summaries, summaries))
        if self.keys is None or key is None:
            # No order to keep: the same ids in the same places keep the cuts.
            return all(summaries[i]["id"] == self.summaries[i]["id"] for i in replaced)
        return all(key(summaries[i]) == self.keys[i] for i in replaced)

    def arrange(self, summaries: list[Summary]) -> list[Summary]:
        if self.order is None or len(summaries) < 2:
            return list(summaries)
        return list(operator.itemgetter(*self.order)(summaries))


def _same(kept: list[Summary], summaries: list[Summary]) -> bool:
    return len(kept) == len(summaries) and all(map(operator.is_, kept, summaries))


class Rows(list[dict[str, Any]]):
    """A view's rows made of chunks' rows (``parts``, the lists kept with each chunk): a
    caller copying the rows (names added, application.unit_names) copies a chunk's again
    only when it is another list."""

    def __init__(self, parts: list[list[dict[str, Any]]]) -> None:
        super().__init__(chain.from_iterable(parts))
        self.parts = parts


def contribution(kept: Kept | None, part: str, s: Summary, inputs: Any, compute: Callable[[], T]) -> T:
    return compute() if kept is None else kept.get(part, s, inputs, compute)


def whole(kept: Kept | None, part: str, summaries: list[Summary], inputs: Any, compute: Callable[[], T]) -> T:
    return compute() if kept is None else kept.whole(part, summaries, inputs, compute)


def chunked_parts(kept: Kept | None, part: str, summaries: list[Summary], inputs: Any,
                  compute: Callable[[list[Summary]], T], key: Callable[[Summary], Any] | None = None) -> list[T]:
    """``compute`` over ``summaries`` (in ``key`` order) a chunk at a time, each chunk's
    answer kept (``Kept.chunked``, ``Kept.parts``); without ``kept``, over one chunk."""
    if kept is None:
        return [compute(sorted(summaries, key=key) if key is not None else summaries)] if summaries else []
    return kept.parts(part, kept.chunked(part, summaries, inputs, key), inputs, compute)
