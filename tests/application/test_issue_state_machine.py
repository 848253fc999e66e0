"""Random sequences of valid and invalid issue commands, checked against the store after every step."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from application.errors import ApplicationError
from application.ledger import Command, Ledger
from domain.base import DomainError
from domain.plan import plan_id
from interfaces import bootstrap
from tests.district import START, Clock, District, seed

WHO = st.sampled_from(["supervisor", "inspector", "pf-clerk", "gf-clerk", "cq-clerk"])
UNIT = st.sampled_from(["pf", "gf", "sfs-cq", "司法所"])
MEASURE = st.sampled_from(["M1", "M2", "M3", "M4"])
TEXT = st.text(alphabet="整改措施落实abc ", min_size=0, max_size=8)


def run_machine(app_settings) -> None:  # type: ignore[no-untyped-def]
    class IssueMachine(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            self.clock = Clock(START)
            self.services = bootstrap.build(app_settings, clock=self.clock)
            self.ledger: Ledger = self.services.ledger
            if not self.ledger.recorder.max_notification_id():
                self.district: District = seed(self.ledger)
                self.ledger.register_plan(self.district.cmd("supervisor"), number="P", title="t",
                                          issuer_unit="bgs", year=2019)
            else:
                self.district = seed_again(self.ledger)
            self.seq = (self.ledger.recorder.max_notification_id() or 0) + 1000
            self.issue = self.ledger.register_issue(
                self.district.cmd("supervisor"), plan=plan_id("P"), seq=self.seq, duty="d", problem="p",
                units=["pf", "司法所"]).id
            self.live = self.ledger.issue(self.issue)

        def teardown(self) -> None:
            self.services.close()

        def attempt(self, call) -> None:  # type: ignore[no-untyped-def]
            before_log = self.ledger.recorder.max_notification_id()
            before = self.ledger.issue(self.issue)
            try:
                call()
            except (DomainError, ApplicationError):
                assert self.ledger.recorder.max_notification_id() == before_log
                assert self.ledger.issue(self.issue).__dict__ == before.__dict__
                return
            self.live = self.ledger.issue(self.issue)

        def cmd(self, who: str) -> Command:
            return self.district.cmd(who)

        @rule(days=st.integers(0, 40))
        def time_passes(self, days: int) -> None:
            self.clock.advance(days=days)

        @rule(who=WHO, unit=UNIT, text=TEXT)
        def adopt(self, who: str, unit: str, text: str) -> None:
            self.attempt(lambda: self.ledger.adopt_measure(self.cmd(who), self.issue, unit=unit, text=text, due=None))

        @rule(who=WHO, measure=MEASURE, text=TEXT)
        def progress(self, who: str, measure: str, text: str) -> None:
            self.attempt(lambda: self.ledger.report_progress(self.cmd(who), self.issue, measure, summary=text, evidence=[]))

        @rule(who=WHO, measure=MEASURE)
        def complete(self, who: str, measure: str) -> None:
            self.attempt(lambda: self.ledger.complete_measure(self.cmd(who), self.issue, measure, summary="done"))

        @rule(who=WHO, unit=UNIT, offset=st.integers(-5, 30))
        def urge(self, who: str, unit: str, offset: int) -> None:
            reply = self.clock.now.date() + timedelta(days=offset)
            self.attempt(lambda: self.ledger.urge(self.cmd(who), self.issue, unit=unit, message="m", reply_by=reply))

        @rule(who=WHO, lead=UNIT, days=st.integers(1, 200))
        def assign(self, who: str, lead: str, days: int) -> None:
            deadline = self.clock.now.date() + timedelta(days=days)
            self.attempt(lambda: self.ledger.assign_issue(self.cmd(who), self.issue, lead_unit=lead, co_units=["司法所"],
                                                          contact_person="x", deadline=deadline, nodes=[]))

        @rule(who=WHO, days=st.integers(-30, 200))
        def extend(self, who: str, days: int) -> None:
            deadline = date(2019, 6, 30) + timedelta(days=days)
            self.attempt(lambda: self.ledger.extend_deadline(self.cmd(who), self.issue, deadline=deadline, reason="r"))

        @rule(who=WHO, year=st.integers(2019, 2021), grade=st.sampled_from(["优秀", "合格", "差"]), score=st.integers(-5, 105))
        def evaluate(self, who: str, year: int, grade: str, score: int) -> None:
            self.attempt(lambda: self.ledger.evaluate_issue(self.cmd(who), self.issue, year=year, grade=grade,
                                                            score=score, findings=""))

        @rule(who=WHO)
        def close(self, who: str) -> None:
            self.attempt(lambda: self.ledger.close_issue(self.cmd(who), self.issue, summary="s"))

        @rule(who=WHO, reason=TEXT)
        def reopen(self, who: str, reason: str) -> None:
            self.attempt(lambda: self.ledger.reopen_issue(self.cmd(who), self.issue, reason=reason))

        @rule(who=WHO, back=st.integers(0, 6), field=st.sampled_from(["duty", "text", "summary", "score", "reason"]))
        def correct(self, who: str, back: int, field: str) -> None:
            positions = sorted(self.ledger.index.positions(self.issue).values())
            position = positions[max(0, len(positions) - 1 - back)]
            value = 77 if field == "score" else "更正"
            self.attempt(lambda: self.ledger.correct_issue_entry(self.cmd(who), self.issue, position=position,
                                                                 changes={field: value}, reason="r"))

        @invariant()
        def reloaded_equals_live_and_version_counts_events(self) -> None:
            if not hasattr(self, "issue"):
                return
            reloaded = self.ledger.issue(self.issue)
            assert reloaded.__dict__ == self.live.__dict__
            stored = self.ledger.recorder.select_events(self.issue)
            assert reloaded.version == len(stored)

    IssueMachine.TestCase.settings = settings(
        max_examples=12, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    IssueMachine.TestCase().runTest()


def seed_again(ledger: Ledger) -> District:
    """The same district on a store that already holds it: new users of the same roles."""
    import secrets

    from application.ledger import SYSTEM
    from tests.district import USERS

    district = District(ledger)
    suffix = secrets.token_hex(3)
    for name, unit, role in USERS:
        enrolment = ledger.add_user(Command(SYSTEM), name=f"{name}-{suffix}", unit=unit, role=role)
        district.actors[name] = ledger.authenticate(enrolment.token)
    return district


def test_random_issue_commands_keep_store_and_aggregate_in_step(settings) -> None:  # type: ignore[no-untyped-def]
    run_machine(settings)
