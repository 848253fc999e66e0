"""A responsible unit's forms on an issue, on both backends: adopt a measure, report progress
with a file attached, report it complete; what a form does when it is sent twice, sent after
someone else's entry, or sent with a field wrong."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.district import District, assigned_issue
from tests.pages import field_error, hidden_fields, opened, page, sign_in, submit

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def issue(district: District) -> UUID:
    return assigned_issue(district)


def test_the_issue_page_offers_a_unit_the_forms_of_its_own_measures_only(
        client: TestClient, district: District, issue: UUID) -> None:
    sign_in(client, district, "pf-clerk")
    html = page(client, f"/issues/{issue}")
    assert f'href="/issues/{issue}/measures/new"' in html
    assert f'href="/issues/{issue}/measures/M1/progress"' in html
    client.cookies.clear()
    sign_in(client, district, "gf-clerk")
    page(client, f"/issues/{issue}", 404)
    page(client, f"/issues/{issue}/measures/M1/progress", 404)


def test_progress_with_a_file_is_recorded_once_however_often_the_form_is_sent(
        client: TestClient, district: District, issue: UUID) -> None:
    form = f"/issues/{issue}/measures/M1/progress"
    envelope = opened(client, district, "pf-clerk", form)
    sent = [submit(client, form, form, {"summary": "已起草考核标准"}, envelope=envelope,
                   files=[("files", ("考核标准.pdf", PDF, "application/pdf"))]) for _ in range(2)]
    assert [a.status_code for a in sent] == [303, 303]
    assert sent[0].headers["location"] == sent[1].headers["location"]
    entries = district.issues.issue_history(district.actors["pf-clerk"], issue)
    progress = [e for e in entries if e["type"].endswith("ProgressReported")]
    assert len(progress) == 1
    assert progress[0]["fields"]["evidence"][0]["name"] == "考核标准.pdf"
    after = page(client, sent[0].headers["location"])
    assert "已登记第" in after and "已起草考核标准" in after


def test_a_form_sent_after_another_entry_says_so_and_shows_what_changed(
        client: TestClient, district: District, issue: UUID) -> None:
    form = f"/issues/{issue}/measures/M1/completion"
    envelope = opened(client, district, "pf-clerk", form)
    district.issues.urge(district.cmd("supervisor"), issue, unit="pf", message="请尽快", reply_by=date(2019, 3, 31))
    before = district.ledger.recorder.max_notification_id()
    answer = submit(client, form, form, {"summary": "已完成"}, envelope=envelope)
    assert answer.status_code == 409
    assert "此记录已被他人更新" in answer.text and "催办" in answer.text
    assert "已完成" in answer.text  # what was typed is kept
    assert district.ledger.recorder.max_notification_id() == before
    again = submit(client, form, form, {"summary": "已完成"}, envelope=hidden_fields(answer.text, form))
    assert again.status_code == 303


def test_a_wrong_field_stands_beside_it_with_what_was_typed_and_nothing_is_stored(
        client: TestClient, district: District, issue: UUID) -> None:
    sign_in(client, district, "pf-clerk")
    before = district.ledger.recorder.max_notification_id()
    answer = submit(client, f"/issues/{issue}/measures/new", f"/issues/{issue}/measures/new",
                    {"text": "建立台账", "due": "2019-02-30"})
    assert answer.status_code == 422
    assert "日期" in field_error(answer.text, "due")
    assert "建立台账" in answer.text
    missing = submit(client, f"/issues/{issue}/measures/M1/progress", f"/issues/{issue}/measures/M1/progress",
                     {"summary": "  "}, files=[("files", ("说明.txt", b"plain text", "text/plain"))])
    assert missing.status_code == 422
    assert field_error(missing.text, "summary") and "说明.txt" in field_error(missing.text, "files")
    assert district.ledger.recorder.max_notification_id() == before


def stored_files(district: District) -> list[Path]:
    """Every file the evidence store holds, but its locks (infrastructure.evidence_files)."""
    root = district.settings.evidence_dir
    return sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "locks") \
        if root.exists() else []


def test_a_refused_form_with_a_file_leaves_no_file_stored(
        client: TestClient, district: District, issue: UUID) -> None:
    sign_in(client, district, "pf-clerk")
    form = f"/issues/{issue}/measures/M1/completion"
    attached = [("files", ("考核标准.pdf", PDF, "application/pdf"))]
    before = stored_files(district)
    blank = submit(client, form, form, {"summary": "  "}, files=attached)
    assert blank.status_code == 422 and field_error(blank.text, "summary")
    envelope = hidden_fields(page(client, form), form)
    district.issues.urge(district.cmd("supervisor"), issue, unit="pf", message="请尽快", reply_by=date(2019, 3, 31))
    stale = submit(client, form, form, {"summary": "已完成"}, envelope=envelope, files=attached)
    assert stale.status_code == 409
    assert stored_files(district) == before
    sent = submit(client, form, form, {"summary": "已完成"}, envelope=hidden_fields(stale.text, form), files=attached)
    assert sent.status_code == 303 and len(stored_files(district)) > len(before)


def test_a_form_posted_from_another_site_is_refused(client: TestClient, district: District, issue: UUID) -> None:
    form = f"/issues/{issue}/measures/new"
    envelope = opened(client, district, "pf-clerk", form)
    answer = client.post(form, data={**envelope, "text": "x"}, headers={"Origin": "http://evil.example"},
                         follow_redirects=False)
    assert answer.status_code == 403


def test_a_form_whose_version_is_no_ascii_number_is_no_server_error(
        client: TestClient, district: District, issue: UUID) -> None:
    sign_in(client, district, "pf-clerk")
    form = f"/issues/{issue}/measures/M1/progress"
    envelope = {**hidden_fields(page(client, form), form), "version": "²"}
    answer = submit(client, form, form, {"summary": "已起草考核标准"}, envelope=envelope)
    assert answer.status_code == 303  # read as a form without a version, as any unreadable one is
