"""The child cases' pages and forms, on both backends: the list and the case page show no
personal field; each form appends once however often it is sent, says so when sent after
another entry, keeps what was typed beside its errors; personal fields are shown only after
查看个人信息 with a reason, recorded in the access log; and no refusal page or log line holds
a child's personal data."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from application.errors import Forbidden
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.district import District
from tests.pages import field_error, hidden_fields, opened, page, sign_in, submit
from tests.scan import scan_store

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ADDRESS = "幸福路88号"
GUARDIAN = "王大明"
PHONE = "13812345678"


@pytest.fixture
def case(district: District) -> UUID:
    return district.cases.register_case(
        district.cmd("cq-clerk"), street="常青花园", community="常青一社区", household_local=True,
        birth_date=BIRTH, person={"name": NAME, "id_number": valid_id(), "address": ADDRESS, "guardian": GUARDIAN},
    ).id


def entries(district: District, case: UUID, kind: str) -> list[dict[str, Any]]:
    return [e for e in district.cases.case_history(district.actors["supervisor"], case) if e["type"] == kind]


def size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


def no_personal_data(text: str) -> None:
    for needle in (NAME, valid_id(), ADDRESS, GUARDIAN, PHONE):
        assert needle not in text, needle


def outside_the_fields(html: str) -> str:
    """The page without what its form's fields hold (what was typed, shown back to its typist)."""
    html = re.sub(r'<input type="[a-z-]+" name="[a-z_]+" value="[^"]*"', "", html)
    return re.sub(r"(<textarea[^>]*>).*?</textarea>", r"\1", html, flags=re.DOTALL)


def test_the_case_list_shows_what_the_reader_may_read_and_no_personal_field(
        client: TestClient, district: District, case: UUID) -> None:
    sign_in(client, district, "cq-clerk")
    listed = page(client, "/cases")
    assert f'href="/cases/{case}"' in listed and "常青一社区" in listed and "ET2019-" in listed
    no_personal_data(listed)
    assert 'href="/cases"' in listed  # the navigation offers 个案
    client.cookies.clear()
    sign_in(client, district, "gf-clerk")  # not party to the case
    assert f"/cases/{case}" not in page(client, "/cases")
    page(client, f"/cases/{case}", 404)
    page(client, f"/cases/{case}/visits", 404)
    client.cookies.clear()
    sign_in(client, district, "admin")
    page(client, "/cases", 403)


def test_a_registration_is_recorded_once_and_a_refused_one_keeps_what_was_typed_only_in_its_fields(
        client: TestClient, district: District) -> None:
    form = "/cases/new"
    envelope = opened(client, district, "zml-clerk", form)
    typed = {"name": NAME, "id_number": valid_id(), "birth_date": BIRTH.isoformat(), "address": ADDRESS,
             "guardian": GUARDIAN, "street": "走马岭", "community": "走马岭村", "household_local": "true"}
    before = size(district)
    with capture_logs() as logs:
        wrong = submit(client, form, form, {**typed, "id_number": valid_id()[:-1] + "0"}, envelope=envelope)
        blank = submit(client, form, form, {**typed, "name": " ", "street": ""}, envelope=envelope)
    assert wrong.status_code == blank.status_code == 422
    assert "身份证号码" in field_error(wrong.text, "id_number")
    assert field_error(blank.text, "name") and field_error(blank.text, "street")
    assert size(district) == before
    for refused in (wrong, blank):
        # What was typed is in the form's own fields, and nowhere else on the page.
        no_personal_data(outside_the_fields(refused.text))
        assert f'name="address" value="{ADDRESS}"' in refused.text
    no_personal_data(repr(logs))
    first = submit(client, form, form, typed, envelope=envelope)
    once = size(district)
    second = submit(client, form, form, typed, envelope=envelope)
    sent = [first, second]
    assert [a.status_code for a in sent] == [303, 303]
    assert first.headers["location"] == second.headers["location"] and size(district) == once > before
    shown = page(client, sent[0].headers["location"])
    assert "走马岭村" in shown and "已登记第 1 条记录" in shown
    no_personal_data(shown)


def test_a_mandatory_report_is_accepted_and_dispatched_with_their_times_once_each(
        client: TestClient, district: District, case: UUID) -> None:
    sign_in(client, district, "cq-clerk")
    report = f"/cases/{case}/mandatory-reports"
    envelope = hidden_fields(page(client, report), report)
    body = {"reporter": "school", "nature": "unattended", "details": f"{NAME}独自在家",
            "occurred_at": "2019-03-01T08:00"}
    sent = [submit(client, report, report, body, envelope=envelope) for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303] and len(entries(district, case, "MandatoryReportFiled")) == 1
    shown = page(client, sent[0].headers["location"])
    assert "中小学校报告实际无人监护" in shown and "［已加密］" in shown
    no_personal_data(shown)
    client.cookies.clear()
    sign_in(client, district, "supervisor")
    on_case = page(client, f"/cases/{case}")
    assert f'href="/cases/{case}/mandatory-reports/MR1/acceptance"' in on_case
    accept = f"/cases/{case}/mandatory-reports/MR1/acceptance"
    early = submit(client, accept, accept, {"occurred_at": "2019-03-01T07:00"})
    assert early.status_code == 409 and "受理时间不能早于报告时间" in field_error(early.text, "occurred_at")
    envelope = hidden_fields(page(client, accept), accept)
    assert [submit(client, accept, accept, {"occurred_at": "2019-03-01T08:30"}, envelope=envelope).status_code
            for _ in range(2)] == [303, 303]
    dispatch = f"/cases/{case}/mandatory-reports/MR1/dispatch"
    assert submit(client, dispatch, dispatch, {"occurred_at": "2019-03-01T08:45"}).status_code == 303
    accepted, = entries(district, case, "ReportAccepted")
    dispatched, = entries(district, case, "PoliceDispatched")
    assert accepted["fields"]["seconds_since_report"] == 1800 and dispatched["fields"]["seconds_since_report"] == 2700
    shown = page(client, f"/cases/{case}")
    assert "距报告 30 分钟" in shown and "距报告 45 分钟" in shown
    page(client, f"/cases/{case}/mandatory-reports/MR9/acceptance", 404)


def test_a_case_form_sent_after_another_entry_says_so_and_stores_nothing(
        client: TestClient, district: District, case: UUID) -> None:
    form = f"/cases/{case}/classifications"
    envelope = opened(client, district, "cq-clerk", form)
    district.cases.visit_case(district.cmd("supervisor"), case, notes=None)
    before = size(district)
    stale = submit(client, form, form, {"left_behind": "true", "categories": ["poverty"]}, envelope=envelope)
    assert stale.status_code == 409 and "此记录已被他人更新" in stale.text and "走访" in stale.text
    assert 'value="poverty" checked' in stale.text
    assert size(district) == before
    again = submit(client, form, form, {"left_behind": "true", "categories": ["poverty"]},
                   envelope=hidden_fields(stale.text, form), files=[("files", ("证明.pdf", PDF, "application/pdf"))])
    assert again.status_code == 303
    classified, = entries(district, case, "Classified")
    assert classified["fields"]["categories"] == ["poverty"] and len(classified["fields"]["evidence"]) == 1


def test_a_refused_service_form_with_a_file_leaves_no_file_stored(
        client: TestClient, district: District, case: UUID) -> None:
    sign_in(client, district, "cq-clerk")
    serve = f"/cases/{case}/services"
    root = district.settings.evidence_dir
    before = sorted(root.rglob("*")) if root.exists() else []
    refused = submit(client, serve, serve, {"kind": "no-such-kind"},
                     files=[("files", ("援助申请.pdf", PDF, "application/pdf"))])
    assert refused.status_code == 422 and field_error(refused.text, "kind")
    assert (sorted(root.rglob("*")) if root.exists() else []) == before


def test_referral_service_with_a_sealed_file_visit_and_closure_of_the_referral(
        client: TestClient, district: District, case: UUID, services: Any) -> None:
    sign_in(client, district, "cq-clerk")
    refer = f"/cases/{case}/referrals"
    assert submit(client, refer, refer, {"unit": "司法所", "duty": "法律援助"}).status_code == 403  # a group
    missing = submit(client, refer, refer, {"unit": "gf", "duty": " "})
    assert missing.status_code == 422 and field_error(missing.text, "duty")
    assert submit(client, refer, refer, {"unit": "gf", "duty": "法律援助"}).status_code == 303
    client.cookies.clear()
    sign_in(client, district, "gf-clerk")
    offered = page(client, f"/cases/{case}")
    assert f'href="/cases/{case}/services"' in offered and f'href="/cases/{case}/referrals"' not in offered
    serve = f"/cases/{case}/services"
    envelope = hidden_fields(page(client, serve), serve)
    sent = [submit(client, serve, serve, {"kind": "legal_aid", "referral_id": "RF1", "notes": f"为{NAME}代写申请"},
                   envelope=envelope, files=[("files", ("援助申请.pdf", PDF, "application/pdf"))]) for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]
    given, = entries(district, case, "ServiceProvided")
    digest = given["fields"]["evidence"][0]
    assert services.evidence.store.references(digest) == [case]
    visit = f"/cases/{case}/visits"
    assert submit(client, visit, visit, {"notes": "回访"}).status_code == 303
    close = f"/cases/{case}/referrals/RF1/closure"
    assert submit(client, close, close, {"outcome": "completed"}).status_code == 303
    assert entries(district, case, "ReferralClosed")
    page(client, close, 403)  # the referral ended, and with it the unit's part in the case


def test_personal_fields_are_shown_after_a_reason_is_recorded_and_only_to_those_allowed(
        client: TestClient, district: District, case: UUID) -> None:
    sign_in(client, district, "cq-clerk")  # the registering unit reads the case, not the child
    on_case = page(client, f"/cases/{case}")
    assert "查看个人信息" not in on_case
    reveal = f"/cases/{case}/personal"
    csrf = {"csrf": re.search(r'name="csrf" value="([^"]+)"', on_case).group(1)}  # type: ignore[union-attr]
    assert submit(client, reveal, reveal, {"reason": "核实"}, envelope=csrf).status_code == 403
    client.cookies.clear()
    sign_in(client, district, "supervisor")
    on_case = page(client, f"/cases/{case}")
    assert "查看个人信息" in on_case
    no_personal_data(on_case)
    before = len(district.cases.case_access_log(district.actors["inspector"], case))
    with capture_logs() as logs:
        blank = submit(client, f"/cases/{case}", reveal, {"reason": " "})
        number = submit(client, f"/cases/{case}", reveal, {"reason": f"联系{PHONE}"})
    assert blank.status_code == number.status_code == 422
    assert field_error(blank.text, "reason") and "手机号码" in field_error(number.text, "reason")
    no_personal_data(blank.text)
    assert len(district.cases.case_access_log(district.actors["inspector"], case)) == before
    shown = submit(client, f"/cases/{case}", reveal, {"reason": "办理转介需核实住址"})
    assert shown.status_code == 200 and NAME in shown.text and ADDRESS in shown.text and valid_id() in shown.text
    assert shown.headers["cache-control"] == "no-store"
    log = district.cases.case_access_log(district.actors["inspector"], case)
    assert len(log) == before + 1 and log[-1]["reason"] == "办理转介需核实住址" and log[-1]["user"] == "supervisor"
    assert "办理转介需核实住址" in page(client, f"/cases/{case}")  # the access log on the case page
    api_log = client.get(f"/api/v1/cases/{case}/access-log",
                         headers={"Authorization": f"Bearer {district.tokens['inspector']}"}).json()
    assert api_log[-1]["reason"] == "办理转介需核实住址" and api_log[-1]["endpoint"] == reveal
    no_personal_data(repr(logs))


def test_erasure_needs_the_case_number_typed_again_and_then_the_personal_fields_are_gone(
        client: TestClient, district: District, case: UUID, services: Any) -> None:
    sign_in(client, district, "supervisor")
    erase = f"/cases/{case}/erasure"
    number = district.cases.case(case).case_number
    before = size(district)
    wrong = submit(client, erase, erase, {"reason": "结案满五年", "confirm": "ET"})
    assert wrong.status_code == 422 and field_error(wrong.text, "confirm") and size(district) == before
    envelope = hidden_fields(page(client, erase), erase)
    sent = [submit(client, erase, erase, {"reason": "结案满五年", "confirm": number}, envelope=envelope)
            for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303] and len(entries(district, case, "PersonalDataErased")) == 1
    after = page(client, f"/cases/{case}")
    assert "已删除" in after and "查看个人信息</button>" not in after
    for needle in (NAME, valid_id(), ADDRESS):
        assert not scan_store(services.settings, needle), needle


def test_the_supervisor_closes_evaluates_and_reopens_and_the_case_replays_as_of_a_date(
        client: TestClient, district: District, case: UUID, clock: Any) -> None:
    clock.advance(days=3)  # so that the day the case was registered ends before its closure
    sign_in(client, district, "supervisor")
    close = f"/cases/{case}/closure"
    assert submit(client, close, close, {"reason": "aged_16"}).status_code == 409  # the domain's rule, shown
    assert submit(client, close, close, {"reason": "hardship_resolved"}).status_code == 303
    on_case = page(client, f"/cases/{case}")
    assert "已结案" in on_case and f'href="/cases/{case}/reopening"' in on_case
    evaluate = f"/cases/{case}/evaluations"
    bad = submit(client, evaluate, evaluate, {"year": "2019", "grade": "良好", "score": "120"})
    assert bad.status_code == 422 and field_error(bad.text, "score") and 'value="2019"' in bad.text
    assert submit(client, evaluate, evaluate, {"year": "2019", "grade": "良好", "score": "85"}).status_code == 303
    reopen = f"/cases/{case}/reopening"
    assert submit(client, reopen, reopen, {"reason": "出现新情况"}).status_code == 303
    then = page(client, f"/cases/{case}?as_of=2019-03-01")
    assert "正在回看" in then and "个案结案" not in then and "ul class=\"offers\"" not in then
    now = page(client, f"/cases/{case}")
    assert "个案结案" in now and "个案重新立案" in now and "2019 年度：良好" in now
    client.cookies.clear()
    sign_in(client, district, "cq-clerk")
    page(client, close, 403)  # only the supervision office closes a case


# (who, form, what is typed, the event it records): each form sent twice with one rendering's key.
ONCE = [
    ("cq-clerk", "guardianship", {"arrangement": "statutory", "name": GUARDIAN, "relation": "父亲", "phone": PHONE},
     "GuardianshipRecorded"),
    ("cq-clerk", "classifications", {"left_behind": "true"}, "Classified"),
    ("cq-clerk", "referrals", {"unit": "gf", "duty": "法律援助"}, "Referred"),
    ("cq-clerk", "visits", {"notes": f"{NAME}在家"}, "Visited"),
    ("supervisor", "evaluations", {"year": "2019", "grade": "合格", "score": "70"}, "EvaluatedAtYearEnd"),
    ("supervisor", "closure", {"reason": "moved_away"}, "Closed"),
]


@pytest.mark.parametrize(("who", "form", "typed", "kind"), ONCE, ids=[row[1] for row in ONCE])
def test_each_case_form_sent_twice_records_once(
        client: TestClient, district: District, case: UUID, who: str, form: str, typed: dict[str, str],
        kind: str) -> None:
    sign_in(client, district, who)
    path = f"/cases/{case}/{form}"
    assert f'href="{path}"' in page(client, f"/cases/{case}")  # offered to this reader
    envelope = hidden_fields(page(client, path), path)
    sent = [submit(client, path, path, typed, envelope=envelope) for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303] and sent[0].headers["location"] == sent[1].headers["location"]
    assert len(entries(district, case, kind)) == 1
    no_personal_data(page(client, sent[0].headers["location"]))


def test_refused_forms_show_personal_data_only_in_their_own_fields_and_log_none(
        client: TestClient, district: District, case: UUID) -> None:
    sign_in(client, district, "cq-clerk")
    before = size(district)
    guardianship, report = f"/cases/{case}/guardianship", f"/cases/{case}/mandatory-reports"
    with capture_logs() as logs:
        bad_phone = submit(client, guardianship, guardianship,
                           {"arrangement": "statutory", "name": GUARDIAN, "phone": f"{PHONE}x"})
        no_time = submit(client, report, report, {"reporter": "school", "nature": "abuse", "details": f"{NAME}受伤"})
        future = submit(client, report, report, {"reporter": "school", "nature": "abuse", "details": f"{NAME}受伤",
                                                 "occurred_at": "2030-01-01T08:00"})
    assert bad_phone.status_code == no_time.status_code == future.status_code == 422
    assert field_error(bad_phone.text, "phone") and field_error(no_time.text, "occurred_at")
    assert "将来" in field_error(future.text, "occurred_at")
    assert f'value="{GUARDIAN}"' in bad_phone.text and f"{NAME}受伤</textarea>" in future.text
    for refused in (bad_phone, no_time, future):
        no_personal_data(outside_the_fields(refused.text))
    no_personal_data(repr(logs))
    assert size(district) == before


def test_the_referred_unit_alone_accepts_its_referral_once(
        client: TestClient, district: District, case: UUID) -> None:
    district.cases.refer_case(district.cmd("cq-clerk"), case, unit="gf", duty="法律援助")
    accept = f"/cases/{case}/referrals/RF1/acceptance"
    sign_in(client, district, "cq-clerk")  # the registering unit referred it; it does not take it on
    assert accept not in page(client, f"/cases/{case}")
    page(client, accept, 403)
    client.cookies.clear()
    sign_in(client, district, "gf-clerk")
    assert f'href="{accept}"' in page(client, f"/cases/{case}")
    early = submit(client, accept, accept, {"occurred_at": "2019-03-01T08:00"})  # the referral came at 17:00
    assert early.status_code == 409 and "接收时间不能早于转介时间" in field_error(early.text, "occurred_at")
    envelope = hidden_fields(page(client, accept), accept)
    sent = [submit(client, accept, accept, {}, envelope=envelope) for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303] and len(entries(district, case, "ReferralAccepted")) == 1
    shown = page(client, sent[0].headers["location"])
    assert "接收转介" in shown and f'href="{accept}"' not in shown


def test_the_case_page_offers_a_form_by_the_rule_its_command_is_let_through_by(
        district: District, case: UUID, monkeypatch: pytest.MonkeyPatch) -> None:
    from application import cases
    from interfaces.web import offers

    clerk = district.actors["cq-clerk"]
    assert ("登记走访", f"/cases/{case}/visits") in offers.on_case(clerk, district.cases.case(case))
    # Were visits the supervision office's alone, the service would refuse the clerk, and so
    # the page offers nothing: there is no second copy of the rule to forget.
    monkeypatch.setitem(cases.CASE_RULES, "visit_case", cases.CASE_RULES["close_case"])
    assert ("登记走访", f"/cases/{case}/visits") not in offers.on_case(clerk, district.cases.case(case))
    with pytest.raises(Forbidden):
        district.cases.visit_case(district.cmd("cq-clerk"), case, notes=None)
