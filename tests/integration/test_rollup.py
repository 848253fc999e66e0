"""The provincial roll-up over three districts on one PostgreSQL server: each district's
figures equal its own views' (now and as of a past moment), exactly once across a stop,
and nothing personal in the province's tables.

PostgreSQL only by nature: districts are schemas of one database.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError
from fastapi.testclient import TestClient

from application.commands import SYSTEM, Command
from domain.plan import plan_id
from infrastructure.districts import DistrictTable
from infrastructure.rollup import DistrictLog, DistrictsFailed, ProvincialRollup, RollupFollower
from infrastructure.rollup_store import RollupMoved, RollupStore
from infrastructure.settings import Settings
from interfaces import bootstrap
from interfaces.deployment import Deployment, add_district, build_deployment, district_settings
from interfaces.http.app import create_app
from interfaces.province_rollup import build_rollup
from projections import rollup
from tests.backends import scratch_schema, settings_for
from tests.district import START, Clock, District, seed
from tests.pages import ORIGIN, PASSWORD, form_csrf
from tests.serving import until

pytestmark = pytest.mark.postgres

CODES = ("420101", "420102", "420103")
NAME, BIRTH = "王小明", date(2012, 5, 15)
CLERKS = {"pf": "pf-clerk", "gf": "gf-clerk", "sfs-cq": "cq-clerk", "sfs-zml": "zml-clerk"}
# The kinds of tests/district.py's units: a unit in a group is of the group's kind.
KINDS = {"pf": "普法和依法治理科", "gf": "公共法律服务管理科", "bgs": "办公室", "sfs-cq": "司法所", "sfs-zml": "司法所"}
PAST = datetime(2019, 7, 15, 4, tzinfo=UTC)


def valid_id() -> str:
    from stdnum.cn import ric

    body = "11010520120515341"
    return body + ric.calc_check_digit(body + "0")


def at(clock: Clock, y: int, m: int, d: int, hour: int = 2) -> datetime:
    clock.now = datetime(y, m, d, hour, tzinfo=UTC)
    return clock.now


@pytest.fixture(scope="module")
def deployment(postgres_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Three districts and the province, each a schema of one database, with the history
    below written once for the module; the province's answer now is taken halfway."""
    clock = Clock(START)
    root = tmp_path_factory.mktemp("province")
    with ExitStack() as stack:
        built = {}
        for code in ("province", *CODES):
            schema = stack.enter_context(scratch_schema(postgres_database))
            (root / code).mkdir()
            settings = settings_for("postgres", root / code, postgres_database, schema).model_copy(update={"pool_size": 2})
            # A district's credentials begin with its code (interfaces.deployment routes by them).
            services = bootstrap.build(settings, clock=clock, district=None if code == "province" else code)
            stack.callback(services.close)
            built[code] = services
        province = built.pop("province")
        assert build_rollup(province, {}) is None  # a lone district has no roll-up
        names = {c: f"{c}区" for c in CODES}
        wired = build_rollup(province, built, names)
        assert wired is not None
        place = Deployment(province, built, names, wired)
        written = {"districts": {code: seed(s) for code, s in built.items()}, "province": province,
                   "store": wired.follower.store, "reader": wired.reader, "clock": clock, "deployment": place}
        written.update(history(written, clock, follow=follower(written)))
        for role in ("province_inspector", "supervisor", "admin"):
            written[role] = province.accounts.add_user(Command(SYSTEM), name=f"省{role}", unit="prov", role=role,
                                                       unit_name="省民政厅").token
        yield written


@pytest.fixture
def province(deployment: dict[str, Any]) -> dict[str, Any]:
    """The deployment with nothing folded yet in the province's tables."""
    for code in CODES:
        deployment["store"].forget(code)
    return deployment


def follower(deployment: dict[str, Any], batch: int = 2000) -> RollupFollower:
    # A new store object each time: a restarted process holds nothing of the last.
    store = RollupStore(deployment["province"].ledger.recorder.datastore)
    logs = {code: DistrictLog.of(d.ledger) for code, d in deployment["districts"].items()}
    return RollupFollower(store, logs, batch=batch)


def one_batch(follow: RollupFollower, code: str) -> int:
    """One batch of a district, as the follower reads it, folded and stored."""
    tracked = follow.store.tracked(code)
    return follow.process(code, follow.logs[code].select(tracked.position + 1, follow.batch, topics=rollup.TOPICS))


def reader(deployment: dict[str, Any]) -> ProvincialRollup:
    return deployment["reader"]  # type: ignore[no-any-return]


def first_half(d: District, clock: Clock, n: int) -> dict[str, Any]:
    """Up to the past moment: n + 2 issues with measures, one done on time, an urging, a
    case whose mandatory report is accepted and dispatched n hours apart."""
    sup = d.cmd("supervisor")
    at(clock, 2019, 3, 1)
    d.issues.register_plan(sup, number=f"P{n}", title="方案", issuer_unit="bgs", year=2019)
    issues = []
    for seq in range(1, n + 3):
        units = [["pf"], ["gf"], ["sfs-cq", "sfs-zml"], ["gf", "pf"]][(seq + n) % 4]
        issue = d.issues.register_issue(sup, plan=plan_id(f"P{n}"), seq=seq, duty="职责", problem=f"问题{seq}",
                                        units=units).id
        d.issues.assign_issue(sup, issue, lead_unit=units[0], co_units=units[1:], contact_person="甲",
                              deadline=date(2019, 4 + seq, 28), nodes=[])
        clerk = d.cmd(CLERKS[units[-1]])
        m1 = d.issues.adopt_measure(clerk, issue, unit=units[-1], text="措施一", due=date(2019, 4 + seq, 15)).extra["measure_id"]
        m2 = d.issues.adopt_measure(clerk, issue, unit=units[-1], text="措施二", due=None).extra["measure_id"]
        issues.append((issue, units[-1], m1, m2))
    at(clock, 2019, 5, 10)
    first, owner, m1, m2 = issues[0]
    d.issues.complete_measure(d.cmd(CLERKS[owner]), first, m1, summary="按期完成")
    case = d.cases.register_case(d.cmd("cq-clerk"), street="常青花园", community="常青一社区", household_local=True,
                                 birth_date=BIRTH, person={"name": NAME, "id_number": valid_id()}).id
    report = d.cases.file_mandatory_report(d.cmd("cq-clerk"), case, reporter="school", nature="unattended",
                                           details=None).extra["report_id"]
    clock.advance(hours=n)
    d.cases.accept_report(d.cmd("supervisor"), case, report)
    clock.advance(hours=n)
    d.cases.dispatch_police(d.cmd("cq-clerk"), case, report)
    at(clock, 2019, 7, 1)
    second, owner2, _, _ = issues[1]
    urging = d.issues.urge(sup, second, unit=owner2, message="请加快", reply_by=date(2019, 7, 10)).extra["urging_id"]
    return {"issues": issues, "case": case, "urging": urging}


def second_half(d: District, clock: Clock, n: int, made: dict[str, Any]) -> None:
    """After the past moment: the rest of the first issue done late and it is closed, the
    urging answered, the case referred and served."""
    first, owner, _, m2 = made["issues"][0]
    second, owner2, _, _ = made["issues"][1]
    at(clock, 2019, 8, 1)
    d.issues.complete_measure(d.cmd(CLERKS[owner]), first, m2, summary="逾期完成")
    d.issues.close_issue(d.cmd("supervisor"), first, summary="核验销号")
    d.issues.reply_to_urging(d.cmd(CLERKS[owner2]), second, made["urging"], message="已整改")
    referral = d.cases.refer_case(d.cmd("supervisor"), made["case"], unit="gf", duty="法律援助").extra["referral_id"]
    clock.advance(hours=3 * n)
    d.cases.provide_service(d.cmd("gf-clerk"), made["case"], kind="legal_aid", referral_id=referral, notes=None)


def history(deployment: dict[str, Any], clock: Clock, *, follow: RollupFollower) -> dict[str, Any]:
    """Both halves in every district, the districts' writes interleaved; the province's
    answer now is taken just after the first half when ``follow`` is given."""
    districts = deployment["districts"]
    made = {code: first_half(d, clock, n) for n, (code, d) in enumerate(sorted(districts.items()), start=1)}
    at(clock, 2019, 7, 15, 4)
    follow.catch_up()
    before = reader(deployment).answer()
    for n, (code, d) in enumerate(sorted(districts.items()), start=1):
        second_half(d, clock, n, made[code])
    at(clock, 2019, 9, 1)
    return {"before": before}


def from_views(d: District, as_of: datetime | None, year: int) -> dict[str, Counter[str]]:
    """A district's figures by kind, from its own views and its registry."""
    d.views.catch_up()
    kinds = {u["code"]: (u["groups"][0] if u["groups"] else u["name"]) for u in d.registry.catalogue(d.actors["admin"])}
    assert kinds == KINDS
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for r in d.views.view("units", as_of=as_of)["rows"]:
        row = found[kinds[r["unit"]]]
        for ours, theirs in (("measures_open", "open"), ("measures_overdue", "overdue"), ("done_on_time", "done_on_time"),
                             ("done_late", "done_late"), ("urgings", "urgings")):
            row[ours] += r[theirs]
    total: Counter[str] = Counter()
    for r in d.views.view("supervision", as_of=as_of)["rows"]:
        row = found[kinds[r["lead_unit"]]]
        row["issues_open"] += r["status"] != "已销号"
        row["issues_overdue"] += r["days_overdue"] > 0
        total["urgings_awaiting_reply"] += r["urgings_awaiting_reply"]
    for r in d.views.view("evaluation", as_of=as_of, year=year)["rows"]:
        row = found[kinds[r["unit"]]]
        row["measures_due_in_year"] += r["measures_due"]
        row["done_on_time_in_year"] += r["done_on_time"]
        row["case_responses"] += r["case_responses"]
        if r["case_response_hours"] is not None:
            row["response_units"] += 1
            row["case_response_hours"] = r["case_response_hours"]
    found["__total__"] = total
    return found


FIGURES = ("issues_open", "issues_overdue", "measures_open", "measures_overdue", "done_on_time", "done_late",
           "urgings", "measures_due_in_year", "done_on_time_in_year", "case_responses")


def check_agrees(answer: dict[str, Any], districts: dict[str, District], as_of: datetime | None) -> None:
    rows = answer["rows"]
    for code, d in districts.items():
        expected = from_views(d, as_of, answer["year"])
        ours = {r["kind"]: r for r in rows if r["district"] == code and r["kind"] is not None}
        for kind in set(expected) - {"__total__"} | set(ours):
            got = ours.get(kind, dict.fromkeys(FIGURES, 0))
            assert {f: got[f] for f in FIGURES} == {f: expected[kind][f] for f in FIGURES}, (code, kind)
            if expected[kind]["response_units"] == 1:  # one unit's mean: the evaluation view's own
                assert got["case_response_hours"] == expected[kind]["case_response_hours"], (code, kind)
        total = next(r for r in rows if r["district"] == code and r["kind"] is None)
        assert total["urgings_awaiting_reply"] == expected["__total__"]["urgings_awaiting_reply"]


def test_each_districts_figures_are_its_own_views_figures_now_and_as_of_a_past_moment(
    province: dict[str, Any],
) -> None:
    follower(province).catch_up()
    now = reader(province).answer()
    districts = province["districts"]
    check_agrees(now, districts, None)
    past = reader(province).answer(as_of=PAST)
    check_agrees(past, districts, PAST)
    # As of the moment it was taken, the answer of that moment is given again.
    assert past["rows"] == province["before"]["rows"]
    assert now["rows"] != past["rows"]
    # What was written: the districts differ (420101 has 3 issues, 420103 5), and the figures moved.
    totals = {r["district"]: r for r in now["rows"] if r["kind"] is None}
    assert [totals[c]["issues_open"] for c in CODES] == [2, 3, 4]
    assert [totals[c]["done_late"] for c in CODES] == [1, 1, 1]
    assert [totals[c]["urgings_awaiting_reply"] for c in CODES] == [0, 0, 0]
    past_totals = {r["district"]: r for r in past["rows"] if r["kind"] is None}
    assert [past_totals[c]["urgings_awaiting_reply"] for c in CODES] == [1, 1, 1]
    # Acceptance (by 办公室) and dispatch (by a 司法所) n hours after the report, in district n.
    by_kind = {(r["district"], r["kind"]): r for r in now["rows"]}
    assert [by_kind[(c, "办公室")]["report_acceptance_hours"] for c in CODES] == [1.0, 2.0, 3.0]
    assert [by_kind[(c, "司法所")]["police_dispatch_hours"] for c in CODES] == [2.0, 4.0, 6.0]
    assert [by_kind[(c, "公共法律服务管理科")]["referral_service_hours"] for c in CODES] == [3.0, 6.0, 9.0]
    assert by_kind[("420101", "司法所")]["units"] == 2
    province = now["rows"][-1]
    assert (province["district"], province["kind"]) == (None, None)
    assert province["report_acceptance_hours"] == 2.0
    assert province["issues_open"] == 9 and province["on_time_rate"] is not None


def test_a_follower_stopped_between_batches_resumes_exactly_once(province: dict[str, Any]) -> None:
    deployment = province
    first = follower(deployment, batch=7)
    # A few batches of two districts, then the process "dies": nothing else is kept.
    for code in ("420102", "420101", "420102"):
        one_batch(first, code)
    tracked = {code: first.store.tracked(code).position for code in CODES}
    assert tracked["420102"] > tracked["420101"] > 0 and tracked["420103"] == 0
    again = follower(deployment, batch=7)
    assert again.catch_up() > 0
    # Replaying a batch already folded changes nothing.
    log = deployment["districts"]["420102"].ledger
    page = log.recorder.select_notifications(1, 7, topics=rollup.TOPICS)
    before = again.store.briefs()
    assert again.process("420102", page) == 0
    assert again.store.briefs() == before
    # The same as a fold from nothing of every district's log.
    for code, d in deployment["districts"].items():
        events = [d.ledger.mapper.to_domain_event(n) for n in d.ledger.recorder.select_notifications(
            1, 100_000, topics=rollup.TOPICS)]
        scratch = sorted((rollup.brief(s) for s in rollup.replay(events).values()), key=lambda b: (b["kind"], b["id"]))
        assert before[0][code] == scratch
        assert before[1][code].position == max(
            n.id for n in d.ledger.recorder.select_notifications(1, 100_000, topics=rollup.TOPICS))
    fresh = follower(deployment)
    assert fresh.catch_up() == 0
    assert reader(deployment).answer()["rows"] == rollup.table(
        dict(before[0]), deployment["clock"](), names=reader(deployment).names)["rows"]


def test_a_batch_that_fails_inside_its_transaction_stores_nothing(province: dict[str, Any]) -> None:
    deployment = province
    follow = follower(deployment, batch=10)
    one_batch(follow, "420101")
    before = follow.store.briefs()
    tracked = follow.store.tracked("420101")
    log = deployment["districts"]["420101"].ledger
    page = log.recorder.select_notifications(tracked.position + 1, 10, topics=rollup.TOPICS)
    # Rows already where the batch writes its versions: their insert fails after the position
    # and the states were written, in the same transaction.
    store = deployment["store"]
    with store.db.transaction(commit=True) as c:
        for n in page:
            c.execute("INSERT INTO {p}rollup_versions VALUES (?,?,?,?,?)",
                      ("420101", str(log.mapper.to_domain_event(n).originator_id), n.id, 0.0, "{}"))
    with pytest.raises(IntegrityError):
        one_batch(follow, "420101")
    assert follow.store.tracked("420101") == tracked
    after = follow.store.briefs()
    assert after[0]["420101"] == before[0]["420101"]
    with store.db.transaction(commit=True) as c:
        c.execute("DELETE FROM {p}rollup_versions WHERE recorded_max=0 AND district='420101'")
    follow.catch_up()
    assert follow.store.tracked("420101").position > tracked.position


def test_the_provinces_tables_hold_nothing_personal(province: dict[str, Any]) -> None:
    deployment = province
    follower(deployment).catch_up()
    with deployment["store"].db.transaction(commit=False) as c:
        text = " ".join(str(row[0]) for table in ("rollup_state", "rollup_versions")
                        for row in c.execute(f"SELECT CAST(t AS TEXT) FROM {{p}}{table} AS t").fetchall())
    assert NAME not in text and valid_id() not in text and BIRTH.isoformat() not in text
    # Nor any district's free text (a problem, a measure, an urging, a reply, a closure).
    assert [t for t in ("问题1", "措施一", "请加快", "已整改", "核验销号", "逾期完成") if t in text] == []
    assert "2019-05" in text  # the tables were read: the report's times are there


def test_a_district_not_yet_followed_is_listed_with_nothing(province: dict[str, Any]) -> None:
    answer = reader(province).answer(as_of=START + timedelta(days=1))
    assert [r["district"] for r in answer["rows"] if r["kind"] is None] == [*CODES, None]
    assert answer["districts"] == {}


def test_two_followers_at_once_fold_each_event_once(province: dict[str, Any]) -> None:
    followers = [follower(province, batch=5) for _ in range(2)]
    failed: list[BaseException] = []

    def run(f: RollupFollower) -> None:
        try:
            f.catch_up()
        except BaseException as error:  # noqa: BLE001 — the assertion below reports it
            failed.append(error)

    threads = [threading.Thread(target=run, args=(f,)) for f in followers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    briefs, tracked = province["store"].briefs()
    for code, d in province["districts"].items():
        events = [d.ledger.mapper.to_domain_event(n) for n in d.ledger.recorder.select_notifications(
            1, 100_000, topics=rollup.TOPICS)]
        assert briefs[code] == sorted((rollup.brief(s) for s in rollup.replay(events).values()),
                                      key=lambda b: (b["kind"], b["id"]))
    # The same dated briefs, row for row, as one follower alone writes.
    together = versions(province["store"])
    for code in CODES:
        province["store"].forget(code)
    follower(province).catch_up()
    assert versions(province["store"]) == together



def versions(store: RollupStore) -> list[Any]:
    with store.db.transaction(commit=False) as c:
        return c.execute("SELECT district, id, position, recorded_max, brief FROM {p}rollup_versions "
                         "ORDER BY district, id, position").fetchall()


def test_the_province_reads_the_rollup_by_api_and_page_and_a_districts_users_are_refused(
    province: dict[str, Any],
) -> None:
    follower(province).catch_up()
    with TestClient(create_app(deployment=province["deployment"]), raise_server_exceptions=False) as client:
        def get(path: str, token: str | None) -> Any:
            return client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})

        for role in ("province_inspector", "supervisor", "admin"):
            answer = get("/api/v1/province/rollup", province[role])
            assert answer.status_code == 200, (role, answer.text)
        assert answer.json()["rows"] == reader(province).answer()["rows"]
        past = get("/api/v1/province/rollup?as_of=2019-07-15", province["province_inspector"]).json()
        # The end of 15 July in Shanghai: after the past moment of the history, before its second half.
        assert past["rows"] == province["before"]["rows"] and past["as_of"] == "2019-07-15T15:59:59.999999+00:00"
        assert get("/api/v1/province/rollup?as_of=2019-07-15&year=2018", province["province_inspector"]).json()[
            "year"] == 2018
        bad = get("/api/v1/province/rollup?as_of=yesterday", province["province_inspector"])
        assert bad.status_code in (400, 422) and bad.headers["content-type"].startswith("application/problem+json")
        assert get("/api/v1/province/rollup", None).status_code == 401
        for code, district in province["districts"].items():
            for who in ("supervisor", "inspector", "admin", "pf-clerk"):
                refused = get("/api/v1/province/rollup", district.tokens[who])
                assert refused.status_code == 403, (code, who, refused.text)
                assert get("/province", district.tokens[who]).status_code == 403
        page = get("/province?as_of=2019-07-15", province["province_inspector"])
        assert page.status_code == 200 and "<script" not in page.text
        for code in CODES:
            assert f"{code}区" in page.text
        assert "全省督查汇总" in page.text and "截至 2019-07-15 日终" in page.text and "司法所" in page.text
        assert NAME not in page.text and NAME not in answer.text

    # Signed in on the dashboard, a province inspector starts at the roll-up.
    province["province"].accounts.set_password(Command(SYSTEM), "省province_inspector", PASSWORD)
    with TestClient(create_app(deployment=province["deployment"]), raise_server_exceptions=False) as browser:
        form = browser.get("/signin").text
        signed = browser.post("/signin", data={"username": "省province_inspector", "password": PASSWORD,
                                               "csrf": form_csrf(form), "district": ""},
                              headers=ORIGIN, follow_redirects=False)
        assert (signed.status_code, signed.headers["location"]) == (303, "/province")
        assert "全省汇总" in browser.get("/province").text


def test_a_batch_folded_after_another_follower_moved_the_district_stores_nothing(province: dict[str, Any]) -> None:
    first, second = follower(province, batch=10), follower(province, batch=10)
    code = CODES[0]
    stale = first.store.tracked(code)
    page = first.logs[code].select(stale.position + 1, 10, topics=rollup.TOPICS)
    assert second.process(code, page) == len(page)
    moved, before = first.store.tracked(code), first.store.briefs()
    with pytest.raises(RollupMoved):
        first.process(code, page, stale)  # read its position before the other stored the batch
    assert first.store.tracked(code) == moved and first.store.briefs() == before


def test_careledger_project_keeps_the_rollup_of_the_registered_districts_and_of_one_added_meanwhile(
    postgres_database: str, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with scratch_schema(postgres_database) as schema:
        settings = settings_for("postgres", tmp_path_factory.mktemp("project"), postgres_database, schema)
        add_district(settings, "420199", "测试区")
        place = build_deployment(settings)
        stopping = threading.Event()
        try:
            assert place.rollup is not None and list(place.rollup.follower.logs) == ["420199"]
            district = seed(place.districts["420199"])
            sup = district.cmd("supervisor")
            district.issues.register_plan(sup, number="P", title="方案", issuer_unit="bgs", year=2019)
            end = district.issues.register_issue(sup, plan=plan_id("P"), seq=1, duty="职责", problem="问题",
                                                 units=["pf"]).position
            follows = threading.Thread(target=bootstrap.run_followers, args=(settings, stopping),
                                       kwargs={"interval": 0.05, "reread_seconds": 0.2})
            follows.start()
            store = place.rollup.follower.store
            # The process is another thread: its progress is only seen in the store.
            assert until(lambda: store.tracked("420199").position == end)
            assert place.rollup.reader.answer()["districts"]["420199"]["position"] == end
            # A district registered while it runs is followed too: its views, Merkle log and roll-up.
            add_district(settings, "420195", "后来区")
            with closing(bootstrap.build(district_settings(settings, next(
                    d for d in DistrictTable(settings).all() if d.code == "420195")), district="420195")) as later:
                other = seed(later)
                sup = other.cmd("supervisor")
                other.issues.register_plan(sup, number="P", title="方案", issuer_unit="bgs", year=2019)
                added = other.issues.register_issue(sup, plan=plan_id("P"), seq=1, duty="职责", problem="问题",
                                                    units=["pf"]).position
                last = later.ledger.recorder.max_notification_id()
                assert until(lambda: store.tracked("420195").position == added)
                assert until(lambda: later.merkle.store.progress().position == last)
                assert until(lambda: later.views.position() >= added)
        finally:
            stopping.set()
            place.close()
        follows.join(timeout=30)
        assert not follows.is_alive()
        with psycopg.connect(postgres_database, autocommit=True) as conn:
            conn.execute('DROP SCHEMA IF EXISTS "d420199" CASCADE')
            conn.execute('DROP SCHEMA IF EXISTS "d420195" CASCADE')


@contextmanager
def own_districts(postgres_database: str, folder: Any, codes: dict[str, str]) -> Iterator[tuple[Settings, Deployment]]:
    """A province schema of its own with ``codes`` registered, its deployment built; on
    leaving, the deployment closed and the districts' schemas (named by code alone) dropped."""
    with scratch_schema(postgres_database) as schema:
        settings = settings_for("postgres", folder, postgres_database, schema)
        for code, name in codes.items():
            add_district(settings, code, name)
        place = build_deployment(settings)
        try:
            yield settings, place
        finally:
            place.close()
            with psycopg.connect(postgres_database, autocommit=True) as conn:
                for code in codes:
                    conn.execute(f'DROP SCHEMA IF EXISTS "d{code}" CASCADE')


def issue_writer(services: bootstrap.Services) -> Callable[[int], int]:
    """The district seeded with a plan P: registers its issue ``seq``, answers its position."""
    district = seed(services)
    sup = district.cmd("supervisor")
    district.issues.register_plan(sup, number="P", title="方案", issuer_unit="bgs", year=2019)

    def issue(seq: int) -> int:
        made = district.issues.register_issue(sup, plan=plan_id("P"), seq=seq, duty="职责", problem="问题",
                                              units=["pf"])
        assert made.position is not None
        return made.position

    return issue


def folded_once(place: Deployment, code: str) -> bool:
    """The district's briefs in the roll-up are a fold of its whole log from nothing."""
    assert place.rollup is not None
    log = place.districts[code].ledger
    events = [log.mapper.to_domain_event(n) for n in log.recorder.select_notifications(1, 100_000, topics=rollup.TOPICS)]
    return bool(place.rollup.follower.store.briefs()[0][code] == sorted(
        (rollup.brief(s) for s in rollup.replay(events).values()), key=lambda b: (b["kind"], b["id"])))


def test_a_serving_processs_rollup_retries_after_an_error_and_folds_what_was_written_meanwhile_once(
    postgres_database: str, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with own_districts(postgres_database, tmp_path_factory.mktemp("retry"), {"420197": "重试区"}) as (settings, place):
        schema = settings.database_schema
        assert place.rollup is not None
        follow, store = place.rollup.follower, place.rollup.follower.store
        follow.retry_first, follow.retry_most = 0.05, 0.2
        issue = issue_writer(place.districts["420197"])
        end = issue(1)
        follow.start(interval=0.05)  # as a serving process starts it (Deployment.start_followers)
        with TestClient(create_app(deployment=place), raise_server_exceptions=False) as client, \
                psycopg.connect(postgres_database, autocommit=True) as conn:
            assert until(lambda: store.tracked("420197").position == end)
            assert until(lambda: follow.status()["caught_up_at"] is not None)
            assert client.get("/readyz").json()["rollup"]["state"] == "following"
            # The table the follower reads its positions from gone, for a while.
            conn.execute(f'ALTER TABLE "{schema}".rollup_tracking RENAME TO rollup_tracking_away')  # noqa: S608
            try:
                assert until(lambda: follow.failures >= 3), follow.status()
                ready = client.get("/readyz")
                assert ready.status_code == 200, ready.text  # the districts are still served
                failing = ready.json()["rollup"]
                assert failing["state"] == "failing" and failing["failures"] >= 3, failing
                assert failing["error"] == type(follow.error).__name__ and failing["failing_seconds"] >= 0
                assert failing["failing_since"] is not None and set(failing["districts"]) == {"420197"}
                end = max(issue(2), issue(3))  # written while the roll-up fails
            finally:
                conn.execute(f'ALTER TABLE "{schema}".rollup_tracking_away RENAME TO rollup_tracking')  # noqa: S608
            assert until(lambda: store.tracked("420197").position == end), follow.status()
            assert until(lambda: follow.status()["state"] == "following")
            assert follow.error is None and follow.failures == 0
            recovered = client.get("/readyz").json()["rollup"]
            assert recovered["state"] == "following" and "error" not in recovered
        assert folded_once(place, "420197")  # exactly once
        totals = next(r for r in place.rollup.reader.answer()["rows"] if r["district"] == "420197" and r["kind"] is None)
        assert totals["issues_open"] == 3


def test_one_districts_failure_holds_up_no_other_and_a_failed_write_is_folded_once_after(
    postgres_database: str, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    codes = {"420193": "甲区", "420194": "乙区"}
    with own_districts(postgres_database, tmp_path_factory.mktemp("isolated"), codes) as (settings, place):
        schema = settings.database_schema
        assert place.rollup is not None
        follow, store = place.rollup.follower, place.rollup.follower.store
        writers = {code: issue_writer(place.districts[code]) for code in codes}
        written = {code: write(1) for code, write in writers.items()}
        follow.catch_up()
        events = place.districts["420193"].ledger.recorder.events_table_name  # type: ignore[attr-defined]
        with psycopg.connect(postgres_database, autocommit=True) as conn:
            # 甲区's log unreadable: 乙区 is folded to its end all the same, and the failure names 甲区.
            conn.execute(f'ALTER TABLE "d420193".{events} RENAME TO away')
            try:
                written["420194"] = writers["420194"](2)
                with pytest.raises(DistrictsFailed) as failed:
                    follow.catch_up()
                assert set(failed.value.errors) == {"420193"}
                assert store.tracked("420194").position == written["420194"]
            finally:
                conn.execute(f'ALTER TABLE "d420193".away RENAME TO {events}')
            # Every write refused (the province's table of dated briefs gone): each batch is
            # folded, its write fails, and it is folded again from the stored state later.
            conn.execute(f'ALTER TABLE "{schema}".rollup_versions RENAME TO versions_away')
            try:
                written = {code: write(3) for code, write in writers.items()}
                with pytest.raises(DistrictsFailed) as failed:
                    follow.catch_up()
                assert set(failed.value.errors) == set(codes)
            finally:
                conn.execute(f'ALTER TABLE "{schema}".versions_away RENAME TO rollup_versions')
        follow.catch_up()
        for code in codes:
            assert store.tracked(code).position == written[code] and folded_once(place, code)
        totals = {r["district"]: r["issues_open"] for r in place.rollup.reader.answer()["rows"] if r["kind"] is None}
        assert totals["420193"] == 2 and totals["420194"] == 3


def test_careledger_projects_rollup_still_ends_the_process_at_its_first_error(
    postgres_database: str, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("project-fails")
    with own_districts(postgres_database, folder, {"420196": "失败区"}) as (settings, place):
        stopping = threading.Event()
        failed: list[BaseException] = []

        def project() -> None:
            try:
                bootstrap.run_followers(settings, stopping, interval=0.05)
            except BaseException as error:  # noqa: BLE001 — the assertion below reads it
                failed.append(error)

        follows = threading.Thread(target=project)
        try:
            end = issue_writer(place.districts["420196"])(1)
            follows.start()
            assert until(lambda: place.rollup is not None and place.rollup.follower.store.tracked("420196").position == end)
            with psycopg.connect(postgres_database, autocommit=True) as conn:
                conn.execute(f'ALTER TABLE "{settings.database_schema}".rollup_tracking '  # noqa: S608
                             "RENAME TO rollup_tracking_away")
            follows.join(timeout=60)  # it ends by itself, or the assertion below says it did not
            assert not follows.is_alive() and len(failed) == 1
            assert isinstance(failed[0], DistrictsFailed) and "rollup_tracking" in str(failed[0].errors["420196"])
        finally:
            stopping.set()
            if follows.is_alive():
                follows.join(timeout=30)
