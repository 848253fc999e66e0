"""The one path every command takes, shared by every command service (by composition):
stamp, authorise, answer a retried command, load, save, answer.

A command service method checks what it can before anything is loaded, then hands the
runner an ``act``: given the command's stamp, it loads and changes aggregates (domain
methods decide the rules) and returns the primary aggregate, any others saved with it,
and what the answer carries besides id, version and position. Everything ``act`` returns
is saved in one transaction, with the kept answer of a command sent with an
Idempotency-Key.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from application.access import ADMIN, Actor
from application.errors import ApplicationError, ConcurrentWrite, IdempotencyKeyReused, VersionMismatch
from application.held import Held
from application.ledger import Ledger
from application.ports import FingerprintKey
from domain.base import DomainError, LedgerAggregate, RuleViolated, Stamp, recording_at
from domain.idempotency import CommandAnswer, answer_id, is_keyed
from domain.issue import RectificationIssue
from domain.registry import user_id

A = TypeVar("A", bound=LedgerAggregate)

# Commands run from the command line act as this actor; it is recorded like any user.
SYSTEM = Actor(user_id=user_id("system"), name="system", unit="system", role=ADMIN)

# What a command does once stamped: the aggregate it acts on, others saved with it, and
# what its answer carries besides id, version and position.
Act = Callable[[Stamp], tuple[LedgerAggregate, Iterable[LedgerAggregate], dict[str, Any]]]


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


def secret_shown_once() -> RuleViolated:
    """A token-issuing command sent again with its Idempotency-Key: the first answer held
    the secret, which is kept nowhere, so it cannot be answered again."""
    return RuleViolated("token_shown_once", "该指令已执行；令牌只在第一次应答中出现，如已遗失请吊销后重新签发")


# A command on one existing aggregate of a kind: the command, the aggregate's id, who may
# (``authorise``) and the change, which answers what the answer carries besides.
Changer = Callable[[Command, UUID, Callable[[A], None], Callable[[A, Stamp], "dict[str, Any] | None"]], Accepted]


class _Retry(Exception):
    """A command tried on a held aggregate was refused or lost a race (``stale``): nothing
    was stored, and the answer is decided again on the stored state."""

    def __init__(self, *, stale: bool) -> None:
        super().__init__()
        self.stale = stale


class CommandRunner:
    # Kinds whose commands are tried on the held copy first. Not cases: their commands seal
    # and erase personal data beside the ledger, which a retry would do twice.
    held_kinds: frozenset[type] = frozenset({RectificationIssue})

    def __init__(self, ledger: Ledger, fingerprint_key: FingerprintKey | None = None) -> None:
        self.ledger = ledger
        self.fingerprint_key = fingerprint_key
        self.held: Held[Any] = Held()
        self._legacy: frozenset[UUID] | None = None
        self._legacy_reader: threading.Thread | None = None
        self._closing = threading.Event()
        self._legacy_lock = threading.Lock()

    def run(self, cmd: Command, act: Act) -> Accepted:
        if cmd.idempotency_key:
            kept = self._kept_answer(cmd)
            if kept is not None:
                return kept
        return self._attempt(cmd, act)[0]

    def _attempt(self, cmd: Command, act: Act, *, lent: bool = False) -> tuple[Accepted, LedgerAggregate | None]:
        """``act`` stamped, saved and answered, with the changed aggregate if its change is
        what the store holds at its version (None for an answer kept earlier). ``lent``:
        ``act`` changes a held aggregate, which may be stale, so a refusal or a lost race is
        reported as _Retry (nothing was stored) for the caller to decide again on the stored
        state."""
        now = self.ledger.clock()
        stamp = Stamp.make(
            user=cmd.actor.name, unit=cmd.actor.unit, recorded_at=now, occurred_at=cmd.occurred_at
        )
        with recording_at(now):
            try:
                primary, others, extra = act(stamp)
            except Exception as refusal:
                if lent:
                    raise _Retry(stale=False) from refusal
                raise
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
        pending = list(primary.pending_events)
        try:
            recordings = self.ledger.save(*objects)
        except IntegrityError:
            # A dropped connection can make a committed insert come back as a conflict on
            # retry: the kept answer, written in the same transaction, tells the truth.
            if cmd.idempotency_key:
                kept = self._kept_answer(cmd)
                if kept is not None:
                    # Not this change: holding it would put the next save past a gap.
                    return kept, None
            if lent:
                # Retrying on a fresh load must not apply the command twice: if what was
                # refused as a conflict is this very change, committed, it is the answer.
                if self._stored(pending):
                    position = self.ledger.index.positions(primary.id)[primary.version]
                    return Accepted(primary.id, primary.version, position, extra), primary
                raise _Retry(stale=True) from None
            raise ConcurrentWrite() from None
        positions = [
            r.notification.id for r in recordings if r.domain_event.originator_id == primary.id
        ]
        position = max(positions) if positions else self.ledger.index.positions(primary.id)[primary.version]
        return Accepted(primary.id, primary.version, position, extra), primary

    def _stored(self, pending: list[Any]) -> bool:
        """Whether these events (of one aggregate, in order) are the ones stored at their versions."""
        if not pending:
            return False
        mapper = self.ledger.mapper
        stored = self.ledger.recorder.select_events(
            pending[0].originator_id, gt=pending[0].originator_version - 1, lte=pending[-1].originator_version
        )
        # Compared decoded on both sides: what the store gives back is what was encoded.
        return len(stored) == len(pending) and all(
            mapper.to_domain_event(s) == mapper.to_domain_event(mapper.to_stored_event(e))
            for s, e in zip(stored, pending, strict=True)
        )

    def changer(self, cls: type[A], what: str, readable: Callable[[Actor, A], None]) -> Changer[A]:
        """``change`` for one kind of aggregate (``what`` names it to whoever finds none):
        the commands of the service of that kind call it."""
        return lambda cmd, aggregate_id, authorise, change: self.change(
            cmd, cls, aggregate_id, what, readable=readable, authorise=authorise, change=change)

    def change(
        self,
        cmd: Command,
        cls: type[A],
        aggregate_id: UUID,
        what: str,
        *,
        readable: Callable[[Actor, A], None],
        authorise: Callable[[A], None],
        change: Callable[[A, Stamp], dict[str, Any] | None],
    ) -> Accepted:
        """A command on one existing aggregate: loaded, refused as a read would refuse it
        (``readable``), authorised, version-checked, changed, saved.

        Of a held kind (``self.held``), the command is first tried on the copy this process
        holds from its last save, without reading: the store refuses the save if the copy
        is stale. Whatever is answered is decided on the stored state: an acceptance only
        if the save at the copy's next version went in (nothing was appended since), and a
        refusal, or a save that lost, on a copy is tried again on a fresh load. A process
        whose copies are often stale reads the stored version first (``Held.checking``)."""

        def act_on(load: Callable[[], A]) -> Act:
            def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
                target = self.checked(cmd, load(), readable)
                authorise(target)
                return target, [], change(target, stamp) or {}

            return act

        fresh = act_on(lambda: self.ledger.load(cls, aggregate_id, what))
        if cls not in self.held_kinds:
            return self.run(cmd, fresh)
        # A keyed command is not looked up first: its answer is inserted with its events,
        # and a retry of a committed one conflicts on that insert (or is refused by the state
        # the first one left), which is when the kept answer is read. Only an answer kept
        # before keys were keyed lives under another id: until this process has read which
        # ids those are, every keyed command is looked up first, as before.
        if cmd.idempotency_key:
            legacy = self.legacy_answers()
            if legacy is None or answer_id(cmd.actor.name, cmd.idempotency_key) in legacy:
                kept = self._kept_answer(cmd)
                if kept is not None:
                    return kept
        lent = cast("A | None", self.held.take(aggregate_id))
        if lent is not None and self.held.checking() and lent.version != self._stored_version(aggregate_id):
            self.held.seen(stale=True)
            lent = None
        if lent is not None:
            try:
                accepted, saved = self._attempt(cmd, act_on(lambda: lent), lent=True)
            except _Retry as retry:
                if retry.stale:
                    self.held.seen(stale=True)
            else:
                self.held.seen(stale=False)
                self._give(saved)
                return accepted
        try:
            accepted, saved = self._attempt(cmd, fresh)
        except (DomainError, ApplicationError):
            if cmd.idempotency_key:
                kept = self._kept_answer(cmd)
                if kept is not None:
                    return kept
            raise
        self._give(saved)
        return accepted

    def _stored_version(self, aggregate_id: UUID) -> int | None:
        return self.ledger.versions.latest_versions([aggregate_id]).get(aggregate_id)

    def legacy_answers(self) -> frozenset[UUID] | None:
        """The ids of the answers kept under the key as sent, before keys were keyed; None
        until this process has read them. The first keyed command that asks starts the read
        on a thread of its own: it scans every kept answer of the log (3 s at 10⁶ events),
        which no request should wait for. None is kept so any more (CommandAnswer.keep
        refuses it), so the set read once stays complete."""
        with self._legacy_lock:
            if self._legacy is None and self._legacy_reader is None and not self._closing.is_set():
                self._legacy_reader = threading.Thread(target=self.read_legacy_answers, daemon=True,
                                                       name="careledger-legacy-answers")
                self._legacy_reader.start()
            return self._legacy

    def read_legacy_answers(self) -> frozenset[UUID] | None:
        """Reads the ids ``legacy_answers`` answers, here and now; None if the store could not
        be read (a later keyed command starts the read again)."""
        try:
            found = frozenset(self._scan_legacy_answers())
        except Exception:  # noqa: BLE001 — until read, keyed commands are looked up first
            found = None
        with self._legacy_lock:
            self._legacy = found
            if found is None:
                self._legacy_reader = None
        return found

    def close(self) -> None:
        """Stops the read of ``legacy_answers`` (between its pages) and waits for it: the
        ledger's store is closed next, and a read still running on it would crash the
        process (SQLite's driver does)."""
        self._closing.set()
        with self._legacy_lock:
            reader = self._legacy_reader
        if reader is not None:
            reader.join()

    def _scan_legacy_answers(self) -> Iterable[UUID]:
        recorder, mapper = self.ledger.recorder, self.ledger.mapper
        kept = CommandAnswer.Kept  # type: ignore[attr-defined]
        topics = [f"{kept.__module__}:{kept.__qualname__}"]
        start, end = 1, recorder.max_notification_id() or 0
        while start <= end:
            if self._closing.is_set():
                raise RuntimeError("closing")  # read_legacy_answers: not read
            page = recorder.select_notifications(start=start, limit=500, stop=end, topics=topics)
            for notification in page:
                if not is_keyed(getattr(mapper.to_domain_event(notification), "key", None)):
                    yield cast(UUID, notification.originator_id)
            if len(page) < 500:
                break
            start = page[-1].id + 1

    def _give(self, saved: LedgerAggregate | None) -> None:
        if saved is not None:
            self.held.give(saved)

    def load_to_change(
        self, cmd: Command, cls: type[A], aggregate_id: UUID, what: str,
        readable: Callable[[Actor, A], None],
    ) -> A:
        """The aggregate a command acts on. Whoever may not read it (application.read_policy)
        is refused as a read would refuse them before anything else: a 403 for an action, or
        a 412 for a stale If-Match, would confirm that the id is real."""
        return self.checked(cmd, self.ledger.load(cls, aggregate_id, what), readable)

    @staticmethod
    def checked(cmd: Command, aggregate: A, readable: Callable[[Actor, A], None]) -> A:
        readable(cmd.actor, aggregate)
        if cmd.expected_version is not None and aggregate.version != cmd.expected_version:
            raise VersionMismatch(cmd.expected_version, aggregate.version)
        return aggregate

    # ---- idempotency ----------------------------------------------------------------

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
        return Accepted(aggregate, version, self.ledger.index.positions(aggregate)[version], answer)

    def kept_answer(self, owner: str, key: str) -> CommandAnswer | None:
        """The answer kept for ``owner``'s command sent with Idempotency-Key ``key``: under the
        keyed key, or, for one kept before keys were keyed, under the key as sent."""
        # One indexed read finds which of the two exists: a new key, the common case, costs
        # that read alone.
        ids = [answer_id(owner, self.keyed_text("key " + key)), answer_id(owner, key)]
        found = self.ledger.versions.latest_versions(ids)
        kept = next((i for i in ids if i in found), None)
        return None if kept is None else self.ledger.load(CommandAnswer, kept, "应答")

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
