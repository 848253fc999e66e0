"""Keeping the views up to date, answering them now or as of a past moment, rebuilding them.

- ``Views.catch_up`` pulls the notification log from the tracked position in batches;
  ``Views.start`` runs it on a background thread, woken by each commit on PostgreSQL
  (infrastructure.log_notices): in a serving process, which retries after an error
  (infrastructure.retrying), or alone in `careledger project`, which stops at the first.
- ``rebuild`` folds the whole log into a new generation and promotes it when complete;
  the live view answers until then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from application.ledger import Ledger
from application.read_policy import EVERYTHING, ReadScope
from application.unit_names import Memo
from infrastructure.brief_cache import BriefCache
from infrastructure.log_notices import listen
from infrastructure.past_briefs import PastBriefs, briefs_as_of
from infrastructure.retrying import Retrying
from infrastructure.settings import Settings
from infrastructure.view_pull import BATCH, Progress, pull
from infrastructure.view_store import view_store_for
from projections import cases as case_fold, folds, issues as issue_fold, queries, todo, todo_measures
from projections.indicators import Thresholds, day_of
from projections.kept import Kept
from projections.views import LIVE, ConcurrentProcessing, LedgerViews, Summary, ViewStore

logger = logging.getLogger(__name__)

# A rebuild writes each batch's changed summaries once, so larger batches write less; the
# batch's decoded events and touched summaries are all it holds, so memory stays flat.
REBUILD_BATCH = 5000
# The follower's batches: one event a transaction (the library's ProjectionRunner) kept up
# with a few hundred positions/s; a batch reads each summary and writes it once, however
# many of its events the batch holds. Behind, it folds large batches; keeping up, each
# wake-up folds the few events committed since the last.
FOLLOW_BATCH = REBUILD_BATCH
VIEW_NAMES = ("supervision", "units", "evaluation", "ledger")
# The views whose rows are units' (counts per unit): an agency reads its own unit's row;
# the others' rows are per issue or per case, and it reads those of its issues and cases.
UNIT_ROWS = ("units", "evaluation")
# The kinds of summary each view reads (the others are neither loaded nor replayed).
VIEW_KINDS: dict[str, tuple[str, ...]] = {
    "supervision": ("plan", "issue"),
    "units": ("issue",),
    "evaluation": ("plan", "issue", "case"),
    "ledger": ("case",),
}

TODO_KINDS = (issue_fold.KIND, case_fold.KIND)


class ViewsNotReady(Exception):
    """The views did not reach the asked position within the wait (HTTP 503)."""

    def __init__(self, position: int, reached: int | None) -> None:
        super().__init__(f"views at {reached}, asked for {position}")
        self.position = position
        self.reached = reached


@dataclass
class Views:
    ledger: Ledger
    store: ViewStore
    thresholds: Thresholds
    wait_seconds: float = 5.0
    # False when a separate process (`careledger project`) follows the log on PostgreSQL.
    pulls: bool = True
    # The live briefs held in memory (infrastructure.brief_cache), or None to read them
    # from the store for every view.
    cache: BriefCache | None = None
    # Where a view as of a past moment reads the events after its checkpoint: the ledger's
    # own recorder, or a standby's copy of the log (infrastructure.replica_views).
    log: Any = None
    # A deployment of several districts: the process's one listening connection
    # (infrastructure.notice_hub.NoticeHub); None: the follower listens on its own.
    notices: Any = None

    def __post_init__(self) -> None:
        self.projection = LedgerViews(view=self.store)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        # The pull thread's state and the LISTEN thread's (on PostgreSQL), for /readyz.
        self.following = Retrying("views_follower")
        self.listening = Retrying("views_listener", done_key="listening_since")
        # Answers of views now, by (name, year, reading unit or None for all): the day and
        # briefs' version they were computed for, and the answer (shared, never changed).
        self._answers: dict[tuple[str, int | None, str | None], tuple[tuple[Any, ...], dict[str, Any]]] = {}
        # Each brief's part of each view, reused while the cache holds the same brief.
        self._kept = Kept()
        # The named copies of the rows of each answer kept (application.unit_names.Memo).
        self._named_rows: dict[tuple[str, int | None, str | None], Memo] = {}
        self._restarts_seen = 0
        # Views as of a past moment: the briefs of the last moments asked, and the parts of
        # the views computed from them (apart from the live ones: another day, other parts).
        self._past = PastBriefs()
        self._past_kept = Kept()
        # Sorted lists of briefs (ordered_briefs), by what they were sorted for, with the
        # version of the briefs they were sorted from.
        self._orders: dict[tuple[Any, ...], tuple[tuple[int, ...], list[Summary]]] = {}

    @property
    def application_name(self) -> str:
        return self.ledger.name

    # ---- following the log ------------------------------------------------------------

    def position(self) -> int:
        return self.store.max_tracking_id(self.application_name) or 0

    def catch_up(self, *, until: int | None = None, progress: Progress | None = None) -> int:
        """Processes the log from the view's position up to ``until`` (default: its end)."""
        return pull(self.ledger, self.projection, until=until, progress=progress, lock=self._lock)

    def lag(self, limit: int = BATCH) -> int:
        """Events of the views' kinds recorded after the views' position, counted up to
        ``limit`` (for /readyz: ``lag(settings.ready_max_lag + 1) > ready_max_lag``)."""
        start = self.position() + 1
        return len(self.ledger.recorder.select_notifications(start, limit, topics=LedgerViews.topics))

    def has_processed(self, position: int) -> bool:
        reached = self.position()
        if reached >= position:
            return True
        return not self.ledger.recorder.select_notifications(
            reached + 1, 1, stop=position, topics=LedgerViews.topics
        )

    def wait_for(self, position: int | None, timeout: float | None = None) -> None:
        """Returns once the views have processed ``position``, or raises ViewsNotReady."""
        if position is None:
            return
        deadline = time.monotonic() + (self.wait_seconds if timeout is None else timeout)
        delay = 0.01
        while not self.has_processed(position):
            pulled = False
            if self.pulls and self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                try:
                    pull(self.ledger, self.projection, until=position, lock=None)
                    pulled = True
                finally:
                    self._lock.release()
            if self.has_processed(position):
                return
            if time.monotonic() >= deadline:
                raise ViewsNotReady(position, self.position())
            if not pulled:
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    @property
    def error(self) -> BaseException | None:
        """The error that stopped the pull thread or the LISTEN thread for good (``start``
        with ``retry=False``); None while they follow, or fail and try again."""
        for thread in (self.following, self.listening):
            if thread.stopped:
                return thread.error
        return None

    @property
    def runs_here(self) -> bool:
        """True when this process follows the log (``start`` was called)."""
        return self._thread is not None

    def follower_status(self) -> dict[str, Any]:
        """The pull thread's state (infrastructure.retrying.Retrying.status), with the LISTEN
        thread's as ``listening`` on PostgreSQL."""
        answer = self.following.status()
        if self._listener is not None:
            answer["listening"] = self.listening.status()
        return answer

    def start(self, interval: float = 1.0, *, retry: bool = True) -> None:
        """Follows the log on a background thread (a serving process, or `careledger
        project`): each wake-up folds what was recorded since the views' position, in
        batches of up to FOLLOW_BATCH positions. On PostgreSQL every commit wakes it; on SQLite
        it looks every ``interval`` (and at most that long after a lost notice on PostgreSQL).
        After an error either thread tries again after ``following.first`` seconds, doubling
        to ``following.most`` (``listening``'s for the LISTEN thread): a serving process. With
        ``retry=False`` (`careledger project`) the first error ends the thread, in ``error``."""
        if self._thread is not None:
            return
        self._listener = listen(self.ledger.recorder, self._wake, self._stopping, self.listening, retry=retry,
                                hub=self.notices)

        def fold() -> None:
            try:
                pull(self.ledger, self.projection, lock=self._lock, batch=FOLLOW_BATCH)
            except ConcurrentProcessing:
                pass  # another follower moved the views: on from there at the next wake-up

        def pause() -> None:
            self._wake.wait(interval)
            self._wake.clear()

        self._thread = threading.Thread(target=self.following.run, args=(fold, self._stopping),
                                        kwargs={"retry": retry, "pause": pause}, name="careledger-views", daemon=True)
        self._thread.start()

    def warm(self) -> threading.Thread | None:
        """Loads the briefs into memory on a background thread, so the first view after a
        start does not wait for them all (seconds at 10⁶ events). A failure here is left
        to the first view to meet and report."""
        if self.cache is None:
            return None
        cache = self.cache

        def load() -> None:
            try:
                cache.refresh(folds.KINDS)
            except Exception:  # noqa: BLE001 — the next view refreshes again and answers the error
                logger.warning("views_warm_failed", exc_info=True)

        thread = threading.Thread(target=load, name="careledger-views-warm", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in (self._thread, self._listener):
            if thread is not None:
                thread.join(timeout=10)
        self._thread = self._listener = None

    # ---- answering --------------------------------------------------------------------

    def summaries(self) -> list[Summary]:
        """Every summary as stored now (to compare a view with a rebuild)."""
        return self.store.all_summaries()

    def briefs(self, as_of: datetime | None = None, kinds: tuple[str, ...] | None = None) -> list[Summary]:
        """What the views and lists read (folds.brief), now or as of a past moment."""
        if as_of is not None:
            if self.cache is None:
                return briefs_as_of(self.ledger, self.store, as_of, kinds, log=self.log)
            return self._past.get(self.ledger, self.store, as_of, kinds, self.cache, log=self.log)
        return self.cache.briefs(kinds)[1] if self.cache else self.store.all_briefs(kinds)

    def readable_briefs(self, scope: ReadScope, kinds: tuple[str, ...] | None = None,
                        as_of: datetime | None = None) -> list[Summary]:
        """The briefs of the issues and cases ``scope`` reads (application.read_policy), and
        every other brief (plans): what an actor's lists and views are made of."""
        found = self.briefs(as_of, kinds)
        return found if scope.everything else [b for b in found if readable(scope, b)]

    def readable_briefs_of(self, scope: ReadScope, kind: str, ids: Collection[str]) -> list[Summary]:
        """Those of ``readable_briefs(scope, (kind,))`` whose id is among ``ids``, in id order:
        with the briefs held, looked up by id (not a pass over the district's thousands)."""
        if self.cache is None:
            return [b for b in self.readable_briefs(scope, (kind,)) if b["id"] in ids]
        found = self.cache.some(kind, ids)
        return found if scope.everything else [b for b in found if readable(scope, b)]

    def ordered_briefs(self, scope: ReadScope, kinds: tuple[str, ...], key: Callable[[Summary], Any],
                       reverse: bool = False) -> list[Summary]:
        """``readable_briefs`` now, sorted by ``key``: with the briefs held, the order found
        last is answered again while no brief of ``kinds`` changed (a list of 23,000 cases
        is not sorted again for each page of it after an urging). ``key`` is part of what the
        order is kept by: give a function defined once, not a lambda made per call. The
        list answered is shared: never change it."""
        if self.cache is None:
            return sorted(self.readable_briefs(scope, kinds), key=key, reverse=reverse)
        version = self.cache.refresh(kinds)
        found = self._orders.get((kinds, scope.unit, key, reverse))
        if found is None or found[0] != version:
            briefs = self.cache.held(kinds)[1]  # as just refreshed
            if not scope.everything:
                briefs = [b for b in briefs if readable(scope, b)]
            found = self._orders[(kinds, scope.unit, key, reverse)] = (version, sorted(briefs, key=key, reverse=reverse))
        return found[1]

    def to_do(self, scope: ReadScope, unit: str) -> dict[str, list[dict[str, Any]]]:
        """What waits on ``unit`` now (projections.todo), among the issues and cases ``scope``
        reads: urgings awaiting its reply, its pending extension requests, referrals to it
        awaiting acceptance. As of the views' position: ``wait_for`` first to read one's writes."""
        return todo.for_unit(self._waiting_on(scope, unit, TODO_KINDS), unit, day_of(self.ledger.clock()))  # type: ignore[arg-type]

    def to_do_page(self, scope: ReadScope, unit: str) -> dict[str, Any]:
        """The whole of ``unit``'s to-do page now (projections.todo_measures.page), among the
        issues and cases ``scope`` reads, as of the views' position."""
        today = day_of(self.ledger.clock())
        assert today is not None
        return todo_measures.page(self._waiting_on(scope, unit, todo_measures.KINDS), unit, today, self.thresholds)

    def _waiting_on(self, scope: ReadScope, unit: str, kinds: tuple[str, ...]) -> list[Summary]:
        # What ``scope`` reads of the briefs that may wait on ``unit``: with the briefs held,
        # the unit's own few (BriefCache.waiting_on), in the order of all; the other kinds
        # (plans, for their numbers) whole. The lists over them are those over every brief.
        if self.cache is None:
            return self.readable_briefs(scope, kinds)
        found = self.cache.waiting_on(unit, [k for k in kinds if k in TODO_KINDS],
                                      every=[k for k in kinds if k not in TODO_KINDS])
        return found if scope.everything else [b for b in found if readable(scope, b)]

    def view(self, name: str, *, as_of: datetime | None = None, year: int | None = None,
             scope: ReadScope = EVERYTHING) -> dict[str, Any]:
        """The view ``name`` (now, or as of a past moment) holding the rows ``scope`` reads."""
        if name not in VIEW_KINDS:
            raise KeyError(name)
        if name == "evaluation" and year is None:
            raise ValueError("evaluation needs a year")
        if name in UNIT_ROWS and not scope.everything:
            # A unit's row counts its own work wherever it was asked (a report it accepted
            # on a case it is not party to), so it is the district's row: taken from there.
            whole = self.view(name, as_of=as_of, year=year)
            return {**whole, "rows": [r for r in whole["rows"] if scope.reads_unit_row(r["unit"])]}
        now = as_of or self.ledger.clock()
        if as_of is not None or self.cache is None:
            kept = self._past_kept.scoped(scope.unit) if as_of is not None and self.cache is not None else None
            answer = self._named(self._compute(name, self.readable_briefs(scope, VIEW_KINDS[name], as_of), now, year, kept))
        else:
            # A view now depends on the briefs of its kinds and the day only
            # (projections.queries): the answer computed once serves every request until
            # either changes. One answer is kept per view, year and reading unit.
            kinds, today = VIEW_KINDS[name], day_of(now)
            # Refreshed first: the first load of the cache counts as a restart, and checked
            # before it, it would throw away the kept parts on the second request.
            current = self.cache.refresh(kinds)
            if self.cache.restarts != self._restarts_seen:
                # Every brief was replaced: the parts and answers kept hold the old ones.
                self._kept, self._answers, self._named_rows = Kept(), {}, {}
                self._restarts_seen = self.cache.restarts
            kept = self._answers.get((name, year, scope.unit))
            if kept is None or kept[0] != (today, current):
                version, briefs = self.cache.held(kinds)  # as just refreshed: no second read
                if not scope.everything:
                    briefs = [b for b in briefs if readable(scope, b)]
                # A brief's part is the same whoever reads it: an agency's answer reuses the
                # parts computed for the district's; the sums over chunks of briefs are the
                # reader's own (Kept.scoped), as an agency's chunks hold fewer briefs.
                computed = self._compute(name, briefs, now, year, self._kept.scoped(scope.unit))
                kept = ((today, version), self._named(computed, self._named_rows.setdefault((name, year, scope.unit), {})))
                self._answers[(name, year, scope.unit)] = kept
            answer = {**kept[1], "as_of": now.isoformat()}
        answer["position"] = self.position() if as_of is None else None
        return answer

    def evaluated_years(self, scope: ReadScope = EVERYTHING) -> list[int]:
        """The years any issue ``scope`` reads was graded in, now (the evaluation page's
        choices), its parts kept as the views' are."""
        if self.cache is None:
            return queries.evaluated_years(self.readable_briefs(scope, ("issue",)))
        self.cache.refresh(("issue",))
        briefs = self.cache.held(("issue",))[1]
        if not scope.everything:
            briefs = [b for b in briefs if readable(scope, b)]
        return queries.evaluated_years(briefs, self._kept.scoped(scope.unit))

    def _named(self, answer: dict[str, Any], memo: Memo | None = None) -> dict[str, Any]:
        # Names are added when an answer is computed, not per request; the rows the parts
        # kept (projections.kept.Kept) are shared, so named copies are made, reused while they last.
        return self.ledger.unit_names.view(answer, memo)

    def _compute(self, name: str, briefs: list[Summary], now: datetime, year: int | None,
                 kept: Kept | None) -> dict[str, Any]:
        if name == "supervision":
            return queries.supervision(briefs, now, self.thresholds, kept)
        if name == "units":
            return queries.units(briefs, now, kept)
        if name == "evaluation":
            assert year is not None
            return queries.evaluation(briefs, year, self.thresholds, now, kept)
        return queries.child_ledger(briefs, now, self.thresholds, kept)


def readable(scope: ReadScope, brief: Summary) -> bool:
    """Whether ``scope`` reads the issue or case of ``brief``; plans are read by everyone."""
    if brief["kind"] == issue_fold.KIND:
        return scope.reads_issue(brief["units"], brief["measures"].values(), brief["urgings"])
    if brief["kind"] == case_fold.KIND:
        return scope.reads_case(brief["registering_unit"], brief["referrals"].values())
    return True




def rebuild(
    ledger: Ledger,
    *,
    view: str | None = None,
    as_of: datetime | None = None,
    progress: Progress | None = None,
    thresholds: Thresholds | None = None,
    year: int | None = None,
) -> dict[str, Any] | None:
    """``careledger rebuild [VIEW] [--as-of T]``.

    Without ``as_of``: every view shares one set of summaries, so VIEW only checks the name;
    the log is folded into a fresh generation, promoted to live when complete (readers see
    the old view until then). With ``as_of``: nothing stored changes; the named view (all
    when none) is computed at T and answered."""
    if view is not None and view not in VIEW_NAMES:
        raise KeyError(view)
    if as_of is not None:
        store = view_store_for(ledger)
        views = Views(ledger, store, thresholds or Thresholds())
        names = [view] if view else list(VIEW_NAMES)
        year = year or as_of.year
        return {name: views.view(name, as_of=as_of, year=year) for name in names}
    fresh = view_store_for(ledger, generation=f"rebuild-{time.time_ns()}")
    fresh.clear()
    try:
        projection = LedgerViews(view=fresh)
        pull(ledger, projection, progress=progress, batch=REBUILD_BATCH)
        pull(ledger, projection)  # what was recorded meanwhile, so the swap loses little
        fresh.promote(LIVE)
    except BaseException:
        fresh.clear()
        raise
    return None


def build_views(ledger: Ledger, settings: Settings, *, pulls: bool = True, notices: Any = None) -> Views:
    store = view_store_for(ledger)
    return Views(
        ledger=ledger,
        store=store,
        cache=BriefCache(store) if settings.views_cache else None,
        thresholds=Thresholds(
            due_soon_days=settings.due_soon_days,
            late_entry_days=settings.late_entry_days,
            revisit_days=getattr(settings, "revisit_days", Thresholds.revisit_days),
        ),
        wait_seconds=settings.min_position_wait_seconds,
        pulls=pulls,
        notices=notices,
    )
