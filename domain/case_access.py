"""Every read of a child's personal fields, kept per case (查阅记录)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import InvalidCommand, LedgerAggregate, Stamp, check_text, ledger_id, versioned
from domain.free_text import check_free_text

# A reason is a sentence, not a report: the details of the work belong in the case's entries.
MAX_REASON_LENGTH = 200


def access_log_id(case: UUID) -> UUID:
    return ledger_id("case-access-log", case)


@versioned(Opened=1, PersonalDataRead=2)
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

    def note_read(self, stamp: Stamp, *, role: str, endpoint: str, reason: str | None = None) -> None:
        """``reason``: why the reader opened the fields (the dashboard asks for one). It stays
        in clear, readable after the case's key is erased, so it may not hold the child's
        ID or mobile number."""
        if reason is not None:
            check_reason(reason)
        self._personal_data_read(**stamp.fields(), role=role, endpoint=endpoint, reason=reason)

    class PersonalDataRead(LedgerAggregate.Event):
        """Version 2 keeps the reason the reader gave (reads recorded before had none)."""

        class_version = 2
        role: str
        endpoint: str
        reason: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["reason"] = None

    @event(PersonalDataRead)
    def _personal_data_read(
        self, *, user: str, unit: str, occurred_at: datetime, role: str, endpoint: str, reason: str | None
    ) -> None:
        self.read_count += 1


def check_reason(reason: str) -> None:
    check_text(reason, "personal_read_needs_reason", "查看个人信息须说明理由")
    if len(reason.strip()) > MAX_REASON_LENGTH:
        raise InvalidCommand("personal_read_reason_is_short", f"查阅理由最多 {MAX_REASON_LENGTH} 个字")
    check_free_text("查阅理由", reason)
