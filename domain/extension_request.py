"""延期申请: a responsible unit asks for a later deadline; the supervision office decides.

Composed into RectificationIssue (domain.issue) as a base class, as domain.urging is. An
approval records the decision and then the issue's own DeadlineExtended, so the deadline, the
extensions listed and every view that follows DeadlineExtended move as for an extension the
office grants unasked. The requests are kept in state only once there is one, so state folded
from older events and the snapshots taken of it keep one shape.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from domain.base import InvalidCommand, LedgerAggregate, RuleViolated, Stamp, check_text, found
from domain.correction import CorrectableAggregate
from domain.free_text import check_free_text

PENDING, APPROVED, REFUSED = "pending", "approved", "refused"

if TYPE_CHECKING:  # what the aggregate composing it gives it
    _Base = CorrectableAggregate
else:
    _Base = object


def check_later(current: date | None, deadline: date) -> None:
    """A deadline asked for or granted is later than the one in force (the rules of extend_deadline)."""
    if current is None:
        raise RuleViolated("extension_needs_a_deadline", "尚未交办、没有整改期限，不能延期")
    if deadline <= current:
        raise InvalidCommand("extension_moves_deadline_later", "延期后的期限须晚于原期限")


class ExtensionRequests(_Base):
    if TYPE_CHECKING:
        deadline: date | None
        units: list[str]

        def extend_deadline(self, stamp: Stamp, *, deadline: date, reason: str) -> None: ...

    class ExtensionRequested(LedgerAggregate.Event):
        request_id: str
        deadline: date
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate._note_entry("ExtensionRequested", self.user, self.unit, request_id=self.request_id)
            vars(aggregate).setdefault("extension_requests", {})[self.request_id] = {
                "request_id": self.request_id, "unit": self.unit, "deadline": self.deadline,
                "previous": aggregate.deadline, "reason": self.reason, "requested_at": self.occurred_at,
                "status": PENDING, "decided_at": None, "decided_by": None, "decision_reason": None,
            }

    class ExtensionDecided(LedgerAggregate.Event):
        request_id: str
        approved: bool
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate._note_entry("ExtensionDecided", self.user, self.unit, request_id=self.request_id)
            aggregate.extension_requests[self.request_id].update(
                status=APPROVED if self.approved else REFUSED, decided_at=self.occurred_at,
                decided_by=self.user, decision_reason=self.reason,
            )

    @property
    def extension_requests(self) -> dict[str, dict[str, Any]]:
        """Every request by id (empty until the first)."""
        requests: dict[str, dict[str, Any]] = vars(self).get("extension_requests", {})
        return requests

    def extension_request(self, request_id: str) -> dict[str, Any]:
        return found(self.extension_requests, request_id)

    def request_extension(self, stamp: Stamp, *, deadline: date, reason: str) -> str:
        """The stamp's unit asks; answers the request's id."""
        self._must_be_open("申请延期")
        if stamp.unit not in self.units:
            raise RuleViolated("only_responsible_unit_requests_extension", "只有该问题的责任单位可以申请延期")
        check_later(self.deadline, deadline)
        check_text(reason, "extension_needs_reason", "延期须说明理由")
        check_free_text("延期理由", reason)
        if any(r["unit"] == stamp.unit and r["status"] == PENDING for r in self.extension_requests.values()):
            raise RuleViolated("one_pending_extension_request_per_unit", "本单位已有一项延期申请尚待审批")
        request_id = f"ER{len(self.extension_requests) + 1}"
        self.trigger_event(self.ExtensionRequested, **stamp.fields(), request_id=request_id, deadline=deadline,
                           reason=reason)
        return request_id

    def decide_extension(self, stamp: Stamp, *, request_id: str, approved: bool, reason: str) -> None:
        self._must_be_open("审批延期申请")
        request = self.extension_request(request_id)
        if request["status"] != PENDING:
            raise RuleViolated("extension_request_decided_once", "该延期申请已审批，不能再次审批")
        check_text(reason, "decision_needs_reason", "审批须说明理由")
        check_free_text("审批意见", reason)
        if approved:
            # The deadline may have moved since the request (a new assignment, an extension).
            check_later(self.deadline, request["deadline"])
        self.trigger_event(self.ExtensionDecided, **stamp.fields(), request_id=request_id, approved=approved,
                           reason=reason)
        if approved:
            self.extend_deadline(stamp, deadline=request["deadline"], reason=reason)
