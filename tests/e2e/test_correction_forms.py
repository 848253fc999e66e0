"""Correcting an earlier entry of an issue from its page (更正记录), on both backends: who is
offered the form, what it appends, and what it refuses without storing anything."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.district import District, assigned_issue
from tests.pages import field_error, hidden_fields, page, sign_in, submit


@pytest.fixture
def issue(district: District) -> UUID:
    made = assigned_issue(district)
    district.issues.report_progress(district.cmd("pf-clerk"), made, "M1", summary="已起草考核标", evidence=[])
    return made


def _version_of(district: District, issue: UUID, kind: str) -> int:
    entries = district.issues.issue_history(district.actors["supervisor"], issue)
    return next(e["version"] for e in entries if e["type"] == kind)


def _opened(client: TestClient, district: District, issue: UUID, kind: str, who: str) -> tuple[int, str, str]:
    """``who`` signed in, the correction form of the issue's entry of ``kind``: its version, path and page."""
    version = _version_of(district, issue, kind)
    sign_in(client, district, who)
    form = f"/issues/{issue}/corrections/new?version={version}"
    return version, form, page(client, form)


def test_the_clerk_who_wrote_an_entry_is_offered_its_correction_and_no_one_elses(
        client: TestClient, district: District, issue: UUID) -> None:
    progress = _version_of(district, issue, "ProgressReported")
    assigned = _version_of(district, issue, "Assigned")
    sign_in(client, district, "pf-clerk")
    html = page(client, f"/issues/{issue}")
    assert f'href="/issues/{issue}/corrections/new?version={progress}"' in html
    assert f"/corrections/new?version={assigned}" not in html  # the supervision office wrote it
    page(client, f"/issues/{issue}/corrections/new?version={assigned}", 403)
    client.cookies.clear()
    sign_in(client, district, "supervisor")
    html = page(client, f"/issues/{issue}")
    assert f"/corrections/new?version={assigned}" in html and f"/corrections/new?version={progress}" in html


def test_a_correction_appends_one_entry_with_only_the_changed_field_and_the_original_stays(
        client: TestClient, district: District, issue: UUID) -> None:
    progress, form, shown = _opened(client, district, issue, "ProgressReported", "pf-clerk")
    assert 'name="new_summary"' in shown and "已起草考核标</textarea>" in shown
    envelope = hidden_fields(shown, form)
    sent = [submit(client, form, form, {"new_summary": "已起草考核标准", "reason": "漏字"}, envelope=envelope)
            for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]  # the second finds the first's answer
    entries = district.issues.issue_history(district.actors["pf-clerk"], issue)
    corrections = [e for e in entries if e["type"] == "EntryCorrected"]
    assert len(corrections) == 1
    assert corrections[0]["fields"]["changes"] == {"summary": "已起草考核标准"}
    assert corrections[0]["fields"]["corrected_version"] == progress
    original = next(e for e in entries if e["version"] == progress)
    assert original["fields"]["summary"] == "已起草考核标"
    # The form drawn again shows the value as corrected.
    assert "已起草考核标准</textarea>" in page(client, form)


def test_a_form_with_nothing_changed_or_no_reason_is_refused_and_nothing_is_stored(
        client: TestClient, district: District, issue: UUID) -> None:
    progress = _version_of(district, issue, "ProgressReported")
    sign_in(client, district, "pf-clerk")
    form = f"/issues/{issue}/corrections/new?version={progress}"
    before = district.ledger.recorder.max_notification_id()
    unchanged = submit(client, form, form, {"reason": "核对"})
    assert unchanged.status_code == 422 and "没有改动" in unchanged.text
    no_reason = submit(client, form, form, {"new_summary": "已起草考核标准", "reason": ""})
    assert no_reason.status_code == 422
    assert field_error(no_reason.text, "reason")
    assert "已起草考核标准" in no_reason.text  # what was typed is kept
    bad_time = submit(client, form, form, {"new_occurred_at": "明天", "reason": "时间有误"})
    assert bad_time.status_code == 422 and field_error(bad_time.text, "new_occurred_at")
    assert district.ledger.recorder.max_notification_id() == before


def test_a_correction_sent_after_another_entry_says_so_and_stores_nothing(
        client: TestClient, district: District, issue: UUID) -> None:
    _, form, shown = _opened(client, district, issue, "ProgressReported", "pf-clerk")
    envelope = hidden_fields(shown, form)
    district.issues.urge(district.cmd("supervisor"), issue, unit="pf", message="请尽快", reply_by=date(2019, 3, 31))
    before = district.ledger.recorder.max_notification_id()
    answer = submit(client, form, form, {"new_summary": "已起草考核标准", "reason": "漏字"}, envelope=envelope)
    assert answer.status_code == 409 and "此记录已被他人更新" in answer.text
    assert district.ledger.recorder.max_notification_id() == before


def test_a_supervisor_corrects_an_assignments_deadline_and_nodes_as_dates(
        client: TestClient, district: District, issue: UUID) -> None:
    _, form, shown = _opened(client, district, issue, "Assigned", "supervisor")
    assert 'value="2019-12-31"' in shown and 'value="2019-06-30"' in shown
    answer = submit(client, form, form, {"new_deadline": "2020-01-31", "new_nodes": "2019-06-30、2019-09-30",
                                         "reason": "按区政府批复调整"})
    assert answer.status_code == 303, answer.text[:500]
    issue_now = district.issues.read_issue(district.actors["supervisor"], issue)
    assert issue_now.deadline == date(2020, 1, 31)
    assert issue_now.nodes == [date(2019, 6, 30), date(2019, 9, 30)]


def test_a_texts_line_ends_as_a_browser_sends_them_are_no_change(
        client: TestClient, district: District, issue: UUID) -> None:
    version = district.issues.adopt_measure(district.cmd("pf-clerk"), issue, unit="pf", text="一、建立台账\n二、按月报送",
                                            due=None).version
    sign_in(client, district, "pf-clerk")
    form = f"/issues/{issue}/corrections/new?version={version}"
    shown = page(client, form)
    assert "一、建立台账\n二、按月报送</textarea>" in shown
    answer = submit(client, form, form, {"new_text": "一、建立台账\r\n二、按月报送", "new_due": "2019-09-30",
                                         "reason": "补填完成时限"})
    assert answer.status_code == 303
    entries = district.issues.issue_history(district.actors["pf-clerk"], issue)
    correction = next(e for e in entries if e["type"] == "EntryCorrected" and e["fields"]["corrected_version"] == version)
    assert correction["fields"]["changes"] == {"due": "2019-09-30"}


def test_an_entry_whose_time_was_corrected_shows_that_time_and_can_be_corrected_again(
        client: TestClient, district: District, issue: UUID) -> None:
    _, form, _ = _opened(client, district, issue, "ProgressReported", "pf-clerk")
    first = submit(client, form, form, {"new_occurred_at": "2019-03-01T09:30", "reason": "按实际报送时间"})
    assert first.status_code == 303, first.text[:300]
    shown = page(client, form)
    assert 'value="2019-03-01T09:30"' in shown
    again = submit(client, form, form, {"new_summary": "已起草考核标准", "reason": "漏字"})
    assert again.status_code == 303, again.text[:300]
    entries = district.issues.issue_history(district.actors["pf-clerk"], issue)
    assert [e["fields"]["changes"] for e in entries if e["type"] == "EntryCorrected"][-1] == {"summary": "已起草考核标准"}
