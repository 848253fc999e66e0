"""The ledger's event store: aggregates loaded (now or as of a moment) and saved, with snapshots."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import date, datetime, timezone
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    JSONTranscoder,
    Recording,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import Environment

from application.errors import NotFound, VersionMismatch
from application.group_commit import GroupCommit
from application.ports import LatestVersions, PersonalDataSeals, PositionIndex
from application.snapshot_codec import SNAPSHOT_TRANSCODINGS
from application.unit_names import UnitNames
from domain.case import ChildCase
from domain.case_access import CaseAccessLog
from domain.correction import CorrectableAggregate, Corrections
from domain.issue import RectificationIssue
from domain.registry import Unit, unit_id

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def _fold(aggregate: Any, domain_events: Iterable[Any]) -> Any:
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class SnapshotReads(Protocol):
    """What infrastructure.recorders adds to the library's recorder for "as of T"."""

    def snapshot_marks(self, originator_id: UUID, snapshots_table: str) -> list[StoredEvent]: ...

    def snapshot_and_events(
        self, originator_id: UUID, snapshots_table: str, version: int, through: int | None
    ) -> tuple[StoredEvent | None, list[StoredEvent]]: ...

    def delete_snapshots(self, originator_id: UUID, snapshots_table: str) -> None: ...


def _taken_by(marks: list[StoredEvent], as_of: datetime, decode: Callable[[StoredEvent], Any]) -> int:
    """How many of the snapshots (given by the events they end at, in version order) end
    at or before ``as_of``: a binary search decoding only the events it looks at."""
    low, high = 0, len(marks)
    while low < high:
        middle = (low + high) // 2
        if decode(marks[middle]).timestamp <= as_of:
            low = middle + 1
        else:
            high = middle
    return low


class LedgerRepository(Repository[UUID]):
    """The library's repository, folding events without the per-event
    ``assert isinstance(event, CanMutateProtocol)`` of its default projector: a runtime
    Protocol check costs about 45 µs an event on Python 3.11, half of loading an aggregate
    (docs/BENCHMARKS.md, "Loading an issue")."""

    def get(self, aggregate_id: UUID, *, projector_func: Any = _fold, **kwargs: Any) -> Any:
        return super().get(aggregate_id, projector_func=projector_func, **kwargs)


SNAPSHOT_EVERY = 25


class Ledger(Application[UUID]):
    """The event store of every aggregate: loading (now and as of a moment), saving (with
    concurrent saves committed together) and snapshots. The command services
    (application.commands) act through it; it decides nothing about who may do what."""


    name = "careledger"
    # Every read of a child's personal fields appends to the case's access log; a snapshot
    # keeps loading that log (to append the next read) from replaying every earlier read.
    # Issues and cases: loading now and "as of T" start from the latest snapshot (at or
    # before T), so neither folds more than SNAPSHOT_EVERY - 1 events plus one snapshot.
    # bench/replay.py compares intervals at 1,000 events: 20 to 50 are within the shared
    # machine's noise of each other on PostgreSQL, 25 was at or near the lowest worst-case
    # as-of in every run on SQLite (where folding the events after a snapshot is what
    # costs), for 1.2 MB of snapshots per 1,000-event issue; 100 and more fold too much.
    snapshotting_intervals = {CaseAccessLog: 50, RectificationIssue: SNAPSHOT_EVERY, ChildCase: SNAPSHOT_EVERY}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        seals: PersonalDataSeals | None = None,
        infrastructure: Callable[[InfrastructureFactory[Any]], None] | None = None,
    ):
        # Given the library's factory before it makes a recorder or a table: a deployment
        # of several districts puts its one pool in the datastore there (interfaces.bootstrap).
        self._on_factory = infrastructure
        super().__init__(env)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        if seals is not None:
            self.seals = seals
        self.group_commit = GroupCommit(self._commit)
        # The one code → name lookup of every answer, export, view and page.
        self.unit_names = UnitNames(lambda code: self.load(Unit, unit_id(code), "单位"))
        # Ids of the aggregates each kind of creation event made, and the position read up to:
        # the log only grows, and commits in position order, so later reads scan only what is new.
        self._created: dict[tuple[str, ...], tuple[int, list[UUID]]] = {}
        self._created_lock = threading.Lock()
        # Answers derived from a few kinds of event (the unit directory), by name: how many
        # of those events they were computed after, and the answer.
        self._derived: dict[str, tuple[int, Any]] = {}

    def construct_factory(self, env: Environment) -> InfrastructureFactory[Any]:
        factory = super().construct_factory(env)
        if self._on_factory is not None:
            self._on_factory(factory)
        return factory

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, with concurrent saves committed together (group_commit)."""
        if kwargs:
            return super().save(*objs, **kwargs)
        processing = ProcessingEvent[UUID]()
        processing.collect_events(*objs)
        return self.group_commit.save(processing)

    def _commit(self, processing: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings

    def construct_repository(self) -> Repository[UUID]:
        library = super().construct_repository()
        maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return LedgerRepository(
            event_store=library.event_store, snapshot_store=library.snapshot_store,
            cache_maxsize=int(maxsize) if maxsize else None, fastforward=library.fastforward,
            fastforward_skipping=library.fastforward_skipping,
            deepcopy_from_cache=library.deepcopy_from_cache,
        )

    def take_snapshot(  # type: ignore[override]  # projector_func by name only
        self, aggregate_id: UUID, version: int | None = None, **kwargs: Any
    ) -> None:
        """The library's, except that a snapshot already stored at that version is left as
        it is: the events are committed by then, and a save must not be reported as a
        conflict because its derived snapshot was written before (a retried insert whose
        first attempt had committed). The aggregate is loaded once (the library's would load
        it again), and an erased case that holds a clear birth date is not snapshotted."""
        assert self.snapshots is not None
        aggregate: Any = self.repository.get(aggregate_id, version=version)
        if self._holds_clear_birth_date_after_erasure(aggregate):
            return
        snapshot_class: Any = getattr(type(aggregate), "Snapshot", type(self).snapshot_class)
        try:
            self.snapshots.put([snapshot_class.take(aggregate)])
        except IntegrityError:
            pass

    def _holds_clear_birth_date_after_erasure(self, aggregate: Any) -> bool:
        """A case registered before the exact birth date was sealed keeps it in its state:
        once its key is erased, its snapshots (deleted then) are not taken again, and it
        folds from its events. The key is asked too, not only the state: a snapshot of a
        version before the erasure may be written after the erasure deleted the others."""
        return (
            isinstance(aggregate, ChildCase) and aggregate.birth_date is not None
            and (aggregate.erased or not self.seals.has_key(aggregate.id))
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        for transcoding in SNAPSHOT_TRANSCODINGS:
            transcoder.register(transcoding)

    @property
    def index(self) -> PositionIndex:
        # The recorder is careledger's own subclass (see infrastructure.recorders).
        return cast(PositionIndex, self.recorder)

    @property
    def versions(self) -> LatestVersions:
        return cast(LatestVersions, self.recorder)

    def load(self, cls: type[A], aggregate_id: UUID, what: str, expected: int | None = None) -> A:
        """The aggregate now; NotFound (naming ``what``) when there is none of ``cls``."""
        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"没有这个{what}", rule=f"{cls.__name__.lower()}_exists") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"没有这个{what}", rule=f"{cls.__name__.lower()}_exists")
        if expected is not None and aggregate.version != expected:
            raise VersionMismatch(expected, aggregate.version)
        return aggregate

    def exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def as_of(self, cls: type[A], aggregate_id: UUID, what: str, as_of: datetime) -> A:
        """The aggregate as the ledger held it at ``as_of`` (by recorded time): the latest
        snapshot ending at or before ``as_of``, then the events after it up to ``as_of``.

        Recorded times never go backwards within an aggregate, so a snapshot whose last
        event was recorded by ``as_of`` holds nothing recorded after it, and the first
        snapshot whose last event is later bounds the events worth reading."""
        aggregate: A | None = None
        through: int | None = None
        if self.snapshots is not None:
            recorder = cast(SnapshotReads, self.recorder)
            table = self.snapshots.recorder.events_table_name  # type: ignore[attr-defined]
            marks = recorder.snapshot_marks(aggregate_id, table)
            taken = _taken_by(marks, as_of, self.mapper.to_domain_event)
            if taken < len(marks):
                through = marks[taken].originator_version - 1
            if taken:
                stored, after = recorder.snapshot_and_events(
                    aggregate_id, table, marks[taken - 1].originator_version, through
                )
                # None only if the snapshot went between the two reads: fold from the start.
                if stored is not None:
                    aggregate = cast(A, self.snapshots.mapper.to_domain_event(stored).mutate(None))  # type: ignore[attr-defined]
                    return self._fold_until(cls, aggregate, map(self.mapper.to_domain_event, after), what, as_of)
        return self._fold_until(
            cls, None, self.repository.event_store.get(aggregate_id, lte=through), what, as_of
        )

    def _fold_until(
        self, cls: type[A], aggregate: A | None, domain_events: Iterable[Any], what: str, as_of: datetime
    ) -> A:
        for domain_event in domain_events:
            if domain_event.timestamp > as_of:
                break
            aggregate = cast(A, domain_event.mutate(aggregate))
        if aggregate is None or not isinstance(aggregate, cls):
            raise NotFound(f"该时间点时还没有这个{what}", rule=f"{cls.__name__.lower()}_existed_then")
        return aggregate

    def created_ids(self, *created: type) -> list[UUID]:
        """The aggregate's id of every one of these events recorded (of creation events: each
        aggregate they created, once), in log order (a topic-filtered scan of what was
        recorded since the last call: a page that lists the units of a district of a
        million events must not read them all each time)."""
        topics = tuple(f"{c.__module__}:{c.__qualname__}" for c in created)
        with self._created_lock:
            reached, known = self._created.get(topics, (0, []))
            ids = list(known)
            end = self.recorder.max_notification_id() or 0
            start = reached + 1
            while start <= end:
                page = self.recorder.select_notifications(start=start, limit=500, stop=end, topics=list(topics))
                ids.extend(cast(UUID, n.originator_id) for n in page)
                if len(page) < 500:
                    break
                start = page[-1].id + 1
            # Read up to ``end`` even where no creation event lies near it: the next call
            # starts there, not at the last match (which may be a million positions back).
            self._created[topics] = (end, ids)
            return list(ids)

    def derived(self, name: str, events: tuple[type, ...], compute: Callable[[], T]) -> T:
        """``compute()``, answered again from memory until one of ``events`` is recorded (by
        any process; seen by the scan of ``created_ids``, which lists one id per event): the
        units of a district of a million events are not loaded for every page. ``compute``
        must read nothing but the aggregates those events change."""
        seen = len(self.created_ids(*events))
        kept = self._derived.get(name)
        if kept is not None and kept[0] == seen:
            return cast(T, kept[1])
        # An event recorded while computing is in the answer or not: either way the count
        # taken before it is lower than the next call's, which computes again.
        value = compute()
        self._derived[name] = (seen, value)
        return value

    def registered(self, *created: type) -> list[Aggregate]:
        """The aggregates created by one of these events, as they are now."""
        return [self.repository.get(i) for i in self.created_ids(*created)]

    def corrected_version(self, target: CorrectableAggregate, position: int, corrections: Corrections) -> int:
        """The version of ``target`` recorded at the log's ``position`` (a correction names its
        entry by position); a position of another aggregate, or none, is refused as the
        aggregate refuses a version it does not hold."""
        located = self.index.locate(position)
        version = located[1] if located is not None and located[0] == target.id else 0
        corrections.entry(target.entries, version)
        return version

    def forget_snapshots(self, aggregate_id: UUID) -> None:
        """Snapshots are derived (not Merkle leaves): a case's are deleted on erasure, as a
        case registered before the exact date was sealed has it in clear in every one."""
        if self.snapshots is not None:
            table = self.snapshots.recorder.events_table_name  # type: ignore[attr-defined]
            cast(SnapshotReads, self.recorder).delete_snapshots(aggregate_id, table)
