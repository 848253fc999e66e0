"""接收转介: the referred unit takes the case on. The time from the referral to its acceptance
is the unit's first response (the first service for it is counted too, as before).

Composed into ChildCase (domain.case) as a base class, as domain.urging is into the issue: the
event is the case's own, ``ChildCase.ReferralAccepted``. A referral has its acceptance fields
only once accepted, so state folded from older events and its snapshots keep one shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.base import LedgerAggregate, RuleViolated, Stamp
from domain.correction import CorrectableAggregate
from domain.referral import REFERRAL_OPEN

if TYPE_CHECKING:  # what the aggregate composing it gives it
    _Base = CorrectableAggregate
else:
    _Base = object


AWAITING_ACCEPTANCE, ACCEPTED, NOT_ACCEPTED = "awaiting_acceptance", "accepted", "not_accepted"


def accepted_at(referral: dict[str, Any]) -> Any:
    return referral.get("accepted_at")


def acceptance(referral: dict[str, Any]) -> str:
    """Taken on, waiting to be (open), or ended without ever being taken on (on an aggregate's
    referral or a view's)."""
    if accepted_at(referral) is not None:
        return ACCEPTED
    return AWAITING_ACCEPTANCE if referral["status"] == REFERRAL_OPEN else NOT_ACCEPTED


def shown(referral: dict[str, Any]) -> dict[str, Any]:
    """A referral as an answer lists it: the acceptance fields always there, None until taken on."""
    return {"accepted_at": None, "accepted_by": None, "seconds_to_acceptance": None, **referral,
            "acceptance": acceptance(referral)}


class ReferralAcceptance(_Base):
    if TYPE_CHECKING:
        def referral(self, referral_id: str) -> dict[str, Any]: ...

    class ReferralAccepted(LedgerAggregate.Event):
        referral_id: str
        seconds_since_referral: int

        def apply(self, aggregate: Any) -> None:
            aggregate._note_entry("ReferralAccepted", self.user, self.unit, referral_id=self.referral_id)
            aggregate.referrals[self.referral_id].update(
                accepted_at=self.occurred_at, accepted_by=self.unit,
                seconds_to_acceptance=self.seconds_since_referral,
            )

    def accept_referral(self, stamp: Stamp, *, referral_id: str) -> int:
        """The stamp's unit takes the case on; answers the seconds since the referral."""
        self._must_be_open("接收转介")
        referral = self.referral(referral_id)
        if referral["unit"] != stamp.unit:
            raise RuleViolated("only_referred_unit_accepts", "只有被转介的单位可以接收该转介")
        if referral["status"] != REFERRAL_OPEN:
            raise RuleViolated("only_open_referral_accepted", "该转介已结束，不能接收")
        if accepted_at(referral) is not None:
            raise RuleViolated("referral_accepted_once", "该转介已接收")
        if stamp.occurred_at < referral["referred_at"]:
            raise RuleViolated("acceptance_not_before_referral", "接收时间不能早于转介时间")
        seconds = int((stamp.occurred_at - referral["referred_at"]).total_seconds())
        self.trigger_event(self.ReferralAccepted, **stamp.fields(), referral_id=referral_id,
                           seconds_since_referral=seconds)
        return seconds
