"""The demo district: the units of both source documents, the justice bureau's plan and
its four-row problem list, and a few months of plausible 2019 history."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from application.accounts import Accounts
from application.ledger import SYSTEM, Command, Ledger
from domain.base import LedgerAggregate, Stamp
from domain.plan import plan_id
from domain.registry import User, user_id

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


def load(ledger: Ledger) -> dict[str, str]:
    """Loads the demo district; answers one bearer token per role (shown once)."""
    clock = DemoClock(ledger)
    tokens: dict[str, str] = {}
    with clock.at(date(2019, 3, 1), 9):
        for code, name, group in JUSTICE_BUREAU_UNITS:
            ledger.add_unit(Command(SYSTEM), code=code, name=name, group=group)
        for code, name, duty in JOINT_MEETING_UNITS:
            ledger.add_unit(Command(SYSTEM), code=code, name=name, group="联席会议成员单位")
            ledger.define_duty(Command(SYSTEM), unit=code, duty_id="D1", text=duty)
        actors = {}
        for key, name, unit, role in DEMO_USERS:
            enrolment = ledger.add_user(Command(SYSTEM), name=name, unit=unit, role=role)
            tokens[key] = enrolment.token
            actors[key] = ledger.authenticate(enrolment.token)

    def cmd(who: str, occurred: date | None = None) -> Command:
        claimed = None
        if occurred is not None:
            claimed = datetime(occurred.year, occurred.month, occurred.day, 9, tzinfo=SHANGHAI)
        return Command(actor=actors[who], occurred_at=claimed)

    with clock.at(date(2019, 3, 4)):
        ledger.register_plan(cmd("supervisor"), number=PLAN_NUMBER,
                             title="东西湖区司法局关于进一步加强农村留守儿童关爱保护和困境儿童保障工作的实施方案",
                             issuer_unit="dxh-bgs", year=2019)
    plan = plan_id(PLAN_NUMBER)
    issues = {}
    with clock.at(date(2019, 3, 5)):
        for seq, units, duty, problem, measures in PROBLEM_LIST:
            issues[seq] = ledger.register_issue(
                cmd("supervisor"), plan=plan, seq=seq, duty=duty, problem=problem, units=units,
                measures=[(owner, text, None) for owner, text in measures],
            ).id
    with clock.at(date(2019, 3, 8)):
        ledger.assign_issue(cmd("supervisor"), issues[1], lead_unit="dxh-pfk", co_units=["司法所"],
                            contact_person="陈静", deadline=date(2019, 6, 30), nodes=[date(2019, 4, 30)])
        ledger.assign_issue(cmd("supervisor"), issues[2], lead_unit="dxh-pfk", co_units=[],
                            contact_person="陈静", deadline=date(2019, 9, 30), nodes=[date(2019, 6, 30)])
        ledger.assign_issue(cmd("supervisor"), issues[3], lead_unit="dxh-ggfw", co_units=["司法所"],
                            contact_person="赵磊", deadline=date(2019, 5, 31), nodes=[])
        ledger.assign_issue(cmd("supervisor"), issues[4], lead_unit="dxh-ggfw", co_units=[],
                            contact_person="赵磊", deadline=date(2019, 7, 31), nodes=[date(2019, 5, 31)])
    with clock.at(date(2019, 4, 12)):
        ledger.report_progress(cmd("agency"), issues[1], "M1", summary="已将两法学习纳入科室细化考核标准（初稿）。", evidence=[])
        ledger.report_progress(cmd("agency_wujiashan"), issues[1], "M2",
                               summary="制定2019年普法活动计划，在吴家山第一小学开展“法治进校园”活动1场。", evidence=[])
    with clock.at(date(2019, 4, 26)):
        ledger.report_progress(cmd("agency_legal_services"), issues[3], "M1",
                               summary="各街道法律援助工作站设立困境儿童受理窗口。", evidence=[])
    with clock.at(date(2019, 5, 20)):
        ledger.complete_measure(cmd("agency_legal_services"), issues[3], "M1", summary="受理窗口已全部设立并公示。")
    with clock.at(date(2019, 6, 3)):
        ledger.close_issue(cmd("supervisor"), issues[3], summary="经核查，街道法律援助工作站受理窗口已设立，予以销号。")
    with clock.at(date(2019, 6, 28)):
        ledger.complete_measure(cmd("agency"), issues[1], "M1", summary="细化考核标准已印发。")
        ledger.complete_measure(cmd("agency_wujiashan"), issues[1], "M2", summary="全年普法活动计划已落实。")
    with clock.at(date(2019, 7, 5)):
        ledger.urge(cmd("supervisor"), issues[1], unit="dxh-sfs-zml",
                    message="整改期限已过，请走马岭司法所尽快报送整改进展。", reply_by=date(2019, 7, 15))
    with clock.at(date(2019, 7, 29)):
        ledger.extend_deadline(cmd("supervisor"), issues[4], deadline=date(2019, 10, 31),
                               reason="法律援助绿色通道需与区法院、区检察院会签，经领导小组同意延期。")
    with clock.at(date(2019, 8, 20)):
        # Entered late: the stage summary of the July work reached the ledger weeks later.
        ledger.report_progress(cmd("agency_zoumaling", date(2019, 7, 10)), issues[1], "M3",
                               summary="7月在走马岭街开展留守儿童普法讲座2场。", evidence=[])
    with clock.at(date(2019, 9, 10)):
        ledger.report_progress(cmd("agency"), issues[2], "M1",
                               summary="重点对象法治宣传教育已写入12家普法责任单位的责任清单。", evidence=[])
    with clock.at(date(2019, 10, 16)):
        ledger.urge(cmd("supervisor"), issues[2], unit="dxh-pfk",
                    message="整改期限已过，请说明未办结原因。", reply_by=date(2019, 10, 25))
    with clock.at(date(2019, 12, 27)):
        ledger.evaluate_issue(cmd("supervisor"), issues[3], year=2019, grade="优秀", score=95,
                              findings="按期整改到位。")
        ledger.evaluate_issue(cmd("supervisor"), issues[1], year=2019, grade="优秀", score=92,
                              findings="整改总体到位。")
        ledger.evaluate_issue(cmd("supervisor"), issues[2], year=2019, grade="合格", score=72,
                              findings="逾期未办结。")
    # The enrolment tokens were issued in 2019 and have long expired: fresh ones, issued now.
    return {key: current_token(ledger, name) for key, name, _, _ in DEMO_USERS}


def current_token(ledger: Ledger, name: str) -> str:
    """A token for the user ``name`` issued at the ledger's clock, by `system`."""
    made: list[str] = []

    def act(stamp: Stamp) -> tuple[LedgerAggregate, list[LedgerAggregate], dict[str, object]]:
        issued, token = ledger.new_token(stamp, ledger.load(User, user_id(name), "用户"))
        made.append(token)
        return issued, [], {}

    ledger.run(Command(SYSTEM), act)
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
