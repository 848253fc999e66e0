"""A small district for tests: units, a group, users of every role, a controllable clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from application.access import Actor
from application.commands import SYSTEM, Command

if TYPE_CHECKING:
    from interfaces.bootstrap import Services


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


START = datetime(2019, 3, 1, 9, 0, tzinfo=timezone.utc)

UNITS = [
    ("pf", "普法和依法治理科", None),
    ("gf", "公共法律服务管理科", None),
    ("bgs", "办公室", None),
    ("sfs-cq", "常青花园司法所", "司法所"),
    ("sfs-zml", "走马岭司法所", "司法所"),
]


@dataclass
class District:
    services: Services
    actors: dict[str, Actor] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # The ledger and its services (ledger, issues, cases, registry, accounts, ...).
        return getattr(self.__dict__["services"], name)

    def cmd(self, who: str, **kw: object) -> Command:
        return Command(actor=self.actors[who], **kw)  # type: ignore[arg-type]


USERS = [
    ("supervisor", "bgs", "supervisor"),
    ("inspector", "bgs", "inspector"),
    ("admin", "bgs", "admin"),
    ("pf-clerk", "pf", "agency"),
    ("gf-clerk", "gf", "agency"),
    ("cq-clerk", "sfs-cq", "agency"),
    ("zml-clerk", "sfs-zml", "agency"),
]


def seed(services: Services) -> District:
    district = District(services)
    for code, name, group in UNITS:
        services.registry.add_unit(Command(SYSTEM), code=code, name=name, group=group)
    for name, unit, role in USERS:
        enrolment = services.accounts.add_user(Command(SYSTEM), name=name, unit=unit, role=role)
        district.tokens[name] = enrolment.token
        district.actors[name] = services.identity.authenticate(enrolment.token)
    return district
