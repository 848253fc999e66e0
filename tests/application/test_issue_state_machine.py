"""Random issue commands, valid and invalid, against a plain model of the rules.

The model below is written from ../shared/DOMAIN.md and API.md (who may do what, what a
closed issue still takes, what a correction may change), in dicts and sets: it imports
nothing of the domain. After every command the ledger must have accepted exactly what the
model accepts, refused for one of the reasons the model sees (404, 403, 409 or 422), stored
nothing when it refused, and answer the issue as the model holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum
from typing import Any

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from application.commands import Command
from application.errors import ApplicationError, Forbidden, NotFound
from application.ledger import Ledger
from domain.base import DomainError, InvalidCommand, RuleViolated
from domain.plan import plan_id
from interfaces import bootstrap
from interfaces.http.issues import describe_issue
from tests.district import START, USERS, Clock, District, seed

WHO = st.sampled_from(["supervisor", "inspector", "pf-clerk", "gf-clerk", "cq-clerk"])
# Mostly whoever the command is for, so that the issue moves on as well as refusing.
CLERKS = ["pf-clerk", "cq-clerk", "gf-clerk"]
AGENCY = st.one_of(st.sampled_from(CLERKS), WHO)
SUPERVISOR = st.one_of(st.just("supervisor"), WHO)
UNIT = st.sampled_from(["pf", "gf", "sfs-cq", "司法所"])
MEASURE = st.one_of(st.just("M1"), st.sampled_from(["M1", "M2", "M3", "M4"]))
TEXT = st.text(alphabet="整改措施落实abc ", min_size=0, max_size=8)


# ---- the model ----------------------------------------------------------------------


class Refusal(Enum):
    NOT_FOUND = 404  # the issue, or the measure, is not there for this reader
    FORBIDDEN = 403  # the role or the unit may not do this
    STATE = 409  # the issue as it stands forbids it
    INVALID = 422  # the command's own content is wrong


def refusal_of(error: Exception) -> Refusal:
    kinds: list[tuple[type[Exception], Refusal]] = [
        (NotFound, Refusal.NOT_FOUND), (Forbidden, Refusal.FORBIDDEN),
        (RuleViolated, Refusal.STATE), (InvalidCommand, Refusal.INVALID),
    ]
    return next(refusal for kind, refusal in kinds if isinstance(error, kind))


def accepted_as_the_model_says(ledger: Ledger, call: Callable[[], object], why: set[Refusal]) -> bool:
    """Runs the command; ``why`` is what the model would refuse it for (empty: it accepts).
    A refusal must be one the model gives and store nothing; True when the ledger accepted
    it, for the model to do the same."""
    before_log = ledger.recorder.max_notification_id()
    try:
        call()
    except (DomainError, ApplicationError) as error:
        rule = getattr(error, "rule", "")
        assert why, f"the ledger refused ({rule}) a command the rules accept"
        assert refusal_of(error) in why, f"refused for {rule}; the rules refuse it for {why}"
        assert ledger.recorder.max_notification_id() == before_log
        return False
    assert not why, f"the ledger accepted a command the rules refuse ({why})"
    return True


ROLE = {name: role for name, _unit, role in USERS}
UNIT_OF = {name: unit for name, unit, _role in USERS}
GROUPS = {"司法所": ["sfs-cq", "sfs-zml"]}  # a group names every member unit, in registration order
GRADES = {"优秀", "良好", "合格", "不合格"}
# What a correction may change, by the kind of entry corrected.
CORRECTABLE = {
    "Registered": {"duty", "problem", "remarks"},
    "Assigned": {"contact_person", "deadline", "nodes"},
    "MeasureAdopted": {"text", "due"},
    "ProgressReported": {"summary", "evidence"},
    "MeasureCompleted": {"summary"},
    "DeadlineExtended": {"reason"},
    "Urged": {"message", "reply_by"},
    "EvaluatedAtYearEnd": {"grade", "score", "findings"},
    "Closed": {"summary"},
    "Reopened": {"reason"},
    "EntryCorrected": {"reason"},
}


def expand(unit: str) -> list[str]:
    return GROUPS.get(unit, [unit])


@dataclass
class IssueModel:
    units: list[str]
    duty: str = "d"
    contact_person: str | None = None
    deadline: date | None = None
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)
    urgings: list[dict[str, Any]] = field(default_factory=list)
    extensions: list[tuple[date, date]] = field(default_factory=list)
    evaluations: dict[int, dict[str, Any]] = field(default_factory=dict)
    closed: bool = False
    corrections: int = 0
    # One per stored event, in order (the issue's version is its index + 1).
    entries: list[dict[str, Any]] = field(default_factory=list)

    def status(self) -> str:
        if self.closed:
            return "closed"
        if self.measures and all(m["status"] == "completed" for m in self.measures.values()):
            return "awaiting_closure"
        if self.measures:
            return "rectifying"
        return "assigned" if self.deadline is not None else "registered"

    def reads(self, who: str) -> bool:
        """Supervisors and inspectors read every issue; an agency one its unit is responsible
        for, owns a measure of, or was urged on."""
        unit = UNIT_OF[who]
        return ROLE[who] != "agency" or (
            unit in self.units or any(m["unit"] == unit for m in self.measures.values())
            or any(u["unit"] == unit for u in self.urgings))

    def refusals(self, who: str, *, before_load: set[Refusal] | None = None,
                 authority: Callable[[], set[Refusal]], rules: Callable[[], set[Refusal]]) -> set[Refusal]:
        """What may refuse a command. An issue the actor may not read is not there for them,
        whatever else is wrong with the command (only a check of its own input may come
        first); who may act is decided before the issue's state is looked at; then every
        rule the command breaks is a reason the ledger may give."""
        first = before_load or set()
        if not self.reads(who):
            return {Refusal.NOT_FOUND, *first}
        return {*first, *(authority() or rules())}

    def supervisor(self, who: str) -> set[Refusal]:
        return set() if ROLE[who] == "supervisor" else {Refusal.FORBIDDEN}

    def is_open(self) -> set[Refusal]:
        return {Refusal.STATE} if self.closed else set()

    def note(self, kind: str, who: str, **refs: Any) -> None:
        self.entries.append({"type": kind, "author": who, **refs})

    def seen(self) -> dict[str, Any]:
        """The model in the shape of the ledger's answer (see ``seen`` below)."""
        return {
            "version": len(self.entries), "status": self.status(), "duty": self.duty,
            "lead_unit": self.units[0], "co_units": self.units[1:], "contact_person": self.contact_person,
            "deadline": self.deadline,
            "measures": {k: (m["unit"], m["text"], m["status"], [p["summary"] for p in m["progress"]],
                             m["completion_summary"]) for k, m in self.measures.items()},
            "urgings": [(u["unit"], u["message"], u["reply_by"]) for u in self.urgings],
            "extensions": list(self.extensions),
            "evaluations": {y: (e["grade"], e["score"], e["findings"]) for y, e in self.evaluations.items()},
            "corrections": self.corrections,
        }


def seen(answer: dict[str, Any]) -> dict[str, Any]:
    """The parts of the ledger's answer for an issue (GET /api/v1/issues/{id}) the model holds."""
    return {
        "version": answer["version"], "status": answer["status"], "duty": answer["duty"],
        "lead_unit": answer["lead_unit"], "co_units": answer["co_units"],
        "contact_person": answer["contact_person"], "deadline": answer["deadline"],
        "measures": {m["measure_id"]: (m["unit"], m["text"], m["status"], [p["summary"] for p in m["progress"]],
                                       m["completion_summary"]) for m in answer["measures"]},
        "urgings": [(u["unit"], u["message"], u["reply_by"]) for u in answer["urgings"]],
        "extensions": [(e["previous"], e["deadline"]) for e in answer["extensions"]],
        "evaluations": {e["year"]: (e["grade"], e["score"], e["findings"]) for e in answer["evaluations"]},
        "corrections": len(answer["corrections"]),
    }


# ---- the machine --------------------------------------------------------------------


def run_machine(app_settings) -> None:  # type: ignore[no-untyped-def]
    class IssueMachine(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            self.clock = Clock(START)
            self.services = bootstrap.build(app_settings, clock=self.clock)
            self.ledger: Ledger = self.services.ledger
            if not self.ledger.recorder.max_notification_id():
                self.district: District = seed(self.services)
                self.services.issues.register_plan(self.district.cmd("supervisor"), number="P", title="t",
                                          issuer_unit="bgs", year=2019)
            else:
                self.district = seed_again(self.services)
            self.seq = (self.ledger.recorder.max_notification_id() or 0) + 1000
            self.issue = self.services.issues.register_issue(
                self.district.cmd("supervisor"), plan=plan_id("P"), seq=self.seq, duty="d", problem="p",
                units=["pf", "司法所"]).id
            self.model = IssueModel(units=["pf", *expand("司法所")])
            self.model.note("Registered", "supervisor")

        def teardown(self) -> None:
            self.services.close()

        def attempt(self, call: Callable[[], object], why: set[Refusal], then: Callable[[], None]) -> None:
            """``then``: what the model does when it accepts."""
            if accepted_as_the_model_says(self.ledger, call, why):
                then()

        def cmd(self, who: str) -> Command:
            return self.district.cmd(who)

        @rule(days=st.integers(0, 40))
        def time_passes(self, days: int) -> None:
            self.clock.advance(days=days)

        @rule(who=AGENCY, own=st.booleans(), other=UNIT, text=TEXT)
        def adopt(self, who: str, own: bool, other: str, text: str) -> None:
            unit = UNIT_OF[who] if own else other
            m, owner = self.model, expand(unit)

            def may() -> set[Refusal]:
                if ROLE[who] != "agency" or UNIT_OF[who] not in m.units or owner != [UNIT_OF[who]]:
                    return {Refusal.FORBIDDEN}
                return set()

            def adopted() -> None:
                measure_id = f"M{len(m.measures) + 1}"
                m.measures[measure_id] = {"unit": owner[0], "text": text, "status": "open", "progress": [],
                                          "completion_summary": None}
                m.note("MeasureAdopted", who, measure=measure_id)

            why = m.refusals(
                who, before_load={Refusal.FORBIDDEN} if len(owner) != 1 else set(), authority=may,
                rules=lambda: m.is_open() | ({Refusal.INVALID} if not text.strip() else set()))
            self.attempt(lambda: self.services.issues.adopt_measure(self.cmd(who), self.issue, unit=unit, text=text, due=None),
                         why, adopted)

        def measure_refusals(self, who: str, measure: str) -> set[Refusal]:
            m = self.model
            if measure not in m.measures:
                return {Refusal.NOT_FOUND}
            if ROLE[who] != "agency" or UNIT_OF[who] not in m.units or m.measures[measure]["unit"] != UNIT_OF[who]:
                return {Refusal.FORBIDDEN}
            return set()

        def by_owner(self, who: str, measure: str, owner: bool) -> str:
            """The clerk of the measure's unit, when ``owner`` and there is one."""
            unit = self.model.measures.get(measure, {}).get("unit")
            return next((name for name, u in UNIT_OF.items() if owner and u == unit and name in CLERKS), who)

        @rule(who=AGENCY, measure=MEASURE, owner=st.booleans(), text=TEXT)
        def progress(self, who: str, measure: str, owner: bool, text: str) -> None:
            m, who = self.model, self.by_owner(who, measure, owner)

            def reported() -> None:
                m.measures[measure]["progress"].append({"summary": text, "version": len(m.entries) + 1})
                m.note("ProgressReported", who, measure=measure)

            why = m.refusals(who, authority=lambda: self.measure_refusals(who, measure), rules=lambda: (
                m.is_open() | ({Refusal.STATE} if m.measures[measure]["status"] == "completed" else set())
                | ({Refusal.INVALID} if not text.strip() else set())))
            self.attempt(lambda: self.services.issues.report_progress(self.cmd(who), self.issue, measure, summary=text,
                                                             evidence=[]), why, reported)

        @rule(who=AGENCY, measure=MEASURE, owner=st.booleans())
        def complete(self, who: str, measure: str, owner: bool) -> None:
            m, who = self.model, self.by_owner(who, measure, owner)

            def completed() -> None:
                m.measures[measure].update(status="completed", completion_summary="done")
                m.note("MeasureCompleted", who, measure=measure)

            why = m.refusals(who, authority=lambda: self.measure_refusals(who, measure), rules=lambda: (
                m.is_open() | ({Refusal.STATE} if m.measures[measure]["status"] == "completed" else set())))
            self.attempt(lambda: self.services.issues.complete_measure(self.cmd(who), self.issue, measure, summary="done"),
                         why, completed)

        @rule(who=SUPERVISOR, unit=UNIT, offset=st.integers(-5, 30))
        def urge(self, who: str, unit: str, offset: int) -> None:
            m, target = self.model, expand(unit)
            reply = self.clock.now.date() + timedelta(days=offset)

            def urged() -> None:
                m.urgings.append({"unit": target[0], "message": "m", "reply_by": reply})
                m.note("Urged", who, urging=len(m.urgings) - 1)

            why = m.refusals(
                who, before_load={Refusal.FORBIDDEN} if len(target) != 1 else set(),
                authority=lambda: m.supervisor(who),
                rules=lambda: m.is_open() | ({Refusal.INVALID} if target[0] not in m.units else set())
                | ({Refusal.INVALID} if reply < self.clock.now.date() else set()))
            self.attempt(lambda: self.services.issues.urge(self.cmd(who), self.issue, unit=unit, message="m", reply_by=reply),
                         why, urged)

        @rule(who=SUPERVISOR, lead=UNIT, days=st.integers(1, 200))
        def assign(self, who: str, lead: str, days: int) -> None:
            m = self.model
            deadline = self.clock.now.date() + timedelta(days=days)
            units = list(dict.fromkeys([*expand(lead), *expand("司法所")]))

            def assigned() -> None:
                m.units, m.contact_person, m.deadline = units, "x", deadline
                m.note("Assigned", who)

            # Every unit that owns a measure stays responsible for the issue.
            keeps_owners = {mm["unit"] for mm in m.measures.values()} <= set(units)
            why = m.refusals(who, authority=lambda: m.supervisor(who),
                             rules=lambda: m.is_open() | (set() if keeps_owners else {Refusal.STATE}))
            self.attempt(lambda: self.services.issues.assign_issue(self.cmd(who), self.issue, lead_unit=lead,
                                                          co_units=["司法所"], contact_person="x",
                                                          deadline=deadline, nodes=[]), why, assigned)

        @rule(who=SUPERVISOR, days=st.integers(-30, 200))
        def extend(self, who: str, days: int) -> None:
            m = self.model
            deadline = date(2019, 6, 30) + timedelta(days=days)

            def extended() -> None:
                assert m.deadline is not None
                m.extensions.append((m.deadline, deadline))
                m.deadline = deadline
                m.note("DeadlineExtended", who)

            def rules() -> set[Refusal]:
                if m.deadline is None:  # only an assignment sets the first deadline
                    return m.is_open() | {Refusal.STATE}
                return m.is_open() | ({Refusal.INVALID} if deadline <= m.deadline else set())

            why = m.refusals(who, authority=lambda: m.supervisor(who), rules=rules)
            self.attempt(lambda: self.services.issues.extend_deadline(self.cmd(who), self.issue, deadline=deadline, reason="r"),
                         why, extended)

        @rule(who=SUPERVISOR, year=st.integers(2019, 2021), grade=st.sampled_from(["优秀", "合格", "差"]),
              score=st.integers(-5, 105))
        def evaluate(self, who: str, year: int, grade: str, score: int) -> None:
            m = self.model

            def evaluated() -> None:
                m.evaluations[year] = {"grade": grade, "score": score, "findings": ""}
                m.note("EvaluatedAtYearEnd", who, year=year)

            # One evaluation a year; a closed issue is evaluated too.
            why = m.refusals(who, authority=lambda: m.supervisor(who), rules=lambda: (
                ({Refusal.INVALID} if grade not in GRADES or not 0 <= score <= 100 else set())
                | ({Refusal.STATE} if year in m.evaluations else set())))
            self.attempt(lambda: self.services.issues.evaluate_issue(self.cmd(who), self.issue, year=year, grade=grade,
                                                            score=score, findings=""), why, evaluated)

        @rule(who=SUPERVISOR)
        def close(self, who: str) -> None:
            m = self.model

            def closed() -> None:
                m.closed = True
                m.note("Closed", who)

            # Closed once every measure is done, and only then (an issue without one cannot close).
            why = m.refusals(who, authority=lambda: m.supervisor(who), rules=lambda: m.is_open() | (
                {Refusal.STATE} if not m.measures or any(mm["status"] == "open" for mm in m.measures.values())
                else set()))
            self.attempt(lambda: self.services.issues.close_issue(self.cmd(who), self.issue, summary="s"), why, closed)

        @rule(who=SUPERVISOR, reason=TEXT)
        def reopen(self, who: str, reason: str) -> None:
            m = self.model

            def reopened() -> None:
                m.closed = False
                m.note("Reopened", who)

            why = m.refusals(who, authority=lambda: m.supervisor(who), rules=lambda: (
                ({Refusal.STATE} if not m.closed else set()) | ({Refusal.INVALID} if not reason.strip() else set())))
            self.attempt(lambda: self.services.issues.reopen_issue(self.cmd(who), self.issue, reason=reason), why, reopened)

        @rule(who=SUPERVISOR, back=st.integers(0, 60), fits=st.booleans(),
              other=st.sampled_from(["duty", "text", "summary", "score", "reason"]))
        def correct(self, who: str, back: int, fits: bool, other: str) -> None:
            m = self.model
            positions = sorted(self.ledger.index.positions(self.issue).values())
            # Half the time an entry with a field this rule changes, and that field: corrections
            # are made as well as refused.
            names = {"duty", "text", "summary", "score", "reason"}
            fitting = [i for i, e in enumerate(m.entries) if CORRECTABLE[e["type"]] & names] if fits else []
            index = fitting[back % len(fitting)] if fitting else len(positions) - 1 - back % len(positions)
            entry = m.entries[index]
            name = min(CORRECTABLE[entry["type"]] & names) if fitting else other
            value = 77 if name == "score" else "更正"

            def authority() -> set[Refusal]:
                # An agency of the issue corrects what it wrote; a supervisor anything.
                if ROLE[who] == "supervisor":
                    return set()
                if ROLE[who] == "agency" and UNIT_OF[who] in m.units and entry["author"] == who:
                    return set()
                return {Refusal.FORBIDDEN}

            def corrected() -> None:
                # A correction changes what the corrected entry says, wherever the issue shows it.
                kind = entry["type"]
                if kind == "Registered" and name == "duty":
                    m.duty = value  # type: ignore[assignment]
                elif kind == "MeasureAdopted" and name == "text":
                    m.measures[entry["measure"]]["text"] = value
                elif kind == "ProgressReported" and name == "summary":
                    for item in m.measures[entry["measure"]]["progress"]:
                        if item["version"] == index + 1:
                            item["summary"] = value
                elif kind == "MeasureCompleted" and name == "summary":
                    m.measures[entry["measure"]]["completion_summary"] = value
                elif kind == "EvaluatedAtYearEnd" and name == "score":
                    m.evaluations[entry["year"]]["score"] = value
                m.corrections += 1
                m.note("EntryCorrected", who)

            why = m.refusals(who, authority=authority, rules=lambda: (
                set() if name in CORRECTABLE[entry["type"]] else {Refusal.INVALID}))
            self.attempt(lambda: self.services.issues.correct_issue_entry(self.cmd(who), self.issue, position=positions[index],
                                                                 changes={name: value}, reason="r"), why, corrected)

        @invariant()
        def the_ledger_answers_what_the_rules_hold(self) -> None:
            if not hasattr(self, "issue"):
                return
            assert seen(describe_issue(self.services.issues.issue(self.issue))) == self.model.seen()
            assert len(self.ledger.recorder.select_events(self.issue)) == len(self.model.entries)

    IssueMachine.TestCase.settings = settings(
        max_examples=15, stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    IssueMachine.TestCase().runTest()


def seed_again(services: bootstrap.Services) -> District:
    """The same district on a store that already holds it: new users of the same roles."""
    import secrets

    from application.commands import SYSTEM

    district = District(services)
    suffix = secrets.token_hex(3)
    for name, unit, role in USERS:
        enrolment = district.accounts.add_user(Command(SYSTEM), name=f"{name}-{suffix}", unit=unit, role=role)
        district.actors[name] = district.identity.authenticate(enrolment.token)
    return district


def test_random_issue_commands_follow_the_rules(settings) -> None:  # type: ignore[no-untyped-def]
    run_machine(settings)
