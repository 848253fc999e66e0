"""The registry: units, unit groups and their duties. Who uses the ledger (users and
tokens) is application.accounts; signing in by token is application.identity."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, cast
from uuid import UUID

from application.access import ADMIN, Actor
from application.commands import Accepted, Command, CommandRunner
from application.errors import Forbidden, NotFound
from application.read_policy import POLICY
from domain.base import LedgerAggregate, Stamp
from domain.registry import Unit, UnitGroup, group_id, unit_id

A = TypeVar("A", bound=LedgerAggregate)


class Registry:
    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner
        self.ledger = runner.ledger
        # Units are never unregistered, so a code once found stays found.
        self._known_units: set[str] = set()

    def add_unit(self, cmd: Command, *, code: str, name: str, group: str | None = None) -> Accepted:
        """Registers a unit, idempotent on its code; puts it in ``group`` (made on first use)."""
        POLICY.require_role(cmd.actor, ADMIN, doing="管理单位和用户", rule="administer")

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            if self.ledger.exists(group_id(code)):
                raise Forbidden("该代码已是单位组的代码", rule="unit_code_distinct_from_groups")
            unit = self._found(Unit, unit_id(code)) or Unit.register(stamp, code=code, name=name)
            others: list[LedgerAggregate] = []
            if group:
                if self.ledger.exists(unit_id(group)):
                    raise Forbidden("该组代码已是某单位的代码", rule="group_code_distinct_from_units")
                members = self._found(UnitGroup, group_id(group)) or UnitGroup.found(stamp, code=group)
                members.admit(stamp, member=code)
                unit.join_group(stamp, group=group)
                others.append(members)
            return unit, others, {"code": code}

        return self.runner.run(cmd, act)

    def define_duty(self, cmd: Command, *, unit: str, duty_id: str, text: str) -> Accepted:
        """Adds ``duty_id`` to the unit's duty catalogue, or gives it a new text. With an
        expected version (a form drawn from the catalogue), a unit changed since is refused:
        two admins numbering a new duty alike must not overwrite each other's."""
        POLICY.require_role(cmd.actor, ADMIN, doing="管理单位和用户", rule="administer")

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self.runner.load_to_change(
                cmd, Unit, unit_id(unit), "单位", lambda _actor, _unit: None)  # the role was checked above
            target.define_duty(stamp, duty_id=duty_id, text=text)
            return target, [], {}

        return self.runner.run(cmd, act)

    def catalogue(self, actor: Actor) -> list[dict[str, Any]]:
        """Every unit, in registration order, with its groups and its duty catalogue (职责清单)
        and the version a form drawn from it expects: what an admin keeps."""
        POLICY.require_role(actor, ADMIN, doing="管理单位和用户", rule="administer")
        return [
            {"code": u.code, "name": u.name, "groups": list(u.groups), "duties": dict(u.duties), "version": u.version}
            for u in cast(list[Unit], self.ledger.registered(Unit.Registered))  # type: ignore[attr-defined]
        ]

    def units(self, codes: Iterable[str]) -> list[str]:
        """Unit codes, with each group code expanded to its members; unknown codes refused."""
        resolved: list[str] = []
        for code in codes:
            if code in self._known_units or self.ledger.exists(unit_id(code)):
                self._known_units.add(code)
                resolved.append(code)
                continue
            group = self.group(code)
            if group is None:
                # What the client sent is not repeated: it may be anything, a child's name too.
                raise NotFound("没有这个单位或单位组", rule="unit_is_registered")
            resolved.extend(group.members)
        return list(dict.fromkeys(resolved))

    def one_unit(self, code: str, refusal: Forbidden) -> str:
        """A single unit's code: a group code (several units) is refused with ``refusal``."""
        found = self.units([code])
        if len(found) != 1:
            raise refusal
        return found[0]

    def unit(self, code: str) -> Unit:
        return self.ledger.load(Unit, unit_id(code), "单位")

    def group(self, code: str) -> UnitGroup | None:
        return self._found(UnitGroup, group_id(code))

    def _found(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            return self.ledger.load(cls, aggregate_id, "")
        except NotFound:
            return None
