"""The views read from a hot standby's copy of the view tables (infrastructure.read_replica).

The primary's followers fold the log into the view tables as before; streaming replication
copies those tables to the standby, whose ``view_tracking`` row then says which position
its copy reflects. ``RoutedViews`` answers like ``Views`` (the primary's, which it wraps and
which goes on following the log): a view, a list's briefs, as of now or a past moment, from
the standby when its copy has processed the position the read asked for (``wait_for``),
from the primary otherwise.

The position a read needs is kept per request in a context variable between ``wait_for``
and the reads that follow it (a page waits once and reads two views). It is only ever a
lower bound, checked against the standby at each read, so one left over from an earlier
call in the same thread can only send a read to the primary, never answer one staler
than it asked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from application.read_policy import EVERYTHING, ReadScope
from infrastructure.brief_cache import BriefCache
from infrastructure.read_replica import ReadRouter
from infrastructure.recorders import PostgresLedgerRecorder
from infrastructure.view_runner import Views
from infrastructure.view_store import PostgresViewStore
from projections.views import Summary

_NEEDED: ContextVar[int | None] = ContextVar("careledger_replica_needed", default=None)


def replica_views(primary: Views, router: ReadRouter) -> Views:
    """Views over the standby's copy of the view tables: answering only, never following
    (nothing is created or written there: a standby is read-only). A view as of a past
    moment replays the events after its checkpoint from the standby's copy of the log too;
    whether the copy has processed a position is still asked of the primary's log (the
    ledger's), which holds every event between."""
    store = PostgresViewStore(router.datastore)
    log = PostgresLedgerRecorder(router.datastore, events_table_name=primary.ledger.recorder.events_table_name)
    return Views(ledger=primary.ledger, store=store, thresholds=primary.thresholds,
                 wait_seconds=primary.wait_seconds, pulls=False, log=log,
                 cache=BriefCache(store) if primary.cache is not None else None)


class RoutedViews:
    """``Views`` whose answers come from the standby when it has what the read needs;
    everything else (following the log, its position and lag, rebuilds) is the primary's."""

    def __init__(self, primary: Views, replica: Views, router: ReadRouter) -> None:
        self.primary = primary
        self.replica = replica
        self.router = router

    def __getattr__(self, name: str) -> Any:
        return getattr(self.primary, name)

    def wait_for(self, position: int | None, timeout: float | None = None) -> None:
        """Returns once the primary's views have processed ``position`` (or raises
        ViewsNotReady, as ``Views.wait_for``), and the standby's copy has too or the wait for
        it has ended: the reads that follow then go to whichever holds it."""
        self.primary.wait_for(position, timeout)
        _NEEDED.set(position)
        if position is not None:
            self.router.settle(lambda: self.replica.has_processed(position))

    def catch_up(self, **kw: Any) -> int:
        """The primary's views caught up (``Views.catch_up``); the reads that follow need the
        position they reached (`careledger export` catches up, then reads)."""
        applied = self.primary.catch_up(**kw)
        _NEEDED.set(self.primary.position())
        return applied

    def _read(self, answer: Any) -> Any:
        needed = _NEEDED.get()
        return self.router.read(
            (lambda: True) if needed is None else (lambda: self.replica.has_processed(needed)),
            lambda: answer(self.replica), lambda: answer(self.primary),
        )

    def view(self, name: str, *, as_of: datetime | None = None, year: int | None = None,
             scope: ReadScope = EVERYTHING) -> dict[str, Any]:
        return self._read(lambda views: views.view(name, as_of=as_of, year=year, scope=scope))  # type: ignore[no-any-return]

    def readable_briefs(self, scope: ReadScope, kinds: tuple[str, ...] | None = None,
                        as_of: datetime | None = None) -> list[Summary]:
        return self._read(lambda views: views.readable_briefs(scope, kinds, as_of))  # type: ignore[no-any-return]

    def readable_briefs_of(self, scope: ReadScope, kind: str, ids: Collection[str]) -> list[Summary]:
        return self._read(lambda views: views.readable_briefs_of(scope, kind, ids))  # type: ignore[no-any-return]

    def ordered_briefs(self, scope: ReadScope, kinds: tuple[str, ...], key: Callable[[Summary], Any],
                       reverse: bool = False) -> list[Summary]:
        return self._read(lambda views: views.ordered_briefs(scope, kinds, key, reverse))  # type: ignore[no-any-return]

    def to_do(self, scope: ReadScope, unit: str) -> dict[str, list[dict[str, Any]]]:
        return self._read(lambda views: views.to_do(scope, unit))  # type: ignore[no-any-return]

    def to_do_page(self, scope: ReadScope, unit: str) -> dict[str, Any]:
        return self._read(lambda views: views.to_do_page(scope, unit))  # type: ignore[no-any-return]

    def evaluated_years(self, scope: ReadScope = EVERYTHING) -> list[int]:
        return self._read(lambda views: views.evaluated_years(scope))  # type: ignore[no-any-return]

    def briefs(self, as_of: datetime | None = None, kinds: tuple[str, ...] | None = None) -> list[Summary]:
        return self._read(lambda views: views.briefs(as_of, kinds))  # type: ignore[no-any-return]

    def warm(self) -> Any:
        # The standby's briefs are the ones read; the primary's load on the first read that
        # falls back (memory for one set of briefs per process, not two, while all is well).
        return self.replica.warm()

    def status(self) -> dict[str, Any]:
        """The standby as /readyz reports it: reachable or not, and how far its copy of the
        views is behind the primary's (in log positions)."""
        state = self.router.probe()
        if state["state"] == "up":
            try:
                reached = self.replica.position()
            except Exception as error:  # noqa: BLE001 — any failure here is the standby's
                self.router.failed(error)
                return {"state": "down", "reason": type(error).__name__, "reads": dict(self.router.reads)}
            state.update(views_position=reached, views_behind=max(0, self.primary.position() - reached))
        return {**state, "reads": dict(self.router.reads)}
