"""A small district for tests: units, a group, users of every role, a controllable clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from application.access import Actor
from application.accounts import Accounts
from application.ledger import SYSTEM, Command, Ledger


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
    ledger: Ledger
    actors: dict[str, Actor] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    accounts: Accounts | None = None  # set by the fixture that builds the services

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


def seed(ledger: Ledger) -> District:
    district = District(ledger)
    for code, name, group in UNITS:
        ledger.add_unit(Command(SYSTEM), code=code, name=name, group=group)
    for name, unit, role in USERS:
        enrolment = ledger.add_user(Command(SYSTEM), name=name, unit=unit, role=role)
        district.tokens[name] = enrolment.token
        district.actors[name] = ledger.authenticate(enrolment.token)
    return district
