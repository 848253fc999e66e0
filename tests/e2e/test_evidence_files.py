"""Evidence files (佐证材料) over HTTP: stored by digest, typed by content, named by entries,
read only by those who may read such an entry, a child's sealed and shredded with its key,
and checked by `careledger verify`."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import zipfile
from pathlib import Path
from typing import Any
from uuid import UUID

import openpyxl
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from interfaces.cli.main import app as cli
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.district import District
from tests.e2e.test_cli import cli_env  # noqa: F401 — the fixture

PNG = b"\x89PNG\r\n\x1a\n"


def bearer(district: District, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {district.tokens[who]}"}


def a_pdf() -> bytes:
    return b"%PDF-1.4\n" + secrets.token_bytes(64) + b"\n%%EOF\n"


def an_office_file(main_part: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(main_part, "<document/>")
    return out.getvalue()


def a_zip_of_a_later_version() -> bytes:
    """An Office-shaped zip whose directory claims version 14.0 to extract: zipfile refuses to
    read it (NotImplementedError), which must be a 415, not a 500."""
    content = bytearray(an_office_file("word/document.xml"))
    entry = content.find(b"PK\x01\x02")
    content[entry + 6:entry + 8] = (140).to_bytes(2, "little")
    return bytes(content)


def upload(client: TestClient, headers: dict[str, str], content: bytes, name: str = "材料.pdf",
           case_id: str | None = None) -> Any:
    data = {"case_id": case_id} if case_id else None
    return client.post("/api/v1/evidence", headers=headers, files={"file": (name, content)}, data=data)


def stored(client: TestClient, headers: dict[str, str], content: bytes | None = None, name: str = "材料.pdf",
           case_id: str | None = None) -> str:
    """Uploads a file (a fresh PDF unless given) and answers its digest."""
    answer = upload(client, headers, content or a_pdf(), name, case_id)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["sha256"])


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.fixture
def issue(client: TestClient, district: District) -> str:
    sup = bearer(district, "supervisor")
    plan = client.post("/api/v1/plans", headers=sup, json={
        "number": "东政办[2019]6号", "title": "实施方案", "issuer_unit": "bgs", "year": 2019})
    made = client.post("/api/v1/issues", headers=sup, json={
        "plan_id": plan.json()["id"], "seq": 1, "duty": "法治宣传教育", "problem": "有待加强",
        "units": ["pf"], "measures": ["纳入考核标准", "开展活动"], "remarks": ""})
    assert made.status_code == 201, made.text
    return f"/api/v1/issues/{made.json()['id']}"


@pytest.fixture
def case(client: TestClient, district: District) -> str:
    return registered_case(client, district)


def registered_case(client: TestClient, district: District) -> str:
    made = client.post("/api/v1/cases", headers=bearer(district, "cq-clerk"), json={
        "street": "常青花园", "community": "常青一社区", "household_local": True, "birth_date": BIRTH.isoformat(),
        "person": {"name": NAME, "id_number": valid_id()}})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_a_file_is_typed_by_its_content_not_its_name(client: TestClient, district: District, services) -> None:  # type: ignore[no-untyped-def]
    pf = bearer(district, "pf-clerk")
    workbook = io.BytesIO()
    openpyxl.Workbook().save(workbook)
    for content, name, media_type in [
        (PNG + secrets.token_bytes(32), "照片.pdf", "image/png"),
        (b"\xff\xd8\xff\xe0" + secrets.token_bytes(32), "scan", "image/jpeg"),
        (a_pdf(), "C:\\Users\\陈静\\考核标准.pdf", "application/pdf"),
        (an_office_file("word/document.xml"), "方案.docx",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (workbook.getvalue(), "台账.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ]:
        answer = upload(client, pf, content, name)
        assert answer.status_code == 201, answer.text
        assert answer.json()["media_type"] == media_type
        assert answer.json()["sha256"] == hashlib.sha256(content).hexdigest()
        assert answer.json()["size"] == len(content)
    assert answer.json()["name"] == "台账.xlsx"
    assert upload(client, pf, a_pdf(), "C:\\Users\\陈静\\考核标准.pdf").json()["name"] == "考核标准.pdf"

    evidence_dir = services.settings.evidence_dir
    before = files_in(evidence_dir)
    for content, name in [(b"<html>not a pdf</html>", "a.pdf"), (an_office_file("other.xml"), "a.docx"),
                          (b"PK\x03\x04broken", "a.xlsx"), (b"MZ\x90\x00", "a.png"),
                          (a_zip_of_a_later_version(), "a.docx")]:
        refused = upload(client, pf, content, name)
        assert refused.status_code == 415, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["rule"] == "evidence_type_allowed" and "PDF" in refused.json()["detail"]
    services.evidence.max_bytes = 2048
    too_large = upload(client, pf, a_pdf() + b"0" * 4096)
    assert too_large.status_code == 413 and too_large.json()["rule"] == "evidence_within_size_limit"
    assert upload(client, bearer(district, "inspector"), a_pdf()).status_code == 403
    named = upload(client, pf, a_pdf(), f"{valid_id()}.pdf")
    assert named.status_code == 422 and valid_id() not in named.text
    assert files_in(evidence_dir) == before


def test_entries_name_stored_files_and_only_their_readers_download_them(
    client: TestClient, district: District, issue: str
) -> None:
    pf, sup = bearer(district, "pf-clerk"), bearer(district, "supervisor")
    before = district.ledger.recorder.max_notification_id()
    unknown = client.post(f"{issue}/measures/M1/progress", headers=pf,
                          json={"summary": "进展", "evidence": [{"name": "a.pdf", "sha256": "a" * 64}]})
    assert unknown.status_code == 422 and unknown.json()["rule"] == "evidence_is_stored"
    assert district.ledger.recorder.max_notification_id() == before

    content = a_pdf()
    digest = stored(client, pf, content, "考核标准.pdf")
    # Stored, but no entry names it yet: no one reads it, its uploader neither.
    assert client.get(f"/api/v1/evidence/{digest}", headers=pf).status_code == 404
    progress = client.post(f"{issue}/measures/M1/progress", headers=pf,
                           json={"summary": "进展", "evidence": [{"name": "考核标准.pdf", "sha256": digest.upper()}]})
    assert progress.status_code == 201, progress.text
    for who in ("pf-clerk", "supervisor", "inspector"):
        got = client.get(f"/api/v1/evidence/{digest}", headers=bearer(district, who))
        assert got.status_code == 200 and got.content == content and got.headers["content-type"] == "application/pdf"
        assert "%E8%80%83%E6%A0%B8%E6%A0%87%E5%87%86.pdf" in got.headers["content-disposition"]
    hidden = client.get(f"/api/v1/evidence/{digest}", headers=bearer(district, "gf-clerk"))
    assert hidden.status_code == 404 and hidden.json()["detail"] == "没有这个佐证材料"
    assert client.get("/api/v1/evidence/not-a-digest", headers=sup).status_code == 404

    shown = stored(client, pf, PNG + secrets.token_bytes(16), "现场照片.png")
    done = client.post(f"{issue}/measures/M2/completion", headers=pf,
                       json={"summary": "已办结", "evidence": [{"name": "现场照片.png", "sha256": shown}]})
    assert done.status_code == 201, done.text
    completed = client.get(f"{issue}/events", headers=sup).json()[-1]
    assert completed["type"] == "MeasureCompleted"
    assert completed["evidence"] == [{"name": "现场照片.png", "sha256": shown}]
    assert client.get(f"/api/v1/evidence/{shown}", headers=bearer(district, "inspector")).status_code == 200


def test_a_childs_file_is_sealed_read_with_a_trace_and_shredded_by_erasure(  # type: ignore[no-untyped-def]
    client: TestClient, district: District, case: str, services, cli_env  # noqa: F811
) -> None:
    cq, sup = bearer(district, "cq-clerk"), bearer(district, "supervisor")
    content = PNG + f"{NAME}的户口本".encode() + secrets.token_bytes(16)
    digest = stored(client, cq, content, f"{NAME}户口本.png", case_id=case)
    on_disk = b"".join(p.read_bytes() for p in files_in(services.settings.evidence_dir))
    assert NAME.encode() not in on_disk and f"{NAME}户口本".encode() not in on_disk

    elsewhere = stored(client, cq)  # an issue's file, not this child's
    refused = client.post(f"/api/v1/cases/{case}/classifications", headers=cq,
                          json={"left_behind": True, "categories": ["poverty"], "evidence": [elsewhere]})
    assert refused.status_code == 422 and refused.json()["rule"] == "evidence_is_stored"
    classified = client.post(f"/api/v1/cases/{case}/classifications", headers=cq,
                             json={"left_behind": True, "categories": ["poverty"], "evidence": [digest]})
    assert classified.status_code == 201, classified.text

    referral = client.post(f"/api/v1/cases/{case}/referrals", headers=sup, json={"unit": "gf", "duty": "法律援助"})
    gf = bearer(district, "gf-clerk")
    given = stored(client, gf, PNG + secrets.token_bytes(16), "服务记录.png", case_id=case)
    for evidence, status in (([elsewhere], 422), ([given], 201)):
        answer = client.post(f"/api/v1/cases/{case}/services", headers=gf, json={
            "kind": "legal_aid", "referral_id": referral.json()["referral_id"], "evidence": evidence})
        assert answer.status_code == status, answer.text
    assert client.get(f"/api/v1/cases/{case}", headers=sup).json()["services"][0]["evidence"] == [given]
    assert client.get(f"/api/v1/evidence/{given}", headers=gf).status_code == 200  # referred: reads personal data

    # The registering unit reads the case but not the child's personal data, its files neither.
    assert client.get(f"/api/v1/evidence/{digest}", headers=cq).status_code == 404
    got = client.get(f"/api/v1/evidence/{digest}", headers=sup)
    assert got.status_code == 200 and got.content == content
    log = client.get(f"/api/v1/cases/{case}/access-log", headers=bearer(district, "inspector")).json()
    assert [(e["user"], e["endpoint"]) for e in log][-2:] == [
        ("gf-clerk", f"/api/v1/evidence/{given}"), ("supervisor", f"/api/v1/evidence/{digest}")]

    verified = CliRunner().invoke(cli, ["verify", "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["evidence_files"] == {"checked": 3, "shredded": 0, "missing": [], "altered": []}

    assert client.post(f"/api/v1/cases/{case}/erasure", headers=sup, json={"reason": "期满"}).status_code == 201
    assert client.get(f"/api/v1/evidence/{digest}", headers=sup).status_code == 404
    assert upload(client, cq, a_pdf(), case_id=case).status_code == 422
    verified = CliRunner().invoke(cli, ["verify", "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["evidence_files"]["shredded"] == 2


def test_verify_names_altered_and_missing_files(  # type: ignore[no-untyped-def]
    client: TestClient, district: District, issue: str, services, cli_env  # noqa: F811
) -> None:
    pf = bearer(district, "pf-clerk")
    altered, missing = stored(client, pf), stored(client, pf)
    for digest in (altered, missing):
        assert client.post(f"{issue}/measures/M1/progress", headers=pf, json={
            "summary": "进展", "evidence": [{"name": "a.pdf", "sha256": digest}]}).status_code == 201
    root = services.settings.evidence_dir / "plain"
    (root / altered[:2] / altered).write_bytes(a_pdf())
    for path in (root / missing[:2]).glob(f"{missing}*"):
        path.unlink()
    verified = CliRunner().invoke(cli, ["verify", "--json"])
    assert verified.exit_code == 1, verified.output
    document = json.loads(verified.stdout)
    assert document["log_intact"] is True and document["intact"] is False
    assert (document["evidence_files"]["altered"], document["evidence_files"]["missing"]) == ([altered], [missing])
    table = CliRunner().invoke(cli, ["verify"], env={"COLUMNS": "200"})
    assert "被改动的材料" in table.stdout and "缺失的材料" in table.stdout


def test_naming_a_file_in_a_case_one_may_not_read_is_the_404_of_the_case_whatever_the_store_holds(
    client: TestClient, district: District, case: str
) -> None:
    """The store is not asked before the case is: a unit that may not read the case cannot
    learn from the answer whether a file of known content is among the child's files."""
    held = stored(client, bearer(district, "cq-clerk"), case_id=case)
    outsider = bearer(district, "zml-clerk")
    answers = [client.post(f"/api/v1/cases/{case}/classifications", headers=outsider,
                           json={"left_behind": True, "evidence": [digest]})
               for digest in (held, hashlib.sha256(b"never uploaded").hexdigest())]
    assert [a.status_code for a in answers] == [404, 404], [a.text for a in answers]
    assert answers[0].json()["rule"] == answers[1].json()["rule"]



def test_a_refused_forms_copy_for_one_case_goes_though_another_case_names_the_same_content(
        client: TestClient, district: District, services) -> None:  # type: ignore[no-untyped-def]
    first, second = UUID(registered_case(client, district)), UUID(registered_case(client, district))
    content, clerk = a_pdf(), district.actors["cq-clerk"]
    named = services.evidence.check_upload(clerk, content=content, name="材料.pdf", case_id=first)
    services.evidence.keep(clerk, named, content)
    services.evidence.store.attach(named.sha256, first)  # an entry of the first case names it
    copy = services.evidence.check_upload(clerk, content=content, name="材料.pdf", case_id=second)
    assert services.evidence.keep(clerk, copy, content)  # the second case's own copy, new
    services.evidence.discard([copy])  # its form refused
    key_of = services.evidence.key_of
    assert services.evidence.store.find(copy.sha256, second, key_of(second)) is None
    assert services.evidence.store.find(named.sha256, first, key_of(first)) is not None


def test_a_refused_forms_new_file_stays_while_another_command_is_naming_the_same_content(
        client: TestClient, district: District, services, issue: str) -> None:  # type: ignore[no-untyped-def]
    """Two forms send the same file at once: the first stored it new and is refused; the
    second's command is committed between the store's check and the record that it names
    the file. The refused form's clean-up must not remove the file the second entry names."""
    content, clerk = a_pdf(), district.actors["pf-clerk"]
    file = services.evidence.check_upload(clerk, content=content, name="材料.pdf")
    assert services.evidence.keep(clerk, file, content)  # the first form stored it new
    issue_id = UUID(issue.rsplit("/", 1)[1])

    def committed_while_the_first_form_is_refused() -> str:
        services.evidence.discard([file])
        return "committed"

    assert services.evidence.naming(clerk, [file.sha256], issue_id, committed_while_the_first_form_is_refused) \
        == "committed"
    assert services.evidence.store.find(file.sha256, None, None) is not None
    assert services.evidence.store.references(file.sha256) == [issue_id]
    assert services.evidence.check().intact
    services.evidence.discard([file])  # named now: a later clean-up keeps it too
    assert services.evidence.store.find(file.sha256, None, None) is not None
    assert not files_in(services.settings.evidence_dir / "pending")


def test_a_file_an_entry_names_stays_though_recording_the_reference_failed(
        client: TestClient, district: District, services, issue: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The entry was stored but the disk refused the reference: a refused form's clean-up
    later must still not remove the file the entry names."""
    content, clerk = a_pdf(), district.actors["pf-clerk"]
    file = services.evidence.check_upload(clerk, content=content, name="材料.pdf")
    assert services.evidence.keep(clerk, file, content)
    issue_id = UUID(issue.rsplit("/", 1)[1])

    def disk_full(sha256: str, aggregate_id: UUID) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(services.evidence.store, "attach", disk_full)
    with pytest.raises(OSError):
        services.evidence.naming(clerk, [file.sha256], issue_id, lambda: "stored")
    services.evidence.discard([file])  # another form, sending the same content, refused
    assert services.evidence.store.find(file.sha256, None, None) is not None


def test_a_refused_command_leaves_no_note_that_it_was_naming_a_file(
        client: TestClient, district: District, services, issue: str) -> None:  # type: ignore[no-untyped-def]
    content, clerk = a_pdf(), district.actors["pf-clerk"]
    file = services.evidence.check_upload(clerk, content=content, name="材料.pdf")
    services.evidence.keep(clerk, file, content)

    def refused() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError):
        services.evidence.naming(clerk, [file.sha256], UUID(issue.rsplit("/", 1)[1]), refused)
    assert not (services.settings.evidence_dir / "pending" / file.sha256).exists()
    services.evidence.discard([file])
    assert services.evidence.store.find(file.sha256, None, None) is None
