"""What every ledger aggregate shares: who recorded an event, when, and the named rules.

The library stamps each event with ``timestamp``; in careledger that timestamp *is*
``recorded_at`` (server clock, UTC). The application decides that moment before it calls
an aggregate and lends it to the events through ``recording_at`` — never inside an event.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, Snapshot

_recording_clock: ContextVar[datetime | None] = ContextVar("recording_clock", default=None)

# Every deterministic id in the ledger is a name in this namespace, so the store's
# primary key enforces the natural uniqueness (one plan per number, one issue per row).
LEDGER_NAMESPACE = uuid5(NAMESPACE_URL, "https://careledger.example/ids")


def ledger_id(*parts: object) -> UUID:
    return uuid5(LEDGER_NAMESPACE, "/".join(str(p) for p in parts))


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(timezone.utc)


@contextlib.contextmanager
def recording_at(moment: datetime) -> Iterator[None]:
    """Events triggered inside this block carry ``moment`` as their recorded time."""
    token = _recording_clock.set(utc(moment))
    try:
        yield
    finally:
        _recording_clock.reset(token)


class DomainError(Exception):
    """A refused command. ``rule`` is the rule's English name; the message is for people."""

    def __init__(self, rule: str, message: str, **context: Any) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.context = context


class RuleViolated(DomainError):
    """The aggregate's current state forbids the command (HTTP 409)."""


class InvalidCommand(DomainError):
    """The command's own content is invalid, whatever the state (HTTP 422)."""


def check_code(value: object, known: tuple[str, ...], rule: str, what: str) -> None:
    """Codes, not free text, wherever a name could otherwise reach a plain column."""
    if value not in known:
        raise InvalidCommand(rule, f"{what}须为{'、'.join(known)}之一")


def check_text(value: object, rule: str, message: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(rule, message)


def found(items: dict[str, Any], key: str) -> Any:
    """The item of ``key``; a missing one is the caller's LookupError, not a KeyError."""
    try:
        return items[key]
    except KeyError:
        raise LookupError(key) from None


@dataclass(frozen=True)
class Stamp:
    """Who records an event and what time they claim it happened."""

    user: str
    unit: str
    recorded_at: datetime
    occurred_at: datetime

    @classmethod
    def make(
        cls, *, user: str, unit: str, recorded_at: datetime, occurred_at: datetime | None = None
    ) -> Stamp:
        recorded_at = utc(recorded_at)
        claimed = recorded_at if occurred_at is None else utc(occurred_at)
        if claimed > recorded_at:
            raise InvalidCommand(
                "occurred_at_not_in_future", "发生时间不能晚于登记时间（不能是将来的时间）"
            )
        return cls(user=user, unit=unit, recorded_at=recorded_at, occurred_at=claimed)

    def fields(self) -> dict[str, Any]:
        return {"user": self.user, "unit": self.unit, "occurred_at": self.occurred_at}


class IntKeyed:
    """A dict keyed by ints (versions, years) inside a snapshot: JSON keys are strings, so
    the application's transcoder stores its keys and its values as two lists and gives
    back the int keys. Not a dict subclass: the JSON encoder would write one as a plain
    object."""

    __slots__ = ("keys", "values")

    def __init__(self, keys: list[int], values: Any) -> None:
        self.keys, self.values = keys, values


class Tupled:
    """A tuple inside a snapshot, given back as a tuple rather than the list JSON makes."""

    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items


class Columns:
    """A list of dicts inside a snapshot (urgings, entries, reports), stored by columns.

    Decoding a snapshot is most of "as of T" for a long history, and per-dict work is most
    of decoding: every dict and every tagged date went through the transcoder's Python
    hook. By columns, the keys are written once, a column of dates or datetimes is an
    untagged list converted in one ``map``, a column of few distinct values stores each
    once, and the dicts are built without a Python-level loop. Dicts of the same keys form one group; ``order`` (None
    for a single group) says which group each item comes from."""

    __slots__ = ("groups", "order")

    # Column kinds that are converted in bulk (exact types only: a datetime is a date);
    # REPEATED before a kind: the column is [distinct values, index of each item's value].
    DATETIME, DATE, TEXT, REPEATED = "datetime", "date", "text", "repeated "

    def __init__(self, groups: list[list[Any]], order: list[int] | None) -> None:
        self.groups, self.order = groups, order

    @classmethod
    def of(cls, items: list[dict[str, Any]]) -> Columns:
        shapes: dict[tuple[str, ...], int] = {}
        members: list[list[dict[str, Any]]] = []
        order = []
        for item in items:
            shape = tuple(item)
            index = shapes.setdefault(shape, len(shapes))
            if index == len(members):
                members.append([])
            members[index].append(item)
            order.append(index)
        groups = []
        for shape, group in zip(shapes, members, strict=True):
            kinds: list[str | None] = []
            columns: list[Any] = []
            for key in shape:
                column = [item[key] for item in group]
                if all(type(v) is datetime for v in column):
                    kind: str | None = cls.DATETIME
                    column = [v.isoformat() for v in column]
                elif all(type(v) is date for v in column):
                    kind = cls.DATE
                    column = [v.isoformat() for v in column]
                elif all(type(v) is str for v in column):
                    kind = cls.TEXT
                else:
                    kinds.append(None)
                    columns.append([_portable(v) for v in column])
                    continue
                # Units, recorders, entry types and deadlines repeat down a column: each
                # distinct value is then stored (and converted) once, and the column holds
                # small ints that index it.
                distinct = list(dict.fromkeys(column))
                if len(distinct) * 2 <= len(column):
                    where = {v: i for i, v in enumerate(distinct)}
                    kinds.append(f"{cls.REPEATED}{kind}")
                    columns.append([distinct, [where[v] for v in column]])
                else:
                    kinds.append(None if kind == cls.TEXT else kind)
                    columns.append(column)
            groups.append([list(shape), kinds, columns])
        return cls(groups, order if len(groups) > 1 else None)


def _portable(value: Any) -> Any:
    # Only what JSON would change is wrapped (and lists of dicts, for speed); everything
    # else keeps its type, so a decoded snapshot compares equal to the aggregate folded
    # from its events.
    if type(value) is dict:
        if all(type(k) is str for k in value):
            return {k: _portable(v) for k, v in value.items()}
        if all(type(k) is int for k in value):
            return IntKeyed(list(value), _portable(list(value.values())))
        raise TypeError("a snapshot keeps dicts keyed by str or int only")
    if type(value) is list:
        if len(value) > 1 and all(type(v) is dict and v and all(type(k) is str for k in v) for v in value):
            return Columns.of(value)
        return [_portable(v) for v in value]
    if type(value) is tuple:
        return Tupled([_portable(v) for v in value])
    if isinstance(value, (set, frozenset)):
        raise TypeError("a snapshot does not keep sets")
    return value


class LedgerSnapshot(Snapshot):
    """The state of an aggregate at a version, stamped with the recorded time of the last
    event it folds (not the time it was taken): "as of T" may start from it when that
    time is at or before T. Derived data: ``careledger verify`` folds the events again
    and compares (infrastructure.snapshot_check)."""

    @classmethod
    def take(cls, aggregate: Any) -> LedgerSnapshot:
        taken = Snapshot.take(aggregate)
        return cls(  # type: ignore[call-arg]
            originator_id=taken.originator_id,
            originator_version=taken.originator_version,
            timestamp=aggregate.modified_on,
            topic=taken.topic,
            state={k: _portable(v) for k, v in taken.state.items()},
        )


class LedgerAggregate(Aggregate):
    """Base of every careledger aggregate: events say who recorded them and when it happened."""

    Snapshot = LedgerSnapshot

    class Event(Aggregate.Event):
        user: str
        unit: str
        occurred_at: datetime

        @staticmethod
        def create_timestamp() -> datetime:
            lent = _recording_clock.get()
            return lent if lent is not None else datetime.now(timezone.utc)

    class Created(Event, Aggregate.Created):
        pass


A = TypeVar("A", bound=type[LedgerAggregate])

# The library's bases every aggregate class has: never stored as such.
_EVENT_BASES = ("Event", "Created")


def event_classes(aggregate: type[LedgerAggregate]) -> dict[str, type[Aggregate.Event]]:
    """The aggregate's own stored event classes, by name."""
    return {name: value for name, value in vars(aggregate).items()
            if inspect.isclass(value) and issubclass(value, Aggregate.Event) and name not in _EVENT_BASES}


def versioned(**versions: int) -> Callable[[A], A]:
    """Class decorator: the version of the shape of each of the aggregate's stored events
    (the library's ``class_version``), part of the contract with every event stored before.

    Every event class must be named, so a new one cannot go unversioned. An event whose
    shape changes gets the next number and, in a class of its own, the library's
    ``upcast_vN_vN+1`` static methods that bring older stored states up to it (checked
    here); events stored before are never rewritten."""

    def declare(aggregate: A) -> A:
        events = event_classes(aggregate)
        if set(events) != set(versions):
            raise TypeError(f"{aggregate.__qualname__}: @versioned must name exactly its stored events "
                            f"(missing {sorted(set(events) - set(versions))}, "
                            f"unknown {sorted(set(versions) - set(events))})")
        for name, version in versions.items():
            cls = events[name]
            declared = getattr(cls, "class_version", version)  # set in an event's own class body
            missing = [f"upcast_v{v}_v{v + 1}" for v in range(1, version) if not hasattr(cls, f"upcast_v{v}_v{v + 1}")]
            if declared != version or missing:
                raise TypeError(f"{aggregate.__qualname__}.{name}: version {version} needs "
                                f"class_version {version} and {missing or 'its upcasters'}")
            cls.class_version = version  # type: ignore[attr-defined]
        return aggregate

    return declare
