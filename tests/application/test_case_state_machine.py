"""Random child-case commands, valid and invalid, against a plain model of the rules.

The model is written from ../shared/DOMAIN.md and API.md (who works on a case, what a
closed or erased case still takes, the age and household rules of a classification), in
dicts and sets: it imports nothing of the domain. After every command the ledger must have
accepted exactly what the model accepts, refused for one of the reasons the model sees,
stored nothing when it refused, and answer the case as the model holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from application.commands import Command
from application.ledger import Ledger
from interfaces import bootstrap
from interfaces.http.cases import describe_case
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.application.test_issue_state_machine import (
    ROLE,
    UNIT_OF,
    Refusal,
    accepted_as_the_model_says,
    seed_again,
)
from tests.district import START, Clock, seed

WHO = st.sampled_from(["supervisor", "inspector", "cq-clerk", "gf-clerk"])
# Mostly whoever the command is for, so that the case moves on as well as refusing.
SUPERVISOR = st.one_of(st.just("supervisor"), WHO)
INVOLVED = st.one_of(st.sampled_from(["supervisor", "cq-clerk"]), WHO)
CATEGORY = st.one_of(st.lists(st.sampled_from(["poverty", "temporary_crisis"]), min_size=1, max_size=2),
                     st.lists(st.sampled_from(["poverty", "disability", "temporary_crisis", "bogus"]), max_size=2))
N = st.one_of(st.just(1), st.integers(1, 3))

# ---- the model ----------------------------------------------------------------------

CATEGORIES = {"poverty", "registered_poor", "disability", "guardianship_failure", "guardian_unable",
              "trafficked_or_employed", "temporary_crisis"}
# A child whose household is registered elsewhere is a child in difficulty only for a
# sudden emergency, which is not bound to the household registration (户籍).
NOT_BOUND_TO_HOUSEHOLD = {"temporary_crisis"}
REFERRAL_OUTCOMES = {"completed", "withdrawn"}
BEIJING = timezone(timedelta(hours=8))
REGISTERING = "cq-clerk"


def under_16(born: date, day: datetime) -> bool:
    """不满十六周岁 on the Beijing day of ``day``: 周岁 count from the day after the birthday."""
    return day.astimezone(BEIJING).date() <= born.replace(year=born.year + 16)


@dataclass
class CaseModel:
    household_local: bool
    registering_unit: str
    closed: bool = False
    closure_reason: str | None = None
    erased: bool = False
    assessment: dict[str, Any] | None = None  # the latest classification or reassessment
    reports: dict[str, dict[str, bool]] = field(default_factory=dict)
    referrals: dict[str, dict[str, str]] = field(default_factory=dict)
    services: int = 0
    visits: int = 0
    events: int = 1  # registered

    def born(self) -> date:
        """The exact birth date while the case key lives; once erased only the month is known
        and the child counts as born on its last day: no rule then treats them as older."""
        return BIRTH if not self.erased else date(BIRTH.year, BIRTH.month, 31)

    def open_referral_units(self) -> set[str]:
        return {r["unit"] for r in self.referrals.values() if r["status"] == "open"}

    def reads(self, who: str) -> bool:
        """Supervisors and inspectors read every case; an agency one its unit registered or
        has (had) a referral for."""
        unit = UNIT_OF[who]
        return ROLE[who] != "agency" or unit == self.registering_unit or any(
            r["unit"] == unit for r in self.referrals.values())

    def involved(self, who: str) -> set[Refusal]:
        """Who works on a case: supervisors, the registering unit, units with an open referral."""
        unit = UNIT_OF[who]
        if ROLE[who] == "supervisor" or (
                ROLE[who] == "agency" and (unit == self.registering_unit or unit in self.open_referral_units())):
            return set()
        return {Refusal.FORBIDDEN}

    def supervisor(self, who: str) -> set[Refusal]:
        return set() if ROLE[who] == "supervisor" else {Refusal.FORBIDDEN}

    def is_open(self) -> set[Refusal]:
        return {Refusal.STATE} if self.closed else set()

    def refusals(self, who: str, *, before_load: set[Refusal] | None = None,
                 authority: Callable[[], set[Refusal]], rules: Callable[[], set[Refusal]]) -> set[Refusal]:
        """As for issues: unreadable is not there; who may act comes before the case's state."""
        first = before_load or set()
        if not self.reads(who):
            return {Refusal.NOT_FOUND, *first}
        return {*first, *(authority() or rules())}

    def assessment_rules(self, left: bool, categories: list[str], now: datetime) -> set[Refusal]:
        why: set[Refusal] = set()
        if any(c not in CATEGORIES for c in categories):
            return {Refusal.INVALID}
        if left and not under_16(self.born(), now):
            why.add(Refusal.STATE)
        if not self.household_local and set(categories) - NOT_BOUND_TO_HOUSEHOLD:
            why.add(Refusal.STATE)
        return why

    def seen(self) -> dict[str, Any]:
        current = self.assessment or {"left_behind": False, "categories": []}
        return {
            "version": self.events, "status": "closed" if self.closed else "open",
            "left_behind": current["left_behind"], "categories": current["categories"], "erased": self.erased,
            "reports": {k: (r["accepted"], r["dispatched"]) for k, r in self.reports.items()},
            "referrals": {k: (r["unit"], r["duty"], r["status"]) for k, r in self.referrals.items()},
            "services": self.services, "visits": self.visits,
        }


def seen(answer: dict[str, Any]) -> dict[str, Any]:
    """The parts of the ledger's answer for a case (GET /api/v1/cases/{id}) the model holds."""
    return {
        "version": answer["version"], "status": answer["status"], "left_behind": answer["left_behind"],
        "categories": answer["categories"], "erased": answer["erased"],
        "reports": {r["report_id"]: (r["accepted_at"] is not None, r["dispatched_at"] is not None)
                    for r in answer["reports"]},
        "referrals": {r["referral_id"]: (r["unit"], r["duty"], r["status"]) for r in answer["referrals"]},
        "services": len(answer["services"]), "visits": answer["visits"],
    }


# ---- the machine --------------------------------------------------------------------


def run_machine(app_settings) -> None:  # type: ignore[no-untyped-def]
    class CaseMachine(RuleBasedStateMachine):
        @initialize(local=st.booleans())
        def setup(self, local: bool) -> None:
            self.clock = Clock(START)
            self.services = bootstrap.build(app_settings, clock=self.clock)
            self.ledger: Ledger = self.services.ledger
            fresh = not self.ledger.recorder.max_notification_id()
            self.district = seed(self.services) if fresh else seed_again(self.services)
            self.case = self.services.cases.register_case(
                self.district.cmd(REGISTERING), street="s", community="c", household_local=local,
                birth_date=BIRTH, person={"name": NAME, "id_number": valid_id()}).id
            self.model = CaseModel(household_local=local, registering_unit=UNIT_OF[REGISTERING])

        def teardown(self) -> None:
            self.services.close()

        def attempt(self, call: Callable[[], object], why: set[Refusal], then: Callable[[], None]) -> None:
            if accepted_as_the_model_says(self.ledger, call, why):
                then()
                self.model.events += 1

        def cmd(self, who: str, **kw: object) -> Command:
            return Command(actor=self.district.actors[who], **kw)  # type: ignore[arg-type]

        @rule(years=st.integers(0, 4))
        def time_passes(self, years: int) -> None:
            self.clock.advance(days=365 * years + 1)

        def assess(self, who: str, left: bool, categories: list[str], *, first: bool) -> set[Refusal]:
            m = self.model
            categories = list(dict.fromkeys(categories))

            def rules() -> set[Refusal]:
                why = m.is_open() | m.assessment_rules(left, categories, self.clock.now)
                if first and m.assessment is not None:
                    why.add(Refusal.STATE)  # classified once, then reassessed
                if not first and m.assessment is None:
                    why.add(Refusal.STATE)  # a reassessment follows a classification
                if first and not left and not categories:
                    why.add(Refusal.INVALID)  # left behind, or at least one category of difficulty
                return why

            return m.refusals(who, authority=lambda: m.involved(who), rules=rules)

        def assessed(self, left: bool, categories: list[str]) -> Callable[[], None]:
            def then() -> None:
                self.model.assessment = {"left_behind": left, "categories": list(dict.fromkeys(categories))}
            return then

        @rule(who=INVOLVED, left=st.booleans(), categories=CATEGORY)
        def classify(self, who: str, left: bool, categories: list[str]) -> None:
            self.attempt(lambda: self.services.cases.classify_case(self.cmd(who), self.case, left_behind=left,
                                                           categories=categories, evidence=[]),
                         self.assess(who, left, categories, first=True), self.assessed(left, categories))

        @rule(who=INVOLVED, left=st.booleans(), categories=CATEGORY)
        def reassess(self, who: str, left: bool, categories: list[str]) -> None:
            self.attempt(lambda: self.services.cases.reassess_case(self.cmd(who), self.case, left_behind=left,
                                                           categories=categories, evidence=[]),
                         self.assess(who, left, categories, first=False), self.assessed(left, categories))

        @rule(who=INVOLVED, minutes=st.integers(0, 120))
        def report(self, who: str, minutes: int) -> None:
            m, at = self.model, self.clock.now - timedelta(minutes=minutes)

            def filed() -> None:
                m.reports[f"MR{len(m.reports) + 1}"] = {"accepted": False, "dispatched": False}

            why = m.refusals(who, authority=lambda: m.involved(who), rules=m.is_open)
            self.attempt(lambda: self.services.cases.file_mandatory_report(self.cmd(who, occurred_at=at), self.case,
                                                                   reporter="school", nature="abuse", details=None),
                         why, filed)

        def report_refusals(self, who: str, report: str, state: Callable[[dict[str, bool]], bool]) -> set[Refusal]:
            m = self.model

            def rules() -> set[Refusal]:
                if report not in m.reports:
                    return {Refusal.NOT_FOUND}
                return m.is_open() | ({Refusal.STATE} if state(m.reports[report]) else set())

            return m.refusals(who, authority=lambda: m.involved(who), rules=rules)

        @rule(who=INVOLVED, n=N)
        def accept(self, who: str, n: int) -> None:
            report = f"MR{n}"
            why = self.report_refusals(who, report, lambda r: r["accepted"])  # accepted once
            self.attempt(lambda: self.services.cases.accept_report(self.cmd(who), self.case, report), why,
                         lambda: self.model.reports[report].update(accepted=True))

        @rule(who=INVOLVED, n=N)
        def dispatch(self, who: str, n: int) -> None:
            report = f"MR{n}"
            # The police are dispatched once, on an accepted report.
            why = self.report_refusals(who, report, lambda r: not r["accepted"] or r["dispatched"])
            self.attempt(lambda: self.services.cases.dispatch_police(self.cmd(who), self.case, report), why,
                         lambda: self.model.reports[report].update(dispatched=True))

        @rule(who=SUPERVISOR, unit=st.sampled_from(["gf", "pf"]))
        def refer(self, who: str, unit: str) -> None:
            m = self.model

            def referred() -> None:
                m.referrals[f"RF{len(m.referrals) + 1}"] = {"unit": unit, "duty": "法律援助", "status": "open"}

            def authority() -> set[Refusal]:  # supervisors and the registering unit refer
                registering = ROLE[who] == "agency" and UNIT_OF[who] == m.registering_unit
                return set() if ROLE[who] == "supervisor" or registering else {Refusal.FORBIDDEN}

            # One open referral per unit and duty.
            why = m.refusals(who, authority=authority, rules=lambda: m.is_open() | (
                {Refusal.STATE} if any(r["unit"] == unit and r["duty"] == "法律援助" and r["status"] == "open"
                                       for r in m.referrals.values()) else set()))
            self.attempt(lambda: self.services.cases.refer_case(self.cmd(who), self.case, unit=unit, duty="法律援助"),
                         why, referred)

        def referral_refusals(self, who: str, referral: str, state: Callable[[dict[str, str]], bool],
                              invalid: bool = False) -> set[Refusal]:
            m = self.model

            def rules() -> set[Refusal]:
                if referral not in m.referrals:
                    return {Refusal.NOT_FOUND}
                return (m.is_open() | ({Refusal.STATE} if state(m.referrals[referral]) else set())
                        | ({Refusal.INVALID} if invalid else set()))

            return m.refusals(who, authority=lambda: m.involved(who), rules=rules)

        @rule(who=st.one_of(st.just("gf-clerk"), WHO), n=N)
        def serve(self, who: str, n: int) -> None:
            referral = f"RF{n}"

            def served() -> None:
                self.model.services += 1

            # A service answers an open referral to the serving unit.
            why = self.referral_refusals(who, referral, lambda r: r["status"] != "open" or r["unit"] != UNIT_OF[who])
            self.attempt(lambda: self.services.cases.provide_service(self.cmd(who), self.case, kind="legal_aid",
                                                             referral_id=referral, notes=None), why, served)

        @rule(who=INVOLVED, n=N, outcome=st.sampled_from(["completed", "withdrawn", "bogus"]))
        def end_referral(self, who: str, n: int, outcome: str) -> None:
            referral = f"RF{n}"
            why = self.referral_refusals(who, referral, lambda r: r["status"] != "open",
                                         invalid=outcome not in REFERRAL_OUTCOMES)
            self.attempt(lambda: self.services.cases.close_referral(self.cmd(who), self.case, referral, outcome=outcome),
                         why, lambda: self.model.referrals[referral].update(status="closed"))

        @rule(who=SUPERVISOR, reason=st.sampled_from(["aged_16", "moved_away"]))
        def close(self, who: str, reason: str) -> None:
            m = self.model

            def closed() -> None:
                m.closed, m.closure_reason = True, reason

            # Not while a referral is open; "aged 16" only for a child of 16.
            why = m.refusals(who, authority=lambda: m.supervisor(who), rules=lambda: m.is_open() | (
                {Refusal.STATE} if m.open_referral_units() else set()) | (
                {Refusal.STATE} if reason == "aged_16" and under_16(m.born(), self.clock.now) else set()))
            self.attempt(lambda: self.services.cases.close_case(self.cmd(who), self.case, reason=reason), why, closed)

        @rule(who=SUPERVISOR)
        def reopen(self, who: str) -> None:
            m = self.model

            def reopened() -> None:
                m.closed, m.closure_reason = False, None

            why = m.refusals(who, authority=lambda: m.supervisor(who),
                             rules=lambda: set() if m.closed else {Refusal.STATE})
            self.attempt(lambda: self.services.cases.reopen_case(self.cmd(who), self.case, reason="复查"), why, reopened)

        @rule(who=SUPERVISOR)
        def erase(self, who: str) -> None:
            m = self.model

            def erased() -> None:
                m.erased = True

            # Once, and on a closed case too: the end of the work is when erasure usually comes.
            why = m.refusals(who, authority=lambda: m.supervisor(who),
                             rules=lambda: {Refusal.STATE} if m.erased else set())
            self.attempt(lambda: self.services.cases.erase_personal_data(self.cmd(who), self.case, reason="期满"), why, erased)

        @rule(who=INVOLVED)
        def visit(self, who: str) -> None:
            m = self.model

            def visited() -> None:
                m.visits += 1

            # The visit's notes are personal data, and none is recorded once the case's key is gone.
            why = m.refusals(who, authority=lambda: m.involved(who),
                             rules=lambda: m.is_open() | ({Refusal.STATE} if m.erased else set()))
            self.attempt(lambda: self.services.cases.visit_case(self.cmd(who), self.case, notes="走访"), why, visited)

        @invariant()
        def the_ledger_answers_what_the_rules_hold(self) -> None:
            if not hasattr(self, "case"):
                return
            assert seen(describe_case(self.ledger.repository.get(self.case))) == self.model.seen()
            assert len(self.ledger.recorder.select_events(self.case)) == self.model.events

    CaseMachine.TestCase.settings = settings(
        max_examples=15, stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    CaseMachine.TestCase().runTest()


def test_random_case_commands_follow_the_rules(settings) -> None:  # type: ignore[no-untyped-def]
    run_machine(settings)
