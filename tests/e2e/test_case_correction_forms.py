"""Correcting an earlier entry of a child case from its page (更正记录), on both backends: who
is offered the form, what it appends (only what changed, personal fields sealed), that the
personal fields are offered only to a reader of them after a logged read, and what it
refuses without storing anything."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.district import District
from tests.e2e.test_case_forms import ADDRESS, GUARDIAN, PHONE, no_personal_data, outside_the_fields, size
from tests.pages import field_error, hidden_fields, page, sign_in, submit
from tests.scan import scan_store

NEW_GUARDIAN = "王小明"


@pytest.fixture
def case(district: District) -> UUID:
    clerk = district.cmd("cq-clerk")
    made = district.cases.register_case(
        clerk, street="常青花园", community="常青一社区", household_local=True, birth_date=BIRTH,
        person={"name": NAME, "id_number": valid_id(), "address": ADDRESS, "guardian": GUARDIAN}).id
    district.cases.file_mandatory_report(clerk, made, reporter="school", nature="unattended", details=f"{NAME}独自在家")
    district.cases.record_guardianship(clerk, made, arrangement="statutory",
                                       guardian={"name": GUARDIAN, "relation": "父亲", "phone": PHONE})
    return made


def version_of(district: District, case: UUID, kind: str) -> int:
    entries = district.cases.case_history(district.actors["supervisor"], case)
    return next(e["version"] for e in entries if e["type"] == kind)


def form_of(district: District, case: UUID, kind: str) -> str:
    return f"/cases/{case}/corrections/new?version={version_of(district, case, kind)}"


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def corrections(district: District, case: UUID) -> list[dict[str, Any]]:
    return [e for e in district.cases.case_history(district.actors["supervisor"], case) if e["type"] == "EntryCorrected"]


def test_the_clerk_corrects_a_reports_nature_and_the_case_page_and_the_api_show_it(
        client: TestClient, district: District, case: UUID) -> None:
    form = form_of(district, case, "MandatoryReportFiled")
    sign_in(client, district, "cq-clerk")
    assert f'href="{form}"' in page(client, f"/cases/{case}")
    shown = page(client, form)
    assert '<option value="unattended" selected>' in shown
    # The clerk reads no personal fields: the report's details are not offered.
    assert "new_details" not in shown and "read_reason" not in shown and "只有可以查看该儿童个人信息的人员" in shown
    envelope = hidden_fields(shown, form)
    sent = [submit(client, form, form, {"new_reporter": "school", "new_nature": "abuse", "reason": "报告事项笔误"},
                   envelope=envelope) for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]  # the second finds the first's answer
    correction, = corrections(district, case)
    assert correction["fields"]["changes"] == {"nature": "abuse"}
    after = page(client, sent[0].headers["location"])
    assert '<td data-label="报告事项">虐待</td>' in after and "报告事项改为 虐待" in after
    answer = client.get(f"/api/v1/cases/{case}", headers=bearer(district, "cq-clerk")).json()
    assert answer["reports"][0]["nature"] == "abuse"
    assert '<option value="abuse" selected>' in page(client, form)  # drawn again, as corrected


def test_a_guardians_name_is_shown_after_a_logged_read_and_corrected_sealed(
        client: TestClient, district: District, case: UUID, services: Any) -> None:
    form = form_of(district, case, "GuardianshipRecorded")
    reveal = form.replace("/corrections/new", "/corrections/personal")
    sign_in(client, district, "supervisor")
    shown = page(client, form)
    no_personal_data(shown)
    assert 'name="read_reason"' in shown and "new_guardian_name" not in shown
    reads = len(district.cases.case_access_log(district.actors["inspector"], case))
    blank = submit(client, form, reveal, {"read_reason": " "})
    assert blank.status_code == 422 and field_error(blank.text, "read_reason")
    no_personal_data(blank.text)
    assert len(district.cases.case_access_log(district.actors["inspector"], case)) == reads
    opened = submit(client, form, reveal, {"read_reason": "核实监护人姓名"})
    assert opened.status_code == 200 and f'name="new_guardian_name" value="{GUARDIAN}"' in opened.text
    assert opened.headers["cache-control"] == "no-store"
    log = district.cases.case_access_log(district.actors["inspector"], case)
    assert len(log) == reads + 1 and log[-1]["reason"] == "核实监护人姓名" and log[-1]["endpoint"] == reveal.split("?")[0]
    envelope = hidden_fields(opened.text, form)
    with capture_logs() as logs:
        done = submit(client, form, form, {"new_guardian_name": NEW_GUARDIAN, "new_guardian_relation": "父亲",
                                           "new_guardian_phone": PHONE, "new_arrangement": "statutory",
                                           "reason": "监护人姓名登记错误"}, envelope=envelope)
    assert done.status_code == 303, done.text[:500]
    assert NEW_GUARDIAN not in done.headers["location"] and NEW_GUARDIAN not in repr(logs)
    correction, = corrections(district, case)
    assert correction["fields"]["changes"] == {"sealed": "［已加密］"}  # only the guardian, sealed
    assert not scan_store(services.settings, NEW_GUARDIAN)
    personal = client.get(f"/api/v1/cases/{case}", headers=bearer(district, "supervisor")).json()["personal"]
    assert personal["guardianships"][0] == {"name": NEW_GUARDIAN, "relation": "父亲", "phone": PHONE}
    on_case = page(client, f"/cases/{case}")
    assert "个人信息已更正［已加密］" in on_case and NEW_GUARDIAN not in on_case
    client.cookies.clear()
    sign_in(client, district, "cq-clerk")  # the registering unit reads the case, not the child
    assert NEW_GUARDIAN not in page(client, f"/cases/{case}")
    shown = page(client, form)  # the clerk recorded it, and may correct its arrangement
    assert "read_reason" not in shown and "new_arrangement" in shown
    csrf = {"csrf": hidden_fields(shown, form)["csrf"]}
    assert submit(client, form, reveal, {"read_reason": "核实"}, envelope=csrf).status_code == 403


@pytest.mark.parametrize("who", ["inspector", "gf-clerk"])
def test_a_role_that_may_not_correct_the_entry_gets_no_link_and_403_and_nothing_is_stored(
        client: TestClient, district: District, case: UUID, who: str) -> None:
    district.cases.refer_case(district.cmd("supervisor"), case, unit="gf", duty="法律援助")
    form = form_of(district, case, "MandatoryReportFiled")
    sign_in(client, district, who)  # the inspector reads every case; gf is referred it, but did not file the report
    assert "/corrections/new" not in page(client, f"/cases/{case}")
    page(client, form, 403)
    before = size(district)
    csrf = hidden_fields(page(client, f"/cases/{case}"), "/signout")["csrf"]
    sent = client.post(form, data={"csrf": csrf, "new_nature": "abuse", "reason": "笔误"},
                       headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert sent.status_code == 403 and size(district) == before
    client.cookies.clear()
    sign_in(client, district, "zml-clerk")  # not party to the case: as if it did not exist
    page(client, form, 404)


def test_an_unchanged_form_or_one_without_a_reason_is_refused_and_stores_nothing(
        client: TestClient, district: District, case: UUID) -> None:
    form = form_of(district, case, "GuardianshipRecorded")
    sign_in(client, district, "supervisor")
    opened = submit(client, form, form.replace("/new", "/personal"), {"read_reason": "核实"})
    envelope = hidden_fields(opened.text, form)
    before = size(district)
    with capture_logs() as logs:
        unchanged = submit(client, form, form, {"reason": "核对"}, envelope=envelope)
        no_reason = submit(client, form, form, {"new_guardian_name": NEW_GUARDIAN, "reason": ""}, envelope=envelope)
        cleared = submit(client, form, form, {"new_guardian_name": "", "reason": "核对"}, envelope=envelope)
    assert unchanged.status_code == 422 and "没有改动" in unchanged.text
    assert no_reason.status_code == 422 and field_error(no_reason.text, "reason")
    assert f'value="{NEW_GUARDIAN}"' in no_reason.text  # what was typed is kept, in its field
    assert cleared.status_code == 422 and field_error(cleared.text, "new_guardian_name")
    for refused in (unchanged, no_reason, cleared):
        no_personal_data(outside_the_fields(refused.text))
    no_personal_data(repr(logs))
    assert NEW_GUARDIAN not in repr(logs)
    forged = client.post(form, data={**envelope, "csrf": "forged", "new_guardian_name": NEW_GUARDIAN, "reason": "核对"},
                         headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert forged.status_code == 403 and NEW_GUARDIAN not in forged.text
    assert size(district) == before and not corrections(district, case)


def test_personal_fields_sent_by_one_who_may_not_read_them_are_not_taken(
        client: TestClient, district: District, case: UUID) -> None:
    form = form_of(district, case, "MandatoryReportFiled")
    sign_in(client, district, "cq-clerk")
    before = size(district)
    sent = submit(client, form, form, {"new_reporter": "school", "new_nature": "unattended",
                                       "was_details": "x", "new_details": "改写的详情", "reason": "补充"})
    assert sent.status_code == 422 and "没有改动" in sent.text and "改写的详情" not in sent.text
    assert size(district) == before


def test_after_erasure_the_form_says_personal_fields_cannot_be_corrected_and_takes_the_others(
        client: TestClient, district: District, case: UUID) -> None:
    district.cases.erase_personal_data(district.cmd("supervisor"), case, reason="保存期限届满")
    form = form_of(district, case, "MandatoryReportFiled")
    sign_in(client, district, "supervisor")
    shown = page(client, form)
    assert "个人信息已删除" in shown and "不能再更正" in shown
    assert "read_reason" not in shown and "new_details" not in shown
    visit_only = district.cases.visit_case(district.cmd("supervisor"), case, notes=None)
    assert "new_notes" not in page(client, f"/cases/{case}/corrections/new?version={visit_only.version}")
    done = submit(client, form, form, {"new_reporter": "school", "new_nature": "abuse", "reason": "笔误"})
    assert done.status_code == 303, done.text[:500]
    assert corrections(district, case)[-1]["fields"]["reason"] == "笔误"  # clear once the key is gone


def test_the_form_offers_every_field_the_domain_lets_a_correction_change_but_evidence() -> None:
    from domain.case_corrections import CORRECTIONS
    from interfaces.web.case_correction_forms import FIELDS, PERSONAL

    for kind, spec in CORRECTIONS.entries.items():
        assert spec.fields - spec.personal - {"evidence"} <= FIELDS.keys(), kind
        named = {name.split("_")[0] if kind == "GuardianshipRecorded" else name for name in PERSONAL.get(kind, {})}
        assert named == set(spec.personal), kind


def test_a_registration_corrected_by_a_reader_sends_only_the_changed_clear_and_personal_fields(
        client: TestClient, district: District, case: UUID) -> None:
    form = form_of(district, case, "Registered")
    sign_in(client, district, "supervisor")
    shown = page(client, form)
    assert 'name="new_street" value="常青花园"' in shown and 'name="new_household_local" value="true" checked' in shown
    opened = submit(client, form, form.replace("/new", "/personal"), {"read_reason": "核实住址"})
    assert f'name="new_address" value="{ADDRESS}"' in opened.text and f'value="{BIRTH.isoformat()}"' in opened.text
    done = submit(client, form, form, {"new_street": "常青花园街道", "new_household_local": "true",
                                              "new_address": "幸福路99号", "reason": "门牌号有误"},
                  envelope=hidden_fields(opened.text, form))
    assert done.status_code == 303, done.text[:500]
    correction, = corrections(district, case)
    # The birth date was not changed: no month is derived, and the sealed person is written once.
    assert correction["fields"]["changes"] == {"street": "常青花园街道", "sealed": "［已加密］"}
    person = client.get(f"/api/v1/cases/{case}", headers=bearer(district, "supervisor")).json()["personal"]["person"]
    assert person["address"] == "幸福路99号" and person["name"] == NAME and person["id_number"] == valid_id()


def test_a_classifications_categories_are_corrected_as_checkboxes(
        client: TestClient, district: District, case: UUID) -> None:
    district.cases.classify_case(district.cmd("cq-clerk"), case, left_behind=False, categories=["poverty"], evidence=[])
    form = form_of(district, case, "Classified")
    sign_in(client, district, "cq-clerk")
    shown = page(client, form)
    assert 'value="poverty" checked' in shown and 'name="new_left_behind" value="true" checked' not in shown
    done = submit(client, form, form, {"new_categories": ["poverty", "disability"], "reason": "漏选残疾"})
    assert done.status_code == 303, done.text[:500]
    assert corrections(district, case)[-1]["fields"]["changes"] == {"categories": ["poverty", "disability"]}
    assert sorted(district.cases.case(case).categories) == ["disability", "poverty"]


def test_a_correction_sent_after_another_entry_says_so_and_stores_nothing(
        client: TestClient, district: District, case: UUID) -> None:
    form = form_of(district, case, "MandatoryReportFiled")
    sign_in(client, district, "cq-clerk")
    envelope = hidden_fields(page(client, form), form)
    district.cases.visit_case(district.cmd("supervisor"), case, notes=None)
    before = size(district)
    stale = submit(client, form, form, {"new_reporter": "school", "new_nature": "abuse", "reason": "笔误"},
                   envelope=envelope)
    assert stale.status_code == 409 and "此记录已被他人更新" in stale.text and "走访" in stale.text
    assert '<option value="abuse" selected>' in stale.text  # what was typed is kept
    assert size(district) == before
