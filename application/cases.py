"""儿童个案 commands and reads: personal data sealed per case, every read of it logged.

What is sealed: the person (name, ID number, exact birth date, address, guardian), the
guardian records, and the free text written on the case: report details, service and visit
notes, correction reasons, and corrections of any of these. Commands open the seal only for
what a rule needs (the exact birth date for the age rules); nothing opened is shown, so
those openings are not reads and are not logged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application import access
from application.access import AGENCY, SUPERVISOR, Actor
from application.errors import Forbidden, NotFound
from application.personal_data import ERASED, CaseKeys, seal, unseal
from application.read_policy import POLICY
from application.rubric import RUBRIC_VERSION
from domain.base import InvalidCommand, LedgerAggregate, RuleViolated, Stamp, recording_at
from domain.case import SEALED_CHANGES, ChildCase, case_id, month_of, new_case_number
from domain.case_access import CaseAccessLog, access_log_id
from domain.person import MAX_NAME_LENGTH, check_person, check_person_values

if TYPE_CHECKING:
    from application.ledger import Accepted, Command, Ledger, SnapshotReads

SEALED_MARK = "［已加密］"
ERASED_MARK = "［已删除］"
# Reads of the access log race only with each other; a handful of retries settles them.
ACCESS_LOG_ATTEMPTS = 8
# The fields a correction may change that are personal data, by the entry they correct:
# the service seals them (with the entry's other sealed fields) before the case sees them.
PERSONAL_CHANGES: dict[str, frozenset[str]] = {
    "Registered": frozenset({"name", "id_number", "birth_date", "address", "guardian"}),
    "GuardianshipRecorded": frozenset({"guardian"}),
    "MandatoryReportFiled": frozenset({"details"}),
    "ServiceProvided": frozenset({"notes"}),
    "Visited": frozenset({"notes"}),
}
GUARDIAN_FIELDS = {"name": MAX_NAME_LENGTH, "relation": 100, "phone": 32}
_PHONE = re.compile(r"[0-9+\- ]*")  # as the guardianship request takes it
# Names only the service writes: a caller cannot make sealed text, nor a clear birth month
# that disagrees with it.
SERVICE_CHANGES = SEALED_CHANGES | {"birth_month"}


class CaseCommands:
    """Mixed into the Ledger application: the child-case half of the service layer."""

    case_keys: CaseKeys

    # ---- helpers -------------------------------------------------------------------

    def _ledger(self) -> Ledger:
        return cast("Ledger", self)

    def _case(self, case: UUID, expected: int | None = None) -> ChildCase:
        return self._ledger()._load(ChildCase, case, "儿童个案", expected)

    def _seal(self, case: UUID, fields: dict[str, Any]) -> str:
        return seal(self._key(case), case, fields)

    def _key(self, case: UUID) -> bytes:
        key = self.case_keys.get(case)
        if key is None:
            raise RuleViolated("no_personal_data_after_erasure", "个人信息已删除，不能再记录新的个人信息")
        return key

    def _opened(self, c: ChildCase, sealed: str | None) -> dict[str, Any]:
        """What a command needs from a sealed text; empty once the key is gone."""
        fields = unseal(self.case_keys.get(c.id), c.id, sealed)
        return fields if isinstance(fields, dict) else {}

    def _birth_date(self, c: ChildCase) -> date | None:
        """The exact birth date the age rules count from, opened from the seal; None when
        the case keeps it in clear (registered before it was sealed) or the key is gone."""
        if c.birth_date is not None:
            return None
        value = self._opened(c, c.sealed).get("birth_date")
        return date.fromisoformat(value) if isinstance(value, str) else None

    def _case_command(
        self,
        cmd: Command,
        case: UUID,
        authorise: Callable[[ChildCase], None],
        change: Callable[[ChildCase, Stamp], dict[str, Any] | None],
    ) -> Accepted:
        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            target = self._ledger()._load_to_change(cmd, ChildCase, case, "儿童个案", POLICY.require_case)
            authorise(target)
            return target, [], change(target, stamp) or {}

        return self._ledger()._run(cmd, act)

    def _involved(self, cmd: Command) -> Callable[[ChildCase], None]:
        """Supervisors, the registering unit, and units the case is referred to (open referral)."""

        def check(target: ChildCase) -> None:
            if cmd.actor.role == SUPERVISOR:
                return
            if cmd.actor.role == AGENCY and (
                cmd.actor.unit == target.registering_unit or target.is_referred_to(cmd.actor.unit)
            ):
                return
            raise Forbidden("本单位未登记也未被转介该个案", rule="case_for_supervisors_and_involved_units")

        return check

    def _supervisor_only(self, cmd: Command, doing: str, rule: str) -> Callable[[ChildCase], None]:
        return lambda _case: access.require_role(cmd.actor, SUPERVISOR, doing=doing, rule=rule)

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
        access.require_role(cmd.actor, SUPERVISOR, AGENCY, doing="登记儿童个案", rule="register_case")
        fields = check_person(birth_date=birth_date, **person)
        ledger = self._ledger()
        number = new_case_number(ledger.clock().year)

        def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, Any]]:
            case = case_id(number)
            ChildCase.check_registration(
                stamp, street=street, community=community, household_local=household_local,
                birth_date=birth_date, registering_unit=cmd.actor.unit,
            )
            sealed = seal(self.case_keys.create(case), case, fields)
            registered = ChildCase.register(
                stamp, case_number=number, street=street, community=community,
                household_local=household_local, birth_date=birth_date,
                registering_unit=cmd.actor.unit, sealed=sealed,
            )
            return registered, [], {"case_number": number}

        return ledger._run(cmd, act)

    def classify_case(self, cmd: Command, case: UUID, *, left_behind: bool, categories: list[str],
                      evidence: list[str]) -> Accepted:
        return self._case_command(cmd, case, self._involved(cmd), lambda c, s: c.classify(
            s, left_behind=left_behind, categories=categories, evidence=evidence,
            birth_date=self._birth_date(c) if left_behind is True else None))

    def reassess_case(self, cmd: Command, case: UUID, *, left_behind: bool, categories: list[str],
                      evidence: list[str]) -> Accepted:
        return self._case_command(cmd, case, self._involved(cmd), lambda c, s: c.reassess(
            s, left_behind=left_behind, categories=categories, evidence=evidence,
            birth_date=self._birth_date(c) if left_behind is True else None))

    def record_guardianship(self, cmd: Command, case: UUID, *, arrangement: str,
                            guardian: dict[str, Any]) -> Accepted:
        return self._case_command(cmd, case, self._involved(cmd), lambda c, s: c.record_guardianship(
            s, arrangement=arrangement, sealed=self._seal(case, guardian)))

    def file_mandatory_report(self, cmd: Command, case: UUID, *, reporter: str, nature: str,
                              details: str | None) -> Accepted:
        def change(c: ChildCase, s: Stamp) -> dict[str, Any]:
            sealed = self._seal(case, {"details": details}) if details else None
            return {"report_id": c.file_mandatory_report(s, reporter=reporter, nature=nature, sealed=sealed)}

        return self._case_command(cmd, case, self._involved(cmd), change)

    def _report(self, c: ChildCase, report_id: str) -> None:
        try:
            c.report(report_id)
        except LookupError:
            raise NotFound("该个案没有这份强制报告", rule="report_exists") from None

    def accept_report(self, cmd: Command, case: UUID, report_id: str) -> Accepted:
        def change(c: ChildCase, s: Stamp) -> dict[str, Any]:
            self._report(c, report_id)
            return {"seconds_since_report": c.accept_report(s, report_id=report_id)}

        return self._case_command(cmd, case, self._involved(cmd), change)

    def dispatch_police(self, cmd: Command, case: UUID, report_id: str) -> Accepted:
        def change(c: ChildCase, s: Stamp) -> dict[str, Any]:
            self._report(c, report_id)
            return {"seconds_since_report": c.dispatch_police(s, report_id=report_id)}

        return self._case_command(cmd, case, self._involved(cmd), change)

    def refer_case(self, cmd: Command, case: UUID, *, unit: str, duty: str) -> Accepted:
        target = self._ledger().units([unit])
        if len(target) != 1:
            raise Forbidden("转介须指向一个单位，不能指定单位组", rule="referral_has_one_unit")

        def authorise(c: ChildCase) -> None:
            if cmd.actor.role == SUPERVISOR or (cmd.actor.role == AGENCY and cmd.actor.unit == c.registering_unit):
                return
            raise Forbidden("只有督查督办人员或登记单位可以转介", rule="referral_by_supervisor_or_registering_unit")

        return self._case_command(cmd, case, authorise, lambda c, s: {
            "referral_id": c.refer(s, to_unit=target[0], duty=duty)})

    def close_referral(self, cmd: Command, case: UUID, referral_id: str, *, outcome: str) -> Accepted:
        def change(c: ChildCase, s: Stamp) -> None:
            try:
                c.referral(referral_id)
            except LookupError:
                raise NotFound("该个案没有这项转介", rule="referral_exists") from None
            c.close_referral(s, referral_id=referral_id, outcome=outcome)

        return self._case_command(cmd, case, self._involved(cmd), change)

    def provide_service(self, cmd: Command, case: UUID, *, kind: str, referral_id: str | None,
                        notes: str | None) -> Accepted:
        def change(c: ChildCase, s: Stamp) -> dict[str, Any]:
            if referral_id is not None:
                try:
                    c.referral(referral_id)
                except LookupError:
                    raise NotFound("该个案没有这项转介", rule="referral_exists") from None
            sealed = self._seal(case, {"notes": notes}) if notes else None
            return {"seconds_since_referral": c.provide_service(s, kind=kind, referral_id=referral_id, sealed=sealed)}

        return self._case_command(cmd, case, self._involved(cmd), change)

    def visit_case(self, cmd: Command, case: UUID, *, notes: str | None) -> Accepted:
        return self._case_command(cmd, case, self._involved(cmd), lambda c, s: c.visit(
            s, sealed=self._seal(case, {"notes": notes}) if notes else None))

    def evaluate_case(self, cmd: Command, case: UUID, *, year: int, grade: str, score: float,
                      findings: str) -> Accepted:
        return self._case_command(cmd, case, self._supervisor_only(cmd, "年终考核", "evaluate"), lambda c, s: c.evaluate(
            s, year=year, grade=grade, score=score, findings=findings, rubric_version=RUBRIC_VERSION))

    def close_case(self, cmd: Command, case: UUID, *, reason: str) -> Accepted:
        return self._case_command(cmd, case, self._supervisor_only(cmd, "结案", "close_case"),
                                  lambda c, s: c.close(s, reason=reason, birth_date=(
                                      self._birth_date(c) if reason == "aged_16" else None)))

    def reopen_case(self, cmd: Command, case: UUID, *, reason: str) -> Accepted:
        return self._case_command(cmd, case, self._supervisor_only(cmd, "重新打开", "reopen_case"),
                                  lambda c, s: c.reopen(s, reason=reason))

    def erase_personal_data(self, cmd: Command, case: UUID, *, reason: str) -> Accepted:
        def change(c: ChildCase, s: Stamp) -> None:
            c.erase_personal_data(s, reason=reason)
            # The key and the snapshots go first: if recording the erasure then fails, the
            # data is gone anyway and a retry records it; the other order could leave data
            # readable, or (a crash between the two) snapshots no later command deletes.
            self.case_keys.erase(case)
            self._forget_snapshots(case)

        return self._case_command(cmd, case, self._supervisor_only(cmd, "删除个人信息", "erase"), change)

    def correct_case_entry(self, cmd: Command, case: UUID, *, position: int, changes: dict[str, Any],
                           reason: str) -> Accepted:
        """Personal fields in ``changes`` are sealed, together with the rest of the entry's
        sealed fields, and so is the reason while the case key lives."""
        versions: list[int] = []
        ledger = self._ledger()
        reserved = sorted(SERVICE_CHANGES & changes.keys())
        if reserved:
            raise InvalidCommand(
                "correction_changes_correctable_fields", f"该记录不能更正这些字段：{'、'.join(reserved)}"
            )
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidCommand("correction_needs_reason", "更正须说明理由")

        def authorise(c: ChildCase) -> None:
            self._involved(cmd)(c)
            located = ledger.index.locate(position)
            if located is None or located[0] != case:
                raise RuleViolated("correction_names_earlier_event", "更正须指向本个案较早的一条记录")
            entry = c.recorder_of(located[1])
            access.may_correct(cmd.actor, entry["user"] if entry else "")
            versions.append(located[1])

        def change(c: ChildCase, s: Stamp) -> None:
            version = versions[0]
            sealed_changes, birth_date = self._sealed_changes(
                c, version, changes, reads_personal=POLICY.may_read_personal(cmd.actor, c))
            alive = self.case_keys.get(case) is not None
            c.correct(
                s, corrected_version=version, position=position, changes=sealed_changes,
                reason=None if alive else reason,
                sealed_reason=self._seal(case, {"reason": reason}) if alive else None,
                birth_date=birth_date,
            )

        return self._case_command(cmd, case, authorise, change)

    def _sealed_changes(
        self, c: ChildCase, version: int, changes: dict[str, Any], *, reads_personal: bool
    ) -> tuple[dict[str, Any], date | None]:
        """The changes as the case records them, with the personal ones sealed; and the exact
        birth date the corrected case has, for the age rules."""
        entry = c.recorder_of(version) or {}
        kind = entry.get("type", "")
        personal = {k: v for k, v in changes.items() if k in PERSONAL_CHANGES.get(kind, ())}
        if kind == "EntryCorrected" and "reason" in changes and self.case_keys.get(c.id) is not None:
            personal = {"reason": changes["reason"]}
        clear = {k: v for k, v in changes.items() if k not in personal}
        birth_date = self._birth_date(c)
        if not personal:
            return clear, birth_date
        key = self._key(c.id)
        if kind == "EntryCorrected":
            if not isinstance(personal["reason"], str) or not personal["reason"].strip():
                raise InvalidCommand("correction_values_valid", "更正后的值格式不正确")
            return {**clear, "sealed_reason": seal(key, c.id, {"reason": personal["reason"]})}, birth_date
        if kind == "Registered":
            fields, birth_date = self._corrected_person(c, personal, reads_personal)
            sealed = {"sealed": seal(key, c.id, fields)}
            if "birth_date" in personal:
                sealed["birth_month"] = month_of(birth_date)
            return {**clear, **sealed}, birth_date
        current = self._opened(c, _sealed_of(c, kind, version))
        return {**clear, "sealed": seal(key, c.id, {**current, **_checked_personal(kind, personal, current)})}, birth_date

    def _corrected_person(
        self, c: ChildCase, personal: dict[str, Any], reads_personal: bool
    ) -> tuple[dict[str, Any], date]:
        """The corrected person, checked. Each given value is checked on its own before
        anything is compared with the sealed fields; and one who may not read them must
        correct the ID number and the birth date together, so that no answer compares a
        value of theirs with a sealed one (a guess at the sealed birth date, by ID numbers
        made for each day, would otherwise be answered)."""
        check_person_values(personal)
        try:
            if "birth_date" in personal:
                date.fromisoformat(str(personal["birth_date"]))
        except ValueError:
            raise InvalidCommand("correction_values_valid", "更正后的值格式不正确") from None
        if not reads_personal and ("id_number" in personal) != ("birth_date" in personal):
            raise InvalidCommand(
                "id_number_corrected_with_birth_date", "更正身份证号码或出生日期时，须同时填写两者"
            )
        current = self._opened(c, c.sealed)
        merged = {**current, **personal}
        try:
            birth_date = date.fromisoformat(str(merged.get("birth_date") or c.birth_date))
        except ValueError:
            raise InvalidCommand("correction_values_valid", "更正后的值格式不正确") from None
        if any(not isinstance(merged.get(k, ""), (str, type(None))) for k in ("name", "id_number", "address", "guardian")):
            raise InvalidCommand("correction_values_valid", "更正后的值格式不正确")
        fields = check_person(
            name=merged.get("name", ""), id_number=merged.get("id_number", ""), birth_date=birth_date,
            address=merged.get("address"), guardian=merged.get("guardian"),
        )
        return fields, birth_date

    # ---- reads ---------------------------------------------------------------------

    def case_access(self, actor: Actor, case: ChildCase) -> bool:
        """Whether ``actor`` may see the case (NotFound when not: application.read_policy),
        and answers whether with its personal fields."""
        POLICY.require_case(actor, case)
        return POLICY.may_read_personal(actor, case)

    def read_case(
        self, actor: Actor, case: UUID, *, endpoint: str, as_of: datetime | None = None
    ) -> tuple[ChildCase, dict[str, Any] | None]:
        """The case (now or as of a moment) and, for those allowed, its personal fields opened.

        The read is logged before the fields are opened, so no one sees them unrecorded.
        """
        ledger = self._ledger()
        current = self._case(case)
        personal = self.case_access(actor, current)
        shown = current if as_of is None else ledger._as_of(ChildCase, case, "儿童个案", as_of)
        if not personal:
            return shown, None
        key = self.case_keys.get(case)
        if key is None:
            return shown, {"erased": True}
        self._log_read(actor, case, endpoint)
        return shown, open_personal_fields(shown, key)

    def _log_read(self, actor: Actor, case: UUID, endpoint: str) -> None:
        ledger = self._ledger()
        for _ in range(ACCESS_LOG_ATTEMPTS):
            now = ledger.clock()
            stamp = Stamp.make(user=actor.name, unit=actor.unit, recorded_at=now)
            with recording_at(now):
                try:
                    log = cast(CaseAccessLog, ledger.repository.get(access_log_id(case)))
                except AggregateNotFoundError:
                    log = CaseAccessLog.open(stamp, case_id=case)
                log.note_read(stamp, role=actor.role, endpoint=endpoint)
            try:
                ledger.save(log)
                return
            except IntegrityError:
                continue
        raise RuleViolated("access_log_busy", "查阅记录写入冲突，请重试")

    def case_access_log(self, actor: Actor, case: UUID) -> list[dict[str, Any]]:
        POLICY.require_access_log(actor)
        self._case(case)
        return [
            {"user": e.user, "unit": e.unit, "role": e.role, "endpoint": e.endpoint, "at": e.occurred_at}
            for e in self._ledger().repository.event_store.get(access_log_id(case))
            if isinstance(e, CaseAccessLog.PersonalDataRead)  # type: ignore[attr-defined]
        ]

    def case_history(self, actor: Actor, case: UUID) -> list[dict[str, Any]]:
        target = self._case(case)
        self.case_access(actor, target)
        entries = self._ledger().history(case)
        for entry in entries:
            hide_legacy_birth_date(entry["type"], entry["fields"])
            mask_sealed(entry["fields"])
        return entries

    def _forget_snapshots(self, case: UUID) -> None:
        """Snapshots are derived (not Merkle leaves): a case's are deleted on erasure, as a
        case registered before the exact date was sealed has it in clear in every one."""
        ledger = self._ledger()
        if ledger.snapshots is not None:
            table = ledger.snapshots.recorder.events_table_name  # type: ignore[attr-defined]
            cast("SnapshotReads", ledger.recorder).delete_snapshots(case, table)


def _sealed_of(c: ChildCase, kind: str, version: int) -> str | None:
    """The sealed text an entry holds now (corrections applied)."""
    if kind == "GuardianshipRecorded":
        return next(g["sealed"] for g in c.guardianships if g["version"] == version)
    if kind == "MandatoryReportFiled":
        return c.reports[(c.recorder_of(version) or {})["report_id"]].get("sealed")
    items = c.services if kind == "ServiceProvided" else c.visits
    return next(i.get("sealed") for i in items if i["version"] == version)


def _checked_personal(kind: str, personal: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Corrected personal values as valid as the originals (the request schemas' limits)."""
    invalid = InvalidCommand("correction_values_valid", "更正后的值格式不正确")
    if kind == "GuardianshipRecorded":
        guardian = personal["guardian"]
        if not isinstance(guardian, dict) or set(guardian) - GUARDIAN_FIELDS.keys():
            raise invalid
        merged = {**current, **guardian}
        for name, limit in GUARDIAN_FIELDS.items():
            value = merged.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise invalid
        if not isinstance(merged.get("name"), str) or not merged["name"].strip():
            raise invalid
        if merged.get("phone") is not None and not _PHONE.fullmatch(merged["phone"]):
            raise invalid
        return merged
    for value in personal.values():
        if not isinstance(value, str) or not value.strip() or len(value) > 5000:
            raise invalid
    return dict(personal)


def hide_legacy_birth_date(kind: str, fields: dict[str, Any]) -> None:
    """Entries recorded before the exact birth date was sealed hold it in clear: the history
    shows its month instead (the date itself only in the personal fields)."""
    if kind == "Registered" and fields.get("birth_date") is not None:
        fields["birth_month"] = fields.get("birth_month") or str(fields["birth_date"])[:7]
        del fields["birth_date"]
    elif kind == "EntryCorrected" and isinstance(fields.get("changes"), dict) and "birth_date" in fields["changes"]:
        changes = dict(fields["changes"])
        changes.setdefault("birth_month", str(changes.pop("birth_date"))[:7])
        fields["changes"] = changes


def mask_sealed(fields: dict[str, Any]) -> None:
    """Sealed text never leaves the service in answers: a mark says something is there."""
    for key, value in list(fields.items()):
        if (key == "sealed" or key.startswith("sealed_")) and value is not None:
            fields[key] = SEALED_MARK
        elif isinstance(value, dict):
            mask_sealed(value)


def open_personal_fields(case: ChildCase, key: bytes) -> dict[str, Any]:
    def opened(sealed: str | None) -> Any:
        value = unseal(key, case.id, sealed)
        return ERASED_MARK if value is ERASED else value

    person = opened(case.sealed)
    # A corrected correction shows its latest reason (the correcting entry shows the change).
    reasons: dict[int, dict[str, Any]] = {}
    for c in case.corrections:
        if c["changes"].get("sealed_reason"):
            new = opened(c["changes"]["sealed_reason"])
            reasons[c["corrected_version"]] = new if isinstance(new, dict) else {"reason": new}
    if isinstance(person, dict) and case.birth_date is not None:
        # Registered before the exact date was sealed: it is shown here, not in the case.
        person = {**person, "birth_date": case.birth_date.isoformat()}
    return {
        "person": person,
        "guardianships": [opened(g["sealed"]) for g in case.guardianships],
        "reports": {rid: opened(r.get("sealed")) for rid, r in case.reports.items() if r.get("sealed")},
        "services": [opened(s["sealed"]) for s in case.services if s.get("sealed")],
        "visits": [opened(v["sealed"]) for v in case.visits if v.get("sealed")],
        "corrections": [
            {"version": c["version"], "corrected_version": c["corrected_version"],
             **({"reason": c["reason"]} if c.get("reason") is not None else {}),
             **(opened(c.get("sealed_reason")) or {}),
             **reasons.get(c["version"], {}),
             **({"changes": changes} if (changes := _personal_changes(c["changes"], opened)) else {})}
            for c in case.corrections
            if c.get("sealed_reason") or _personal_changes(c["changes"], opened)
        ],
    }


def _personal_changes(changes: dict[str, Any], opened: Callable[[str | None], Any]) -> dict[str, Any]:
    """What a correction changed that only the personal fields show: sealed changes, the
    sealed new reason of a corrected correction, and a legacy clear birth date."""
    shown: dict[str, Any] = {}
    for key in ("sealed", "sealed_reason"):
        if changes.get(key):
            value = opened(changes[key])
            if not isinstance(value, dict):
                return value  # type: ignore[no-any-return]  # the erased mark
            shown.update(value)
    if changes.get("birth_date") is not None:
        shown["birth_date"] = str(changes["birth_date"])
    return shown
