"""Every read of a child's personal fields, kept per case (查阅记录)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from domain.base import LedgerAggregate, Stamp, ledger_id, versioned


def access_log_id(case: UUID) -> UUID:
    return ledger_id("case-access-log", case)


@versioned(Opened=1, PersonalDataRead=1)
class CaseAccessLog(LedgerAggregate):
    @staticmethod
    def create_id(*, case_id: UUID, **_: object) -> UUID:
        return access_log_id(case_id)

    @classmethod
    def open(cls, stamp: Stamp, *, case_id: UUID) -> CaseAccessLog:
        return cls(**stamp.fields(), case_id=case_id)

    @event("Opened")
    def __init__(self, *, user: str, unit: str, occurred_at: datetime, case_id: UUID) -> None:
        self.case_id = case_id
        # Only a count: the reads themselves are the events, so loading the log to append a
        # read (with a snapshot) stays cheap however many reads it holds.
        self.read_count = 0

    def note_read(self, stamp: Stamp, *, role: str, endpoint: str) -> None:
        self._personal_data_read(**stamp.fields(), role=role, endpoint=endpoint)

    @event("PersonalDataRead")
    def _personal_data_read(
        self, *, user: str, unit: str, occurred_at: datetime, role: str, endpoint: str
    ) -> None:
        self.read_count += 1
