"""催办回复: the urged unit answers an urging, by the reply-by date the office set.

Composed into RectificationIssue (domain.issue) as a base class: the event is the issue's own
(the library defines ``RectificationIssue.UrgingReplied`` from the class here), so its topic is
the issue's like every other. An urging's id is the version of its Urged event, as text: stable,
already what the issue's history names it by, and no change to the Urged events stored before.
A reply adds its fields to the urging only once given, so state folded from older events and
the snapshots taken of it keep one shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from domain.base import LedgerAggregate, RuleViolated, Stamp, check_text
from domain.correction import CorrectableAggregate
from domain.free_text import check_free_text
from domain.person import beijing_day

AWAITING_REPLY, REPLIED_ON_TIME, REPLIED_LATE = "awaiting_reply", "replied_on_time", "replied_late"

if TYPE_CHECKING:  # what the aggregate composing it gives it
    _Base = CorrectableAggregate
else:
    _Base = object


def urging_id(urging: Mapping[str, Any]) -> str:
    return str(urging["version"])


def reply_status(urging: Mapping[str, Any]) -> str:
    """Awaiting a reply, replied by the reply-by date, or replied after it (on an aggregate's
    urging or a view's)."""
    if urging.get("replied_at") is None:
        return AWAITING_REPLY
    return REPLIED_LATE if urging["reply_late"] else REPLIED_ON_TIME


def shown(urgings: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The urgings as an answer lists them: each with its id and where its reply stands."""
    return [{**u, "urging_id": urging_id(u), "reply_status": reply_status(u)} for u in urgings]


def is_late(reply_by: date, replied_at: datetime) -> bool:
    """A reply is late when given on a day (Beijing time) after the reply-by date."""
    return beijing_day(replied_at) > reply_by


class UrgingReplies(_Base):
    if TYPE_CHECKING:
        urgings: list[dict[str, Any]]

    class UrgingReplied(LedgerAggregate.Event):
        urging_id: str
        message: str
        late: bool

        def apply(self, aggregate: Any) -> None:
            aggregate._note_entry("UrgingReplied", self.user, self.unit, urging_id=self.urging_id)
            aggregate.urging(self.urging_id).update(
                reply=self.message, replied_at=self.occurred_at, replied_by=self.user, reply_late=self.late
            )

    def urging(self, urging_id_: str) -> dict[str, Any]:
        for urging in self.urgings:
            if urging_id(urging) == urging_id_:
                return urging
        raise LookupError(urging_id_)

    def reply_to_urging(self, stamp: Stamp, *, urging_id: str, message: str) -> bool:
        """The stamp's unit answers the urging; answers whether the reply is late."""
        self._must_be_open("回复催办")
        urging = self.urging(urging_id)
        if urging["unit"] != stamp.unit:
            raise RuleViolated("only_urged_unit_replies", "只有被催办的单位可以回复该催办")
        if urging.get("replied_at") is not None:
            raise RuleViolated("urging_replied_once", "该催办已回复，不能再次回复")
        check_text(message, "reply_needs_message", "催办回复不能为空")
        check_free_text("催办回复", message)
        if stamp.occurred_at < urging["occurred_at"]:
            raise RuleViolated("reply_not_before_urging", "回复时间不能早于催办时间")
        late = is_late(urging["reply_by"], stamp.occurred_at)
        self.trigger_event(self.UrgingReplied, **stamp.fields(), urging_id=urging_id, message=message, late=late)
        return late
