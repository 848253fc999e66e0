"""儿童个案 commands and reads: personal data sealed per case, every read of it logged.

What is sealed: the person (name, ID number, exact birth date, address, guardian), the
guardian records, and the free text written on the case: report details, service and visit
notes, correction reasons, and corrections of any of these (application.case_seals,
application.case_corrections). Reads of the personal fields are logged before they are
opened (``read_case``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.access import AGENCY, SUPERVISOR, Actor
from application.audit import AuditTrail
from application.case_corrections import check_changes, entry_personal, sealed_changes
from application.case_display import hide_legacy_birth_date, mask_sealed, open_personal_fields
from application.case_seals import CaseSeals
from application.commands import Accepted, Command, CommandRunner
from application.errors import Forbidden, NotFound
from application.family import FamilyService
from application.read_policy import POLICY
from application.registry import Registry
from application.rubric import RUBRIC_VERSION
from domain.base import LedgerAggregate, RuleViolated, Stamp, recording_at
from domain.case import ChildCase
from domain.case_access import CaseAccessLog, access_log_id
from domain.case_corrections import CORRECTIONS
from domain.case_personal import case_id, check_registration, new_case_number
from domain.person import check_person

CASE = "儿童个案"
# Reads of the access log race only with each other; a handful of retries settles them.
ACCESS_LOG_ATTEMPTS = 8


Rule = Callable[[Actor, ChildCase, str | None], None]


def _involved(actor: Actor, case: ChildCase, _item: str | None) -> None:
    POLICY.require_involved(actor, case)


def _supervisor(doing: str, rule: str) -> Rule:
    return lambda actor, _case, _item: POLICY.require_role(actor, SUPERVISOR, doing=doing, rule=rule)


def _referral_unit(case: ChildCase, referral_id: str | None) -> str:
    try:
        return str(case.referral(referral_id or "")["unit"])
    except LookupError:
        raise NotFound("该个案没有这项转介", rule="referral_exists") from None


# Who may send each command on a case, by the command (the method below), and ``item`` the
# report or referral it acts on: asked by the command, and by the pages before they offer its
# form (interfaces.web.offers), so a form is offered exactly when its command would be let through.
CASE_RULES: dict[str, Rule] = {
    "classify_case": _involved,
    "reassess_case": _involved,
    "record_guardianship": _involved,
    "file_mandatory_report": _involved,
    "accept_report": _involved,
    "dispatch_police": _involved,
    "refer_case": lambda actor, case, _item: POLICY.may_refer(actor, case),
    "accept_referral": lambda actor, case, item: POLICY.may_accept_referral(actor, _referral_unit(case, item)),
    "close_referral": _involved,
    "provide_service": _involved,
    "visit_case": _involved,
    "evaluate_case": _supervisor("年终考核", "evaluate"),
    "close_case": _supervisor("结案", "close_case"),
    "reopen_case": _supervisor("重新打开", "reopen_case"),
    "erase_personal_data": _supervisor("删除个人信息", "erase"),
}


def require_corrector(actor: Actor, case: ChildCase, version: int) -> None:
    """Who may correct the case's entry of ``version``: asked by ``correct_case_entry``, and by
    the pages before they offer its form (interfaces.web.case_correction_forms)."""
    POLICY.require_involved(actor, case)
    POLICY.may_correct(actor, case, version)


class Cases(FamilyService[ChildCase]):
    def __init__(self, runner: CommandRunner, registry: Registry, trail: AuditTrail) -> None:
        super().__init__(runner, registry, trail, kind=ChildCase, what=CASE, readable=POLICY.require_case)
        self.seals = CaseSeals(self.ledger.seals)

    def _may(self, cmd: Command, command: str, item: str | None = None) -> Callable[[ChildCase], None]:
        return lambda c: CASE_RULES[command](cmd.actor, c, item)

    def _sealed_if(self, case: UUID, name: str, text: str | None) -> str | None:
        return self.seals.seal(case, {name: text}) if text else None

    # ---- commands ------------------------------------------------------------------

    def register_case(
        self,
        cmd: Command,
        *,
        street: str,
        community: str,
        household_local: bool,
        birth_date: date,
        person: dict[str, Any],
    ) -> Accepted:
        POLICY.require_role(cmd.actor, SUPERVISOR, AGENCY, doing="登记儿童个案", rule="register_case")
        fields = check_person(birth_date=birth_date, **person)
        number = new_case_number(self.ledger.clock().year)

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            case = case_id(number)
            check_registration(
                stamp, street=street, community=community, household_local=household_local,
                birth_date=birth_date, registering_unit=cmd.actor.unit,
            )
            registered = ChildCase.register(
                stamp, case_number=number, street=street, community=community,
                household_local=household_local, birth_date=birth_date,
                registering_unit=cmd.actor.unit, sealed=self.seals.seal_new(case, fields),
            )
            return registered, [], {"case_number": number}

        return self.runner.run(cmd, act)

    def classify_case(self, cmd: Command, case: UUID, *, left_behind: bool, categories: list[str],
                      evidence: list[str]) -> Accepted:
        return self._change(cmd, case, self._may(cmd, "classify_case"), lambda c, s: c.classify(
            s, left_behind=left_behind, categories=categories, evidence=evidence,
            birth_date=self.seals.birth_date(c) if left_behind is True else None))

    def reassess_case(self, cmd: Command, case: UUID, *, left_behind: bool, categories: list[str],
                      evidence: list[str]) -> Accepted:
        return self._change(cmd, case, self._may(cmd, "reassess_case"), lambda c, s: c.reassess(
            s, left_behind=left_behind, categories=categories, evidence=evidence,
            birth_date=self.seals.birth_date(c) if left_behind is True else None))

    def record_guardianship(self, cmd: Command, case: UUID, *, arrangement: str,
                            guardian: dict[str, Any]) -> Accepted:
        return self._change(cmd, case, self._may(cmd, "record_guardianship"), lambda c, s: c.record_guardianship(
            s, arrangement=arrangement, sealed=self.seals.seal(case, guardian)))

    def file_mandatory_report(self, cmd: Command, case: UUID, *, reporter: str, nature: str,
                              details: str | None) -> Accepted:
        return self._change(cmd, case, self._may(cmd, "file_mandatory_report"), lambda c, s: {
            "report_id": c.file_mandatory_report(
                s, reporter=reporter, nature=nature, sealed=self._sealed_if(case, "details", details))})

    def _report(self, c: ChildCase, report_id: str) -> None:
        try:
            c.report(report_id)
        except LookupError:
            raise NotFound("该个案没有这份强制报告", rule="report_exists") from None

    def _referral(self, c: ChildCase, referral_id: str) -> None:
        _referral_unit(c, referral_id)

    def accept_report(self, cmd: Command, case: UUID, report_id: str) -> Accepted:
        def change(c: ChildCase, s: Stamp) -> dict[str, Any]:
            self._report(c, report_id)
            return {"seconds_since_report": c.accept_report(s, report_id=report_id)}

        return self._change(cmd, case, self._may(cmd, "accept_report"), change)

    def dispatch_police(self, cmd: Command, case: UUID, report_id: str) -> Accepted:
        def change(c: ChildCase, s: Stamp) -> dict[str, Any]:
            self._report(c, report_id)
            return {"seconds_since_report": c.dispatch_police(s, report_id=report_id)}

        return self._change(cmd, case, self._may(cmd, "dispatch_police"), change)

    def refer_case(self, cmd: Command, case: UUID, *, unit: str, duty: str) -> Accepted:
        target = self.registry.one_unit(
            unit, Forbidden("转介须指向一个单位，不能指定单位组", rule="referral_has_one_unit")
        )
        return self._change(cmd, case, self._may(cmd, "refer_case"), lambda c, s: {
            "referral_id": c.refer(s, to_unit=target, duty=duty)})

    def close_referral(self, cmd: Command, case: UUID, referral_id: str, *, outcome: str) -> Accepted:
        def change(c: ChildCase, s: Stamp) -> None:
            self._referral(c, referral_id)
            c.close_referral(s, referral_id=referral_id, outcome=outcome)

        return self._change(cmd, case, self._may(cmd, "close_referral"), change)

    def accept_referral(self, cmd: Command, case: UUID, referral_id: str) -> Accepted:
        return self._change(cmd, case, self._may(cmd, "accept_referral", referral_id), lambda c, s: {
            "seconds_since_referral": c.accept_referral(s, referral_id=referral_id)})

    def provide_service(self, cmd: Command, case: UUID, *, kind: str, referral_id: str | None,
                        notes: str | None, evidence: Sequence[str] = ()) -> Accepted:
        def change(c: ChildCase, s: Stamp) -> dict[str, Any]:
            if referral_id is not None:
                self._referral(c, referral_id)
            sealed = self._sealed_if(case, "notes", notes)
            return {"seconds_since_referral": c.provide_service(
                s, kind=kind, referral_id=referral_id, sealed=sealed, evidence=evidence)}

        return self._change(cmd, case, self._may(cmd, "provide_service"), change)

    def visit_case(self, cmd: Command, case: UUID, *, notes: str | None) -> Accepted:
        return self._change(cmd, case, self._may(cmd, "visit_case"), lambda c, s: c.visit(
            s, sealed=self._sealed_if(case, "notes", notes)))

    def evaluate_case(self, cmd: Command, case: UUID, *, year: int, grade: str, score: float,
                      findings: str) -> Accepted:
        return self._change(cmd, case, self._may(cmd, "evaluate_case"), lambda c, s: c.evaluate(
            s, year=year, grade=grade, score=score, findings=findings, rubric_version=RUBRIC_VERSION))

    def close_case(self, cmd: Command, case: UUID, *, reason: str) -> Accepted:
        return self._change(cmd, case, self._may(cmd, "close_case"),
                            lambda c, s: c.close(s, reason=reason, birth_date=(
                                self.seals.birth_date(c) if reason == "aged_16" else None)))

    def reopen_case(self, cmd: Command, case: UUID, *, reason: str) -> Accepted:
        return self._change(cmd, case, self._may(cmd, "reopen_case"),
                            lambda c, s: c.reopen(s, reason=reason))

    def erase_personal_data(self, cmd: Command, case: UUID, *, reason: str) -> Accepted:
        def change(c: ChildCase, s: Stamp) -> None:
            c.erase_personal_data(s, reason=reason)
            # The key and the snapshots go first: if recording the erasure then fails, the
            # data is gone anyway and a retry records it; the other order could leave data
            # readable, or (a crash between the two) snapshots no later command deletes.
            self.seals.erase(case)
            self.ledger.forget_snapshots(case)

        return self._change(cmd, case, self._may(cmd, "erase_personal_data"), change)

    def correct_case_entry(self, cmd: Command, case: UUID, *, position: int, changes: dict[str, Any],
                           reason: str) -> Accepted:
        """Personal fields in ``changes`` are sealed, together with the rest of the entry's
        sealed fields, and so is the reason while the case key lives."""
        versions: list[int] = []
        check_changes(changes, reason)

        def authorise(c: ChildCase) -> None:
            POLICY.require_involved(cmd.actor, c)
            versions.append(self.ledger.corrected_version(c, position, CORRECTIONS))
            require_corrector(cmd.actor, c, versions[0])

        def change(c: ChildCase, s: Stamp) -> None:
            version = versions[0]
            changed, birth_date = sealed_changes(
                self.seals, c, version, changes, reads_personal=POLICY.may_read_personal(cmd.actor, c))
            alive = self.seals.alive(case)
            c.correct(
                s, corrected_version=version, position=position, changes=changed,
                reason=None if alive else reason,
                sealed_reason=self.seals.seal(case, {"reason": reason}) if alive else None,
                birth_date=birth_date,
            )

        return self._change(cmd, case, authorise, change)

    # ---- reads ---------------------------------------------------------------------

    def case(self, case: UUID) -> ChildCase:
        return self.ledger.load(ChildCase, case, CASE)

    def case_access(self, actor: Actor, case: ChildCase) -> bool:
        """Whether ``actor`` may see the case (NotFound when not: application.read_policy),
        and answers whether with its personal fields."""
        POLICY.require_case(actor, case)
        return POLICY.may_read_personal(actor, case)

    def read_case(
        self, actor: Actor, case: UUID, *, endpoint: str, as_of: datetime | None = None,
        reason: str | None = None,
    ) -> tuple[ChildCase, dict[str, Any] | None]:
        """The case (now or as of a moment) and, for those allowed, its personal fields opened.

        The read is logged (with ``reason`` when the reader gave one) before the fields are
        opened, so no one sees them unrecorded.
        """
        current = self.case(case)
        personal = self.case_access(actor, current)
        shown = current if as_of is None else self.ledger.as_of(ChildCase, case, CASE, as_of)
        if not personal:
            return shown, None
        unseal = self.ledger.seals.opener(case)
        if unseal is None:
            return shown, {"erased": True}
        self._log_read(actor, case, endpoint, reason)
        return shown, open_personal_fields(shown, unseal)

    def read_personal(
        self, actor: Actor, case: UUID, *, endpoint: str, reason: str
    ) -> tuple[ChildCase, dict[str, Any] | None]:
        """查看个人信息 asked for on purpose, with a reason: refused (403) to a reader who may
        see the case but not its personal fields, where ``read_case`` leaves them out."""
        POLICY.require_personal(actor, self.case(case))
        # The access log refuses a blank reason, or one holding an ID or mobile number, before
        # anything is opened (domain.case_access).
        return self.read_case(actor, case, endpoint=endpoint, reason=reason.strip())

    def read_entry_personal(
        self, actor: Actor, case: UUID, version: int, *, endpoint: str, reason: str
    ) -> dict[str, Any]:
        """The personal fields of one entry, for the reader who corrects them (the dashboard's
        更正记录): refused as ``read_personal`` refuses, and logged with ``reason`` before
        anything is opened. Empty once the key is erased."""
        current = self.case(case)
        POLICY.require_personal(actor, current)
        if not self.seals.alive(case):
            return {}
        self._log_read(actor, case, endpoint, reason.strip())
        return entry_personal(self.seals, current, version)

    def _log_read(self, actor: Actor, case: UUID, endpoint: str, reason: str | None = None) -> None:
        for _ in range(ACCESS_LOG_ATTEMPTS):
            now = self.ledger.clock()
            stamp = Stamp.make(user=actor.name, unit=actor.unit, recorded_at=now)
            with recording_at(now):
                try:
                    log = self.ledger.load(CaseAccessLog, access_log_id(case), "查阅记录")
                except NotFound:
                    log = CaseAccessLog.open(stamp, case_id=case)
                log.note_read(stamp, role=actor.role, endpoint=endpoint, reason=reason)
            try:
                self.ledger.save(log)
                return
            except IntegrityError:
                continue
        raise RuleViolated("access_log_busy", "查阅记录写入冲突，请重试")

    def case_access_log(self, actor: Actor, case: UUID) -> list[dict[str, Any]]:
        POLICY.require_access_log(actor)
        self.case(case)
        return [
            {"user": e.user, "unit": e.unit, "role": e.role, "endpoint": e.endpoint, "at": e.occurred_at,
             "reason": e.reason}
            for e in self.ledger.repository.event_store.get(access_log_id(case))
            if isinstance(e, CaseAccessLog.PersonalDataRead)  # type: ignore[attr-defined]
        ]

    def case_history(self, actor: Actor, case: UUID) -> list[dict[str, Any]]:
        self.case_access(actor, self.case(case))
        entries = self.trail.history(case)
        for entry in entries:
            hide_legacy_birth_date(entry["type"], entry["fields"])
            mask_sealed(entry["fields"])
        return entries

    def case_as_of(
        self, actor: Actor, case: UUID, as_of: datetime | None = None
    ) -> tuple[ChildCase, list[dict[str, Any]]]:
        """The case as the ledger held it at ``as_of`` and the entries recorded by then, for a
        reader of its history (personal fields still sealed: nothing is opened, so this is
        no read to log). Access follows the case's parties now, as ``issue_as_of`` does."""
        history = self.case_history(actor, case)
        if as_of is None:
            return self.case(case), history
        then = self.ledger.as_of(ChildCase, case, CASE, as_of)
        return then, [e for e in history if e["recorded_at"] <= as_of]
