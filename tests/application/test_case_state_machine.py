"""Random case commands, valid and invalid: reloaded equals live, version equals events stored."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from application.errors import ApplicationError
from application.commands import Command
from application.ledger import Ledger
from domain.base import DomainError
from interfaces import bootstrap
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.application.test_issue_state_machine import seed_again
from tests.district import START, Clock, seed

WHO = st.sampled_from(["supervisor", "inspector", "cq-clerk", "gf-clerk"])
CATEGORY = st.lists(st.sampled_from(["poverty", "disability", "temporary_crisis", "bogus"]), max_size=2)


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
                self.district.cmd("cq-clerk"), street="s", community="c", household_local=local,
                birth_date=BIRTH, person={"name": NAME, "id_number": valid_id()}).id
            self.live = self.ledger.repository.get(self.case)

        def teardown(self) -> None:
            self.services.close()

        def attempt(self, call) -> None:  # type: ignore[no-untyped-def]
            before_log = self.ledger.recorder.max_notification_id()
            before = self.ledger.repository.get(self.case)
            try:
                call()
            except (DomainError, ApplicationError):
                assert self.ledger.recorder.max_notification_id() == before_log
                assert self.ledger.repository.get(self.case).__dict__ == before.__dict__
                return
            self.live = self.ledger.repository.get(self.case)

        def cmd(self, who: str, **kw: object) -> Command:
            return Command(actor=self.district.actors[who], **kw)  # type: ignore[arg-type]

        @rule(years=st.integers(0, 8))
        def time_passes(self, years: int) -> None:
            self.clock.advance(days=365 * years + 1)

        @rule(who=WHO, left=st.booleans(), categories=CATEGORY)
        def classify(self, who: str, left: bool, categories: list[str]) -> None:
            self.attempt(lambda: self.services.cases.classify_case(self.cmd(who), self.case, left_behind=left,
                                                           categories=categories, evidence=[]))

        @rule(who=WHO, left=st.booleans(), categories=CATEGORY)
        def reassess(self, who: str, left: bool, categories: list[str]) -> None:
            self.attempt(lambda: self.services.cases.reassess_case(self.cmd(who), self.case, left_behind=left,
                                                           categories=categories, evidence=[]))

        @rule(who=WHO, minutes=st.integers(0, 120))
        def report(self, who: str, minutes: int) -> None:
            at = self.clock.now - timedelta(minutes=minutes)
            self.attempt(lambda: self.services.cases.file_mandatory_report(self.cmd(who, occurred_at=at), self.case,
                                                                   reporter="school", nature="abuse", details=None))

        @rule(who=WHO, n=st.integers(1, 3))
        def accept(self, who: str, n: int) -> None:
            self.attempt(lambda: self.services.cases.accept_report(self.cmd(who), self.case, f"MR{n}"))

        @rule(who=WHO, n=st.integers(1, 3))
        def dispatch(self, who: str, n: int) -> None:
            self.attempt(lambda: self.services.cases.dispatch_police(self.cmd(who), self.case, f"MR{n}"))

        @rule(who=WHO, unit=st.sampled_from(["gf", "pf"]))
        def refer(self, who: str, unit: str) -> None:
            self.attempt(lambda: self.services.cases.refer_case(self.cmd(who), self.case, unit=unit, duty="法律援助"))

        @rule(who=WHO, n=st.integers(1, 3))
        def serve(self, who: str, n: int) -> None:
            self.attempt(lambda: self.services.cases.provide_service(self.cmd(who), self.case, kind="legal_aid",
                                                             referral_id=f"RF{n}", notes=None))

        @rule(who=WHO, reason=st.sampled_from(["aged_16", "moved_away"]))
        def close(self, who: str, reason: str) -> None:
            self.attempt(lambda: self.services.cases.close_case(self.cmd(who), self.case, reason=reason))

        @rule(who=WHO)
        def reopen(self, who: str) -> None:
            self.attempt(lambda: self.services.cases.reopen_case(self.cmd(who), self.case, reason="复查"))

        @rule(who=WHO)
        def erase(self, who: str) -> None:
            self.attempt(lambda: self.services.cases.erase_personal_data(self.cmd(who), self.case, reason="期满"))

        @rule(who=WHO)
        def visit(self, who: str) -> None:
            self.attempt(lambda: self.services.cases.visit_case(self.cmd(who), self.case, notes="走访"))

        @invariant()
        def reloaded_equals_live_and_version_counts_events(self) -> None:
            if not hasattr(self, "case"):
                return
            reloaded = self.ledger.repository.get(self.case)
            assert reloaded.__dict__ == self.live.__dict__
            assert reloaded.version == len(self.ledger.recorder.select_events(self.case))

    CaseMachine.TestCase.settings = settings(
        max_examples=10, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    CaseMachine.TestCase().runTest()


def test_random_case_commands_keep_store_and_aggregate_in_step(settings) -> None:  # type: ignore[no-untyped-def]
    run_machine(settings)
