"""Who may do what, over HTTP: every endpoint × every role × own unit or another (and, for
cases, the unit the case is referred to), reads and writes alike, in ONE table.

The world, built fresh for every write: an issue whose one responsible unit is sfs-cq (with a
measure of sfs-cq, assigned, and a progress report by cq-clerk), and a child case registered
by sfs-cq with a mandatory report (filed by cq-clerk) and an open referral to gf.

Columns: sup = supervisor, ins = inspector, adm = admin (all of the office bgs); own = cq-clerk
(the issue's responsible unit and the case's registering unit); other = zml-clerk (neither);
ref = gf-clerk (the case is referred to gf; for issues gf is just another unit); none = no token.

Every refused write must also leave the log as it was.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from application.ledger import SYSTEM, Command, Ledger
from domain.registry import user_id
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.district import District

COLUMNS = ("sup", "ins", "adm", "own", "other", "ref", "none")
WHO = {"sup": "supervisor", "ins": "inspector", "adm": "admin", "own": "cq-clerk", "other": "zml-clerk",
       "ref": "gf-clerk", "none": None}

PROBLEM_LIST = "序号,责任单位,工作职责,存在问题,整改措施,备注\n1,常青花园司法所,职责,问题,1、措施,\n".encode()

# (method, path template, body or None, preparation, expected status per column in COLUMNS order)
# Paths name {plan} {issue} {measure} {case} {report} {referral} {progress_pos} {report_pos}.
MATRIX: list[tuple[str, str, Any, str, tuple[int, ...]]] = [
    #                                                                    sup  ins  adm  own  oth  ref  none
    ("GET", "/api/v1/plans/{plan}", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/plans/{plan}/problem-list.xlsx", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/issues", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/issues/{issue}", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/issues/{issue}/events", None, "", (200, 200, 403, 200, 403, 403, 401)),
    ("GET", "/api/v1/cases/{case}", None, "", (200, 200, 403, 200, 403, 200, 401)),
    ("GET", "/api/v1/cases/{case}/events", None, "", (200, 200, 403, 200, 403, 200, 401)),
    ("GET", "/api/v1/cases/{case}/access-log", None, "", (200, 200, 403, 403, 403, 403, 401)),
    ("GET", "/api/v1/views/supervision", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/views/supervision.xlsx", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/views/supervision/units", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/views/supervision/units.xlsx", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/views/evaluation/2019", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/views/evaluation/2019.xlsx", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/views/ledger", None, "", (200, 200, 200, 403, 403, 403, 401)),
    ("GET", "/api/v1/views/ledger.xlsx", None, "", (200, 200, 200, 403, 403, 403, 401)),
    ("GET", "/api/v1/audit/events", None, "", (200, 200, 403, 403, 403, 403, 401)),
    ("GET", "/api/v1/audit/late-entries", None, "", (200, 200, 403, 403, 403, 403, 401)),
    ("GET", "/api/v1/audit/tree-head", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/audit/public-key", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/audit/proofs/inclusion?position=1", None, "", (200, 200, 403, 403, 403, 403, 401)),
    ("GET", "/api/v1/audit/proofs/consistency?first=1&second=2", None, "", (200, 200, 403, 403, 403, 403, 401)),
    ("GET", "/api/v1/me", None, "", (200, 200, 200, 200, 200, 200, 401)),
    ("GET", "/api/v1/users", None, "", (403, 403, 200, 403, 403, 403, 401)),
    ("GET", "/api/v1/tokens", None, "", (403, 403, 200, 403, 403, 403, 401)),
    ("GET", "/healthz", None, "", (200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/readyz", None, "", (200, 200, 200, 200, 200, 200, 200)),
    # ---- writes: plans and issues ------------------------------------------------------------------
    ("POST", "/api/v1/plans", {"number": "汉司〔2019〕9号", "title": "方案", "issuer_unit": "bgs", "year": 2019}, "",
     (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/plans/{plan}/problem-list?dry_run=true", "problem-list", "",
     (200, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/issues", {"plan_id": "{plan}", "seq": 9000, "duty": "职责", "problem": "问题",
                                "units": ["sfs-cq"]}, "", (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/issues/{issue}/assignment", {"lead_unit": "sfs-cq", "contact_person": "张三",
                                                   "deadline": "2019-12-31"}, "",
     (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/issues/{issue}/measures", {"unit": "sfs-cq", "text": "新措施"}, "",
     (403, 403, 403, 201, 403, 403, 401)),
    ("POST", "/api/v1/issues/{issue}/measures/{measure}/progress", {"summary": "进展"}, "",
     (403, 403, 403, 201, 403, 403, 401)),
    ("POST", "/api/v1/issues/{issue}/measures/{measure}/completion", {"summary": "办结"}, "",
     (403, 403, 403, 201, 403, 403, 401)),
    ("POST", "/api/v1/issues/{issue}/urgings", {"unit": "sfs-cq", "message": "请加快", "reply_by": "2019-04-01"}, "",
     (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/issues/{issue}/deadline-extensions", {"deadline": "2020-06-30", "reason": "工作量大"}, "",
     (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/issues/{issue}/evaluations", {"year": 2019, "grade": "良好", "score": 85}, "",
     (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/issues/{issue}/closure", {"summary": "已整改"}, "measure completed",
     (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/issues/{issue}/reopening", {"reason": "复查发现问题"}, "issue closed",
     (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/issues/{issue}/corrections", {"position": "{progress_pos}", "changes": {"summary": "更正"},
                                                    "reason": "笔误"}, "",
     (201, 403, 403, 201, 403, 403, 401)),
    # ---- writes: access ------------------------------------------------------------------------------
    ("POST", "/api/v1/users", {"name": "新用户", "unit": "sfs-cq", "role": "agency"}, "",
     (403, 403, 201, 403, 403, 403, 401)),
    ("POST", "/api/v1/users/{user}/deactivation", {}, "", (403, 403, 201, 403, 403, 403, 401)),
    ("POST", "/api/v1/users/{user}/activation", {}, "user deactivated", (403, 403, 201, 403, 403, 403, 401)),
    ("POST", "/api/v1/users/{user}/tokens", {}, "", (403, 403, 201, 403, 403, 403, 401)),
    ("DELETE", "/api/v1/tokens/{token}", None, "", (404, 404, 204, 204, 404, 404, 401)),
    # ---- writes: child cases -----------------------------------------------------------------------
    ("POST", "/api/v1/cases", "new case", "", (201, 403, 403, 201, 201, 201, 401)),
    ("POST", "/api/v1/cases/{case}/classifications", {"left_behind": True, "categories": ["poverty"]}, "",
     (201, 403, 403, 201, 403, 201, 401)),
    ("POST", "/api/v1/cases/{case}/reassessments", {"left_behind": False, "categories": []}, "case classified",
     (201, 403, 403, 201, 403, 201, 401)),
    ("POST", "/api/v1/cases/{case}/guardianship", {"arrangement": "statutory", "guardian": {"name": "王大明"}}, "",
     (201, 403, 403, 201, 403, 201, 401)),
    ("POST", "/api/v1/cases/{case}/mandatory-reports", {"reporter": "school", "nature": "unattended",
                                                        "occurred_at": "2019-03-01T08:10:00+08:00"}, "",
     (201, 403, 403, 201, 403, 201, 401)),
    ("POST", "/api/v1/cases/{case}/mandatory-reports/{report}/acceptance", {}, "",
     (201, 403, 403, 201, 403, 201, 401)),
    ("POST", "/api/v1/cases/{case}/mandatory-reports/{report}/dispatch", {}, "report accepted",
     (201, 403, 403, 201, 403, 201, 401)),
    ("POST", "/api/v1/cases/{case}/referrals", {"unit": "pf", "duty": "普法宣传"}, "",
     (201, 403, 403, 201, 403, 403, 401)),
    ("POST", "/api/v1/cases/{case}/referrals/{referral}/closure", {"outcome": "completed"}, "",
     (201, 403, 403, 201, 403, 201, 401)),
    ("POST", "/api/v1/cases/{case}/services", {"kind": "legal_aid"}, "",
     (201, 403, 403, 201, 403, 201, 401)),
    ("POST", "/api/v1/cases/{case}/visits", {"notes": "走访"}, "",
     (201, 403, 403, 201, 403, 201, 401)),
    ("POST", "/api/v1/cases/{case}/evaluations", {"year": 2019, "grade": "合格", "score": 70}, "",
     (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/cases/{case}/closure", {"reason": "hardship_resolved"}, "referral closed",
     (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/cases/{case}/reopening", {"reason": "情况反复"}, "case closed",
     (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/cases/{case}/erasure", {"reason": "期满"}, "",
     (201, 403, 403, 403, 403, 403, 401)),
    ("POST", "/api/v1/cases/{case}/corrections", {"position": "{report_pos}", "changes": {"nature": "abuse"},
                                                  "reason": "笔误"}, "",
     (201, 403, 403, 201, 403, 403, 401)),
]


@dataclass
class World:
    plan: str
    issue: str
    measure: str
    case: str
    report: str
    referral: str
    progress_pos: int
    report_pos: int
    user: str  # a user of sfs-cq made for this world
    token: str  # the id of a second token of cq-clerk's ("own"), made for this world


class Builder:
    """Makes a fresh world through the application itself (fast, and not what is under test)."""

    def __init__(self, ledger: Ledger, district: District) -> None:
        self.ledger, self.d = ledger, district
        self.plan = ledger.register_plan(district.cmd("supervisor"), number="汉司〔2019〕1号", title="方案",
                                         issuer_unit="bgs", year=2019).id
        self.seq = 0

    def world(self, preparation: str) -> World:
        ledger, cmd = self.ledger, self.d.cmd
        self.seq += 1
        issue = ledger.register_issue(cmd("supervisor"), plan=self.plan, seq=self.seq, duty="职责", problem="问题",
                                      units=["sfs-cq"], measures=[("sfs-cq", "措施", None)], remarks="")
        measure = issue.extra["measure_ids"][0]
        ledger.assign_issue(cmd("supervisor"), issue.id, lead_unit="sfs-cq", co_units=[], contact_person="张三",
                            deadline=date(2019, 12, 31), nodes=[])
        progress = ledger.report_progress(cmd("cq-clerk"), issue.id, measure, summary="进展", evidence=[])
        case = ledger.register_case(cmd("cq-clerk"), street="常青花园", community="常青一社区", household_local=True,
                                    birth_date=BIRTH, person={"name": NAME, "id_number": valid_id()})
        from datetime import datetime, timezone
        report = ledger.file_mandatory_report(
            Command(self.d.actors["cq-clerk"], occurred_at=datetime(2019, 3, 1, 0, 0, tzinfo=timezone.utc)),
            case.id, reporter="school", nature="unattended", details=None)
        referral = ledger.refer_case(cmd("supervisor"), case.id, unit="gf", duty="法律援助")
        referral_id = referral.extra["referral_id"]
        steps: dict[str, Callable[[], Any]] = {
            "measure completed": lambda: ledger.complete_measure(cmd("cq-clerk"), issue.id, measure, summary="办结"),
            "issue closed": lambda: (steps["measure completed"](),
                                     ledger.close_issue(cmd("supervisor"), issue.id, summary="已整改")),
            "case classified": lambda: ledger.classify_case(cmd("cq-clerk"), case.id, left_behind=True,
                                                            categories=["poverty"], evidence=[]),
            "report accepted": lambda: ledger.accept_report(cmd("supervisor"), case.id, report.extra["report_id"]),
            "referral closed": lambda: ledger.close_referral(cmd("supervisor"), case.id, referral_id,
                                                             outcome="completed"),
            "user deactivated": lambda: self.d.accounts.deactivate(cmd("admin"), target.user_id),
            "case closed": lambda: (steps["referral closed"](),
                                    ledger.close_case(cmd("supervisor"), case.id, reason="hardship_resolved")),
        }
        target = ledger.add_user(Command(SYSTEM), name=f"target-{self.seq}", unit="sfs-cq", role="agency")
        token = self.d.accounts.issue_token(cmd("admin"), user_id("cq-clerk"))
        if preparation:
            steps[preparation]()
        return World(plan=str(self.plan), issue=str(issue.id), measure=measure, case=str(case.id),
                     report=report.extra["report_id"], referral=referral_id, progress_pos=progress.position,
                     report_pos=report.position, user=str(target.user_id), token=str(token.accepted.id))


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
    if body == "new case":
        body = {"street": "走马岭", "community": "走马岭社区", "household_local": False, "birth_date": BIRTH.isoformat(),
                "person": {"name": NAME, "id_number": valid_id()}}
    return client.request(method, path, headers=headers, json=body)


def test_the_matrix_covers_every_operation_of_the_openapi_document(client: TestClient) -> None:
    documented = {
        (method.upper(), path) for path, ops in client.get("/openapi.json").json()["paths"].items() for method in ops
    } - {("GET", "/metrics")}  # answers by network, not by role: see tests/integration/test_operations.py
    covered = set()
    for method, template, *_ in MATRIX:
        path = template.split("?")[0]
        for name, param in (("{plan}", "{plan_id}"), ("{issue}", "{issue_id}"), ("{case}", "{case_id}"),
                            ("{measure}", "{measure_id}"), ("{report}", "{report_id}"),
                            ("{referral}", "{referral_id}"), ("2019.xlsx", "{year}.xlsx"),
                            ("{user}", "{user_id}"), ("{token}", "{token_id}")):
            path = path.replace(name, param)
        if path.endswith("/evaluation/2019"):
            path = path.replace("2019", "{year}")
        covered.add((method, path))
    assert documented - covered == set()
    assert all(len(row[4]) == len(COLUMNS) for row in MATRIX)


@pytest.mark.parametrize("column", COLUMNS)
def test_every_endpoint_answers_each_role_as_the_matrix_says(
    client: TestClient, district: District, ledger: Ledger, column: str,
) -> None:
    build = Builder(ledger, district)
    shared = build.world("")
    ledger.register_issue(district.cmd("supervisor"), plan=build.plan, seq=5000, duty="职责", problem="问题",
                          units=["sfs-zml"], measures=[], remarks="")  # a second event for consistency proofs
    wrong: list[str] = []
    for method, template, body, preparation, expected in MATRIX:
        world = build.world(preparation) if method == "POST" else shared
        path = _fill(template, world)
        before = ledger.recorder.max_notification_id()
        answer = _send(client, district, column, method, path, _fill(body, world))
        want = expected[COLUMNS.index(column)]
        if answer.status_code != want:
            wrong.append(f"{method} {template} as {column}: {answer.status_code} (want {want}) {answer.text[:160]}")
        if answer.status_code >= 400:
            assert answer.headers["content-type"].startswith("application/problem+json"), (template, column)
            assert ledger.recorder.max_notification_id() == before, f"refused {method} {template} stored events"
    assert wrong == [], "\n".join(wrong)
