"""实施方案: the document that issues the work (e.g. 东政办[2019]6号)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from domain.base import InvalidCommand, LedgerAggregate, Stamp, ledger_id, versioned
from domain.free_text import check_free_text


def plan_id(number: str) -> UUID:
    """One plan per document number."""
    return ledger_id("plan", number)


@versioned(Registered=1)
class Plan(LedgerAggregate):
    @staticmethod
    def create_id(*, number: str, **_: object) -> UUID:
        return plan_id(number)

    @classmethod
    def register(cls, stamp: Stamp, *, number: str, title: str, issuer_unit: str, year: int) -> Plan:
        if not number.strip() or not title.strip():
            raise InvalidCommand("plan_needs_number_and_title", "实施方案须有文号和标题")
        # The number names the plan's exports too (their file titles).
        check_free_text("实施方案文号和标题", number, title)
        if not 1949 <= year <= 2200:
            raise InvalidCommand("plan_year_plausible", "年度不合理")
        return cls(**stamp.fields(), number=number, title=title, issuer_unit=issuer_unit, year=year)

    @event("Registered")
    def __init__(
        self,
        *,
        user: str,
        unit: str,
        occurred_at: datetime,
        number: str,
        title: str,
        issuer_unit: str,
        year: int,
    ) -> None:
        self.number = number
        self.title = title
        self.issuer_unit = issuer_unit
        self.year = year
