"""A realistic district history of N events, written through the application layer.

The district is the demo district's units (both source documents) with one agency user
per unit, a plan per year, and then a few years of work: rectification issues registered
with measures, assigned, progressed, urged, extended, completed, closed and evaluated at
year end; child cases registered (personal data sealed under each case's own key), classified,
guardianships, mandatory reports accepted and police dispatched, referrals to joint-meeting
units, services and visits by the referred units, referrals closed, year-end evaluations, closures.

Units, users and plans go through the Ledger's commands. The bulk goes through the same
aggregates' commands (the domain rules all run) and ``Ledger.save`` — the application's
atomic save — with several aggregates per save (``--batch``, default 40 commands), the way
the application allows one save for several aggregates. What it skips is ``Ledger._run``'s
per-command load and authorisation: the generator is the only writer, so it keeps the
aggregates it works on in memory. Recorded times advance with the log (each save is one
moment), so "as of" queries over the history mean something.

    careledger demo --generate 100000          # into CARELEDGER_DATABASE_URL, tokens printed
    .venv/bin/python -m bench.generate 100000 --url postgresql://postgres@127.0.0.1/db
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from uuid import UUID

from application.commands import SYSTEM, Command
from application.rubric import RUBRIC_VERSION
from domain.assessment import CATEGORIES
from domain.base import LedgerAggregate, Stamp, recording_at
from domain.case import CLOSURE_REASONS, ChildCase
from domain.case_personal import new_case_number
from domain.evaluation import GRADES
from domain.guardianship import GUARDIANSHIPS
from domain.issue import RectificationIssue
from domain.mandatory_report import NATURES, REPORTERS
from domain.plan import plan_id
from domain.referral import SERVICE_KINDS
from infrastructure.sealing import seal
from interfaces.demo_district import JOINT_MEETING_UNITS, JUSTICE_BUREAU_UNITS

if TYPE_CHECKING:
    from interfaces.bootstrap import Services

START = datetime(2019, 3, 1, 1, 0, tzinfo=timezone.utc)
STREETS = ["吴家山街", "走马岭街", "径河街", "将军路街", "慈惠街", "长青街", "金银湖街", "新沟镇街"]
SUPERVISOR = ("督查督办-李敏", "dxh-bgs")
INSPECTOR = ("检查组-王强", "dxh-bgs")


@dataclass
class Live:
    """An aggregate the generator is working on, and what it may do next."""

    aggregate: LedgerAggregate
    opened: datetime
    budget: int  # events left before it is closed
    extra: dict[str, Any] = field(default_factory=dict)


class DistrictGenerator:
    def __init__(self, services: Services, *, seed: int = 9, batch: int = 40, active: int = 400,
                 step: timedelta = timedelta(minutes=7)) -> None:
        self.services = services
        self.ledger = services.ledger
        self.rng = random.Random(seed)
        self.batch = batch
        self.active = active
        self.step = step
        self.now = START
        self.written = 0
        self.saves = 0
        self.issues: list[Live] = []
        self.cases: list[Live] = []
        self.plans: dict[int, UUID] = {}
        self.next_seq: dict[int, int] = {}
        self.issue_ids: list[UUID] = []
        self.case_ids: list[UUID] = []
        self._setup()

    # ---- through the commands ---------------------------------------------------------

    def _at(self) -> Any:
        moment = self.now
        self.ledger.clock = lambda: moment
        return moment

    def _setup(self) -> None:
        self._at()
        before = self.ledger.recorder.max_notification_id() or 0
        for code, name, group in JUSTICE_BUREAU_UNITS:
            self.services.registry.add_unit(Command(SYSTEM), code=code, name=name, group=group)
        for code, name, duty in JOINT_MEETING_UNITS:
            self.services.registry.add_unit(Command(SYSTEM), code=code, name=name, group="联席会议成员单位")
            self.services.registry.define_duty(Command(SYSTEM), unit=code, duty_id="D1", text=duty)
        self.duties = {code: duty for code, _, duty in JOINT_MEETING_UNITS}
        self.agencies = [code for code, _, _ in JUSTICE_BUREAU_UNITS if code != "dxh-bgs"]
        self.joint = [code for code, _, _ in JOINT_MEETING_UNITS]
        self.tokens = {
            "supervisor": self.services.accounts.add_user(
                Command(SYSTEM), name=SUPERVISOR[0], unit=SUPERVISOR[1], role="supervisor").token,
            "inspector": self.services.accounts.add_user(
                Command(SYSTEM), name=INSPECTOR[0], unit=INSPECTOR[1], role="inspector").token,
        }
        self.users = {code: f"{code}-经办人" for code in [*self.agencies, *self.joint]}
        for code, user in self.users.items():
            self.services.accounts.add_user(Command(SYSTEM), name=user, unit=code, role="agency")
        self.written = (self.ledger.recorder.max_notification_id() or 0) - before

    def _plan(self, year: int) -> UUID:
        if year not in self.plans:
            number = f"东政办[{year}]{self.rng.randint(1, 40)}号"
            before = self.ledger.recorder.max_notification_id() or 0
            self._at()
            self.services.issues.register_plan(
                Command(SYSTEM.__class__(user_id=SYSTEM.user_id, name=SUPERVISOR[0], unit=SUPERVISOR[1],
                                         role="supervisor")),
                number=number, title=f"{year}年农村留守儿童关爱保护和困境儿童保障工作实施方案",
                issuer_unit="dxh-bgs", year=year)
            self.written += (self.ledger.recorder.max_notification_id() or 0) - before
            self.plans[year] = plan_id(number)
            self.next_seq[year] = 1
        return self.plans[year]

    # ---- the bulk: aggregate commands, several aggregates per save --------------------

    def _stamp(self, user: str, unit: str, *, late: bool = False) -> Stamp:
        occurred = self.now - timedelta(days=self.rng.randint(8, 40)) if late else None
        return Stamp.make(user=user, unit=unit, recorded_at=self.now, occurred_at=occurred)

    def _sup(self) -> Stamp:
        return self._stamp(*SUPERVISOR)

    def _agency(self, unit: str, late: bool = False) -> Stamp:
        return self._stamp(self.users[unit], unit, late=late)

    def _text(self, kind: str) -> str:
        n = self.rng.randint(1, 999)
        return f"{kind}：第{n}项工作已按计划推进，相关材料已归档（{self.now:%Y-%m-%d}）。"

    def _new_issue(self) -> LedgerAggregate:
        year = self.now.year
        plan = self._plan(year)
        seq = self.next_seq[year]
        self.next_seq[year] += 1
        units = self.rng.sample(self.agencies, self.rng.randint(1, 2))
        issue = RectificationIssue.register(
            self._sup(), plan_id=plan, seq=seq, duty=self._text("工作职责"), problem=self._text("存在问题"),
            units=units,
        )
        for unit in units:
            issue.adopt_measure(self._sup(), owner=unit, text=self._text("整改措施"),
                                due=(self.now + timedelta(days=90)).date())
        self.issues.append(Live(issue, self.now, self.rng.randint(6, 40)))
        self.issue_ids.append(issue.id)
        return issue

    def _issue_step(self, live: Live) -> None:
        issue: Any = live.aggregate
        r = self.rng.random()
        if live.budget <= 0:
            for mid, m in issue.measures.items():
                if m.get("status") != "completed":
                    issue.complete_measure(self._agency(m["unit"]), measure_id=mid,
                                           summary=self._text("完成情况"), evidence=[])
            issue.close(self._sup(), summary=self._text("销号意见"))
            if self.rng.random() < 0.7:
                issue.evaluate(self._sup(), year=self.now.year, grade=self.rng.choice(GRADES),
                               score=self.rng.randint(55, 99), findings=self._text("考核意见"),
                               rubric_version=RUBRIC_VERSION)
            self.issues.remove(live)
            return
        live.budget -= 1
        if issue.deadline is None:
            issue.assign(self._sup(), lead_unit=issue.units[0], co_units=issue.units[1:], contact_person="联络员",
                         deadline=(self.now + timedelta(days=120)).date(), nodes=[(self.now + timedelta(days=60)).date()])
        elif r < 0.6:
            mid, m = self.rng.choice(list(issue.measures.items()))
            if m.get("status") == "completed":
                issue.urge(self._sup(), target=m["unit"], message=self._text("催办"),
                           reply_by=(self.now + timedelta(days=10)).date())
            else:
                issue.report_progress(self._agency(m["unit"], late=self.rng.random() < 0.05), measure_id=mid,
                                      summary=self._text("整改进展"), evidence=[])
        elif r < 0.8:
            issue.urge(self._sup(), target=self.rng.choice(issue.units), message=self._text("催办"),
                       reply_by=(self.now + timedelta(days=10)).date())
        elif r < 0.9:
            later = max(issue.deadline or self.now.date(), self.now.date()) + timedelta(days=30)
            issue.extend_deadline(self._sup(), deadline=later, reason=self._text("延期理由"))
        else:
            open_measures = [(k, m) for k, m in issue.measures.items() if m.get("status") != "completed"]
            if open_measures:
                mid, m = self.rng.choice(open_measures)
                issue.complete_measure(self._agency(m["unit"]), measure_id=mid,
                                       summary=self._text("完成情况"), evidence=[])
            else:
                issue.urge(self._sup(), target=issue.units[0], message=self._text("催办"),
                           reply_by=(self.now + timedelta(days=10)).date())

    def _new_case(self) -> LedgerAggregate:
        unit = self.rng.choice(self.agencies)
        number = new_case_number(self.now.year)
        today = self.now.date()
        birth = today - timedelta(days=self.rng.randint(365, 15 * 365))
        from domain.case_personal import case_id

        cid = case_id(number)
        key = self.services.case_keys.create(cid)
        sealed = seal(key, cid, {"name": f"儿童{self.rng.randint(1, 99999)}", "id_number": "", "birth_date": birth})
        case = ChildCase.register(
            self._agency(unit), case_number=number, street=self.rng.choice(STREETS),
            community=f"{self.rng.randint(1, 30)}社区", household_local=True, birth_date=birth,
            registering_unit=unit, sealed=sealed,
        )
        self.cases.append(Live(case, self.now, self.rng.randint(5, 30), {"key": key, "unit": unit}))
        self.case_ids.append(cid)
        return case

    def _case_step(self, live: Live) -> None:
        case: Any = live.aggregate
        unit = live.extra["unit"]
        key = live.extra["key"]
        r = self.rng.random()
        if live.budget <= 0:
            for rid, ref in case.referrals.items():
                if ref["status"] == "open":
                    case.close_referral(self._agency(unit), referral_id=rid, outcome="completed")
            if self.rng.random() < 0.5:
                case.evaluate(self._sup(), year=self.now.year, grade=self.rng.choice(GRADES),
                              score=self.rng.randint(55, 99), findings=self._text("考核意见"),
                              rubric_version=RUBRIC_VERSION)
            case.close(self._sup(), reason=self.rng.choice(CLOSURE_REASONS[1:]))
            self.cases.remove(live)
            return
        live.budget -= 1
        if not case.assessments:
            case.classify(self._agency(unit), left_behind=False, categories=[self.rng.choice(CATEGORIES)],
                          evidence=[hashlib.sha256(str(self.rng.random()).encode()).hexdigest()])
            return
        if r < 0.1:
            case.record_guardianship(self._agency(unit), arrangement=self.rng.choice(GUARDIANSHIPS),
                                     sealed=seal(key, case.id, {"guardian": "监护人"}))
        elif r < 0.25:
            pending = [rid for rid, rep in case.reports.items() if rep["accepted_at"] is None]
            undispatched = [rid for rid, rep in case.reports.items()
                            if rep["accepted_at"] is not None and rep["dispatched_at"] is None]
            if pending:
                case.accept_report(self._agency("dxh-ggfw"), report_id=pending[0])
            elif undispatched:
                case.dispatch_police(self._agency("gafj"), report_id=undispatched[0])
            else:
                case.file_mandatory_report(self._agency(unit), reporter=self.rng.choice(REPORTERS),
                                           nature=self.rng.choice(NATURES))
        elif r < 0.4:
            to = self.rng.choice(self.joint)
            if not any(ref["unit"] == to and ref["status"] == "open" for ref in case.referrals.values()):
                case.refer(self._agency(unit), to_unit=to, duty=self.duties[to])
            else:
                case.visit(self._agency(unit))
        elif r < 0.75:
            open_refs = [(rid, ref) for rid, ref in case.referrals.items() if ref["status"] == "open"]
            if open_refs:
                rid, ref = self.rng.choice(open_refs)
                if self.rng.random() < 0.2:
                    case.close_referral(self._agency(unit), referral_id=rid, outcome="completed")
                else:
                    case.provide_service(self._agency(ref["unit"]), kind=self.rng.choice(SERVICE_KINDS),
                                         referral_id=rid)
            else:
                case.provide_service(self._agency(unit), kind=self.rng.choice(SERVICE_KINDS))
        else:
            case.visit(self._agency(unit), sealed=seal(key, case.id, {"notes": "走访记录"})
                       if self.rng.random() < 0.3 else None)

    def extend(self, total: int, *, report: Any = None) -> None:
        """Writes until the generator has written ``total`` events in all."""
        while self.written < total:
            self.now += self.step
            touched: dict[UUID, LedgerAggregate] = {}
            with recording_at(self.now):
                for _ in range(self.batch):
                    if len(self.issues) + len(self.cases) < self.active or self.rng.random() < 0.02:
                        agg = self._new_issue() if self.rng.random() < 0.45 else self._new_case()
                    else:
                        pool = self.issues if self.rng.random() < 0.45 and self.issues else self.cases or self.issues
                        live = self.rng.choice(pool)
                        agg = live.aggregate
                        if isinstance(agg, RectificationIssue):
                            self._issue_step(live)
                        else:
                            self._case_step(live)
                    touched[agg.id] = agg
            recordings = self.ledger.save(*touched.values())
            self.written += len(recordings)
            self.saves += 1
            if report is not None and self.saves % 200 == 0:
                report(self.written, total)
