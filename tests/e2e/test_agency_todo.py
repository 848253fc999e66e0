"""A responsible unit's 待办 page, on both backends: it lists exactly the caller's unit's items
(measures due soon and overdue, urgings awaiting its reply, referrals awaiting its acceptance,
issues it has not answered with a measure, its extension requests awaiting the office), each
with the form that settles it, nothing of another unit's; a row leaves the list once settled.
And the two forms it leads to besides the measures': reply to an urging, request an extension."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from domain.plan import plan_id
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.district import District
from tests.pages import ORIGIN, PASSWORD, field_error, form_csrf, give_password, hidden_fields, page, sign_in, submit

PLAN = "东政办[2019]6号"


@dataclass
class Work:
    pf_soon: UUID  # 普法科's measure due in 9 days, urged, an extension asked
    gf_soon: UUID  # 公共法律服务管理科's: the same, for the other unit
    shared: UUID  # led by gf, pf a co-unit with no measure of its own
    pf_overdue: UUID  # 普法科's measure 9 days overdue
    pf_later: UUID  # 普法科's measure due in the autumn: nothing to do yet
    pf_case: UUID
    gf_case: UUID
    pf_referral: str
    urging: str
    pf_request: str


def register(district: District, seq: int, units: list[str], measures: list[tuple[str, str, date | None]],
             deadline: date | None = None) -> UUID:
    cmd = district.cmd
    made = district.issues.register_issue(cmd("supervisor"), plan=plan_id(PLAN), seq=seq, duty=f"职责{seq}",
                                          problem=f"存在问题{seq}", units=units, measures=measures)
    if deadline is not None:
        district.issues.assign_issue(cmd("supervisor"), made.id, lead_unit=units[0], co_units=units[1:],
                                     contact_person="陈静", deadline=deadline, nodes=[])
    return made.id


def case_referred_to(district: District, unit: str) -> tuple[UUID, str]:
    case = district.cases.register_case(district.cmd("cq-clerk"), street="常青花园", community="常青一社区",
                                        household_local=True, birth_date=BIRTH, person={"name": NAME, "id_number": valid_id()})
    referral = district.cases.refer_case(district.cmd("supervisor"), case.id, unit=unit, duty="法律援助")
    return case.id, str(referral.extra["referral_id"])


@pytest.fixture
def work(district: District) -> Work:
    """The district's clock stands at 2019-03-01 (Beijing)."""
    cmd = district.cmd
    district.issues.register_plan(cmd("supervisor"), number=PLAN, title="实施方案", issuer_unit="bgs", year=2019)
    pf_soon = register(district, 1, ["pf"], [("pf", "纳入考核标准", None)], date(2019, 3, 10))
    gf_soon = register(district, 2, ["gf"], [("gf", "设立受理窗口", None)], date(2019, 3, 5))
    shared = register(district, 3, ["gf", "pf"], [("gf", "配合开展宣传", None)], date(2019, 6, 30))
    pf_overdue = register(district, 4, ["pf"], [("pf", "建立普法台账", date(2019, 2, 20))])
    pf_later = register(district, 5, ["pf"], [("pf", "年底前完成评估", date(2019, 10, 31))])
    urged = district.issues.urge(cmd("supervisor"), pf_soon, unit="pf", message="请说明进度", reply_by=date(2019, 3, 8))
    district.issues.urge(cmd("supervisor"), gf_soon, unit="gf", message="请公法科说明进度", reply_by=date(2019, 3, 8))
    asked = district.issues.request_extension(cmd("pf-clerk"), pf_soon, deadline=date(2019, 4, 30), reason="需征求意见")
    district.issues.request_extension(cmd("gf-clerk"), gf_soon, deadline=date(2019, 4, 30), reason="场地调整")
    pf_case, pf_referral = case_referred_to(district, "pf")
    gf_case, _ = case_referred_to(district, "gf")
    return Work(pf_soon, gf_soon, shared, pf_overdue, pf_later, pf_case, gf_case, pf_referral,
                str(urged.extra["urging_id"]), str(asked.extra["request_id"]))


def links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


def case_number(district: District, case: UUID) -> str:
    return str(district.cases.case(case).case_number)


def test_the_todo_lists_exactly_the_units_own_items_each_with_the_form_that_settles_it(
        client: TestClient, district: District, work: Work) -> None:
    sign_in(client, district, "pf-clerk")
    html = page(client, "/todo")
    found = links(html)
    for settles in (f"/issues/{work.pf_soon}/measures/M1/progress", f"/issues/{work.pf_soon}/measures/M1/completion",
                    f"/issues/{work.pf_overdue}/measures/M1/progress", f"/issues/{work.pf_soon}/extension-requests",
                    f"/issues/{work.pf_soon}/urgings/{work.urging}/reply", f"/issues/{work.shared}/measures/new",
                    f"/cases/{work.pf_case}"):
        assert settles in found, settles
    assert "逾期 9 天" in html and "9 天" in html  # the overdue measure and the one due on 10 March
    assert "2019-04-30" in html  # the extension asked for, awaiting the office
    assert case_number(district, work.pf_case) in html
    # Nothing of another unit's, nor what is not yet due, nor a child's name.
    assert not any(str(other) in link for link in found
                   for other in (work.gf_soon, work.gf_case, work.pf_later))
    assert f"/issues/{work.shared}/measures/M1" not in html  # gf's measure on the shared issue
    assert case_number(district, work.gf_case) not in html
    assert "请公法科说明进度" not in html and "场地调整" not in html and NAME not in html

    client.cookies.clear()
    sign_in(client, district, "gf-clerk")
    theirs = links(page(client, "/todo"))
    assert f"/issues/{work.gf_soon}/measures/M1/progress" in theirs and f"/cases/{work.gf_case}" in theirs
    assert not any(str(other) in link for link in theirs
                   for other in (work.pf_soon, work.pf_overdue, work.shared, work.pf_case))


def test_a_long_list_shows_its_most_pressing_rows_and_counts_them_all(
        client: TestClient, district: District, work: Work, monkeypatch: pytest.MonkeyPatch) -> None:
    from interfaces.web import todo

    monkeypatch.setattr(todo, "ROWS_SHOWN", 1)
    later = district.issues.urge(district.cmd("supervisor"), work.pf_soon, unit="pf", message="再次催办",
                                 reply_by=date(2019, 3, 20))
    sign_in(client, district, "pf-clerk")
    html = page(client, "/todo")
    found = links(html)
    # Two urgings await pf's reply: the one due first is shown, the other counted.
    assert f"/issues/{work.pf_soon}/urgings/{work.urging}/reply" in found
    assert f"/issues/{work.pf_soon}/urgings/{later.extra['urging_id']}/reply" not in found
    assert "催办：待回复（2）" in html and "共 2 项，以下列出最紧迫的 1 项" in html
    # Two of pf's measures are due or overdue: the overdue one first.
    assert f"/issues/{work.pf_overdue}/measures/M1/progress" in found
    assert f"/issues/{work.pf_soon}/measures/M1/progress" not in found
    assert "整改措施：临近到期和逾期（2）" in html
    assert "共 6 项待本单位办理" in html  # every row counted, shown or not (2 + 2 + 1 + 1)


def test_rows_leave_the_todo_once_settled(client: TestClient, district: District, work: Work) -> None:
    sign_in(client, district, "pf-clerk")
    completion = f"/issues/{work.pf_overdue}/measures/M1/completion"
    assert submit(client, completion, completion, {"summary": "台账已建立"}).status_code == 303
    reply = f"/issues/{work.pf_soon}/urgings/{work.urging}/reply"
    assert submit(client, reply, reply, {"message": "考核标准已起草，本周内印发"}).status_code == 303
    adopt = f"/issues/{work.shared}/measures/new"
    assert submit(client, adopt, adopt, {"text": "在普法活动中宣传"}).status_code == 303
    district.cases.accept_referral(district.cmd("pf-clerk"), work.pf_case, work.pf_referral)
    district.issues.decide_extension(district.cmd("supervisor"), work.pf_soon, work.pf_request, approved=True,
                                     reason="同意")

    html = page(client, "/todo")
    found = links(html)
    assert completion not in found and f"/issues/{work.pf_overdue}/measures/M1/progress" not in found
    assert reply not in found and adopt not in found and f"/cases/{work.pf_case}" not in found
    assert "没有待回复的催办" in html and "没有待接收的转介" in html and "没有待审批的延期申请" in html
    # The approved extension moved the issue's deadline to 30 April: M1 is no longer due soon.
    assert f"/issues/{work.pf_soon}/measures/M1/progress" not in found
    assert "没有临近到期或逾期的整改措施" in html


def test_an_agency_lands_on_its_todo_and_other_roles_on_theirs(client: TestClient, district: District) -> None:
    front = client.get("/", follow_redirects=False)
    assert front.status_code == 303 and front.headers["location"] == "/signin"
    for who, landing in (("pf-clerk", "/todo"), ("supervisor", "/")):
        client.cookies.clear()
        give_password(district, who)
        csrf = form_csrf(client.get("/signin").text)
        answer = client.post("/signin", data={"username": who, "password": PASSWORD, "csrf": csrf, "next": ""},
                             headers=ORIGIN, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == landing
    assert 'href="/todo"' not in page(client, "/")
    page(client, "/todo", 403)  # a supervisor's work is the district's, not one unit's


def test_a_reply_sent_twice_is_recorded_once_and_an_empty_one_is_refused_beside_its_field(
        client: TestClient, district: District, work: Work) -> None:
    sign_in(client, district, "pf-clerk")
    reply = f"/issues/{work.pf_soon}/urgings/{work.urging}/reply"
    before = district.ledger.recorder.max_notification_id()
    empty = submit(client, reply, reply, {"message": " "})
    assert empty.status_code == 422 and field_error(empty.text, "message")
    assert district.ledger.recorder.max_notification_id() == before
    envelope = hidden_fields(page(client, reply), reply)
    sent = [submit(client, reply, reply, {"message": "已部署"}, envelope=envelope) for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]
    urging = district.issues.read_issue(district.actors["pf-clerk"], work.pf_soon).urging(work.urging)
    assert urging["reply"] == "已部署" and urging["reply_late"] is False
    entries = district.issues.issue_history(district.actors["pf-clerk"], work.pf_soon)
    assert sum(1 for e in entries if e["type"].endswith("UrgingReplied")) == 1
    # Another unit neither sees the form nor may send it.
    client.cookies.clear()
    sign_in(client, district, "gf-clerk")
    page(client, reply, 404)


def test_an_extension_request_keeps_what_was_typed_when_its_deadline_is_not_later(
        client: TestClient, district: District, work: Work) -> None:
    sign_in(client, district, "pf-clerk")
    form = f"/issues/{work.shared}/extension-requests"
    before = district.ledger.recorder.max_notification_id()
    early = submit(client, form, form, {"deadline": "2019-06-01", "reason": "宣传材料印制推迟"})
    assert early.status_code == 422
    assert "晚于" in field_error(early.text, "deadline") and "宣传材料印制推迟" in early.text
    assert district.ledger.recorder.max_notification_id() == before
    asked = submit(client, form, form, {"deadline": "2019-07-31", "reason": "宣传材料印制推迟"})
    assert asked.status_code == 303
    requests = district.issues.read_issue(district.actors["pf-clerk"], work.shared).extension_requests
    assert [(r["unit"], r["deadline"]) for r in requests.values()] == [("pf", date(2019, 7, 31))]
    assert "2019-07-31" in page(client, "/todo")


def test_the_issue_page_offers_the_urged_unit_its_reply_and_a_responsible_unit_an_extension(
        client: TestClient, district: District, work: Work) -> None:
    reply = f"/issues/{work.pf_soon}/urgings/{work.urging}/reply"
    sign_in(client, district, "pf-clerk")
    offered = links(page(client, f"/issues/{work.pf_soon}"))
    assert reply in offered and f"/issues/{work.pf_soon}/extension-requests" in offered
    submit(client, reply, reply, {"message": "已部署"})
    assert reply not in links(page(client, f"/issues/{work.pf_soon}"))  # replied: nothing more to send
    client.cookies.clear()
    sign_in(client, district, "gf-clerk")  # the shared issue's lead unit, never urged on it
    offered = links(page(client, f"/issues/{work.shared}"))
    assert f"/issues/{work.shared}/extension-requests" in offered
    assert not any("/urgings/" in link for link in offered)
