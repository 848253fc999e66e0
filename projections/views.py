"""The views' projection: summaries kept in a tracking recorder, exactly once, resumable.

``ViewStore`` is the interface; infrastructure.view_store implements it for SQLite and
PostgreSQL. One store instance holds one *generation* of the views (``live``, or a
rebuild being prepared), so a rebuild never disturbs the live view until it is promoted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from projections import folds

Summary = dict[str, Any]
LIVE = "live"
# A checkpoint is kept each time the log crosses a multiple of this. A checkpoint stores
# only the summaries changed since the previous one (a new version of each), so its cost
# follows the work done since then, not the size of the log; a view as of a past moment
# reads the versions at the nearest checkpoint and replays at most about this many positions.
CHECKPOINT_EVERY = 5000


class ConcurrentProcessing(Exception):
    """Another processor advanced this view first; nothing of this batch was stored."""


class ViewStore(TrackingRecorder, ABC):
    """Summaries and the position they reflect, written together in one transaction."""

    generation: str = LIVE

    @abstractmethod
    def get_summaries(self, ids: Iterable[str]) -> dict[str, Summary]: ...

    @abstractmethod
    def all_summaries(self, kinds: Iterable[str] | None = None) -> list[Summary]:
        """Every summary (of ``kinds``, when given), in id order."""

    @abstractmethod
    def all_briefs(self, kinds: Iterable[str] | None = None) -> list[Summary]:
        """The brief (folds.brief) of every summary (of ``kinds``, when given), in id order:
        what the views read, a fraction of the summaries' size."""

    @abstractmethod
    def put(
        self,
        summaries: dict[str, Summary],
        tracking: Tracking,
        *,
        expected: int | None,
        max_recorded: float | None = None,
        checkpoint: bool = False,
        encoded: Any = None,
    ) -> None:
        """Stores the summaries and moves tracking from ``expected`` to ``tracking`` in one
        transaction, or raises ConcurrentProcessing (storing nothing) if the view's
        position is no longer ``expected``. ``max_recorded`` is the latest recorded time
        (epoch seconds) of the batch's events; the store keeps the latest of all batches.
        With ``checkpoint`` the transaction also keeps a checkpoint at this position: a
        version of each summary changed since the previous checkpoint, and the latest
        recorded time of any event up to here. ``encoded``: the summaries as ``encode``
        answered them, when the caller encoded them already (the summaries may change since)."""

    @abstractmethod
    def encode(self, summaries: dict[str, Summary]) -> Any:
        """The summaries (and their briefs) as ``put`` writes them."""

    @abstractmethod
    def changes_since(self, position: int | None) -> tuple[str | None, Iterator[tuple[str, int | None, Summary]]]:
        """The epoch, and (id, position, brief) of every summary last changed by a batch
        after ``position`` (every summary when None), read in one statement (one snapshot:
        no promotion can fall between them): what a copy of the briefs held since then must
        take in. Batches commit in position order, so none is skipped."""

    @abstractmethod
    def epoch(self) -> str | None:
        """Changes whenever this generation's summaries are replaced at once (promote), so
        a copy held elsewhere knows to start again."""

    @abstractmethod
    def checkpoint_before(
        self, moment: float, kinds: Iterable[str] | None = None
    ) -> tuple[int, list[Summary]] | None:
        """The latest checkpoint all of whose events were recorded at or before ``moment``:
        its position and the brief of every summary (of ``kinds``) as it stood there."""

    @abstractmethod
    def checkpoint_position(self, moment: float) -> int | None:
        """The position of the latest checkpoint all of whose events were recorded at or
        before ``moment``."""

    @abstractmethod
    def briefs_at(self, position: int, ids: Iterable[str]) -> list[Summary]:
        """The briefs of ``ids`` as they stood at the checkpoint at ``position`` (ids not
        yet folded by then are absent)."""

    @abstractmethod
    def versions_at(self, position: int, ids: Iterable[str]) -> dict[str, Summary]:
        """The summaries of ``ids`` as they stood at the checkpoint at ``position`` (ids
        not yet folded by then are absent)."""

    @abstractmethod
    def last_checkpoint(self) -> tuple[int, float] | None:
        """Position and latest recorded time of the newest checkpoint."""

    @abstractmethod
    def clear(self) -> None:
        """Forgets this generation: summaries, tracking and checkpoints."""

    @abstractmethod
    def promote(self, to: str = LIVE) -> None:
        """In one transaction, replaces generation ``to`` with this one."""

    def insert_tracking(self, tracking: Tracking) -> None:
        self.put({}, tracking, expected=self.max_tracking_id(tracking.application_name))


class LedgerViews(Projection[ViewStore]):
    """Folds plan, issue (and case) events into summaries; the queries read the summaries."""

    name = "careledger_views"
    topics = folds.TOPICS

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.process_batch([(domain_event, tracking)])

    def process_batch(self, pairs: Sequence[tuple[Any, Tracking]], attempts: int = 5) -> int:
        """Applies events in position order, atomically with the position. Events at or
        before the view's position are skipped (exactly once). When another processor
        moved the view meanwhile, nothing was stored and the batch is tried again from the
        view's new position. Answers how many events this call applied."""
        for attempt in range(attempts):
            try:
                return self._process_batch(pairs)
            except ConcurrentProcessing:
                if attempt == attempts - 1:
                    raise
        return 0

    def _process_batch(self, pairs: Sequence[tuple[Any, Tracking]]) -> int:
        if not pairs:
            return 0
        application = pairs[0][1].application_name
        expected = self.view.max_tracking_id(application)
        todo = [(e, t) for e, t in pairs if expected is None or t.notification_id > expected]
        if not todo:
            return 0
        changed, latest = self.fold([e for e, _ in todo], {})
        last = todo[-1][1]
        self.view.put(changed, last, expected=expected, max_recorded=latest,
                      checkpoint=crosses_checkpoint(expected, last.notification_id))
        return len(todo)

    def fold(self, events: Sequence[Any], held: dict[str, Summary]) -> tuple[dict[str, Summary], float]:
        """Folds ``events`` onto the summaries they touch, taken from ``held`` (a batch folded
        but perhaps not yet committed) or else read from the store; changes them in place.
        Answers the summaries changed and the latest recorded time of the events."""
        keys = [str(e.originator_id) for e in events]
        wanted = set(keys)
        current = {key: held[key] for key in wanted if key in held}
        current.update(self.view.get_summaries(wanted - current.keys()))
        changed: dict[str, Summary] = {}
        latest = 0.0
        apply = folds.apply
        for key, domain_event in zip(keys, events, strict=True):
            folded = apply(current.get(key), domain_event, in_place=True)
            if folded is not None:
                current[key] = changed[key] = folded
        if events:
            latest = max(latest, max(e.timestamp for e in events).timestamp())
        return changed, latest


def crosses_checkpoint(expected: int | None, position: int) -> bool:
    """Whether a batch moving the view from ``expected`` to ``position`` keeps a checkpoint."""
    return (expected or 0) // CHECKPOINT_EVERY < position // CHECKPOINT_EVERY


def replay(
    start: list[Summary], events: Iterable[Any]
) -> list[Summary]:
    """Summaries after folding ``events`` onto ``start`` (used for views at a past moment).
    The summaries of ``start`` are the caller's to give: they are changed in place."""
    current = {s["id"]: s for s in start}
    for domain_event in events:
        key = str(domain_event.originator_id)
        folded = folds.apply(current.get(key), domain_event, in_place=True)
        if folded is not None:
            current[key] = folded
    return list(current.values())


def epoch(moment: datetime) -> float:
    return moment.timestamp()
