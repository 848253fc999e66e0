"""The briefs as of a past moment: from the nearest checkpoint, the live briefs held in
memory and a replay of the events after the checkpoint; the last few answers kept.

At 10⁶ events a view as of a date reads thousands of briefs as they stood at the checkpoint
and replays up to 5,000 positions (seconds on a loaded machine). What the log held at a
moment that is past does not change: the events recorded by then are all in the log once
any request that could still record one has ended. So the briefs found for such a moment
are kept (``PastBriefs``), and a page that asks the views of that day again, or another
view of it, starts from them; the views' own parts are then kept too (views.Kept).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from application.ledger import Ledger
from infrastructure.brief_cache import BriefCache
from projections import folds
from projections.views import Summary, ViewStore, replay

# Events are read after the checkpoint this many at a time.
PAGE = 500
# A moment this far behind the ledger's clock is past for good: no request still running
# can record an event at or before it (the request deadline is 30 s).
SETTLED = timedelta(minutes=5)


def briefs_as_of(
    ledger: Ledger, store: ViewStore, as_of: datetime, kinds: tuple[str, ...] | None = None,
    cache: BriefCache | None = None, *, log: Any = None,
) -> list[Summary]:
    """The briefs (of ``kinds``, default all) from the events recorded up to ``as_of``: the
    briefs at the nearest checkpoint at or before it; then, for the aggregates whose events
    follow until the first event recorded after ``as_of``, their summaries at the checkpoint
    with those events folded in, briefed again. With a ``cache`` of the live briefs, those
    not changed since the checkpoint are taken from it, and only the others are read (those
    the replay folds again are read whole, not also as briefs). The events come from ``log``
    when given (a standby's copy of the log), else the ledger's."""
    moment = as_of.timestamp()
    position, held = None, None
    if cache is not None:
        position = store.checkpoint_position(moment)
        if position is not None:
            held = cache.unchanged_since(position, folds.KINDS if kinds is None else kinds)
    start: list[Summary] = []
    if held is None:
        found = store.checkpoint_before(moment, kinds)
        position, start = found if found else (None, [])
    events = _events_until(ledger, log, position or 0, moment, folds.topics_of(kinds))
    touched = {str(e.originator_id) for e in events}
    if held is not None and position is not None:
        unchanged, changed = held
        start = unchanged + store.briefs_at(position, [key for key in changed if key not in touched])
    replayed = replay(list(store.versions_at(position, touched).values()) if position is not None else [], events)
    briefs = {b["id"]: b for b in start}
    briefs.update((s["id"], folds.brief(s)) for s in replayed)
    return [briefs[key] for key in sorted(briefs)]


def _events_until(ledger: Ledger, log: Any, after: int, moment: float, topics: tuple[str, ...]) -> list[Any]:
    events = []
    cursor = after
    while True:
        page = (log or ledger.recorder).select_notifications(cursor + 1, PAGE, topics=topics)
        if not page:
            return events
        for n in page:
            domain_event = ledger.mapper.to_domain_event(n)
            if domain_event.timestamp.timestamp() > moment:
                return events
            events.append(domain_event)
        cursor = page[-1].id


class PastBriefs:
    """The briefs of the last ``size`` settled moments asked, of every kind (the four views
    of a day share them), by moment. Shared with every caller: read them, never change them."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[float, str | None], dict[str, list[Summary]]] = OrderedDict()

    def get(self, ledger: Ledger, store: ViewStore, as_of: datetime, kinds: tuple[str, ...] | None,
            cache: BriefCache | None, log: Any = None) -> list[Summary]:
        """The briefs of ``kinds`` as of ``as_of``, kind by kind, each kind in id order."""
        if as_of > ledger.clock() - SETTLED:
            return briefs_as_of(ledger, store, as_of, kinds, cache, log=log)
        # A promoted rebuild may fold the same events differently: its briefs are others.
        key = (as_of.timestamp(), store.epoch())
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
        if found is None:
            found = {}
            for brief in briefs_as_of(ledger, store, as_of, None, cache, log=log):
                found.setdefault(brief["kind"], []).append(brief)
            with self._lock:
                self._kept[key] = found
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
        wanted = sorted(found) if kinds is None else sorted(set(kinds))
        return [b for kind in wanted for b in found.get(kind, [])]
