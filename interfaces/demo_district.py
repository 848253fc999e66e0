"""The demo district: the units of both source documents; the justice bureau's 2019 plan with
its four-row problem list and its history, an imported example to replay (finished in January
2020); and this year's plan, dated relative to today, so that the dashboard shows what an
office sees on a working day: work due next week, issues overdue by days, an urging, a late
entry, an extension and a closure."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING
from uuid import UUID

from application.access import Actor
from application.accounts import Accounts
from application.commands import SYSTEM, Command
from application.issues import Issues
from application.ledger import Ledger
from domain.base import LedgerAggregate, Stamp
from domain.plan import plan_id
from domain.registry import User, user_id

if TYPE_CHECKING:
    from interfaces.bootstrap import Services

SHANGHAI = timezone(timedelta(hours=8))

JUSTICE_BUREAU_UNITS = [
    ("dxh-bgs", "办公室", None),
    ("dxh-pfk", "普法和依法治理科", None),
    ("dxh-ggfw", "公共法律服务管理科", None),
    ("dxh-sfs-wjs", "吴家山司法所", "司法所"),
    ("dxh-sfs-zml", "走马岭司法所", "司法所"),
    ("dxh-sfs-jh", "径河司法所", "司法所"),
    ("dxh-sfs-cqhy", "常青花园司法所", "司法所"),
]

# 联席会议成员单位 and the first line of each one's duties (the second source document).
JOINT_MEETING_UNITS = [
    ("rd-fzw", "区人大法制和内务司法（民宗侨务）工委", "配合做好未成年人保护的相关立法工作"),
    ("fy", "区法院", "及时受理并依法办理涉及农村留守儿童和困境儿童权益保护的案件，为无人监护或遭受监护侵害的儿童指定监护人"),
    ("jcy", "区检察院", "依法惩处侵害农村留守儿童和困境儿童权益的犯罪，保护救助被害儿童"),
    ("xctz", "区委宣传统战部", "将关爱保护工作纳入未成年人思想道德建设考核体系"),
    ("zfw", "区委政法委", "将关爱保护工作纳入社会治安综合治理考核重要内容"),
    ("sfj", "区司法局", "以案释法、社区普法，强化强制报告主体的法律意识；引导法律服务人员提供法律援助"),
    ("yfzq", "区全面依法治区委员会办公室", "理顺未成年人保护工作体制，构建行政保护和司法保护协作机制"),
    ("jfj", "区经发局", "将关爱保护纳入全区国民经济和社会发展中长期规划"),
    ("jyj", "区教育局", "控辍保学，督促指导中小学校、幼儿园开展强制报告工作"),
    ("czj", "区财政局", "足额保障农村留守儿童和困境儿童关爱服务经费"),
    ("rsj", "区人社局", "推动落实农民工返乡创业就业政策"),
    ("mzj", "区民政局", "牵头建立工作机制，指导建立详实完备、动态更新的信息台账"),
    ("cl", "区残联", "落实残疾儿童康复救助制度"),
    ("zjj", "区住建局", "对符合住房保障政策的留守儿童和困境儿童家庭予以住房保障"),
    ("nyncj", "区农业农村局", "将关爱保护工作纳入三农工作和美丽乡村建设规划"),
    ("wjj", "区卫健局", "指导医疗机构开展强制报告，及时救治遭受侵害的儿童"),
    ("tjj", "区统计局", "调查了解农村留守儿童、困境儿童基本状况"),
    ("zgh", "区总工会", "开展金秋助学、职工子女托管服务等关爱行动"),
    ("tqw", "团区委", "组织志愿者提供假期日间照料、课后辅导、心理疏导等关爱服务"),
    ("fl", "区妇联", "依托妇儿之家提供关爱服务，加强家庭教育指导"),
    ("gafj", "公安分局", "及时受理强制报告，第一时间出警调查，采取应急处置措施"),
    ("swj", "区税务局", "落实税费减免优惠政策，支持举办托管服务机构"),
    ("ggw", "区关工委", "动员离退休老同志开展关爱服务和互助活动"),
]

PLAN_NUMBER = "东政办[2019]6号"

PROBLEM_LIST = [
    (1, ["dxh-pfk", "司法所"],
     "以街道（含常青花园社管办）为单位，加强对儿童的法治宣传教育，宣传普及《未成年人保护法》、《预防未成年人犯罪法》等法律法规，加强对农村留守儿童、困境儿童的普法教育，提高儿童的法制观念、自我保护意识和防范能力。",
     "有待加强具体化进行落实。",
     [("dxh-pfk", "普法和依法治理科将《未成年人保护法》、《预防未成年人犯罪法》等法律法规的学习纳入细化考核标准的内容。"),
      ("dxh-sfs-wjs", "加强对农村留守儿童、困境儿童的普法教育，制定普法活动计划，开展针对性普法活动。"),
      ("dxh-sfs-zml", "加强对农村留守儿童、困境儿童的普法教育，制定普法活动计划，开展针对性普法活动。")]),
    (2, ["dxh-pfk"],
     "落实“谁执法、谁普法”普法责任制，指导全区普法成员单位通过以案释法、社区普法、针对重点对象开展法治宣传教育等多种形式，深入宣传未成年人保护法律法规和政策措施，引导未成年人父母自觉履行监护责任，强化强制报告主体的法律意识。",
     "指导全区普法成员单位开展法治宣传教育针对性有待加强。",
     [("dxh-pfk", "将对重点对象开展法治宣传教育纳入各普法责任单位的责任清单中，年终进行考核。")]),
    (3, ["dxh-ggfw", "司法所"],
     "要进一步完善困境儿童法律援助和司法救助机制，坚持非讼援助与诉讼援助相结合，以非讼援助为主，支持法律援助机构与相关部门建立联动协助机制，使困境儿童得到迅速有效的法律援助保障。",
     "在对困境儿童非讼法律援助机制还需进一步完善和加强。",
     [("dxh-ggfw", "发挥街道法律援助工作站的作用，拓展困境儿童申请法律援助的途径。")]),
    (4, ["dxh-ggfw"],
     "积极引导法律服务人员为合法权益受到侵害的农村留守儿童、困境儿童及其家庭提供法律援助和法律服务等专业服务，切实维护其合法权益。",
     "对于留守儿童、困境儿童法律援助和法律服务需求的把握主动性还有待加强。",
     [("dxh-ggfw", "有针对性地对留守儿童、困境儿童提供法律援助和法律服务等，开辟留守儿童法律援助绿色通道，维护留守儿童的合法权益。")]),
]

def current_plan_number(year: int) -> str:
    return f"东司法[{year}]2号"


# This year's problem list: (序号, responsible units, duty, problem, measures), dated by load().
CURRENT_PROBLEM_LIST = [
    (1, ["dxh-pfk", "司法所"],
     "开展“法治进校园”留守儿童专题普法活动，每所中小学每学期不少于一次。",
     "部分学校普法活动流于形式，留守儿童参与率不高。",
     [("dxh-pfk", "制定全区留守儿童专题普法计划，纳入普法责任清单考核。"),
      ("dxh-sfs-wjs", "在辖区中小学开展留守儿童专题普法活动。"),
      ("dxh-sfs-zml", "在辖区中小学开展留守儿童专题普法活动。")]),
    (2, ["dxh-ggfw", "dxh-sfs-wjs"],
     "畅通困境儿童法律援助绿色通道，做到当日受理、及时指派。",
     "吴家山片区法律援助受理点未公示绿色通道办理流程。",
     [("dxh-ggfw", "制定困境儿童法律援助绿色通道办理流程并公示。"),
      ("dxh-sfs-wjs", "在街道法律援助受理点公示绿色通道流程，建立受理台账。")]),
    (3, ["dxh-pfk"],
     "宣传强制报告制度，指导学校、医疗机构等强制报告主体知晓报告义务和渠道。",
     "强制报告制度宣传覆盖面不足，部分基层单位不知晓报告渠道。",
     [("dxh-pfk", "编印强制报告制度宣传册，向全区学校、医疗机构发放。")]),
    (4, ["dxh-ggfw"],
     "组织律师为困境儿童家庭提供监护、抚养等法律咨询服务。",
     "上门法律咨询服务次数偏少。",
     [("dxh-ggfw", "组织律师每月到各街道开展一次困境儿童家庭法律咨询。")]),
    (5, ["dxh-sfs-zml"],
     "摸排辖区留守儿童和困境儿童涉法需求，建立工作台账。",
     "走马岭街涉法需求台账未按月更新。",
     [("dxh-sfs-zml", "按月更新辖区留守儿童涉法需求台账。")]),
]


DEMO_USERS = [
    ("supervisor", "督查督办-李敏", "dxh-bgs", "supervisor"),
    ("inspector", "巡察-王强", "dxh-bgs", "inspector"),
    ("admin", "系统管理员", "dxh-bgs", "admin"),
    ("agency", "普法科-陈静", "dxh-pfk", "agency"),
    ("agency_legal_services", "公法科-赵磊", "dxh-ggfw", "agency"),
    ("agency_wujiashan", "吴家山司法所-刘洋", "dxh-sfs-wjs", "agency"),
    ("agency_zoumaling", "走马岭司法所-周婷", "dxh-sfs-zml", "agency"),
]


@dataclass
class DemoClock:
    """Lets the demo record its history on the dates it happened."""

    ledger: Ledger

    @contextmanager
    def at(self, day: date, hour: int = 10) -> Iterator[None]:
        original = self.ledger.clock
        moment = datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI).astimezone(timezone.utc)
        self.ledger.clock = lambda: moment
        try:
            yield
        finally:
            self.ledger.clock = original


def is_empty(ledger: Ledger) -> bool:
    return not ledger.recorder.max_notification_id()


Actors = dict[str, Actor]


def load(services: Services) -> dict[str, str]:
    """Loads the demo district; answers one bearer token per role (shown once). This year's
    plan is dated relative to the ledger clock's (Beijing) day."""
    today = services.ledger.clock().astimezone(SHANGHAI).date()
    clock = DemoClock(services.ledger)
    with clock.at(date(2019, 3, 1), 9):
        for code, name, group in JUSTICE_BUREAU_UNITS:
            services.registry.add_unit(Command(SYSTEM), code=code, name=name, group=group)
        for code, name, duty in JOINT_MEETING_UNITS:
            services.registry.add_unit(Command(SYSTEM), code=code, name=name, group="联席会议成员单位")
            services.registry.define_duty(Command(SYSTEM), unit=code, duty_id="D1", text=duty)
        actors = {}
        for key, name, unit, role in DEMO_USERS:
            enrolment = services.accounts.add_user(Command(SYSTEM), name=name, unit=unit, role=role)
            actors[key] = services.identity.authenticate(enrolment.token)
    _plan_2019(services.issues, clock, actors)
    _plan_this_year(services.issues, clock, actors, today)
    # The enrolment tokens were issued in 2019 and have long expired: fresh ones, issued now.
    return {key: current_token(services, name) for key, name, _, _ in DEMO_USERS}


def _commands(actors: Actors) -> Callable[..., Command]:
    def cmd(who: str, occurred: date | None = None) -> Command:
        claimed = None
        if occurred is not None:
            claimed = datetime(occurred.year, occurred.month, occurred.day, 9, tzinfo=SHANGHAI)
        return Command(actor=actors[who], occurred_at=claimed)

    return cmd


def _register(service: Issues, cmd: Callable[..., Command], number: str,
              problems: list[tuple[int, list[str], str, str, list[tuple[str, str]]]]) -> dict[int, UUID]:
    plan = plan_id(number)
    return {
        seq: service.register_issue(cmd("supervisor"), plan=plan, seq=seq, duty=duty, problem=problem, units=units,
                                   measures=[(owner, text, None) for owner, text in measures]).id
        for seq, units, duty, problem, measures in problems
    }


def _plan_2019(service: Issues, clock: DemoClock, actors: Actors) -> None:
    """The 2019 plan as the justice bureau's ledger recorded it, finished in January 2020."""
    cmd = _commands(actors)
    with clock.at(date(2019, 3, 4)):
        service.register_plan(cmd("supervisor"), number=PLAN_NUMBER,
                             title="东西湖区司法局关于进一步加强农村留守儿童关爱保护和困境儿童保障工作的实施方案",
                             issuer_unit="dxh-bgs", year=2019)
    with clock.at(date(2019, 3, 5)):
        issues = _register(service, cmd, PLAN_NUMBER, PROBLEM_LIST)
    with clock.at(date(2019, 3, 8)):
        service.assign_issue(cmd("supervisor"), issues[1], lead_unit="dxh-pfk", co_units=["司法所"],
                            contact_person="陈静", deadline=date(2019, 6, 30), nodes=[date(2019, 4, 30)])
        service.assign_issue(cmd("supervisor"), issues[2], lead_unit="dxh-pfk", co_units=[],
                            contact_person="陈静", deadline=date(2019, 9, 30), nodes=[date(2019, 6, 30)])
        service.assign_issue(cmd("supervisor"), issues[3], lead_unit="dxh-ggfw", co_units=["司法所"],
                            contact_person="赵磊", deadline=date(2019, 5, 31), nodes=[])
        service.assign_issue(cmd("supervisor"), issues[4], lead_unit="dxh-ggfw", co_units=[],
                            contact_person="赵磊", deadline=date(2019, 7, 31), nodes=[date(2019, 5, 31)])
    with clock.at(date(2019, 4, 12)):
        service.report_progress(cmd("agency"), issues[1], "M1", summary="已将两法学习纳入科室细化考核标准（初稿）。", evidence=[])
        service.report_progress(cmd("agency_wujiashan"), issues[1], "M2",
                               summary="制定2019年普法活动计划，在吴家山第一小学开展“法治进校园”活动1场。", evidence=[])
    with clock.at(date(2019, 4, 26)):
        service.report_progress(cmd("agency_legal_services"), issues[3], "M1",
                               summary="各街道法律援助工作站设立困境儿童受理窗口。", evidence=[])
    with clock.at(date(2019, 5, 20)):
        service.complete_measure(cmd("agency_legal_services"), issues[3], "M1", summary="受理窗口已全部设立并公示。")
    with clock.at(date(2019, 6, 3)):
        service.close_issue(cmd("supervisor"), issues[3], summary="经核查，街道法律援助工作站受理窗口已设立，予以销号。")
    with clock.at(date(2019, 6, 28)):
        service.complete_measure(cmd("agency"), issues[1], "M1", summary="细化考核标准已印发。")
        service.complete_measure(cmd("agency_wujiashan"), issues[1], "M2", summary="全年普法活动计划已落实。")
    with clock.at(date(2019, 7, 5)):
        service.urge(cmd("supervisor"), issues[1], unit="dxh-sfs-zml",
                    message="整改期限已过，请走马岭司法所尽快报送整改进展。", reply_by=date(2019, 7, 15))
    with clock.at(date(2019, 7, 29)):
        service.extend_deadline(cmd("supervisor"), issues[4], deadline=date(2019, 10, 31),
                               reason="法律援助绿色通道需与区法院、区检察院会签，经领导小组同意延期。")
    with clock.at(date(2019, 8, 20)):
        # Entered late: the stage summary of the July work reached the ledger weeks later.
        service.report_progress(cmd("agency_zoumaling", date(2019, 7, 10)), issues[1], "M3",
                               summary="7月在走马岭街开展留守儿童普法讲座2场。", evidence=[])
    with clock.at(date(2019, 9, 10)):
        service.report_progress(cmd("agency"), issues[2], "M1",
                               summary="重点对象法治宣传教育已写入12家普法责任单位的责任清单。", evidence=[])
    with clock.at(date(2019, 10, 16)):
        service.urge(cmd("supervisor"), issues[2], unit="dxh-pfk",
                    message="整改期限已过，请说明未办结原因。", reply_by=date(2019, 10, 25))
    with clock.at(date(2019, 12, 27)):
        service.evaluate_issue(cmd("supervisor"), issues[3], year=2019, grade="优秀", score=95,
                              findings="按期整改到位。")
        service.evaluate_issue(cmd("supervisor"), issues[1], year=2019, grade="优秀", score=92,
                              findings="整改总体到位。")
        service.evaluate_issue(cmd("supervisor"), issues[2], year=2019, grade="合格", score=72,
                              findings="逾期未办结。")
    with clock.at(date(2020, 1, 8)):
        service.complete_measure(cmd("agency_zoumaling"), issues[1], "M3", summary="全年普法讲座已开展，资料已归档。")
        service.complete_measure(cmd("agency"), issues[2], "M1", summary="责任清单已印发并纳入年终考核。")
        service.complete_measure(cmd("agency_legal_services"), issues[4], "M1",
                                summary="法律援助绿色通道已与区法院、区检察院会签开通。")
    with clock.at(date(2020, 1, 15)):
        for seq in (1, 2, 4):
            service.close_issue(cmd("supervisor"), issues[seq], summary="经核查，整改措施已全部完成，予以销号。")


def _plan_this_year(service: Issues, clock: DemoClock, actors: Actors, today: date) -> None:
    """This year's plan, each entry a number of days before ``today`` (never on it: the
    history stays in the past whatever the hour): due in 6 days, overdue by 3 and by 12 days
    (urged), extended, closed on time, and an entry made 10 days after the work it reports."""
    cmd = _commands(actors)

    def day(offset: int) -> date:
        return today + timedelta(days=offset)

    number = current_plan_number(today.year)
    with clock.at(day(-45)):
        service.register_plan(cmd("supervisor"), number=number, title=f"东西湖区司法局{today.year}年关爱保护工作督查督办问题清单",
                              issuer_unit="dxh-bgs", year=today.year)
        issues = _register(service, cmd, number, CURRENT_PROBLEM_LIST)
    with clock.at(day(-44)):
        service.assign_issue(cmd("supervisor"), issues[1], lead_unit="dxh-pfk", co_units=["司法所"],
                            contact_person="陈静", deadline=day(6), nodes=[day(-14)])
        service.assign_issue(cmd("supervisor"), issues[2], lead_unit="dxh-ggfw", co_units=["dxh-sfs-wjs"],
                            contact_person="赵磊", deadline=day(-3), nodes=[])
        service.assign_issue(cmd("supervisor"), issues[3], lead_unit="dxh-pfk", co_units=[],
                            contact_person="陈静", deadline=day(-12), nodes=[])
        service.assign_issue(cmd("supervisor"), issues[4], lead_unit="dxh-ggfw", co_units=[],
                            contact_person="赵磊", deadline=day(-20), nodes=[])
        service.assign_issue(cmd("supervisor"), issues[5], lead_unit="dxh-sfs-zml", co_units=[],
                            contact_person="周婷", deadline=day(-10), nodes=[])
    with clock.at(day(-30)):
        service.extend_deadline(cmd("supervisor"), issues[4], deadline=day(20),
                               reason="律师库调整，经分管领导同意延期。")
    with clock.at(day(-20)):
        service.report_progress(cmd("agency"), issues[1], "M1", summary="全区留守儿童专题普法计划已起草，征求意见中。", evidence=[])
        service.report_progress(cmd("agency_zoumaling"), issues[5], "M1", summary="已完成走马岭街各村（社区）涉法需求摸排。", evidence=[])
    with clock.at(day(-16)):
        service.complete_measure(cmd("agency_zoumaling"), issues[5], "M1", summary="涉法需求台账已建立，按月更新。")
    with clock.at(day(-15)):
        service.report_progress(cmd("agency_legal_services"), issues[2], "M1", summary="绿色通道办理流程已印发。", evidence=[])
    with clock.at(day(-14)):
        service.close_issue(cmd("supervisor"), issues[5], summary="经核查，涉法需求台账已按月更新，予以销号。")
    with clock.at(day(-10)):
        service.report_progress(cmd("agency_wujiashan"), issues[1], "M2",
                               summary="在吴家山第一小学开展留守儿童专题普法活动1场。", evidence=[])
    with clock.at(day(-7)):
        service.report_progress(cmd("agency_legal_services"), issues[4], "M1",
                               summary="律师库已调整，本月已到两个街道开展上门咨询。", evidence=[])
    with clock.at(day(-5)):
        service.urge(cmd("supervisor"), issues[3], unit="dxh-pfk",
                    message="整改期限已过，请普法科说明宣传册发放进度。", reply_by=day(2))
    with clock.at(day(-2)):
        # Entered late: the work was done ten days before it reached the service.
        service.report_progress(cmd("agency_wujiashan", day(-12)), issues[2], "M2",
                               summary="吴家山街法律援助受理点已公示绿色通道流程。", evidence=[])


def current_token(services: Services, name: str) -> str:
    """A token for the user ``name`` issued at the ledger's clock, by `system`."""
    made: list[str] = []

    def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, object]]:
        issued, token = services.identity.new_token(stamp, services.ledger.load(User, user_id(name), "用户"))
        made.append(token)
        return issued, [], {}

    services.runner.run(Command(SYSTEM), act)
    return made[0]


def sign_ins(accounts: Accounts) -> dict[str, str]:
    """Gives each demo user a fresh random password for the dashboard; answers
    ``{key}_user`` and ``{key}_password`` per role (shown once, kept in the 0600 file)."""
    kept: dict[str, str] = {}
    for key, name, _, _ in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        accounts.set_password(Command(SYSTEM), name, password)
        kept[f"{key}_user"] = name
        kept[f"{key}_password"] = password
    return kept
