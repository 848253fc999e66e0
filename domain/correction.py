"""Corrections: nothing is edited; a correction is a new entry that changes fields of an
earlier one, which stays as it was recorded.

One ``Corrections`` per aggregate says which entries a correction may change and which of
their fields, which of those are the child's personal data (and so arrive sealed), and
where each entry's values live in state. The aggregate checks and applies corrections
through it and every view folds them through it, so what may be corrected, what a
correction does to the aggregate and what it does to a view cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from domain.base import InvalidCommand, LedgerAggregate, RuleViolated

# A correction may change an entry's claimed time; state keeps no copy of it (the views
# read it from the events), so it is checked but never applied.
TIME = "occurred_at"


@dataclass(frozen=True)
class Ref:
    """A step of a path into state that the corrected entry names: the key it noted when
    it was recorded (its ``report_id``, ``measure_id``, ``year``), or its own version."""

    name: str


VERSION = Ref("version")


@dataclass(frozen=True)
class Correctable:
    """What a correction may change in one kind of entry, and where its values live.

    ``fields`` are stored as given. ``personal`` are the child's personal data: the
    application seals them, with the rest of the entry's sealed text, into ``sealed_as``
    (a field in both sets is sealed while the case key lives and clear once it is erased);
    ``derived`` it writes beside the seal. ``at`` is the path to the entry's values in
    state (None: no state keeps them); a list on the path is searched for the item of the
    entry's version. ``renamed`` gives a field's name in state where it differs, ``clears``
    a field a correction of the named one makes unknown, and ``only_while`` a flag of
    state without which the correction changes nothing there."""

    fields: frozenset[str] = frozenset()
    personal: frozenset[str] = frozenset()
    sealed_as: str = "sealed"
    derived: frozenset[str] = frozenset()
    retimable: bool = True
    at: tuple[str | Ref, ...] | None = ()
    renamed: Mapping[str, str] = field(default_factory=dict)
    clears: Mapping[str, str] = field(default_factory=dict)
    only_while: str | None = None

    @property
    def stored(self) -> frozenset[str]:
        """The fields a recorded correction of this entry may change."""
        sealed = {self.sealed_as} if self.personal else set()
        timed = {TIME} if self.retimable else set()
        return self.fields | self.derived | sealed | timed


NOTHING = Correctable(retimable=False, at=None)


class Corrections:
    """The corrections of one aggregate: ``entries`` by the type of the entry corrected;
    ``dates`` and ``date_lists`` the fields stored as ISO text that state keeps as dates."""

    def __init__(
        self, noun: str, entries: dict[str, Correctable], *,
        dates: frozenset[str] = frozenset(), date_lists: frozenset[str] = frozenset(),
    ) -> None:
        self.noun = noun
        self.entries = entries
        self.dates = dates
        self.date_lists = date_lists

    def of(self, kind: str) -> Correctable:
        return self.entries.get(kind, NOTHING)

    @property
    def sealed_fields(self) -> frozenset[str]:
        """The fields that carry sealed text, and so need the case key alive."""
        return frozenset(c.sealed_as for c in self.entries.values() if c.personal)

    @property
    def written_by_service(self) -> frozenset[str]:
        """The fields only the application writes: sealed text, and what it derives."""
        return self.sealed_fields.union(*(c.derived for c in self.entries.values()))

    def to_seal(self, kind: str, changes: Mapping[str, Any], *, key_alive: bool) -> dict[str, Any]:
        """The changes the application seals before the aggregate sees them."""
        spec = self.of(kind)
        personal = spec.personal if key_alive else spec.personal - spec.fields
        return {k: v for k, v in changes.items() if k in personal}

    # ---- checks --------------------------------------------------------------------

    def entry(self, entries: Mapping[int, dict[str, Any]], version: int) -> dict[str, Any]:
        """The entry a correction names, as the aggregate noted it."""
        found = entries.get(version)
        if found is None:
            raise RuleViolated("correction_names_earlier_event", f"更正须指向本{self.noun}较早的一条记录")
        return found

    def check_fields(self, kind: str, changes: object) -> None:
        if not isinstance(changes, dict) or not changes:
            raise InvalidCommand("correction_needs_changes", "更正须写明要更正的内容")
        unknown = sorted(set(changes) - self.of(kind).stored)
        if unknown:
            raise InvalidCommand(
                "correction_changes_correctable_fields",
                f"该记录不能更正这些字段：{'、'.join(unknown)}",
            )

    # ---- state ---------------------------------------------------------------------

    def apply(
        self, state: MutableMapping[str, Any], entries: Mapping[int, dict[str, Any]],
        version: int, changes: Mapping[str, Any],
    ) -> None:
        """A correction applied to an aggregate: ``state`` is its attributes."""
        self._put(state, entries[version], version, changes, key=_same, day=_same, every=True)

    def fold(self, summary: MutableMapping[str, Any], version: int, changes: Mapping[str, Any]) -> None:
        """A correction folded into a view's summary (JSON: keys and dates as text). A view
        keeps fewer fields than the aggregate: it takes the changes to those it holds."""
        entry = summary["entries"][str(version)]
        self._put(summary, entry, version, changes, key=str, day=date.isoformat, every=False)

    def _put(
        self, state: MutableMapping[str, Any], entry: Mapping[str, Any], version: int,
        changes: Mapping[str, Any], *, key: Callable[[Any], Any], day: Callable[[date], Any],
        every: bool,
    ) -> None:
        spec = self.of(entry["type"])
        if spec.at is None or (spec.only_while is not None and not state[spec.only_while]):
            return
        target = _locate(state, spec.at, entry, version, key)
        if target is None:
            return
        for name, value in self._values(changes, day).items():
            name = spec.renamed.get(name, name)
            if every or name in target:
                target[name] = value
                if name in spec.clears:
                    target[spec.clears[name]] = None

    def _values(self, changes: Mapping[str, Any], day: Callable[[date], Any]) -> dict[str, Any]:
        values = {}
        for name, value in changes.items():
            if name == TIME:
                continue
            if name in self.dates and value is not None:
                value = day(_date(value))
            elif name in self.date_lists:
                value = sorted(day(_date(v)) for v in value)
            values[name] = value
        return values


class CorrectableAggregate(LedgerAggregate):
    """An aggregate whose entries can be corrected: it notes what each version recorded
    (its type, recorder and the keys it made), so that a correction can name the entry and
    be checked; once closed, it takes only reopening, evaluation and corrections."""

    if TYPE_CHECKING:  # not annotations at run time: the library makes those event fields
        # The named rule, and what is said, of a command refused by a closed aggregate.
        closed_rule: str
        closed_noun: str
        entries: dict[int, dict[str, Any]]
        corrections: list[dict[str, Any]]
        closed: bool
        # The aggregate's table: what may be corrected, and where each entry's values live.
        correction_table: Corrections

    def recorder_of(self, version: int) -> dict[str, Any] | None:
        return self.entries.get(version)

    def _note_entry(self, kind: str, user: str, unit: str, **refs: Any) -> None:
        # The version being applied is the one after the current version.
        self.entries[self.version + 1] = {"type": kind, "user": user, "unit": unit, **refs}

    def _must_be_open(self, what: str) -> None:
        if self.closed:
            raise RuleViolated(self.closed_rule, f"{self.closed_noun}，不能{what}；只能重新打开、年终考核或更正")

    def _correction_applied(
        self, user: str, unit: str, *, corrected_version: int, corrected_position: int,
        changes: dict[str, Any], reason: str | None, sealed_reason: str | None = None,
    ) -> None:
        """What an EntryCorrected event does to any correctable aggregate: it is an entry
        of its own, it is listed, and it changes the corrected entry's values in place."""
        self._note_entry("EntryCorrected", user, unit)
        self.corrections.append(record(
            version=self.version + 1, corrected_version=corrected_version, position=corrected_position,
            changes=changes, reason=reason, sealed_reason=sealed_reason,
        ))
        # The aggregate's attributes are its state: the correction changes them in place.
        self.correction_table.apply(vars(self), self.entries, corrected_version, changes)


def record(
    *, version: int, corrected_version: int, position: int, changes: Mapping[str, Any],
    reason: str | None, sealed_reason: str | None = None,
) -> dict[str, Any]:
    """A correction as the aggregate lists it."""
    kept: dict[str, Any] = {
        "version": version, "corrected_version": corrected_version,
        "corrected_position": position, "changes": dict(changes), "reason": reason,
    }
    if sealed_reason is not None:
        # Only when present, so older corrections fold to the state their snapshots hold.
        kept["sealed_reason"] = sealed_reason
    return kept


def check_time(changes: Mapping[str, Any], *, recorded_at: datetime) -> None:
    """A corrected time is as valid as an original: with its zone, and not after now."""
    if TIME not in changes:
        return
    try:
        claimed = datetime.fromisoformat(str(changes[TIME]))
    except ValueError:
        claimed = None
    if claimed is None or claimed.tzinfo is None or claimed > recorded_at:
        raise InvalidCommand("correction_values_valid", "更正后的值格式不正确")


def _locate(
    state: MutableMapping[str, Any], path: tuple[str | Ref, ...], entry: Mapping[str, Any],
    version: int, key: Callable[[Any], Any],
) -> Any:
    target: Any = state
    for step in path:
        if not isinstance(step, Ref):
            target = target[step]
            continue
        ref = version if step is VERSION else entry[step.name]
        if isinstance(target, list):
            target = next((item for item in target if item.get("version") == ref), None)
        else:
            target = target.get(key(ref))
        if target is None:
            return None
    return target


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _same(value: Any) -> Any:
    return value
