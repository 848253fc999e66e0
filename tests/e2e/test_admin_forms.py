"""The admin's forms on both backends: a unit added to a group, a duty defined in a unit's
catalogue, a user created with a first token shown once, a user's role and unit changed.
What each does when sent twice, sent after someone else's change, sent with a field wrong,
and sent by anyone who is not an admin."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from domain.registry import Unit, UnitGroup, User, group_id, unit_id, user_id
from tests.district import District
from tests.pages import ORIGIN, field_error, hidden_fields, opened, page, session_csrf, sign_in, submit

SECRET = re.compile(r'<code class="secret">([^<]+)</code>')


def log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


def events_of(district: District, aggregate_id: object, kind: str) -> list[dict[str, object]]:
    return [e for e in district.trail.history(aggregate_id) if e["type"] == kind]


# ---- units and their duties -----------------------------------------------------------------


def test_a_unit_added_twice_by_a_double_click_is_registered_and_joins_its_group_once(
        client: TestClient, district: District) -> None:
    sign_in(client, district, "admin")
    envelope = hidden_fields(page(client, "/admin/units"), "/admin/units")
    fields = {"code": "sfs-wjs", "name": "吴家山司法所", "group": "司法所"}
    sent = [submit(client, "/admin/units", "/admin/units", fields, envelope=envelope) for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]
    assert sent[0].headers["location"] == sent[1].headers["location"]
    assert sent[0].headers["location"].startswith("/admin/units/sfs-wjs?done=")
    assert len(events_of(district, unit_id("sfs-wjs"), "Registered")) == 1
    assert district.ledger.repository.get(group_id("司法所")).members == ["sfs-cq", "sfs-zml", "sfs-wjs"]
    shown = page(client, sent[0].headers["location"])
    assert "吴家山司法所" in shown and "已保存" in shown and "登记单位" in shown
    listed = page(client, "/admin/units")
    group_row = re.search(r'<tr class="group">(.*?)</tr>', listed, re.DOTALL)
    assert group_row and "常青花园司法所、走马岭司法所、吴家山司法所" in group_row.group(1)


def test_a_unit_code_that_names_a_group_is_refused_beside_the_code_and_nothing_is_stored(
        client: TestClient, district: District) -> None:
    sign_in(client, district, "admin")
    before = log_size(district)
    answer = submit(client, "/admin/units", "/admin/units", {"code": "司法所", "name": "又一个所"})
    assert answer.status_code == 409
    assert field_error(answer.text, "code") == "该代码已是单位组的代码"
    assert 'value="又一个所"' in answer.text  # what was typed is kept
    blank = submit(client, "/admin/units", "/admin/units", {"code": "x-1", "name": "  "})
    assert blank.status_code == 422 and field_error(blank.text, "name")
    assert log_size(district) == before


def test_a_duty_defined_twice_by_a_double_click_enters_the_catalogue_once(
        client: TestClient, district: District) -> None:
    sign_in(client, district, "admin")
    form, action = "/admin/units/pf", "/admin/units/pf/duties"
    html = page(client, form)
    assert 'name="duty_id" value="D1"' in html  # the first free number is offered
    envelope = hidden_fields(html, action)
    sent = [submit(client, form, action, {"duty_id": "D1", "text": "制定全区普法计划"}, envelope=envelope)
            for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]
    assert len(events_of(district, unit_id("pf"), "DutyDefined")) == 1
    assert district.registry.unit("pf").duties == {"D1": "制定全区普法计划"}
    after = page(client, form)
    assert re.search(r'<tr class="duty"><td data-label="编号">D1</td><td data-label="职责">制定全区普法计划</td>', after)
    assert 'name="duty_id" value="D2"' in after and "确定单位职责" in after


def test_a_duty_form_drawn_before_another_admins_change_says_so_and_stores_nothing(
        client: TestClient, district: District) -> None:
    sign_in(client, district, "admin")
    form, action = "/admin/units/gf", "/admin/units/gf/duties"
    envelope = hidden_fields(page(client, form), action)
    district.registry.define_duty(district.cmd("admin"), unit="gf", duty_id="D1", text="法律援助")
    before = log_size(district)
    answer = submit(client, form, action, {"duty_id": "D1", "text": "法律咨询"}, envelope=envelope)
    assert answer.status_code == 409
    assert "此记录已被他人更新" in answer.text and "确定单位职责" in answer.text
    assert "法律咨询" in answer.text  # what was typed is kept
    assert log_size(district) == before
    assert district.registry.unit("gf").duties == {"D1": "法律援助"}
    again = submit(client, form, action, {"duty_id": "D2", "text": "法律咨询"}, envelope=hidden_fields(answer.text, action))
    assert again.status_code == 303
    assert district.registry.unit("gf").duties == {"D1": "法律援助", "D2": "法律咨询"}


# ---- users ----------------------------------------------------------------------------------


def test_a_new_user_gets_a_first_token_shown_once_and_a_second_click_stores_nothing_more(
        client: TestClient, district: District) -> None:
    sign_in(client, district, "admin")
    envelope = hidden_fields(page(client, "/admin/users/new"), "/admin/users/new")
    fields = {"name": "wjs-clerk", "unit": "sfs-cq", "role": "agency"}
    first = submit(client, "/admin/users/new", "/admin/users/new", fields, envelope=envelope)
    assert first.status_code == 200 and "只显示这一次" in first.text
    token = SECRET.search(first.text).group(1)  # type: ignore[union-attr]
    signed = district.accounts.authenticate(token)
    assert (signed.name, signed.unit, signed.role) == ("wjs-clerk", "sfs-cq", "agency")
    before = log_size(district)
    second = submit(client, "/admin/users/new", "/admin/users/new", fields, envelope=envelope)
    assert second.status_code == 409 and "令牌只在第一次应答中出现" in second.text
    assert not SECRET.search(second.text)
    assert log_size(district) == before
    assert len(events_of(district, user_id("wjs-clerk"), "Enrolled")) == 1
    assert token not in page(client, "/admin") and token not in page(client, f"/admin/users/{user_id('wjs-clerk')}")


def test_a_taken_name_or_a_wrong_field_stands_beside_it_and_nothing_is_stored(
        client: TestClient, district: District) -> None:
    sign_in(client, district, "admin")
    before = log_size(district)
    taken = submit(client, "/admin/users/new", "/admin/users/new", {"name": "pf-clerk", "unit": "gf", "role": "agency"})
    assert taken.status_code == 409 and field_error(taken.text, "name") == "该用户名已存在"
    assert 'value="pf-clerk"' in taken.text and '<option value="gf" selected>' in taken.text
    wrong = submit(client, "/admin/users/new", "/admin/users/new", {"name": "新人", "unit": "nowhere", "role": "chief"})
    assert wrong.status_code == 422 and field_error(wrong.text, "role")
    unknown = submit(client, "/admin/users/new", "/admin/users/new", {"name": "新人", "unit": "nowhere", "role": "agency"})
    assert unknown.status_code == 422 and field_error(unknown.text, "unit") == "没有这个单位"
    assert log_size(district) == before


def test_a_users_role_and_unit_change_once_however_often_the_form_is_sent(
        client: TestClient, district: District) -> None:
    target = user_id("zml-clerk")
    form = f"/admin/users/{target}"
    envelope = opened(client, district, "admin", form)
    assert envelope["version"] == str(district.ledger.repository.get(target).version)
    sent = [submit(client, form, form, {"role": "supervisor", "unit": "bgs"}, envelope=envelope) for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]
    changed = district.ledger.repository.get(target)
    assert (changed.role, changed.unit_code) == ("supervisor", "bgs")
    assert len(events_of(district, target, "RoleChanged")) == len(events_of(district, target, "UnitChanged")) == 1
    assert district.accounts.authenticate(district.tokens["zml-clerk"]).role == "supervisor"
    shown = page(client, sent[0].headers["location"])
    assert "已保存" in shown and "变更用户角色" in shown and "变更用户所属单位" in shown


def test_an_admin_cannot_take_their_own_admin_role_and_is_told_beside_the_role(
        client: TestClient, district: District) -> None:
    sign_in(client, district, "admin")
    form = f"/admin/users/{user_id('admin')}"
    before = log_size(district)
    answer = submit(client, form, form, {"role": "agency", "unit": "bgs"})
    assert answer.status_code == 409 and field_error(answer.text, "role") == "不能取消自己的管理员角色"
    assert log_size(district) == before
    assert submit(client, form, form, {"role": "admin", "unit": "pf"}).status_code == 303  # a new unit is fine
    assert district.ledger.repository.get(user_id("admin")).unit_code == "pf"


def test_a_change_drawn_before_the_user_was_deactivated_says_so_and_stores_nothing(
        client: TestClient, district: District) -> None:
    target = user_id("gf-clerk")
    form = f"/admin/users/{target}"
    envelope = opened(client, district, "admin", form)
    district.accounts.deactivate(district.cmd("admin"), target)
    before = log_size(district)
    answer = submit(client, form, form, {"role": "inspector", "unit": "gf"}, envelope=envelope)
    assert answer.status_code == 409 and "此记录已被他人更新" in answer.text and "停用用户" in answer.text
    assert log_size(district) == before and district.ledger.repository.get(target).role == "agency"


# ---- refusals ---------------------------------------------------------------------------------

PAGES = ["/admin/units", "/admin/units/pf", "/admin/users/new", f"/admin/users/{user_id('pf-clerk')}"]
FORMS = [("/admin/units", {"code": "new-unit", "name": "新单位"}),
         ("/admin/units/pf/duties", {"duty_id": "D9", "text": "职责"}),
         ("/admin/users/new", {"name": "intruder", "unit": "pf", "role": "admin"}),
         (f"/admin/users/{user_id('pf-clerk')}", {"role": "admin", "unit": "pf"})]


@pytest.mark.parametrize("who", ["supervisor", "inspector", "pf-clerk"])
def test_anyone_but_an_admin_gets_the_403_page_and_their_forms_store_nothing(
        client: TestClient, district: District, who: str) -> None:
    sign_in(client, district, who)
    for path in PAGES:
        assert "无权" in page(client, path, 403), path
    csrf = session_csrf(client)
    before = log_size(district)
    for action, fields in (*FORMS, ("/admin/units", {})):  # an empty form is refused alike, not checked first
        answer = client.post(action, data={"csrf": csrf, "once": "a-key-of-this-form", **fields}, headers=ORIGIN,
                             follow_redirects=False)
        assert answer.status_code == 403 and answer.headers["content-type"].startswith("text/html"), action
        assert "无权" in answer.text and 'class="field-error"' not in answer.text
    assert log_size(district) == before
    assert not district.ledger.exists(unit_id("new-unit")) and not district.ledger.exists(user_id("intruder"))
    assert district.ledger.repository.get(user_id("pf-clerk")).role == "agency"


def test_the_admin_pages_are_linked_from_one_another_and_list_the_registry(
        client: TestClient, district: District) -> None:
    sign_in(client, district, "admin")
    users = page(client, "/admin")
    for link in ("/admin/users/new", "/admin/units", f"/admin/users/{user_id('pf-clerk')}"):
        assert f'href="{link}"' in users
    units = page(client, "/admin/units")
    assert len(re.findall(r'<tr class="unit">', units)) == len(district.ledger.registered(Unit.Registered))  # type: ignore[attr-defined]
    assert 'href="/admin/units/sfs-cq"' in units
    assert len(district.ledger.registered(UnitGroup.Founded)) == 1  # type: ignore[attr-defined]
    assert len(district.ledger.registered(User.Enrolled)) == 7  # type: ignore[attr-defined]


def test_a_registered_unit_joins_a_group_from_its_page_as_units_add_with_group_does(
        client: TestClient, district: District) -> None:
    sign_in(client, district, "admin")
    html = page(client, "/admin/units/gf")
    joined = submit(client, "/admin/units/gf", "/admin/units", {"group": "法律服务"})
    assert joined.status_code == 303 and joined.headers["location"].startswith("/admin/units/gf?done=")
    assert district.registry.unit("gf").groups == ["法律服务"] and district.registry.unit("gf").name == "公共法律服务管理科"
    assert district.registry.units(["法律服务"]) == ["gf"]
    assert "法律服务" in page(client, "/admin/units/gf") and "加入单位组" in html
