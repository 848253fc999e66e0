"""The live view's briefs held in memory, refreshed from the summaries changed since.

Decoding a brief from the store costs about 40 µs; at 10⁶ events a view reads 19,000 to
41,000 of them, 1.5–3 s per view before any work. Held here, a view costs a refresh (the
rows changed since the last one, found by their batch's position) and its own sums.
The price is memory: keys, unit codes, dates and statuses repeat across briefs, so they are
interned as they come in, which halves it (185 instead of 365 MiB for 41,000 briefs).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from itertools import chain
from typing import Any

from projections import todo
from projections.views import Summary, ViewStore


class Briefs(list[Summary]):
    """Briefs kind by kind, with the list of each kind beside (``by_kind``): the views split
    them by kind, which is then no work. A filtered copy is a plain list again."""

    def __init__(self, briefs: Iterable[Summary], by_kind: dict[str, list[Summary]]) -> None:
        super().__init__(briefs)
        self.by_kind = by_kind


class BriefCache:
    """Every brief of a store's generation, as of the last refresh. The briefs answered
    are shared with every caller: read them, never change them."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._by_kind: dict[str, dict[str, Summary]] = {}
        self._position: int | None = None
        self._epoch: str | None = None
        self._loaded = False
        self._restarts = 0
        self._versions: dict[str, int] = {}
        # The position of the batch that last changed each brief (None: stored before
        # positions were kept).
        self._positions: dict[str, int | None] = {}
        # The keys of the briefs that may wait on each unit (projections.todo.waiting_on),
        # and the units each brief was last indexed under: a unit's to-do reads its own
        # few hundred briefs, not the district's tens of thousands.
        self._waiting: dict[str, set[str]] = {}
        self._waits: dict[str, set[str]] = {}

    @property
    def loaded(self) -> bool:
        return self._loaded

    def refresh(self, kinds: Iterable[str]) -> tuple[int, ...]:
        """Takes in what changed since the last refresh; answers the version of the briefs
        of ``kinds``, which changes whenever any of them does (so an answer computed from
        them can be kept by it: an urging does not change the information ledger's)."""
        with self._lock:
            self._refresh()
            return self._version(kinds)

    def briefs(self, kinds: Iterable[str] | None = None) -> tuple[tuple[int, ...], list[Summary]]:
        """The version and the briefs of ``kinds`` (all when None), as stored now: kind by
        kind (in name order), each in id order. The views do not depend on the order."""
        with self._lock:
            self._refresh()
            return self._held(kinds)

    def held(self, kinds: Iterable[str] | None = None) -> tuple[tuple[int, ...], list[Summary]]:
        """As ``briefs``, as of the last refresh (a view that has just refreshed to learn
        whether its kept answer still holds need not ask the store again)."""
        with self._lock:
            return self._held(kinds)

    def _held(self, kinds: Iterable[str] | None) -> tuple[tuple[int, ...], list[Summary]]:
        wanted = sorted(self._by_kind) if kinds is None else sorted(set(kinds))
        # Lists made in C (no Python loop over 40,000 briefs), and kept split by kind for
        # the views (projections.queries.by_kind).
        split = {kind: list(self._by_kind.get(kind, {}).values()) for kind in wanted}
        return self._version(wanted), Briefs(chain.from_iterable(split.values()), split)

    def some(self, kind: str, keys: Iterable[str]) -> list[Summary]:
        """Refreshed: the briefs of ``kind`` of these keys (those held), in id order."""
        with self._lock:
            self._refresh()
            held = self._by_kind.get(kind, {})
            return [held[k] for k in sorted(keys) if k in held]

    def waiting_on(self, unit: str, kinds: Iterable[str], every: Iterable[str] = ()) -> list[Summary]:
        """Refreshed: the briefs of ``kinds`` that may wait on ``unit`` and every brief of
        ``every``, kind by kind (in name order), each in id order, as ``briefs`` orders them."""
        with self._lock:
            self._refresh()
            keys = sorted(self._waiting.get(unit, ()))
            every = set(every)
            found: list[Summary] = []
            for kind in sorted({*kinds, *every}):
                held = self._by_kind.get(kind, {})
                found.extend(held.values() if kind in every else (held[k] for k in keys if k in held))
            return found

    def unchanged_since(self, position: int, kinds: Iterable[str]) -> tuple[list[Summary], list[str]] | None:
        """For a view as of the checkpoint at ``position``: the briefs of ``kinds`` not
        changed since (as they stood there), and the ids of those changed since (to be read
        as they stood there). None when the briefs held are older than that checkpoint."""
        with self._lock:
            self._refresh()
            if self._position is None or self._position < position:
                return None
            unchanged, changed = [], []
            for kind in sorted(set(kinds)):
                for key, brief in self._by_kind.get(kind, {}).items():
                    last = self._positions[key]
                    if last is not None and last <= position:
                        unchanged.append(brief)
                    else:
                        changed.append(key)
            return unchanged, changed

    def _index(self, key: str, brief: Summary) -> None:
        before, after = self._waits.pop(key, set()), todo.waiting_on(brief)
        for unit in before - after:
            self._waiting[unit].discard(key)
        for unit in after - before:
            self._waiting.setdefault(unit, set()).add(key)
        if after:
            self._waits[key] = after

    def _version(self, kinds: Iterable[str]) -> tuple[int, ...]:
        return (self._restarts, *(self._versions.get(kind, 0) for kind in sorted(set(kinds))))

    @property
    def restarts(self) -> int:
        """How many times the briefs were read in full (a rebuild promoted, a failed refresh)."""
        return self._restarts

    def _refresh(self) -> None:
        try:
            # The epoch comes with the rows, read in one statement (one snapshot): rows of
            # two generations cannot mix. A rebuild promoted since replaces every row,
            # positions included: then everything is read again.
            epoch, rows = self.store.changes_since(self._position if self._loaded else None)
            if self._loaded and epoch != self._epoch:
                epoch, rows = self.store.changes_since(None)
                self._loaded = False
            self._take_in(epoch, rows)
        except BaseException:
            # Rows are taken in one by one: after a failure some may be missing, and the
            # next refresh would not ask for them again. Read them all next time.
            self._loaded = False
            raise

    def _take_in(self, epoch: str | None, rows: Iterable[tuple[str, int | None, Summary]]) -> None:
        if not self._loaded:
            self._by_kind, self._position, self._positions = {}, None, {}
            self._waiting, self._waits = {}, {}
            self._restarts += 1
        added: set[str] = set()
        changed: set[str] = set()
        for key, position, brief in rows:
            rows = self._by_kind.setdefault(brief["kind"], {})
            if key not in rows:
                added.add(brief["kind"])
            rows[key] = _interned(brief)
            self._positions[key] = position
            self._index(key, rows[key])
            changed.add(brief["kind"])
            # Rows stored before positions were kept have none; they are read in full above.
            if position is not None and (self._position is None or position > self._position):
                self._position = position
        for kind in added:
            self._by_kind[kind] = dict(sorted(self._by_kind[kind].items()))
        if self._position is None:  # read in full, no row with a position: from now on, any
            self._position = 0
        for kind in changed:
            self._versions[kind] = self._versions.get(kind, 0) + 1
        self._epoch, self._loaded = epoch, True


# Longer strings (problems, progress summaries) are rarely shared and not worth a lookup.
_SHORT = 32


def _interned(value: Any) -> Any:
    if isinstance(value, dict):
        return {sys.intern(k): _interned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interned(v) for v in value]
    if isinstance(value, str) and len(value) <= _SHORT:
        return sys.intern(value)
    return value
