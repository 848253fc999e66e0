"""One deployment, three districts on one PostgreSQL server (interfaces.deployment): each
district's users read only its own ledger, a credential works only in the district it was
issued in, verification and erasure are per district, and the province inspector reads a
district's audit metadata but never its content. PostgreSQL only by nature (SQLite serves
one district, and refuses to add one: tests/e2e/test_cli.py)."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from application.commands import SYSTEM, Command
from domain.plan import plan_id
from infrastructure.districts import District, DistrictTable
from infrastructure.settings import Settings
from interfaces import bootstrap, deployment as deployment_module
from interfaces.cli.main import app as cli
from interfaces.deployment import Deployment, add_district, build_deployment, district_settings
from interfaces.http.app import create_app
from tests.application.test_child_cases import BIRTH, NAME, valid_id
from tests.backends import require_postgres, scratch_database, scratch_schema, settings_for
from tests.district import START, Clock, District, seed
from tests.pages import ORIGIN, PASSWORD, form_csrf
from tests.province import districts_deployment
from tests.rfc9162 import rfc_verify_inclusion
from tests.serving import until

CODES = {"420112": "东西湖区", "420113": "汉南区", "420114": "蔡甸区"}
runner = CliRunner()

pytestmark = pytest.mark.postgres


@dataclass
class Province:
    settings: Settings
    deployment: Deployment
    client: TestClient
    districts: dict[str, District]
    inspector_token: str
    issues: dict[str, str] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def as_(province: Province, code: str, who: str) -> dict[str, str]:
    return bearer(province.districts[code].tokens[who])


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Province]:
    with districts_deployment(tmp_path_factory.mktemp("province"), CODES) as (settings, deployment, districts):
        inspector = deployment.province.accounts.add_user(
            Command(SYSTEM), name="省督查", unit="prov", role="province_inspector", unit_name="省民政厅")
        with TestClient(create_app(deployment=deployment), raise_server_exceptions=False) as client:
            province = Province(settings, deployment, client, districts, inspector.token)
            for code in CODES:
                _record(province, code)
            yield province


def _record(province: Province, code: str) -> None:
    """One issue and one case in the district, with the plan's number its own (ids of plans
    and issues follow from their numbers: the same number in two districts would give the
    same id, and a 404 would prove nothing)."""
    client, sup = province.client, as_(province, code, "supervisor")
    plan = client.post("/api/v1/plans", headers=sup, json={
        "number": f"{CODES[code]}政办[2019]6号", "title": "实施方案", "issuer_unit": "bgs", "year": 2019})
    assert plan.status_code == 201, plan.text
    issue = client.post("/api/v1/issues", headers=sup, json={
        "plan_id": plan.json()["id"], "seq": 1, "duty": "法治宣传教育", "problem": f"{CODES[code]}有待加强",
        "units": ["pf", "司法所"], "measures": ["纳入考核标准"], "remarks": ""})
    assert issue.status_code == 201, issue.text
    case = client.post("/api/v1/cases", headers=as_(province, code, "cq-clerk"), json={
        "street": f"{CODES[code]}街道", "community": "常青一社区", "household_local": True, "birth_date": BIRTH.isoformat(),
        "person": {"name": NAME, "id_number": valid_id(), "address": "某路1号", "guardian": "王大明"}})
    assert case.status_code == 201, case.text
    province.issues[code], province.cases[code] = issue.json()["id"], case.json()["id"]


def _listed(answer: Any) -> set[str]:
    body = answer.json()
    rows = body if isinstance(body, list) else body.get("items", body.get("rows", []))
    return {row["id"] for row in rows}


def test_each_district_reads_only_its_own_issues_and_cases(province: Province) -> None:
    client = province.client
    for code in CODES:
        others = [other for other in CODES if other != code]
        for who in ("supervisor", "pf-clerk"):
            listed = client.get("/api/v1/issues", headers=as_(province, code, who))
            assert listed.status_code == 200, listed.text
            assert _listed(listed) == {province.issues[code]}
            for other in others:
                assert client.get(f"/api/v1/issues/{province.issues[other]}",
                                  headers=as_(province, code, who)).status_code == 404
        for other in others:
            assert client.get(f"/api/v1/cases/{province.cases[other]}",
                              headers=as_(province, code, "supervisor")).status_code == 404
        ledger = client.get("/api/v1/views/ledger", headers=as_(province, code, "supervisor")).text
        assert f"{CODES[code]}街道" in ledger
        assert not any(CODES[other] in ledger for other in others)
        assert not any(CODES[other] in client.get(f"/api/v1/issues/{province.issues[code]}",
                                                  headers=as_(province, code, "supervisor")).text for other in others)


def test_a_token_under_another_districts_prefix_or_none_is_refused(province: Province) -> None:
    token = province.districts["420112"].tokens["supervisor"]
    assert token.startswith("420112.")
    secret = token.removeprefix("420112.")
    assert province.client.get("/api/v1/me", headers=bearer(token)).json()["name"] == "supervisor"
    for forged in ("420113." + secret, "420114." + secret, secret, "999999." + secret):
        answer = province.client.get("/api/v1/issues", headers=bearer(forged))
        assert answer.status_code == 401, forged


def test_a_dashboard_sign_in_chooses_its_district_and_its_session_stays_there(province: Province) -> None:
    district = province.districts["420113"]
    district.accounts.set_password(Command(SYSTEM), "supervisor", PASSWORD)
    with TestClient(province.client.app, raise_server_exceptions=False) as browser:
        form = browser.get("/signin").text
        assert "汉南区（420113）" in form and 'name="district"' in form
        signed = browser.post("/signin", data={"username": "supervisor", "password": PASSWORD, "csrf": form_csrf(form),
                                               "district": "420113", "next": "/issues"},
                              headers=ORIGIN, follow_redirects=False)
        assert signed.status_code == 303, signed.text
        session = browser.cookies.get("careledger_session")
        assert session is not None and session.startswith("420113.")
        page = browser.get("/issues").text
        assert CODES["420113"] in page and CODES["420112"] not in page
        # The same user name and password in another district signs nobody in there.
        refused = browser.post("/signin", data={"username": "supervisor", "password": PASSWORD,
                                                "csrf": form_csrf(browser.get("/signin").text), "district": "420112"},
                               headers=ORIGIN, follow_redirects=False)
        assert refused.status_code == 401


def test_erasure_in_one_district_leaves_the_others_cases_readable(province: Province) -> None:
    client = province.client
    erased = client.post(f"/api/v1/cases/{province.cases['420114']}/erasure",
                         headers=as_(province, "420114", "supervisor"), json={"reason": "期满"})
    assert erased.status_code == 201, erased.text
    gone = client.get(f"/api/v1/cases/{province.cases['420114']}", headers=as_(province, "420114", "supervisor"))
    assert gone.status_code == 200 and NAME not in gone.text
    for code in ("420112", "420113"):
        kept = client.get(f"/api/v1/cases/{province.cases[code]}", headers=as_(province, code, "supervisor"))
        assert kept.json()["personal"]["person"]["name"] == NAME


def test_the_province_inspector_reads_a_districts_audit_trail_but_no_content(province: Province) -> None:
    client, own = province.client, bearer(province.inspector_token)
    events = client.get("/api/v1/districts/420113/audit/events?limit=1000", headers=own)
    assert events.status_code == 200, events.text
    rows = events.json()
    mine = client.get("/api/v1/audit/events?limit=1000", headers=as_(province, "420113", "inspector")).json()
    assert [r["position"] for r in rows] == [r["position"] for r in mine] and len(rows) > 10
    assert all(r["leaf"] is None for r in rows) and NAME not in events.text and "有待加强" not in events.text
    head = client.get("/api/v1/districts/420113/audit/tree-head", headers=own).json()
    assert head == client.get("/api/v1/audit/tree-head", headers=as_(province, "420113", "inspector")).json()
    # Nothing of the ledger itself, and nothing to do.
    assert client.get("/api/v1/issues", headers=own).status_code == 403
    assert client.post("/api/v1/plans", headers=own, json={
        "number": "鄂民[2019]1号", "title": "方案", "issuer_unit": "prov", "year": 2019}).status_code == 403
    # A district's users have no such path, not even for their own district.
    for code in ("420112", "420113"):
        refused = client.get("/api/v1/districts/420113/audit/events", headers=as_(province, code, "inspector"))
        assert refused.status_code == 403
    assert client.get("/api/v1/districts/429999/audit/events", headers=own).status_code == 404
    assert client.get("/api/v1/districts/42011x/audit/events", headers=own).status_code == 422
    documented = [path for path in client.get("/openapi.json").json()["paths"] if path.startswith("/api/v1/districts/")]
    assert len(documented) == 6
    for path in documented:
        asked = path.replace("{district}", "420113") + "?position=1&first=1&second=2"
        assert client.get(asked, headers=own).status_code == 200, path
        assert client.get(asked, headers=as_(province, "420113", "supervisor")).status_code == 403, path
        assert client.get(asked).status_code == 401, path


# ---- the province inspector's pages of a district's audit trail (/districts/{code}/audit) ---------

INSPECTOR = "省督查"
AUDIT_PATHS = ("/audit", "/audit/verify", "/audit/tree-head.json", "/audit/public-key.pem",
               "/audit/proofs/inclusion.json?position=1", "/audit/proofs/consistency.json?first=1&second=2")


def _signed_in(province: Province, who: str, district: str = "") -> TestClient:
    """A browser of its own, signed in on the sign-in page (``district`` empty: the province's)."""
    svc = province.deployment.services_for(district or None)
    assert svc is not None
    svc.accounts.set_password(Command(SYSTEM), who, PASSWORD)
    browser = TestClient(province.client.app, raise_server_exceptions=False)
    signed = browser.post("/signin", data={"username": who, "password": PASSWORD, "district": district,
                                           "csrf": form_csrf(browser.get("/signin").text), "next": "/province"},
                          headers=ORIGIN, follow_redirects=False)
    assert signed.status_code == 303, signed.text
    return browser


def _main(html: str) -> str:
    return html.split("<main>", 1)[1].split("</main>", 1)[0]


def _objects(html: str) -> set[str]:
    return set(re.findall(r'class="object-link" href="/districts/\d{6}/audit\?aggregate=([0-9a-f-]{36})"', html))


def test_the_province_inspector_browses_a_districts_audit_trail_and_no_other_districts_rows(
        province: Province) -> None:
    browser = _signed_in(province, INSPECTOR)
    rollup = browser.get("/province").text
    for code in CODES:
        assert f'href="/districts/{code}/audit"' in rollup
    html = browser.get("/districts/420113/audit").text
    assert "审计日志 · 汉南区（420113）" in html
    # The page's first hundred rows are the district's own first hundred (as its inspector reads them).
    listed = province.client.get("/api/v1/audit/events?limit=100", headers=as_(province, "420113", "inspector")).json()
    assert _objects(html) == {row["aggregate"] for row in listed} and len(listed) > 10
    assert province.issues["420113"] in _objects(html) and province.issues["420112"] not in html
    # Filtered to one object: the district's own issue has its rows, another district's none.
    own = browser.get(f"/districts/420113/audit?aggregate={province.issues['420113']}").text
    assert _objects(own) == {province.issues["420113"]}
    other = browser.get(f"/districts/420113/audit?aggregate={province.issues['420112']}").text
    assert _objects(other) == set() and "没有符合条件的记录" in other
    assert _objects(browser.get("/districts/420112/audit").text) >= {province.issues["420112"]}


def test_a_districts_audit_page_keeps_its_links_under_the_prefix_and_shows_no_content(province: Province) -> None:
    browser = _signed_in(province, INSPECTOR)
    case = province.cases["420112"]
    for path in ("/districts/420112/audit", f"/districts/420112/audit?aggregate={case}", "/districts/420112/audit/verify"):
        main = _main(browser.get(path).text)
        links = re.findall(r'(?:href|action)="([^"]*)"', main)
        assert links and all(link.startswith("/districts/420112/audit") or link == "/province" for link in links), links
        assert "replay" not in main
        for personal in (NAME, "王大明", "某路1号", "常青一社区", "街道", "有待加强", "法治宣传教育", BIRTH.isoformat()):
            assert personal not in main, (path, personal)
    assert case in _objects(browser.get(f"/districts/420112/audit?aggregate={case}").text)
    nav = browser.get("/districts/420112/audit").text.split("</nav>", 1)[0]
    assert 'href="/province#districts" aria-current="page">区县审计' in nav


def _verifies(head: dict[str, Any], pem: str) -> bool:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    message = json.dumps({k: head[k] for k in ("root_hash", "timestamp", "tree_size")}, sort_keys=True,
                         separators=(",", ":")).encode()
    try:
        key.verify(base64.b64decode(head["signature"]), message)
    except InvalidSignature:
        return False
    return True


def test_a_districts_downloads_are_its_own_head_key_and_proofs(province: Province) -> None:
    browser = _signed_in(province, INSPECTOR)
    html = browser.get("/districts/420113/audit").text
    head_file = browser.get("/districts/420113/audit/tree-head.json")
    assert head_file.status_code == 200 and "attachment" in head_file.headers["content-disposition"]
    head = head_file.json()
    pem = browser.get("/districts/420113/audit/public-key.pem").text
    keys = {code: s.signer.public_key_pem() for code, s in province.deployment.districts.items()}
    assert pem == keys["420113"] and pem != keys["420112"]
    assert _verifies(head, pem) and not _verifies(head, keys["420112"])
    assert not _verifies(head, province.deployment.province.signer.public_key_pem())
    link = re.search(r'href="(/districts/420113/audit/proofs/inclusion\.json\?position=\d+&amp;tree_size=(\d+))"', html)
    assert link is not None
    proof = browser.get(link.group(1).replace("&amp;", "&")).json()
    size = int(link.group(2))
    assert size == head["tree_size"] and proof["root_hash"] == head["root_hash"]
    assert rfc_verify_inclusion(proof["leaf_index"], size, bytes.fromhex(proof["leaf_hash"]),
                                [bytes.fromhex(h) for h in proof["audit_path"]], bytes.fromhex(head["root_hash"]))
    consistency = browser.get(f"/districts/420113/audit/proofs/consistency.json?first=3&second={head['tree_size']}").json()
    assert consistency["second_root_hash"] == head["root_hash"]


def test_only_the_province_inspector_reads_a_districts_audit_pages(province: Province) -> None:
    client = province.client
    province.deployment.province.accounts.add_user(Command(SYSTEM), name="省厅督办", unit="prov", role="supervisor",
                                                   unit_name="省民政厅")
    refused = {"420113 inspector": _signed_in(province, "inspector", "420113"),
               "420112 supervisor": _signed_in(province, "supervisor", "420112"),
               "province supervisor": _signed_in(province, "省厅督办")}
    for who, browser in refused.items():
        for path in AUDIT_PATHS:
            answer = browser.get("/districts/420113" + path)
            assert answer.status_code == 403 and "只有省级督查可以查看各区县的审计日志" in answer.text, (who, path)
        csrf = form_csrf(browser.get("/audit").text) if who != "province supervisor" else form_csrf(
            browser.get("/province").text)
        posted = browser.post("/districts/420113/audit/verify", data={"csrf": csrf}, headers=ORIGIN,
                              follow_redirects=False)
        assert posted.status_code == 403, who
    assert 'href="/districts/' not in refused["province supervisor"].get("/province").text
    # The same pages by bearer token: a district's inspector is refused, its own /audit still its own.
    assert client.get("/districts/420113/audit", headers=as_(province, "420113", "inspector")).status_code == 403
    assert client.get("/audit", headers=as_(province, "420113", "inspector")).status_code == 200
    inspector = _signed_in(province, INSPECTOR)
    for path in AUDIT_PATHS:
        for code in ("429999", "42011x", "4201130", "000000"):
            missing = inspector.get(f"/districts/{code}{path}")
            assert missing.status_code == 404 and "没有这个区县" in missing.text, (code, path)
            assert missing.headers["content-type"].startswith("text/html")
    outside = TestClient(client.app, raise_server_exceptions=False).get("/districts/420113/audit",
                                                                        follow_redirects=False)
    assert outside.status_code == 303 and outside.headers["location"] == "/signin?next=/districts/420113/audit"


def test_the_province_inspector_verifies_a_districts_whole_log_as_that_districts_one_job(province: Province) -> None:
    browser = _signed_in(province, INSPECTOR)
    csrf = form_csrf(browser.get("/districts/420112/audit").text)
    started = browser.post("/districts/420112/audit/verify", data={"csrf": csrf}, headers=ORIGIN,
                           follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/districts/420112/audit/verify"
    jobs = province.client.app.state.district_verifications
    job = jobs["420112"].latest
    assert job is not None and job.started_by == INSPECTOR and job.wait(timeout=60)
    assert job.result is not None and job.result["intact"]
    assert "420113" not in jobs or jobs["420113"].latest is None or jobs["420113"].latest.started_by != INSPECTOR
    shown = browser.get("/districts/420112/audit/verify").text
    assert "完好" in shown and INSPECTOR in shown
    # The district's own inspector sees the same job on its own page.
    district = _signed_in(province, "inspector", "420112")
    assert INSPECTOR in district.get("/audit/verify").text


def test_one_follower_process_keeps_every_districts_logs(province: Province) -> None:
    every = province.deployment.districts
    for code, services in every.items():
        services.registry.add_unit(Command(SYSTEM), code=f"new-{code}", name="新单位", group=None)

    def behind() -> list[str]:
        return [code for code, services in every.items()
                if {services.audit.store.position(), services.merkle.store.progress().position}
                != {services.ledger.recorder.max_notification_id()}]

    assert behind() == list(every)
    stopping = threading.Event()
    follower = threading.Thread(target=bootstrap.run_followers, args=(province.settings, stopping),
                                kwargs={"interval": 0.05})
    follower.start()
    try:
        deadline = time.monotonic() + 30
        while behind() and time.monotonic() < deadline:
            stopping.wait(0.05)  # polls the condition; the follower's own interval paces it
    finally:
        stopping.set()
        follower.join(timeout=30)
    assert behind() == [] and not follower.is_alive()


@pytest.fixture
def cli_env(province: Province, monkeypatch: pytest.MonkeyPatch) -> None:
    s = province.settings
    for name, value in (("DATABASE_URL", s.database_url), ("DATABASE_SCHEMA", s.database_schema),
                        ("SIGNING_KEY_FILE", s.signing_key_file), ("DATA_KEY_FILE", s.data_key_file),
                        ("IDEMPOTENCY_KEY_FILE", s.idempotency_key_file), ("EVIDENCE_DIR", s.evidence_dir)):
        monkeypatch.setenv(f"CARELEDGER_{name}", str(value))


def test_districts_are_listed_added_once_and_bad_codes_refused(province: Province, cli_env: None) -> None:
    listed = runner.invoke(cli, ["districts", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"420113"' in listed.output and "汉南区" in listed.output
    assert runner.invoke(cli, ["districts", "add", "420113", "汉南区"]).exit_code == 0
    assert runner.invoke(cli, ["districts", "add", "420113", "别的名字"]).exit_code == 4
    assert runner.invoke(cli, ["districts", "add", "42011", "短"]).exit_code == 4
    assert runner.invoke(cli, ["verify", "--district", "429999"]).exit_code == 4
    # A province inspector is the province's user, never a district's.
    made = runner.invoke(cli, ["users", "add", "区里的省督查", "--unit", "bgs", "--role", "province_inspector",
                               "--district", "420113"])
    assert made.exit_code == 4 and "province_inspector_in_province" in made.output
    issued = runner.invoke(cli, ["tokens", "issue", "pf-clerk", "--district", "420112"])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().splitlines()[-1]
    assert token.startswith("420112.")
    assert province.client.get("/api/v1/me", headers=bearer(token)).json()["name"] == "pf-clerk"


def test_verify_per_district_finds_a_tampered_event_in_its_district_only(province: Province, cli_env: None) -> None:
    for services in province.deployment.districts.values():
        services.merkle.catch_up()
    for code in CODES:
        assert runner.invoke(cli, ["verify", "--district", code]).exit_code == 0, code
    recorder = province.deployment.districts["420113"].ledger.recorder
    table = f'"d420113".{recorder.events_table_name}'  # type: ignore[attr-defined]
    with psycopg.connect(province.settings.database_url, autocommit=True) as conn:
        before = conn.execute(f"SELECT state FROM {table} WHERE notification_id = 3").fetchone()[0]  # noqa: S608
        conn.execute(f"UPDATE {table} SET state = %s WHERE notification_id = 3", (bytes(before) + b" ",))  # noqa: S608
        try:
            found = runner.invoke(cli, ["verify", "--district", "420113", "--json"])
            assert found.exit_code == 1 and '"intact": false' in found.output, found.output
            for code in ("420112", "420114"):
                assert runner.invoke(cli, ["verify", "--district", code]).exit_code == 0, code
        finally:
            conn.execute(f"UPDATE {table} SET state = %s WHERE notification_id = 3", (before,))  # noqa: S608


def test_a_district_command_on_a_host_without_its_keys_is_refused_and_makes_none(
    province: Province, cli_env: None,
) -> None:
    keys = province.settings.signing_key_file.parent / "districts" / "420114"
    away = keys.with_name("420114-away")
    keys.rename(away)
    try:
        refused = runner.invoke(cli, ["verify", "--district", "420114"])
        assert refused.exit_code == 4 and "密钥文件" in refused.output, refused.output
        assert not keys.exists()  # a verify with a key made here would find every head forged
    finally:
        away.rename(keys)
    assert runner.invoke(cli, ["verify", "--district", "420114"]).exit_code == 0


def test_a_district_whose_tables_or_keys_cannot_be_made_is_not_registered(province: Province) -> None:
    def fails(district: District) -> None:
        raise OSError(f"cannot write the key folder of {district.code}")

    with pytest.raises(OSError):
        DistrictTable(province.settings).add("420198", "未建成区", prepare=fails)
    assert "420198" not in {d.code for d in DistrictTable(province.settings).all()}
    # Added again once its preparation succeeds, it is registered as usual.
    made: list[str] = []
    assert DistrictTable(province.settings).add("420198", "未建成区", prepare=lambda d: made.append(d.code)).code == "420198"
    assert made == ["420198"] and "420198" in {d.code for d in DistrictTable(province.settings).all()}



def added_elsewhere(settings: Settings, code: str, name: str) -> tuple[str, Any]:
    """`careledger districts add`, then its users and an issue written by another process:
    its supervisor's token and the issue's registration."""
    add_district(settings, code, name)
    found = {d.code: d for d in DistrictTable(settings).all()}[code]
    with closing(bootstrap.build(district_settings(settings, found), clock=Clock(START), district=code)) as elsewhere:
        district = seed(elsewhere)
        sup = district.cmd("supervisor")
        district.issues.register_plan(sup, number=f"{name}政办[2019]1号", title="方案", issuer_unit="bgs", year=2019)
        made = district.issues.register_issue(sup, plan=plan_id(f"{name}政办[2019]1号"), seq=1, duty="职责",
                                              problem=f"{name}有待加强", units=["pf"])
    return district.tokens["supervisor"], made


def test_a_district_added_while_the_service_runs_is_served_and_rolled_up_without_a_restart(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_postgres()
    # Every read of the districts table, counted on its way to the database.
    reads: list[str] = []
    read = deployment_module.registered

    def counted(settings: Settings) -> list[Any]:
        reads.append(settings.database_schema)
        return read(settings)

    monkeypatch.setattr(deployment_module, "registered", counted)
    with scratch_database() as url, scratch_schema(url) as schema:
        settings = settings_for("postgres", tmp_path, url, schema).model_copy(update={"pool_size": 2})
        for code in ("420112", "420113"):
            add_district(settings, code, CODES[code])
        now = [0.0]  # the deployment's monotonic clock, moved by hand past its re-read interval
        place = build_deployment(settings, clock=Clock(START), monotonic=lambda: now[0])
        try:
            first = {code: seed(place.districts[code]) for code in ("420112", "420113")}
            inspector = place.province.accounts.add_user(
                Command(SYSTEM), name="省督查", unit="prov", role="province_inspector", unit_name="省民政厅").token
            place.start_followers()  # a serving process keeping its followers (the default)
            with TestClient(create_app(deployment=place), raise_server_exceptions=False) as client:
                assert len(reads) == 1  # at build

                def unknown_codes_are_refused_as_before() -> None:
                    for _ in range(20):
                        assert client.get("/api/v1/me", headers=bearer("429999.secret")).status_code == 401
                    assert client.get("/api/v1/districts/429999/audit/events",
                                      headers=bearer(inspector)).status_code == 404

                unknown_codes_are_refused_as_before()
                assert len(reads) == 1  # within the interval: the table is not read again
                now[0] += 10
                unknown_codes_are_refused_as_before()
                assert len(reads) == 2  # one read for the whole stream

                token, made = added_elsewhere(settings, "420114", CODES["420114"])
                assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401  # not read yet
                now[0] += 10
                me = client.get("/api/v1/me", headers=bearer(token))
                assert me.status_code == 200 and me.json()["name"] == "supervisor", me.text
                assert len(reads) == 3 and "420114" in place.districts

                # Its data is its own, and no other district's user reaches it.
                listed = client.get("/api/v1/issues", headers=bearer(token))
                assert listed.status_code == 200 and _listed(listed) == {str(made.id)}
                assert client.get(f"/api/v1/issues/{made.id}",
                                  headers=bearer(first["420112"].tokens["supervisor"])).status_code == 404
                secret = token.removeprefix("420114.")
                assert client.get("/api/v1/me", headers=bearer("420112." + secret)).status_code == 401
                assert client.get("/api/v1/districts/420114/audit/tree-head", headers=bearer(inspector)).status_code == 200
                assert "蔡甸区（420114）" in client.get("/signin").text

                # Its followers run in this process, and the roll-up folds its log.
                services = place.districts["420114"]
                end = services.ledger.recorder.max_notification_id()
                assert until(lambda: services.merkle.store.progress().position == end)
                rollup = place.rollup
                assert rollup is not None
                assert until(lambda: rollup.follower.store.tracked("420114").position == made.position)
                answer = client.get("/api/v1/province/rollup", headers=bearer(inspector))
                assert answer.status_code == 200, answer.text
                totals = {r["district"]: r for r in answer.json()["rows"] if r["kind"] is None}
                assert totals["420114"]["issues_open"] == 1 and totals["420112"]["issues_open"] == 0
                ready = client.get("/readyz").json()
                assert set(ready["districts"]) == {"420112", "420113", "420114"}
                assert ready["rollup"]["state"] == "following"
                assert len(reads) == 3  # nothing more read while the interval runs
        finally:
            place.close()


def test_the_first_district_added_while_the_service_runs_starts_the_provinces_rollup(tmp_path: Any) -> None:
    require_postgres()
    with scratch_database() as url, scratch_schema(url) as schema:
        settings = settings_for("postgres", tmp_path, url, schema).model_copy(update={"pool_size": 2})
        build_deployment(settings).close()  # `careledger migrate`: the workers below make no table
        now = [0.0]
        place = build_deployment(settings.model_copy(update={"create_tables": False}), clock=Clock(START),
                                 monotonic=lambda: now[0])
        try:
            inspector = bearer(place.province.accounts.add_user(
                Command(SYSTEM), name="省督查", unit="prov", role="province_inspector", unit_name="省民政厅").token)
            place.start_followers()
            with TestClient(create_app(deployment=place), raise_server_exceptions=False) as client:
                assert client.get("/api/v1/province/rollup", headers=inspector).status_code == 404
                assert "rollup" not in client.get("/readyz").json()
                token, made = added_elsewhere(settings, "420115", "新洲区")
                now[0] += 10
                assert client.get("/api/v1/province/rollup", headers=inspector).status_code == 200
                assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
                rollup = place.rollup
                assert rollup is not None and rollup.follower.running
                assert until(lambda: rollup.follower.store.tracked("420115").position == made.position)
                rows = client.get("/api/v1/province/rollup", headers=inspector).json()["rows"]
                assert next(r for r in rows if r["district"] == "420115" and r["kind"] is None)["issues_open"] == 1
                assert client.get("/readyz").json()["rollup"]["state"] == "following"
        finally:
            place.close()


def test_a_district_this_host_cannot_build_is_retried_less_often_named_in_readyz_and_leaks_no_connection(
    tmp_path: Any,
) -> None:
    """A district registered on another host whose key files are not here: no key of its own
    is made (it would sign and seal what no other host reads); one whose build fails after it
    opened its pools (a key file refused) leaves no connection open however often it is tried."""
    require_postgres()
    with scratch_database() as url, scratch_schema(url) as schema:
        settings = settings_for("postgres", tmp_path, url, schema).model_copy(update={"pool_size": 2})
        add_district(settings, "420112", CODES["420112"])
        now = [0.0]
        place = build_deployment(settings, clock=Clock(START), monotonic=lambda: now[0])
        try:
            with TestClient(create_app(deployment=place), raise_server_exceptions=False) as client:
                token, _ = added_elsewhere(settings, "420113", CODES["420113"])
                keys = settings.signing_key_file.parent / "districts" / "420113"
                kept = tmp_path / "keys-elsewhere"
                keys.rename(kept)  # as on a host the key folder was not copied to
                now[0] += 10
                assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
                assert not keys.exists()  # nothing made in its place
                ready = client.get("/readyz")
                assert ready.status_code == 200  # the districts it serves are served
                assert ready.json()["unbuilt_districts"] == {"420113": {"failures": 1, "error": "MissingDistrictKeys"}}
                now[0] += 10  # past the re-read, within the district's own wait: not tried again
                place.refresh()
                assert place.unbuilt["420113"]["failures"] == 1

                # The keys come, but one is refused when read (a mode others may read): the build
                # fails after its pools opened, at every try.
                kept.rename(keys)
                (keys / "idempotency-key").chmod(0o644)

                def connections() -> int:
                    with psycopg.connect(url, autocommit=True) as conn:
                        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                           "AND pid <> pg_backend_pid()").fetchone()
                        assert row is not None
                        return int(row[0])

                now[0] += 400  # past the longest wait
                place.refresh()
                assert place.unbuilt["420113"]["failures"] == 2
                before = connections()  # the province's pools as a read of the table leaves them
                for tries in range(3, 7):
                    now[0] += 400
                    place.refresh()
                    assert place.unbuilt["420113"]["failures"] == tries
                assert connections() <= before
                (keys / "idempotency-key").chmod(0o600)
                now[0] += 400
                assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
                assert "unbuilt_districts" not in client.get("/readyz").json()
        finally:
            place.close()
        # A process started on a host without them serves the others, and makes none either.
        keys.rename(kept)
        place = build_deployment(settings, clock=Clock(START))
        try:
            assert set(place.districts) == {"420112"} and place.unbuilt["420113"]["error"] == "MissingDistrictKeys"
            assert not keys.exists()
        finally:
            place.close()
