"""The provincial roll-up's follower and its reader.

``RollupFollower`` follows every district's notification log in one loop: a batch of one
district at a time, the districts in turn, so that one district far behind does not hold
up the others' figures. Each batch is folded (projections.rollup) onto the states it
touches and written with the district's new position in one transaction
(infrastructure.rollup_store), so a follower killed at any point starts again exactly
after its last committed batch; a batch at or before the stored position changes nothing.

``start`` follows on a thread. In a serving process an error (the server restarted, a
connection dropped, a table it reads gone) is retried after 1 s, doubling to 30 s, each
failure logged once with its count (infrastructure.retrying, as the views' and the Merkle
log's followers); ``status()`` tells /readyz whether it is following or failing and since
when. `careledger project` starts it with ``retry=False``: its first error ends the
thread, and the process, for its supervisor to restart (docs/OPERATIONS.md).

A district registered while the process runs is added with ``add`` (interfaces.deployment):
it is followed from the next round on.

``ProvincialRollup`` answers the roll-up now or as of a past moment from the store alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infrastructure.retrying import RETRY_FIRST, RETRY_MOST, PartsFailed, Retrying
from infrastructure.rollup_store import RollupMoved, RollupStore, Summary, Tracked, Version
from projections import rollup

logger = logging.getLogger(__name__)

# A batch writes each state it touches once, however many of its events touch it: larger
# batches write less (as the views' follower's, infrastructure.view_runner.FOLLOW_BATCH).
BATCH = 5000


class DistrictsFailed(PartsFailed):
    """A round in which these districts' batches failed; every other district's was folded."""


@dataclass(frozen=True)
class DistrictLog:
    """Where a district's events are read: its recorder's ``select_notifications`` and its
    mapper's ``to_domain_event``."""

    select: Callable[..., Sequence[Any]]
    decode: Callable[[Any], Any]

    @classmethod
    def of(cls, ledger: Any) -> DistrictLog:
        return cls(ledger.recorder.select_notifications, ledger.mapper.to_domain_event)


@dataclass(eq=False)
class RollupFollower:
    store: RollupStore
    logs: Mapping[str, DistrictLog]
    batch: int = BATCH
    retry_first: float = RETRY_FIRST
    retry_most: float = RETRY_MOST
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # Held only to add a district: a round under way keeps the logs it began with.
    _adding: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    # Per district, the position of the last batch this catch-up stored and the states it
    # wrote: the next batch takes them from here rather than reading them back.
    _held: dict[str, tuple[int, dict[str, tuple[Summary, Summary]]]] = field(default_factory=dict, init=False,
                                                                             repr=False)
    # Following, failing or stopped; a good round is one that reached the end of every district's log.
    _retrying: Retrying = field(default_factory=lambda: Retrying("rollup_follower", parts_key="districts"), init=False, repr=False)

    @property
    def error(self) -> BaseException | None:
        """The last round's error while the follower fails or once it stopped (None once a round succeeds)."""
        return self._retrying.error

    @property
    def failures(self) -> int:
        """Rounds failed in a row."""
        return self._retrying.failures

    def add(self, district: str, log: DistrictLog) -> None:
        """Follows ``district`` too, from the next round (safe while the thread runs)."""
        with self._adding:
            if district not in self.logs:
                self.logs = {**self.logs, district: log}

    def catch_up(self) -> int:
        """Folds every district's log to its end, a batch of each in turn. Answers how many
        events it folded. A batch is written on another thread while the next district's is
        read and folded (the write is mostly the server's work, on the other core); a
        district's next batch waits for its last to commit."""
        folded = 0
        # One district's failure (a fold that raises on its events, its schema unreadable) is
        # its own: the others are folded to their ends, then the round raises naming it.
        failed: dict[str, Exception] = {}
        with self._lock, ThreadPoolExecutor(1, thread_name_prefix="careledger-rollup-write") as writer:
            pending: dict[str, tuple[Future[None], int]] = {}
            try:
                behind = sorted(self.logs)  # read once: a district added meanwhile waits for the next round
                while behind and not self._stopping.is_set():
                    still = []
                    for district in behind:
                        try:
                            folded += self._settle(pending, district)
                            if self._step(district, writer, pending) >= self.batch:
                                still.append(district)
                        except Exception as error:  # noqa: BLE001 — raised with the others' below
                            failed[district] = error
                    behind = still
                for district in list(pending):
                    try:
                        folded += self._settle(pending, district)
                    except Exception as error:  # noqa: BLE001 — likewise
                        failed.setdefault(district, error)
            finally:
                # Held only while catching up: a serving process keeps no district's states.
                self._held.clear()
        if failed:
            raise DistrictsFailed(failed)
        return folded

    def _settle(self, pending: dict[str, tuple[Future[None], int]], district: str) -> int:
        """Waits for the district's batch being written: answers its events, 0 if another
        follower moved the district first (its states are then no longer held)."""
        if district not in pending:
            return 0
        future, count = pending.pop(district)
        try:
            future.result()
        except BaseException:
            self._held.pop(district, None)
            if isinstance(future.exception(), RollupMoved):
                return 0
            raise
        return count

    def _step(self, district: str, writer: ThreadPoolExecutor, pending: dict[str, tuple[Future[None], int]]) -> int:
        """Reads and folds one batch of ``district`` and hands its write to ``writer``;
        answers how many notifications it read (``batch`` when another follower moved it)."""
        tracked = self.store.tracked(district)
        page = self.logs[district].select(tracked.position + 1, self.batch, topics=rollup.TOPICS)
        try:
            folded = self._fold(district, page, tracked)
        except RollupMoved:
            return self.batch  # behind still: on from where the other follower left it, next round
        if folded is not None:
            pending[district] = (writer.submit(self._put, district, tracked, *folded), len(folded[0]))
        return len(page)

    def process(self, district: str, notifications: Sequence[Any], tracked: Tracked | None = None) -> int:
        """Folds ``notifications`` (in position order) of ``district`` after its stored
        position, and stores them with the position of the last, in one transaction.
        Answers how many were folded (0 when all were folded before)."""
        with self._lock:
            tracked = tracked or self.store.tracked(district)
            folded = self._fold(district, notifications, tracked)
            if folded is None:
                return 0
            self._put(district, tracked, *folded)
            return len(folded[0])

    def _fold(self, district: str, notifications: Sequence[Any], tracked: Tracked) -> tuple[
            list[Any], float, dict[str, tuple[Summary, Summary]], list[Version]] | None:
        """The batch's notifications after ``tracked``, the latest recorded time, the states
        it changed and the versions of their briefs (None when nothing is after ``tracked``)."""
        todo = [n for n in notifications if n.id > tracked.position]
        if not todo:
            return None
        decode = self.logs[district].decode
        events = [(n.id, decode(n)) for n in todo]
        wanted = {str(e.originator_id) for _, e in events}
        # Taken out: the fold below changes them in place, so if this batch is not stored
        # they no longer hold what the store does.
        position, kept = self._held.pop(district, (None, {}))
        held = {key: kept[key] for key in wanted & kept.keys()} if position == tracked.position else {}
        stored, found = self.store.states(district, wanted - held.keys())
        if stored != tracked.position:
            # Another follower stored a batch since ``tracked`` was read: these states are past it.
            raise RollupMoved(district)
        held.update(found)
        changed: dict[str, tuple[Summary, Summary]] = {}
        versions: list[Version] = []
        recorded_max = tracked.recorded_max
        for position, e in events:
            recorded_max = max(recorded_max, e.timestamp.timestamp())
            key = str(e.originator_id)
            current = held.get(key)
            state = rollup.fold(current[0] if current else None, e, in_place=True)
            if state is None:
                continue
            brief = rollup.brief(state)
            if current is None or current[1] != brief:
                versions.append(Version(key, position, recorded_max, brief))
            held[key] = changed[key] = (state, brief)
        # Held for the district's next batch, which is folded only once this one is stored
        # (a failed write drops them: _settle).
        self._held[district] = (todo[-1].id, changed)
        return todo, recorded_max, changed, versions

    def _put(self, district: str, tracked: Tracked, todo: list[Any], recorded_max: float,
             changed: dict[str, tuple[Summary, Summary]], versions: list[Version]) -> None:
        try:
            self.store.put(district, expected=tracked, position=todo[-1].id, recorded_max=recorded_max,
                           states={key: (rollup.stored(state), b) for key, (state, b) in changed.items()},
                           versions=versions)
        except BaseException:
            self._held.pop(district, None)
            raise

    def start(self, interval: float = 1.0, *, retry: bool = True) -> None:
        """Follows on a background thread, looking every ``interval`` seconds. After an error
        it tries again after ``retry_first`` seconds, doubling to ``retry_most`` (a serving
        process: the districts go on being served, /readyz shows the failure); with
        ``retry=False`` (`careledger project`) the first error ends the thread, kept in ``error``."""
        if self._thread is not None:
            return
        self._retrying.first, self._retrying.most = self.retry_first, self.retry_most

        def loop() -> None:
            self._retrying.run(self.catch_up, self._stopping, retry=retry,
                               pause=lambda: self._stopping.wait(interval))

        self._thread = threading.Thread(target=loop, name="careledger-rollup", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """True while this process follows (its thread started and not stopped)."""
        return self._thread is not None

    def status(self) -> dict[str, Any]:
        """Where the follower stands, for /readyz (infrastructure.retrying.Retrying.status):
        ``following`` (and when it last reached the end of every log), ``failing`` or
        ``stopped`` (its thread ended on an error: ``retry=False``)."""
        return self._retrying.status()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


@dataclass
class ProvincialRollup:
    """The roll-up as the province reads it. ``names``: every district's code and name (区县
    名称), listed even before its first event is folded."""

    store: RollupStore
    clock: Callable[[], datetime]
    names: Mapping[str, str] = field(default_factory=dict)

    def add(self, district: str, name: str) -> None:
        """Lists a district registered while the process runs (replaced, not changed: an
        answer being made keeps the names it began with)."""
        self.names = {**self.names, district: name}

    def answer(self, as_of: datetime | None = None, year: int | None = None) -> dict[str, Any]:
        names = self.names
        briefs, tracked = self.store.briefs(None if as_of is None else as_of.timestamp())
        for code in names:
            briefs.setdefault(code, [])
        answer = rollup.table(briefs, as_of or self.clock(), year, names)
        # How far each district's log was folded: a figure as of a moment after a district's
        # ``followed_until`` may still grow when the follower catches up.
        answer["districts"] = {
            code: {"position": t.position,
                   "followed_until": datetime.fromtimestamp(t.recorded_max, UTC).isoformat() if t.recorded_max else None}
            for code, t in sorted(tracked.items())
        }
        return answer
