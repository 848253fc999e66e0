"""The careledger application: load, authorise, call the aggregate, save."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording, StoredEvent, Transcoding

from application import access
from application.access import ADMIN, AGENCY, INSPECTOR, SUPERVISOR, Actor
from application.cases import CaseCommands
from application.errors import (
    ConcurrentWrite,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    Unauthenticated,
    VersionMismatch,
)
from application.group_commit import GroupCommit
from application.personal_data import CaseKeys
from application.ports import FingerprintKey, LatestVersions, PositionIndex
from application.read_policy import POLICY
from application.rubric import RUBRIC_VERSION
from application.snapshot_codec import SNAPSHOT_TRANSCODINGS
from application.unit_names import UnitNames
from domain.base import LedgerAggregate, RuleViolated, Stamp, recording_at
from domain.case import ChildCase
from domain.case_access import CaseAccessLog
from domain.idempotency import CommandAnswer, answer_id, is_keyed
from domain.issue import RectificationIssue, issue_id
from domain.plan import Plan, plan_id
from domain.registry import Token, Unit, UnitGroup, User, group_id, token_digest, unit_id, user_id

A = TypeVar("A", bound=Aggregate)


# Commands run from the command line act as this actor; it is recorded like any user.
SYSTEM = Actor(user_id=user_id("system"), name="system", unit="system", role=ADMIN)


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


@dataclass(frozen=True)
class Command:
    """What every command carries besides its own fields."""

    actor: Actor
    occurred_at: datetime | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None
    # The request's plain digest, held in memory only: the log keeps its HMAC (_keyed_request).
    fingerprint: str = field(default="", repr=False)


@dataclass(frozen=True)
class Accepted:
    id: UUID
    version: int
    position: int
    extra: dict[str, Any] = field(default_factory=dict)

    def answer(self) -> dict[str, Any]:
        return {"id": str(self.id), "version": self.version, "position": self.position, **self.extra}


@dataclass(frozen=True)
class Enrolment:
    user_id: UUID
    token: str
    token_id: UUID | None = None
    accepted: Accepted | None = None


@dataclass(frozen=True)
class _SignedIn:
    """A token's sign-in as read at these versions of the token and its user."""

    actor: Actor
    token_version: int
    user_version: int
    expires_at: datetime


SNAPSHOT_EVERY = 25


class Ledger(CaseCommands, Application[UUID]):
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
        case_keys: CaseKeys | None = None,
        fingerprint_key: FingerprintKey | None = None,
        token_days: int = 90,
    ):
        super().__init__(env)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        if case_keys is not None:
            self.case_keys = case_keys
        self.group_commit = GroupCommit(self._commit)
        self.fingerprint_key = fingerprint_key
        self.token_lifetime = timedelta(days=token_days)
        self._signed_in: dict[str, _SignedIn] = {}
        self._users: dict[UUID, tuple[int, Actor]] = {}
        # Units are never unregistered, so a code once found stays found.
        self._known_units: set[str] = set()
        self.unit_names = UnitNames(self.unit)

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
            and (aggregate.erased or self.case_keys.get(aggregate.id) is None)
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

    # ---- the one path every command takes ---------------------------------------------

    def _run(
        self,
        cmd: Command,
        act: Callable[[Stamp], tuple[LedgerAggregate, Iterable[LedgerAggregate], dict[str, Any]]],
    ) -> Accepted:
        if cmd.idempotency_key:
            kept = self._kept_answer(cmd)
            if kept is not None:
                return kept
        now = self.clock()
        stamp = Stamp.make(
            user=cmd.actor.name, unit=cmd.actor.unit, recorded_at=now, occurred_at=cmd.occurred_at
        )
        with recording_at(now):
            primary, others, extra = act(stamp)
            objects: list[Aggregate] = [primary, *others]
            if cmd.idempotency_key:
                answer = {"id": str(primary.id), "version": primary.version, **extra}
                objects.append(
                    CommandAnswer.keep(
                        stamp,
                        owner=cmd.actor.name,
                        key=self._keyed_key(cmd),
                        fingerprint=self._keyed_request(cmd),
                        answer=answer,
                    )
                )
        try:
            recordings = self.save(*objects)
        except IntegrityError:
            # A dropped connection can make a committed insert come back as a conflict on
            # retry: the kept answer, written in the same transaction, tells the truth.
            if cmd.idempotency_key:
                kept = self._kept_answer(cmd)
                if kept is not None:
                    return kept
            raise ConcurrentWrite() from None
        positions = [
            r.notification.id for r in recordings if r.domain_event.originator_id == primary.id
        ]
        position = max(positions) if positions else self.index.positions(primary.id)[primary.version]
        return Accepted(primary.id, primary.version, position, extra)

    def _kept_answer(self, cmd: Command) -> Accepted | None:
        kept = self.kept_answer(cmd.actor.name, cmd.idempotency_key or "")
        if kept is None:
            return None
        # Answers kept before fingerprints were keyed hold the request's plain SHA-256: a
        # retry sent across the upgrade still gets its first answer.
        expected = self._keyed_request(cmd) if is_keyed(kept.fingerprint) else cmd.fingerprint
        if not hmac.compare_digest(kept.fingerprint.encode(), expected.encode()):
            raise IdempotencyKeyReused()
        answer = dict(kept.answer)
        aggregate, version = UUID(answer.pop("id")), answer.pop("version")
        return Accepted(aggregate, version, self.index.positions(aggregate)[version], answer)

    def kept_answer(self, owner: str, key: str) -> CommandAnswer | None:
        """The answer kept for ``owner``'s command sent with Idempotency-Key ``key``: under the
        keyed key, or, for one kept before keys were keyed, under the key as sent."""
        # One indexed read finds which of the two exists: a new key, the common case, costs
        # that read alone.
        ids = [answer_id(owner, self.keyed_text("key " + key)), answer_id(owner, key)]
        found = self.versions.latest_versions(ids)
        kept = next((i for i in ids if i in found), None)
        return None if kept is None else cast(CommandAnswer, self.repository.get(kept))

    def _keyed_key(self, cmd: Command) -> str:
        return self.keyed_text("key " + (cmd.idempotency_key or ""))

    def _keyed_request(self, cmd: Command) -> str:
        return self.keyed_text("request " + cmd.fingerprint)

    def keyed_text(self, text: str) -> str:
        """An HMAC of ``text`` under the server's secret: what a client sent, kept so that it
        proves nothing to anyone without the secret."""
        if self.fingerprint_key is None:
            raise RuntimeError("keeping what a client sent needs the ledger's fingerprint key")
        return self.fingerprint_key.keyed(text)

    def _load(self, cls: type[A], aggregate_id: UUID, what: str, expected: int | None = None) -> A:
        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"没有这个{what}", rule=f"{cls.__name__.lower()}_exists") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"没有这个{what}", rule=f"{cls.__name__.lower()}_exists")
        if expected is not None and aggregate.version != expected:
            raise VersionMismatch(expected, aggregate.version)
        return aggregate

    def _load_to_change(
        self, cmd: Command, cls: type[A], aggregate_id: UUID, what: str,
        require_readable: Callable[[Actor, A], None],
    ) -> A:
        """The aggregate a command acts on. Whoever may not read it (application.read_policy)
        is refused as a read would refuse them before anything else: a 403 for an action, or
        a 412 for a stale If-Match, would confirm that the id is real."""
        aggregate = self._load(cls, aggregate_id, what)
        require_readable(cmd.actor, aggregate)
        if cmd.expected_version is not None and aggregate.version != cmd.expected_version:
            raise VersionMismatch(cmd.expected_version, aggregate.version)
        return aggregate

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    # The one command path and loading, for the application's other services (accounts).
    run = _run
    load = _load

    # ---- identity ---------------------------------------------------------------------

    @property
    def versions(self) -> LatestVersions:
        return cast(LatestVersions, self.recorder)

    def authenticate(self, token: str | None) -> Actor:
        """The user a bearer token signs in. What a process remembers of a token is used
        only while the token and its user are still at the versions it was read at (one
        read of two index entries a request), so a revocation, a deactivation or a change
        of role is seen by every process on the very next request."""
        if not token:
            raise Unauthenticated("需要 Bearer 令牌")
        digest = token_digest(token)
        issued_id = Token.create_id(digest=digest)
        now = self.clock()
        known = self._signed_in.get(digest)
        if known is not None:
            current = self.versions.latest_versions([issued_id, known.actor.user_id])
            if current == {issued_id: known.token_version, known.actor.user_id: known.user_version}:
                if now >= known.expires_at:
                    raise Unauthenticated("令牌已过期", rule="token_expired")
                return known.actor
            self._signed_in.pop(digest, None)
        try:
            issued = cast(Token, self.repository.get(issued_id))
            user = cast(User, self.repository.get(issued.user_id))
        except AggregateNotFoundError:
            raise Unauthenticated("令牌无效") from None
        if not isinstance(issued, Token) or not isinstance(user, User) or issued.revoked or not user.active:
            raise Unauthenticated("令牌无效")
        expires_at = issued.expiry(self.token_lifetime)
        if now >= expires_at:
            raise Unauthenticated("令牌已过期", rule="token_expired")
        found = Actor(user_id=user.id, name=user.name, unit=user.unit_code, role=user.role, token_id=issued.id)
        if len(self._signed_in) > 10_000:  # bounded: forgotten entries are read again
            self._signed_in.clear()
        self._signed_in[digest] = _SignedIn(found, issued.version, user.version, expires_at)
        return found

    def user_actor(self, user: UUID) -> Actor:
        """The active user ``user`` as an actor (a dashboard session's). Remembered while the
        user is at the version it was read at, as tokens are (one indexed read a request),
        so a deactivation or a change of role is seen at once by every process."""
        known = self._users.get(user)
        if known is not None and self.versions.latest_versions([user]) == {user: known[0]}:
            return known[1]
        try:
            found: Any = self.repository.get(user)
        except AggregateNotFoundError:
            raise Unauthenticated("用户不存在") from None
        if not isinstance(found, User) or not found.active:
            raise Unauthenticated("用户已停用", rule="user_inactive")
        actor = Actor(user_id=found.id, name=found.name, unit=found.unit_code, role=found.role)
        if len(self._users) > 10_000:  # bounded: forgotten users are read again
            self._users.clear()
        self._users[user] = (found.version, actor)
        return actor

    def new_token(self, stamp: Stamp, user: User) -> tuple[Token, str]:
        """A fresh bearer token for ``user`` (256 bits), and the aggregate that keeps its digest."""
        token = secrets.token_urlsafe(32)
        issued = Token.issue(stamp, digest=token_digest(token), user_id=user.id,
                             expires_at=stamp.recorded_at + self.token_lifetime)
        return issued, token

    def add_unit(self, cmd: Command, *, code: str, name: str, group: str | None = None) -> Accepted:
        """Registers a unit, idempotent on its code; puts it in ``group`` (made on first use)."""
        access.require_role(cmd.actor, ADMIN, doing="管理单位和用户", rule="administer")

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            if self._exists(group_id(code)):
                raise Forbidden("该代码已是单位组的代码", rule="unit_code_distinct_from_groups")
            try:
                unit = cast(Unit, self.repository.get(unit_id(code)))
            except AggregateNotFoundError:
                unit = Unit.register(stamp, code=code, name=name)
            others: list[LedgerAggregate] = []
            if group:
                if self._exists(unit_id(group)):
                    raise Forbidden("该组代码已是某单位的代码", rule="group_code_distinct_from_units")
                try:
                    members = cast(UnitGroup, self.repository.get(group_id(group)))
                except AggregateNotFoundError:
                    members = UnitGroup.found(stamp, code=group)
                members.admit(stamp, member=code)
                unit.join_group(stamp, group=group)
                others.append(members)
            return unit, others, {"code": code}

        return self._run(cmd, act)

    def define_duty(self, cmd: Command, *, unit: str, duty_id: str, text: str) -> Accepted:
        access.require_role(cmd.actor, ADMIN, doing="管理单位和用户", rule="administer")

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self._load(Unit, unit_id(unit), "单位")
            target.define_duty(stamp, duty_id=duty_id, text=text)
            return target, [], {}

        return self._run(cmd, act)

    def add_user(self, cmd: Command, *, name: str, unit: str, role: str, unit_name: str | None = None) -> Enrolment:
        """Creates a user and gives them a bearer token, shown to the caller once. With
        ``unit_name``, a unit not registered yet is registered in the same save (the first
        administrator's), so a refused user leaves no unit behind."""
        access.require_role(cmd.actor, ADMIN, doing="管理单位和用户", rule="administer")
        if unit_name is None:
            self._load(Unit, unit_id(unit), "单位")
        made: list[tuple[Token, str]] = []

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            if self._exists(user_id(name)):
                raise Forbidden("该用户名已存在", rule="user_name_unique")
            user = User.enrol(stamp, name=name, unit_code=unit, role=role)
            made.append(self.new_token(stamp, user))
            issued = made[-1][0]
            others: list[LedgerAggregate] = [issued]
            if unit_name is not None and not self._exists(unit_id(unit)):
                others.append(Unit.register(stamp, code=unit, name=unit_name))
            return user, others, {"token_id": str(issued.id), "expires_at": issued.expiry(self.token_lifetime).isoformat()}

        accepted = self._run(cmd, act)
        if not made:
            raise secret_shown_once()
        issued, token = made[-1]
        return Enrolment(user_id=accepted.id, token=token, token_id=issued.id, accepted=accepted)

    def units(self, codes: Iterable[str]) -> list[str]:
        """Unit codes, with each group code expanded to its members; unknown codes refused."""
        resolved: list[str] = []
        for code in codes:
            if code in self._known_units or self._exists(unit_id(code)):
                self._known_units.add(code)
                resolved.append(code)
                continue
            try:
                group = cast(UnitGroup, self.repository.get(group_id(code)))
            except AggregateNotFoundError:
                # What the client sent is not repeated: it may be anything, a child's name too.
                raise NotFound("没有这个单位或单位组", rule="unit_is_registered") from None
            resolved.extend(group.members)
        return list(dict.fromkeys(resolved))

    def unit(self, code: str) -> Unit:
        return self._load(Unit, unit_id(code), "单位")

    def group(self, code: str) -> UnitGroup | None:
        try:
            return cast(UnitGroup, self.repository.get(group_id(code)))
        except AggregateNotFoundError:
            return None

    # ---- plans ------------------------------------------------------------------------

    def register_plan(self, cmd: Command, *, number: str, title: str, issuer_unit: str, year: int) -> Accepted:
        access.require_role(cmd.actor, SUPERVISOR, doing="登记实施方案", rule="register_plan")
        self.units([issuer_unit])

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            if self._exists(plan_id(number)):
                raise RuleViolated("plan_number_unique", "该文号的实施方案已经登记")
            return Plan.register(stamp, number=number, title=title, issuer_unit=issuer_unit, year=year), [], {}

        return self._run(cmd, act)

    def plan(self, plan: UUID) -> Plan:
        return self._load(Plan, plan, "实施方案")

    # ---- rectification issues -----------------------------------------------------------

    def register_issue(
        self,
        cmd: Command,
        *,
        plan: UUID,
        seq: int,
        duty: str,
        problem: str,
        units: list[str],
        measures: list[tuple[str | None, str, date | None]] = (),  # type: ignore[assignment]
        remarks: str = "",
        source_row: dict[str, Any] | None = None,
    ) -> Accepted:
        access.require_role(cmd.actor, SUPERVISOR, doing="登记整改问题", rule="register_issue")
        self.plan(plan)
        responsible = self.units(units)
        owners = [self.units([owner])[0] if owner else responsible[0] for owner, _, _ in measures]

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            if self._exists(issue_id(plan, seq)):
                raise RuleViolated("issue_seq_unique_in_plan", f"该实施方案已有序号为{seq}的整改问题")
            issue = RectificationIssue.register(
                stamp, plan_id=plan, seq=seq, duty=duty, problem=problem, units=responsible,
                remarks=remarks, source_row=source_row,
            )
            ids = [
                issue.adopt_measure(stamp, owner=owner, text=text, due=due)
                for owner, (_, text, due) in zip(owners, measures, strict=True)
            ]
            return issue, [], {"measure_ids": ids} if ids else {}

        return self._run(cmd, act)

    def issue(self, issue: UUID, *, as_of: datetime | None = None) -> RectificationIssue:
        if as_of is None:
            return self._load(RectificationIssue, issue, "整改问题")
        return self._as_of(RectificationIssue, issue, "整改问题", as_of)

    def _as_of(self, cls: type[A], aggregate_id: UUID, what: str, as_of: datetime) -> A:
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

    def issue_ids(self) -> list[UUID]:
        """Every registered issue, in registration order."""
        return self.created_ids(RectificationIssue.Registered)  # type: ignore[attr-defined]

    def created_ids(self, *created: type) -> list[UUID]:
        """Ids of every aggregate created by one of these events, in log order (a topic-filtered scan)."""
        topics = [f"{c.__module__}:{c.__qualname__}" for c in created]
        ids: list[UUID] = []
        start = 1
        while True:
            page = self.recorder.select_notifications(start=start, limit=500, topics=topics)
            ids.extend(cast(UUID, n.originator_id) for n in page)
            if len(page) < 500:
                return ids
            start = page[-1].id + 1

    def registered(self, *created: type) -> list[Aggregate]:
        """The aggregates created by one of these events, as they are now."""
        return [self.repository.get(i) for i in self.created_ids(*created)]

    def _issue_command(
        self,
        cmd: Command,
        issue: UUID,
        authorise: Callable[[RectificationIssue], None],
        change: Callable[[RectificationIssue, Stamp], dict[str, Any] | None],
    ) -> Accepted:
        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self._load_to_change(cmd, RectificationIssue, issue, "整改问题", POLICY.require_issue)
            authorise(target)
            extra = change(target, stamp) or {}
            return target, [], extra

        return self._run(cmd, act)

    def _supervisor(self, cmd: Command, doing: str, rule: str) -> Callable[[RectificationIssue], None]:
        return lambda _issue: access.require_role(cmd.actor, SUPERVISOR, doing=doing, rule=rule)

    def assign_issue(
        self, cmd: Command, issue: UUID, *, lead_unit: str, co_units: list[str],
        contact_person: str, deadline: date, nodes: list[date],
    ) -> Accepted:
        lead = self.units([lead_unit])
        co = self.units(co_units)
        return self._issue_command(
            cmd, issue, self._supervisor(cmd, "交办", "assign"),
            lambda i, s: i.assign(
                s, lead_unit=lead[0], co_units=[*lead[1:], *co], contact_person=contact_person,
                deadline=deadline, nodes=nodes,
            ),
        )

    def adopt_measure(self, cmd: Command, issue: UUID, *, unit: str, text: str, due: date | None) -> Accepted:
        owner = self.units([unit])
        if len(owner) != 1:
            raise Forbidden("整改措施须由一个单位负责，不能指定单位组", rule="measure_has_one_owner")
        return self._issue_command(
            cmd, issue,
            lambda i: access.may_adopt_measure(cmd.actor, i, owner[0]),
            lambda i, s: {"measure_id": i.adopt_measure(s, owner=owner[0], text=text, due=due)},
        )

    def _measure_unit(self, issue: RectificationIssue, measure_id: str) -> str:
        try:
            return str(issue.measure(measure_id)["unit"])
        except LookupError:
            raise NotFound("该问题没有这项整改措施", rule="measure_exists") from None

    def report_progress(
        self, cmd: Command, issue: UUID, measure_id: str, *, summary: str, evidence: list[dict[str, str]]
    ) -> Accepted:
        return self._issue_command(
            cmd, issue,
            lambda i: access.may_act_on_measure(cmd.actor, i, self._measure_unit(i, measure_id)),
            lambda i, s: i.report_progress(s, measure_id=measure_id, summary=summary, evidence=evidence),
        )

    def complete_measure(self, cmd: Command, issue: UUID, measure_id: str, *, summary: str) -> Accepted:
        return self._issue_command(
            cmd, issue,
            lambda i: access.may_act_on_measure(cmd.actor, i, self._measure_unit(i, measure_id)),
            lambda i, s: i.complete_measure(s, measure_id=measure_id, summary=summary),
        )

    def urge(self, cmd: Command, issue: UUID, *, unit: str, message: str, reply_by: date) -> Accepted:
        targets = self.units([unit])
        if len(targets) != 1:
            raise Forbidden("催办须指向一个单位，不能指定单位组", rule="urging_has_one_target")
        return self._issue_command(
            cmd, issue, self._supervisor(cmd, "催办", "urge"),
            lambda i, s: i.urge(s, target=targets[0], message=message, reply_by=reply_by),
        )

    def extend_deadline(self, cmd: Command, issue: UUID, *, deadline: date, reason: str) -> Accepted:
        return self._issue_command(
            cmd, issue, self._supervisor(cmd, "延期", "extend"),
            lambda i, s: i.extend_deadline(s, deadline=deadline, reason=reason),
        )

    def evaluate_issue(
        self, cmd: Command, issue: UUID, *, year: int, grade: str, score: float, findings: str
    ) -> Accepted:
        return self._issue_command(
            cmd, issue, self._supervisor(cmd, "年终考核", "evaluate"),
            lambda i, s: i.evaluate(
                s, year=year, grade=grade, score=score, findings=findings, rubric_version=RUBRIC_VERSION
            ),
        )

    def close_issue(self, cmd: Command, issue: UUID, *, summary: str) -> Accepted:
        return self._issue_command(
            cmd, issue, self._supervisor(cmd, "销号", "close"), lambda i, s: i.close(s, summary=summary)
        )

    def reopen_issue(self, cmd: Command, issue: UUID, *, reason: str) -> Accepted:
        return self._issue_command(
            cmd, issue, self._supervisor(cmd, "重新打开", "reopen"), lambda i, s: i.reopen(s, reason=reason)
        )

    def correct_issue_entry(
        self, cmd: Command, issue: UUID, *, position: int, changes: dict[str, Any], reason: str
    ) -> Accepted:
        versions: list[int] = []

        def authorise(target: RectificationIssue) -> None:
            # Who may touch this issue at all is decided before anything about its entries is told.
            if cmd.actor.role == AGENCY and not target.is_responsible(cmd.actor.unit):
                raise Forbidden("本单位不是该问题的责任单位", rule="agency_acts_only_on_own_issues")
            access.may_correct_something(cmd.actor)
            located = self.index.locate(position)
            if located is None or located[0] != issue:
                raise RuleViolated("correction_names_earlier_event", "更正须指向本问题较早的一条记录")
            entry = target.recorder_of(located[1])
            access.may_correct(cmd.actor, entry["user"] if entry else "")
            versions.append(located[1])

        return self._issue_command(
            cmd, issue, authorise,
            lambda i, s: i.correct(s, corrected_version=versions[0], position=position, changes=changes, reason=reason),
        )

    def read_issue(self, actor: Actor, issue: UUID, *, as_of: datetime | None = None) -> RectificationIssue:
        """The issue now or at ``as_of``, for a reader of it (application.read_policy); who
        reads follows the issue now, as in ``issue_as_of``."""
        POLICY.require_issue(actor, self.issue(issue))
        return self.issue(issue, as_of=as_of) if as_of is not None else self.issue(issue)

    def issue_history(self, actor: Actor, issue: UUID) -> list[dict[str, Any]]:
        POLICY.require_issue(actor, self.issue(issue))
        return self.history(issue)

    def issue_as_of(
        self, actor: Actor, issue: UUID, as_of: datetime | None = None
    ) -> tuple[RectificationIssue, list[dict[str, Any]]]:
        """The issue as the ledger held it at ``as_of`` and the entries recorded by then, for
        a reader of its history. Access follows the issue's parties now, not then: a unit
        removed from an issue no longer reads it, one added reads its past too."""
        history = self.issue_history(actor, issue)
        if as_of is None:
            return self.issue(issue), history
        return self.issue(issue, as_of=as_of), [e for e in history if e["recorded_at"] <= as_of]

    def history(self, aggregate_id: UUID) -> list[dict[str, Any]]:
        """Every event of one aggregate with who recorded it, both times and its position."""
        positions = self.index.positions(aggregate_id)
        return [
            describe_event(domain_event, positions.get(domain_event.originator_version))
            for domain_event in self.repository.event_store.get(aggregate_id)
        ]


def secret_shown_once() -> RuleViolated:
    """A token-issuing command sent again with its Idempotency-Key: the first answer held
    the secret, which is kept nowhere, so it cannot be answered again."""
    return RuleViolated("token_shown_once", "该指令已执行；令牌只在第一次应答中出现，如已遗失请吊销后重新签发")


BASE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "user", "unit", "occurred_at"})


def event_type(domain_event: Any) -> str:
    return type(domain_event).__name__


def describe_event(domain_event: Any, position: int | None) -> dict[str, Any]:
    fields = {k: v for k, v in vars(domain_event).items() if k not in BASE_FIELDS}
    fields.pop("originator_topic", None)
    return {
        "type": event_type(domain_event),
        "aggregate": domain_event.originator_id,
        "version": domain_event.originator_version,
        "position": position,
        "recorded_at": domain_event.timestamp,
        "occurred_at": domain_event.occurred_at,
        "recorder": domain_event.user,
        "unit": domain_event.unit,
        "fields": fields,
    }


__all__ = [
    "ADMIN", "AGENCY", "INSPECTOR", "SUPERVISOR", "SYSTEM", "Accepted", "Actor", "Command",
    "Enrolment", "Ledger", "issue_id", "plan_id",
]
