"""Who may do what, over HTTP and on the dashboard's pages: every endpoint and page × every role ×
own unit or another (and, for cases, the unit the case is referred to), reads and writes alike,
in ONE table. Reads follow application.read_policy; writes application.access.

The world, built fresh for every write: an issue registered for sfs-cq, pf and gf with a measure of
sfs-cq (due in 2019) and a progress report by cq-clerk; gf urged on it, then the issue assigned to
sfs-cq (lead) and pf (co-unit), so gf is no longer responsible but was urged. A child case
registered by sfs-cq with a mandatory report (filed by cq-clerk) and an open referral to gf.

Columns: sup = supervisor, ins = inspector, adm = admin (all of the office bgs); lead = cq-clerk (the
issue's lead unit and owner of its measure, the case's registering unit); co = pf-clerk (the issue's
co-unit; nothing to the case); ref = gf-clerk (urged on the issue, no longer responsible; the case is
referred to gf); other = zml-clerk (neither); none = no token (a page then redirects to sign-in).

A cell is the status wanted; for a list, view, export or page that lists the world's object, S is 200
with the object shown and H is 200 with it left out (the last column of a row names what is looked
for: an issue's id, its problem text, the lead unit's row, the case's number). A refused read of one
object is 404, the same as no such object; a role that reads no such thing at all is 403.

Every refused write must also leave the log as it was.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import openpyxl
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from application.commands import SYSTEM, Command
from application.ledger import Ledger
from domain.registry import user_id
from interfaces.web.admin import router as admin
from interfaces.web.admin_units import router as admin_units
from interfaces.web.admin_users import router as admin_users
from interfaces.web.inspection import audit_router as audit_pages, router as inspection
from interfaces.web.pages import router as pages
from interfaces.web.province import router as province
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.district import District

COLUMNS = ("sup", "ins", "adm", "lead", "co", "ref", "other", "none")
WHO = {"sup": "supervisor", "ins": "inspector", "adm": "admin", "lead": "cq-clerk", "co": "pf-clerk",
       "ref": "gf-clerk", "other": "zml-clerk", "none": None}
S, H = "S", "H"

PROBLEM_LIST = "序号,责任单位,工作职责,存在问题,整改措施,备注\n1,常青花园司法所,职责,问题,1、措施,\n".encode()
ORIGIN = {"Origin": "http://testserver"}
EVIDENCE = b"\x89PNG\r\n\x1a\n" + b"matrix"  # recognised as PNG by its first bytes

# What a list or view shows of the world: its issue, the issue's problem text, the lead unit's row
# (by code in the API, by name on the pages), the case's number, the case's street.
ISSUE, PROBLEM, LEAD_ROW, LEAD_NAME, CASE, STREET = "{issue}", "{problem}", '"unit":"sfs-cq"', "常青花园司法所", \
    "{case_number}", "常青花园"



def twins(path: str, cells: tuple[int | str, ...], find: str, *variants: str) -> list[tuple[str, str, Any, str, tuple[int | str, ...], str]]:
    """A read and its twins (the same path as of a date, its events, its spreadsheet): whoever
    reads the one reads the others, so they share their cells."""
    return [("GET", path + variant, None, "", cells, find) for variant in ("", *variants)]


# (method, path template, body or None, preparation, expected per column in COLUMNS order, what S/H look for)
# Paths name {plan} {issue} {measure} {case} {report} {referral} {progress_pos} {report_pos}.
MATRIX: list[tuple[str, str, Any, str, tuple[int | str, ...], str]] = [
    #                                                                       sup  ins  adm  lead co   ref  oth  none
    # ---- reads: the API ----------------------------------------------------------------------------------
    ("GET", "/api/v1/plans/{plan}", None, "", (200, 200, 200, 200, 200, 200, 200, 401), ""),
    ("GET", "/api/v1/plans/{plan}/problem-list.xlsx", None, "", (S, S, 403, S, S, S, H, 401), PROBLEM),
    ("GET", "/api/v1/issues", None, "", (S, S, 403, S, S, S, H, 401), ISSUE),
    ("GET", "/api/v1/issues?unit=sfs-cq", None, "", (S, S, 403, S, S, S, H, 401), ISSUE),
    *twins("/api/v1/issues/{issue}", (200, 200, 403, 200, 200, 200, 404, 401), "", "?as_of=2019-03-01", "/events"),
    # A file is read by whoever reads an entry that names it (here the issue's progress report).
    ("GET", "/api/v1/evidence/{evidence}", None, "", (200, 200, 403, 200, 200, 200, 404, 401), ""),
    *twins("/api/v1/cases/{case}", (200, 200, 403, 200, 404, 200, 404, 401), "", "?as_of=2019-03-01", "/events"),
    ("GET", "/api/v1/cases/{case}/access-log", None, "", (200, 200, 403, 403, 403, 403, 403, 401), ""),
    *twins("/api/v1/views/supervision", (S, S, 403, S, S, S, H, 401), ISSUE, "?as_of=2019-03-01", ".xlsx"),
    ("GET", "/api/v1/views/supervision/units", None, "", (S, S, 403, S, H, H, H, 401), LEAD_ROW),
    ("GET", "/api/v1/views/supervision/units.xlsx", None, "", (S, S, 403, S, H, H, H, 401), "sfs-cq"),
    ("GET", "/api/v1/views/evaluation/2019", None, "", (S, S, 403, S, H, H, H, 401), LEAD_ROW),
    ("GET", "/api/v1/views/evaluation/2019.xlsx", None, "", (S, S, 403, S, H, H, H, 401), "sfs-cq"),
    *twins("/api/v1/views/ledger", (S, S, 403, S, H, S, H, 401), CASE, "?as_of=2019-03-01", ".xlsx"),
    ("GET", "/api/v1/province/rollup", None, "", (404, 404, 404, 403, 403, 403, 403, 401), ""),
    ("GET", "/api/v1/province/rollup?as_of=2019-03-01", None, "", (404, 404, 404, 403, 403, 403, 403, 401), ""),
    ("GET", "/api/v1/audit/events", None, "", (200, 200, 200, 403, 403, 403, 403, 401), ""),
    ("GET", "/api/v1/audit/late-entries", None, "", (200, 200, 200, 403, 403, 403, 403, 401), ""),
    ("GET", "/api/v1/audit/tree-head", None, "", (200, 200, 200, 200, 200, 200, 200, 401), ""),
    ("GET", "/api/v1/audit/public-key", None, "", (200, 200, 200, 200, 200, 200, 200, 401), ""),
    ("GET", "/api/v1/audit/proofs/inclusion?position=1", None, "", (200, 200, 200, 403, 403, 403, 403, 401), ""),
    ("GET", "/api/v1/audit/proofs/consistency?first=1&second=2", None, "",
     (200, 200, 200, 403, 403, 403, 403, 401), ""),
    ("GET", "/healthz", None, "", (200, 200, 200, 200, 200, 200, 200, 200), ""),
    ("GET", "/readyz", None, "", (200, 200, 200, 200, 200, 200, 200, 200), ""),
    # ---- reads: the dashboard's pages ----------------------------------------------------------------
    ("GET", "/", None, "", (S, S, 303, S, H, H, H, 303), LEAD_NAME),
    ("GET", "/issues", None, "", (S, S, 403, S, S, S, H, 303), ISSUE),
    *twins("/issues/{issue}", (200, 200, 403, 200, 200, 200, 404, 303), "", "?as_of=2019-03-01"),
    ("GET", "/evaluation?year=2019", None, "", (S, S, 403, S, H, H, H, 303), LEAD_NAME),
    ("GET", "/ledger", None, "", (S, S, 403, S, H, S, H, 303), STREET),
    # A unit's to-do: agencies' only, each its own unit's (tests/e2e/test_agency_todo.py).
    ("GET", "/todo", None, "", (403, 403, 403, 200, 200, 200, 200, 303), ""),
    ("GET", "/audit", None, "", (200, 200, 200, 403, 403, 403, 403, 303), ""),
    # The province's roll-up: a lone district's own users are the province's, and it has no districts
    # to sum: the page says so, the API answers 404 (tests/integration/test_rollup.py reads it in a
    # deployment of three).
    ("GET", "/province", None, "", (200, 200, 200, 403, 403, 403, 403, 303), ""),
    ("GET", "/audit/verify", None, "", (200, 200, 200, 403, 403, 403, 403, 303), ""),
    ("POST", "/audit/verify", "page form", "", (303, 303, 303, 403, 403, 403, 403, 403), ""),
    ("GET", "/audit/tree-head.json", None, "", (200, 200, 200, 403, 403, 403, 403, 303), ""),
    ("GET", "/audit/public-key.pem", None, "", (200, 200, 200, 403, 403, 403, 403, 303), ""),
    ("GET", "/audit/proofs/inclusion.json?position=1", None, "", (200, 200, 200, 403, 403, 403, 403, 303), ""),
    ("GET", "/audit/proofs/consistency.json?first=1&second=2", None, "",
     (200, 200, 200, 403, 403, 403, 403, 303), ""),
    # A district's audit pages under its prefix: the province inspector's only (a deployment of several
    # districts: tests/integration/test_districts_postgres.py); a district's own users are refused there.
    *[("GET", "/districts/420112" + path, None, "", (403, 403, 403, 403, 403, 403, 403, 303), "")
      for path in ("/audit", "/audit/verify", "/audit/tree-head.json", "/audit/public-key.pem",
                   "/audit/proofs/inclusion.json?position=1", "/audit/proofs/consistency.json?first=1&second=2")],
    ("POST", "/districts/420112/audit/verify", "page form", "", (403, 403, 403, 403, 403, 403, 403, 403), ""),
    ("GET", "/replay", None, "", (200, 200, 403, 200, 200, 200, 200, 303), ""),
    ("GET", "/replay/issue?id={issue}", None, "", (200, 200, 403, 200, 200, 200, 404, 303), ""),
    ("GET", "/replay/case?id={case}", None, "", (200, 200, 403, 200, 404, 200, 404, 303), ""),
    ("GET", "/replay/view?name=units&since=2019-01-01", None, "", (S, S, 403, S, H, H, H, 303), LEAD_NAME),
    ("GET", "/signin", None, "", (200, 200, 200, 200, 200, 200, 200, 200), ""),
    ("GET", "/cases", None, "", (S, S, 403, S, H, S, H, 303), CASE),
    *twins("/cases/{case}", (200, 200, 403, 200, 404, 200, 404, 303), "", "?as_of=2019-03-01"),
    # ---- writes: plans and issues ------------------------------------------------------------------
    ("POST", "/api/v1/plans", {"number": "汉司〔2019〕9号", "title": "方案", "issuer_unit": "bgs", "year": 2019}, "",
     (201, 403, 403, 403, 403, 403, 403, 401), ""),
    ("POST", "/api/v1/plans/{plan}/problem-list?dry_run=true", "problem-list", "",
     (200, 403, 403, 403, 403, 403, 403, 401), ""),
    ("POST", "/api/v1/evidence", "evidence file", "", (201, 403, 403, 201, 201, 201, 201, 401), ""),
    ("POST", "/api/v1/issues", {"plan_id": "{plan}", "seq": 9000, "duty": "职责", "problem": "问题",
                                "units": ["sfs-cq"]}, "", (201, 403, 403, 403, 403, 403, 403, 401), ""),
    ("POST", "/api/v1/issues/{issue}/assignment", {"lead_unit": "sfs-cq", "contact_person": "张三",
                                                   "deadline": "2019-12-31"}, "",
     (201, 403, 403, 403, 403, 403, 404, 401), ""),
    ("POST", "/api/v1/issues/{issue}/measures", {"unit": "sfs-cq", "text": "新措施"}, "",
     (403, 403, 403, 201, 403, 403, 404, 401), ""),
    ("POST", "/api/v1/issues/{issue}/measures/{measure}/progress", {"summary": "进展"}, "",
     (403, 403, 403, 201, 403, 403, 404, 401), ""),
    ("POST", "/api/v1/issues/{issue}/measures/{measure}/completion", {"summary": "办结"}, "",
     (403, 403, 403, 201, 403, 403, 404, 401), ""),
    ("POST", "/api/v1/issues/{issue}/urgings", {"unit": "sfs-cq", "message": "请加快", "reply_by": "2019-04-01"}, "",
     (201, 403, 403, 403, 403, 403, 404, 401), ""),
    ("POST", "/api/v1/issues/{issue}/deadline-extensions", {"deadline": "2020-06-30", "reason": "工作量大"}, "",
     (201, 403, 403, 403, 403, 403, 404, 401), ""),
    # gf was urged: it alone answers, though no longer responsible for the issue
    ("POST", "/api/v1/issues/{issue}/urgings/{urging}/reply", {"message": "已部署"}, "",
     (403, 403, 403, 403, 403, 201, 404, 401), ""),
    ("POST", "/api/v1/issues/{issue}/extension-requests", {"deadline": "2020-06-30", "reason": "工作量大"}, "",
     (403, 403, 403, 201, 201, 403, 404, 401), ""),
    ("POST", "/api/v1/issues/{issue}/extension-requests/{request}/decision", {"approved": True, "reason": "同意"},
     "extension requested", (201, 403, 403, 403, 403, 403, 404, 401), ""),
    ("POST", "/api/v1/issues/{issue}/evaluations", {"year": 2019, "grade": "良好", "score": 85}, "",
     (201, 403, 403, 403, 403, 403, 404, 401), ""),
    ("POST", "/api/v1/issues/{issue}/closure", {"summary": "已整改"}, "measure completed",
     (201, 403, 403, 403, 403, 403, 404, 401), ""),
    ("POST", "/api/v1/issues/{issue}/reopening", {"reason": "复查发现问题"}, "issue closed",
     (201, 403, 403, 403, 403, 403, 404, 401), ""),
    ("POST", "/api/v1/issues/{issue}/corrections", {"position": "{progress_pos}", "changes": {"summary": "更正"},
                                                    "reason": "笔误"}, "",
     (201, 403, 403, 201, 403, 403, 404, 401), ""),
    # ---- access: the API and the admin page -----------------------------------------------------------
    ("GET", "/api/v1/me", None, "", (200, 200, 200, 200, 200, 200, 200, 401), ""),
    ("GET", "/api/v1/users", None, "", (403, 403, 200, 403, 403, 403, 403, 401), ""),
    ("GET", "/api/v1/tokens", None, "", (403, 403, 200, 403, 403, 403, 403, 401), ""),
    ("POST", "/api/v1/users", {"name": "新用户", "unit": "sfs-cq", "role": "agency"}, "",
     (403, 403, 201, 403, 403, 403, 403, 401), ""),
    ("POST", "/api/v1/users/{user}/deactivation", {}, "", (403, 403, 201, 403, 403, 403, 403, 401), ""),
    ("POST", "/api/v1/users/{user}/activation", {}, "user deactivated", (403, 403, 201, 403, 403, 403, 403, 401), ""),
    ("POST", "/api/v1/users/{user}/changes", {"role": "inspector"}, "", (403, 403, 201, 403, 403, 403, 403, 401), ""),
    ("POST", "/api/v1/users/{user}/tokens", {}, "", (403, 403, 201, 403, 403, 403, 403, 401), ""),
    # the world's token is the lead clerk's own: its owner may revoke it, nobody else but an admin
    ("DELETE", "/api/v1/tokens/{token}", None, "", (404, 404, 204, 204, 404, 404, 404, 401), ""),
    ("GET", "/admin", None, "", (403, 403, 200, 403, 403, 403, 403, 303), ""),
    ("POST", "/admin/users/{user}/deactivation", "page form", "", (403, 403, 303, 403, 403, 403, 403, 403), ""),
    ("POST", "/admin/users/{user}/activation", "page form", "user deactivated",
     (403, 403, 303, 403, 403, 403, 403, 403), ""),
    ("POST", "/admin/users/{user}/tokens", "page form", "", (403, 403, 200, 403, 403, 403, 403, 403), ""),
    ("POST", "/admin/tokens/{token}/revocation", "page form", "", (404, 404, 303, 303, 404, 404, 404, 403), ""),
    # the registry's pages and forms: an admin's empty form is refused beside its fields (422), anyone else's
    # is the 403 page before the form is read
    ("GET", "/admin/units", None, "", (403, 403, 200, 403, 403, 403, 403, 303), ""),
    ("GET", "/admin/units/sfs-cq", None, "", (403, 403, 200, 403, 403, 403, 403, 303), ""),
    ("GET", "/admin/users/new", None, "", (403, 403, 200, 403, 403, 403, 403, 303), ""),
    ("GET", "/admin/users/{user}", None, "", (403, 403, 200, 403, 403, 403, 403, 303), ""),
    ("POST", "/admin/units", "page form", "", (403, 403, 422, 403, 403, 403, 403, 403), ""),
    ("POST", "/admin/units/sfs-cq/duties", "page form", "", (403, 403, 422, 403, 403, 403, 403, 403), ""),
    ("POST", "/admin/users/new", "page form", "", (403, 403, 422, 403, 403, 403, 403, 403), ""),
    ("POST", "/admin/users/{user}", "page form", "", (403, 403, 422, 403, 403, 403, 403, 403), ""),
    # ---- writes: child cases -----------------------------------------------------------------------
    ("POST", "/api/v1/cases", "new case", "", (201, 403, 403, 201, 201, 201, 201, 401), ""),
    ("POST", "/api/v1/cases/{case}/classifications", {"left_behind": True, "categories": ["poverty"]}, "",
     (201, 403, 403, 201, 404, 201, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/reassessments", {"left_behind": False, "categories": []}, "case classified",
     (201, 403, 403, 201, 404, 201, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/guardianship", {"arrangement": "statutory", "guardian": {"name": "王大明"}}, "",
     (201, 403, 403, 201, 404, 201, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/mandatory-reports", {"reporter": "school", "nature": "unattended",
                                                        "occurred_at": "2019-03-01T08:10:00+08:00"}, "",
     (201, 403, 403, 201, 404, 201, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/mandatory-reports/{report}/acceptance", {}, "",
     (201, 403, 403, 201, 404, 201, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/mandatory-reports/{report}/dispatch", {}, "report accepted",
     (201, 403, 403, 201, 404, 201, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/referrals", {"unit": "pf", "duty": "普法宣传"}, "",
     (201, 403, 403, 201, 404, 403, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/referrals/{referral}/acceptance", {}, "",
     (403, 403, 403, 403, 404, 201, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/referrals/{referral}/closure", {"outcome": "completed"}, "",
     (201, 403, 403, 201, 404, 201, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/services", {"kind": "legal_aid"}, "",
     (201, 403, 403, 201, 404, 201, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/visits", {"notes": "走访"}, "",
     (201, 403, 403, 201, 404, 201, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/evaluations", {"year": 2019, "grade": "合格", "score": 70}, "",
     (201, 403, 403, 403, 404, 403, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/closure", {"reason": "hardship_resolved"}, "referral closed",
     (201, 403, 403, 403, 404, 403, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/reopening", {"reason": "情况反复"}, "case closed",
     (201, 403, 403, 403, 404, 403, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/erasure", {"reason": "期满"}, "",
     (201, 403, 403, 403, 404, 403, 404, 401), ""),
    ("POST", "/api/v1/cases/{case}/corrections", {"position": "{report_pos}", "changes": {"nature": "abuse"},
                                                  "reason": "笔误"}, "",
     (201, 403, 403, 201, 404, 403, 404, 401), ""),
]


@dataclass
class World:
    plan: str
    issue: str
    problem: str
    measure: str
    case: str
    case_number: str
    report: str
    referral: str
    progress_pos: int
    report_pos: int
    evidence: str  # the sha256 of a file the progress report names
    user: str  # a user of sfs-cq made for this world
    token: str  # the id of a second token of cq-clerk's ("own"), made for this world
    urging: str  # gf's urging
    request: str  # the id a first extension request of the issue gets


class Builder:
    """Makes a fresh world through the application itself (fast, and not what is under test)."""

    def __init__(self, ledger: Ledger, district: District) -> None:
        self.ledger, self.d = ledger, district
        self.plan = district.issues.register_plan(district.cmd("supervisor"), number="汉司〔2019〕1号", title="方案",
                                         issuer_unit="bgs", year=2019).id
        self.seq = 0

    def world(self, preparation: str) -> World:
        district, cmd = self.d, self.d.cmd
        self.seq += 1
        problem = f"问题〔{self.seq}〕"
        issue = district.issues.register_issue(cmd("supervisor"), plan=self.plan, seq=self.seq, duty="职责", problem=problem,
                                      units=["sfs-cq", "pf", "gf"], measures=[("sfs-cq", "措施", date(2019, 6, 30))],
                                      remarks="")
        measure = issue.extra["measure_ids"][0]
        urging = district.issues.urge(cmd("supervisor"), issue.id, unit="gf", message="请配合",
                                      reply_by=date(2019, 3, 15)).extra["urging_id"]
        district.issues.assign_issue(cmd("supervisor"), issue.id, lead_unit="sfs-cq", co_units=["pf"], contact_person="张三",
                            deadline=date(2019, 12, 31), nodes=[])
        shown = district.evidence.upload(self.d.actors["cq-clerk"], content=EVIDENCE + str(self.seq).encode(),
                                         name="现场照片.png")
        named = [{"name": shown.name, "sha256": shown.sha256}]
        progress = district.evidence.naming(district.actors["cq-clerk"], [shown.sha256], issue.id, lambda: district.issues.report_progress(
            cmd("cq-clerk"), issue.id, measure, summary="进展", evidence=named))
        case = district.cases.register_case(cmd("cq-clerk"), street="常青花园", community="常青一社区", household_local=True,
                                    birth_date=BIRTH, person={"name": NAME, "id_number": valid_id()})
        from datetime import datetime, timezone
        report = district.cases.file_mandatory_report(
            Command(self.d.actors["cq-clerk"], occurred_at=datetime(2019, 3, 1, 0, 0, tzinfo=timezone.utc)),
            case.id, reporter="school", nature="unattended", details=None)
        referral = district.cases.refer_case(cmd("supervisor"), case.id, unit="gf", duty="法律援助")
        referral_id = referral.extra["referral_id"]
        steps: dict[str, Callable[[], Any]] = {
            "measure completed": lambda: district.issues.complete_measure(cmd("cq-clerk"), issue.id, measure, summary="办结"),
            "issue closed": lambda: (steps["measure completed"](),
                                     district.issues.close_issue(cmd("supervisor"), issue.id, summary="已整改")),
            "case classified": lambda: district.cases.classify_case(cmd("cq-clerk"), case.id, left_behind=True,
                                                            categories=["poverty"], evidence=[]),
            "report accepted": lambda: district.cases.accept_report(cmd("supervisor"), case.id, report.extra["report_id"]),
            "referral closed": lambda: district.cases.close_referral(cmd("supervisor"), case.id, referral_id,
                                                             outcome="completed"),
            "user deactivated": lambda: self.d.accounts.deactivate(cmd("admin"), target.user_id),
            "extension requested": lambda: district.issues.request_extension(
                cmd("cq-clerk"), issue.id, deadline=date(2020, 3, 31), reason="会签"),
            "case closed": lambda: (steps["referral closed"](),
                                    district.cases.close_case(cmd("supervisor"), case.id, reason="hardship_resolved")),
        }
        target = district.accounts.add_user(Command(SYSTEM), name=f"target-{self.seq}", unit="sfs-cq", role="agency")
        token = self.d.accounts.issue_token(cmd("admin"), user_id("cq-clerk"))
        if preparation:
            steps[preparation]()
        return World(plan=str(self.plan), issue=str(issue.id), problem=problem, measure=measure, case=str(case.id),
                     case_number=case.extra["case_number"], report=report.extra["report_id"], referral=referral_id,
                     progress_pos=progress.position, report_pos=report.position, evidence=shown.sha256,
                     user=str(target.user_id),
                     token=str(token.accepted.id), urging=urging, request="ER1")


def _fill(value: Any, world: World) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and "{" not in value[1:]:
        found = getattr(world, value[1:-1])
        return found
    if isinstance(value, str):
        return value.format(**vars(world))
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    return value


def _send(client: TestClient, district: District, column: str, method: str, path: str, body: Any) -> Any:
    who = WHO[column]
    headers = {"Authorization": f"Bearer {district.tokens[who]}"} if who else {}
    if body == "problem-list":
        return client.post(path, headers=headers, files={"file": ("list.csv", io.BytesIO(PROBLEM_LIST), "text/csv")})
    if body == "evidence file":
        return client.post(path, headers=headers, files={"file": ("照片.png", io.BytesIO(EVIDENCE), "image/png")})
    if body == "new case":
        body = {"street": "走马岭", "community": "走马岭社区", "household_local": False, "birth_date": BIRTH.isoformat(),
                "person": {"name": NAME, "id_number": valid_id()}}
    if body == "page form":
        answer = client.post(path, headers={**headers, **ORIGIN}, follow_redirects=False)
        job = client.app.state.web_verifications.latest  # type: ignore[attr-defined]
        assert job is None or job.wait(timeout=60), "the verification did not finish"
        return answer
    return client.request(method, path, headers=headers, json=body, follow_redirects=False)


def _text(answer: Any) -> str:
    """What a reader sees in an answer: a workbook's cells (every sheet), or the body as text."""
    if answer.headers.get("content-type", "").startswith("application/vnd.openxmlformats"):
        book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
        return "\n".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                         for cell in row if cell is not None)
    return answer.text.replace(" ", "").replace("\n", "") if "json" in answer.headers.get("content-type", "") \
        else answer.text


def _route(path: str) -> str:
    for name, param in (("{plan}", "{plan_id}"), ("{issue}", "{issue_id}"), ("{case}", "{case_id}"),
                        ("{measure}", "{measure_id}"), ("{report}", "{report_id}"),
                        ("{referral}", "{referral_id}"), ("2019.xlsx", "{year}.xlsx"),
                        ("{urging}", "{urging_id}"), ("{request}", "{request_id}"),
                        ("{user}", "{user_id}"), ("{token}", "{token_id}"), ("{evidence}", "{sha256}")):
        path = path.replace(name, param)
    if path.endswith("/evaluation/2019"):
        path = path.replace("2019", "{year}")
    path = path.replace("/admin/units/sfs-cq", "/admin/units/{code}")
    return path


# Routes that answer by network or belong to signing in and out, not to reading or writing the ledger.
NOT_IN_THE_MATRIX = {("GET", "/metrics"), ("POST", "/signin"), ("POST", "/signout")}


def test_the_matrix_covers_every_operation_of_the_openapi_document_and_every_page(client: TestClient) -> None:
    documented = {
        (method.upper(), path) for path, ops in client.get("/openapi.json").json()["paths"].items() for method in ops
    }
    # The audit pages are mounted twice: here at /audit; under /districts/{district}/ for a province
    # inspector, each page for each kind of caller in tests/integration/test_districts_postgres.py.
    documented |= {(method, route.path) for route in (*pages.routes, *inspection.routes, *audit_pages.routes,
                                                      *province.routes)
                   if isinstance(route, APIRoute)
                   for method in route.methods}
    documented |= {(method, route.path) for route in (*admin.routes, *admin_users.routes, *admin_units.routes)
                   if isinstance(route, APIRoute) for method in route.methods}
    covered = {(method, _route(template.split("?")[0])) for method, template, *_ in MATRIX}
    # A province inspector's reading of a district's audit trail (PostgreSQL deployments of several
    # districts), each operation for each kind of caller: tests/integration/test_districts_postgres.py.
    documented = {(method, path) for method, path in documented if not path.startswith("/api/v1/districts/")}
    assert documented - NOT_IN_THE_MATRIX - covered == set()
    assert all(len(row[4]) == len(COLUMNS) for row in MATRIX)
    assert all(bool(row[5]) == any(cell in (S, H) for cell in row[4]) for row in MATRIX)


@pytest.mark.parametrize("column", COLUMNS)
def test_every_endpoint_and_page_answers_each_role_as_the_matrix_says(
    client: TestClient, district: District, ledger: Ledger, column: str,
) -> None:
    build = Builder(ledger, district)
    shared = build.world("")
    district.issues.register_issue(district.cmd("supervisor"), plan=build.plan, seq=5000, duty="职责", problem="问题",
                          units=["sfs-zml"], measures=[], remarks="")  # a second event for consistency proofs
    wrong: list[str] = []
    for method, template, body, preparation, expected, sees in MATRIX:
        world = build.world(preparation) if method in ("POST", "DELETE") and not template.endswith("/audit/verify") else shared
        path = _fill(template, world)
        before = ledger.recorder.max_notification_id()
        answer = _send(client, district, column, method, path, _fill(body, world))
        want = expected[COLUMNS.index(column)]
        got: int | str = answer.status_code
        if want in (S, H) and answer.status_code == 200:
            got = S if _fill(sees, world) in _text(answer) else H
        if got != want:
            wrong.append(f"{method} {template} as {column}: {got} (want {want}) {answer.text[:160]}")
        if answer.status_code >= 400 and template.startswith("/api/"):
            assert answer.headers["content-type"].startswith("application/problem+json"), (template, column)
        if answer.status_code >= 400:
            assert ledger.recorder.max_notification_id() == before, f"refused {method} {template} stored events"
    assert wrong == [], "\n".join(wrong)


def test_a_refused_read_answers_exactly_as_a_missing_object(client: TestClient, district: District,
                                                           ledger: Ledger) -> None:
    world = Builder(ledger, district).world("")
    headers = {"Authorization": f"Bearer {district.tokens['zml-clerk']}"}
    missing = "00000000-0000-0000-0000-000000000000"
    for template in ("/api/v1/issues/{}", "/api/v1/issues/{}/events", "/api/v1/cases/{}", "/api/v1/cases/{}/events"):
        kind = "issue" if "issues" in template else "case"
        refused = client.get(template.format(getattr(world, kind)), headers=headers)
        absent = client.get(template.format(missing), headers=headers)
        assert refused.status_code == absent.status_code == 404
        assert {**refused.json(), "instance": None} == {**absent.json(), "instance": None}, template


def test_a_refused_write_tells_an_agency_no_more_than_a_missing_object(client: TestClient, district: District,
                                                                       ledger: Ledger) -> None:
    """A unit not party to an issue or a case gets the 404 of a missing one for a command too,
    a stale If-Match included: a 403 or a 412 would confirm that the id is real."""
    world = Builder(ledger, district).world("")
    missing = "00000000-0000-0000-0000-000000000000"
    other = {"Authorization": f"Bearer {district.tokens['zml-clerk']}"}
    for template, body in (("/api/v1/issues/{}/measures", {"unit": "sfs-zml", "text": "措施"}),
                           ("/api/v1/cases/{}/visits", {})):
        kind = "issue" if "issues" in template else "case"
        for headers in (other, {**other, "If-Match": '"1"'}):
            before = ledger.recorder.max_notification_id()
            refused = client.post(template.format(getattr(world, kind)), headers=headers, json=body)
            absent = client.post(template.format(missing), headers=headers, json=body)
            assert refused.status_code == absent.status_code == 404, (template, refused.text)
            assert {**refused.json(), "instance": None} == {**absent.json(), "instance": None}, template
            assert ledger.recorder.max_notification_id() == before
