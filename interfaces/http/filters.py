"""Filter values of list endpoints checked against what exists: an unknown value is a 422
that lists the known ones, not an empty list a person would read as "nothing there"."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from application.commands import SYSTEM
from application.errors import NotFound
from application.issues import Issues
from application.ledger import Ledger
from application.problem_list_import import unit_directory
from application.registry import Registry
from domain.base import InvalidCommand
from domain.plan import Plan
from domain.registry import user_id
from projections.audit_index import known_event_types


class UnknownFilterValue(InvalidCommand):
    """``known_values`` goes into the problem answer; the value sent is never repeated."""

    def __init__(self, parameter: str, what: str, known: Iterable[str] | None, *, hint: str = "") -> None:
        listed = "；已知的值见 known_values" if known is not None else ""
        super().__init__(
            f"{parameter}_is_known", f"查询参数 {parameter} 的值不是已登记的{what}{listed}{hint}"
        )
        self.known_values = sorted(known) if known is not None else None


def unit_codes(registry: Registry, value: str | None) -> set[str] | None:
    """The unit codes ``?unit=`` stands for (a group's code stands for its members)."""
    if value is None:
        return None
    try:
        return set(registry.units([value]))
    except NotFound:
        directory = unit_directory(registry.ledger)
        raise UnknownFilterValue(
            "unit", "单位代码或单位组代码", [*directory.units.values(), *directory.groups]
        ) from None


def recorder_unit(registry: Registry, value: str | None) -> None:
    """``?unit=`` of the audit trail: the unit that recorded an event (a unit code, or
    ``system`` for the command line and the demo loader)."""
    if value is None or value == SYSTEM.unit:
        return
    try:
        registry.unit(value)
    except NotFound:
        raise UnknownFilterValue(
            "unit", "单位代码", [SYSTEM.unit, *unit_directory(registry.ledger).units.values()]
        ) from None


def recorder_user(ledger: Ledger, value: str | None) -> None:
    """``?user=``: a user's name. The names are not listed: staff names are for admins."""
    if value is None or value == SYSTEM.name:
        return
    if user_id(value) not in ledger.repository:
        raise UnknownFilterValue("user", "用户名", None, hint="（用户名单由管理员在 GET /api/v1/users 查看）")


def event_type(value: str | None) -> None:
    if value is not None and value not in known_event_types():
        raise UnknownFilterValue("type", "事件类型", known_event_types())


def plan(issues: Issues, value: UUID | None) -> None:
    if value is None:
        return
    try:
        issues.plan(value)
    except NotFound:
        plans = issues.ledger.registered(Plan.Registered)
        raise UnknownFilterValue("plan", "实施方案 id", [str(p.id) for p in plans]) from None
