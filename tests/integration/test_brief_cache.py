"""The briefs held in memory by each serving process (infrastructure.brief_cache) and the
answers kept by their version: never staler than the store, whatever changed it."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from infrastructure.brief_cache import BriefCache
from infrastructure.view_runner import VIEW_KINDS, Views, build_views, pull, rebuild
from infrastructure.view_store import view_store_for
from projections import folds, kept as kept_module
from projections.views import LIVE, LedgerViews
from tests.district import District
from tests.integration.test_views import by_id, new_issue, play


def views_of(services) -> Views:  # type: ignore[no-untyped-def]
    built = build_views(services.ledger, services.settings)
    services.views = built
    return built


@pytest.mark.parametrize("chunk", [256, 2], ids=["one-chunk", "chunks-of-two"])
def test_the_cache_follows_every_change_and_equals_the_store(services, district: District, chunk: int,  # type: ignore[no-untyped-def]
                                                             monkeypatch) -> None:
    # With chunks of about two issues, a change lands in one chunk among several, an issue
    # added cuts a chunk, and the sums of the chunks kept must still equal a fresh view.
    monkeypatch.setattr(kept_module, "CHUNK", chunk)
    views = views_of(services)
    assert views.cache is not None
    rng = random.Random(11)
    issues: list[Any] = []
    for round_ in range(4):
        issues.append(new_issue(district))
        # new issues and more work on earlier ones, whose parts of the views were kept
        for issue in (issues[-1], rng.choice(issues)):
            play(district, issue, [(rng.choice(["adopt", "progress", "complete", "urge", "advance"]),
                                    rng.randint(0, 30), rng.randint(0, 9)) for _ in range(8)], rng)
        views.catch_up()
        assert by_id(views.briefs()) == by_id(views.store.all_briefs())
        assert views.briefs(kinds=("issue",)) == views.store.all_briefs(("issue",))  # one kind: id order
        # a second process's cache, started only now, agrees with the first
        assert by_id(BriefCache(views.store).briefs()[1]) == by_id(views.briefs())
        # every view, its parts reused where nothing changed, equals one computed afresh
        if round_ == 2:
            district.ledger.clock.advance(days=45)  # type: ignore[attr-defined]
        for name in VIEW_KINDS:
            assert _answer(views.view(name, year=2019)) == _answer(fresh_view(views, name))
    year = district.ledger.clock().year
    for issue in issues:  # one write at a time, the same day and plans: one chunk summed again
        district.issues.urge(district.cmd("supervisor"), issue, unit="pf", message="请加快",
                             reply_by=district.ledger.clock().date() + timedelta(days=5))
        views.catch_up()
        for name in VIEW_KINDS:
            assert _answer(views.view(name, year=year)) == _answer(fresh_view(views, name, year))


def fresh_view(views: Views, name: str, year: int = 2019) -> dict[str, Any]:
    briefs = views.store.all_briefs(VIEW_KINDS[name])
    return views._named(views._compute(name, briefs, views.ledger.clock(), year, None))


def _answer(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in ("position", "as_of")}


def test_a_view_answered_again_is_recomputed_once_anything_changed(services, district: District) -> None:  # type: ignore[no-untyped-def]
    views = views_of(services)
    issue = new_issue(district)
    views.catch_up()
    first = views.view("supervision")
    again = views.view("supervision")
    assert again["rows"] == first["rows"] and again["position"] == first["position"]
    district.issues.urge(district.cmd("supervisor"), issue, unit="pf", message="请加快", reply_by=district.ledger.clock().date() + timedelta(days=5))
    views.catch_up()
    after = views.view("supervision")
    urged = {r["id"]: r["urgings"] for r in after["rows"]}
    assert urged[str(issue)] == 1 and after["position"] > first["position"]
    district.ledger.clock.advance(days=400)  # type: ignore[attr-defined]
    later = views.view("supervision")
    assert later["today"] != after["today"] and later["as_of"] != after["as_of"]


def test_a_promoted_rebuild_replaces_what_the_cache_holds(services, district: District) -> None:  # type: ignore[no-untyped-def]
    views = views_of(services)
    issue = str(new_issue(district))
    views.catch_up()
    assert {b["id"] for b in views.briefs(kinds=("issue",))} >= {issue}
    views.view("units")
    # A generation folded from an altered event stream stands for a rebuild whose fold
    # changed: positions no later than the cache's, contents different.
    ledger = district.ledger
    other = view_store_for(ledger, generation=f"other-{uuid.uuid4().hex[:6]}")
    other.clear()
    projection = LedgerViews(view=other)
    pull(ledger, projection)
    changed = other.get_summaries([issue])[issue]
    changed["problem"] = "重建后的问题描述"
    other.put({issue: changed}, Tracking(ledger.name, views.position()), expected=views.position())
    other.promote(LIVE)
    problem = {b["id"]: b["problem"] for b in views.briefs(kinds=("issue",))}
    assert problem[issue] == "重建后的问题描述"
    assert {r["id"]: r["problem"] for r in views.view("supervision")["rows"]}[issue] == "重建后的问题描述"
    rebuild(ledger)
    assert {b["id"]: b["problem"] for b in views.briefs(kinds=("issue",))}[issue] == "问题"


def test_rows_stored_before_briefs_are_read_from_their_summaries(services, district: District) -> None:  # type: ignore[no-untyped-def]
    views = views_of(services)
    issue = new_issue(district)
    views.catch_up()
    expected = views.store.all_briefs()
    store = views.store
    with store.datastore.transaction(commit=True) as c:
        c.execute(_sql(store, "UPDATE {} SET brief=NULL, position=NULL"))
    fresh = BriefCache(store)
    assert by_id(fresh.briefs()[1]) == by_id(expected) == by_id(store.all_briefs())
    district.issues.urge(district.cmd("supervisor"), issue, unit="pf", message="请加快", reply_by=district.ledger.clock().date() + timedelta(days=5))
    views.catch_up()
    urgings = {b["id"]: len(b["urgings"]) for b in fresh.briefs(("issue",))[1]}
    assert urgings[str(issue)] == 1


def _sql(store: Any, template: str) -> str:
    if type(store).__name__.startswith("SQLite"):
        return template.format("view_summaries")
    return template.format(f'"{store.datastore.schema}".view_summaries')


def test_briefs_are_the_summaries_briefed(services, district: District) -> None:  # type: ignore[no-untyped-def]
    views = views_of(services)
    new_issue(district)
    views.catch_up()
    assert by_id(views.briefs()) == by_id([folds.brief(s) for s in views.summaries()])


def test_a_view_is_recomputed_when_its_own_kinds_change_and_only_then(services, district: District) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.test_views import play_case

    views = views_of(services)
    issue = new_issue(district)
    case = play_case(district, [("classify", 1)])
    views.catch_up()
    assert views.cache is not None
    before = views.cache.refresh(("case",)), views.cache.refresh(("plan", "issue"))
    ledger = views.view("ledger")
    year = district.ledger.clock().year
    evaluation = views.view("evaluation", year=year)
    district.issues.urge(district.cmd("supervisor"), issue, unit="pf", message="请加快",
                         reply_by=district.ledger.clock().date() + timedelta(days=5))
    views.catch_up()
    assert views.cache.refresh(("case",)) == before[0] and views.cache.refresh(("plan", "issue")) != before[1]
    assert views.view("ledger")["rows"] is ledger["rows"]  # the same answer, not recomputed
    assert _answer(views.view("evaluation", year=year)) == _answer(fresh_view(views, "evaluation", year))
    # the same cases, one of them with a response more
    district.cases.refer_case(district.cmd("supervisor"), case, unit="gf", duty="法律援助")
    referral = next(iter(district.cases.case(case).referrals))
    district.cases.provide_service(district.cmd("gf-clerk"), case, kind="legal_aid", referral_id=referral, notes=None)
    views.catch_up()
    responses = {r["unit"]: r["case_responses"] for r in views.view("evaluation", year=year)["rows"]}
    assert sum(responses.values()) > sum(r["case_responses"] for r in evaluation["rows"])
    assert _answer(views.view("evaluation", year=year)) == _answer(fresh_view(views, "evaluation", year))
    assert views.cache.refresh(("case",)) != before[0]
    after = views.view("ledger")
    assert after["sections"]["转介与响应"]["rows"] != ledger["sections"]["转介与响应"]["rows"]
    assert _answer(after) == _answer(fresh_view(views, "ledger"))


def test_a_view_as_of_a_past_moment_from_the_cache_equals_one_from_the_log(
    services, district: District, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    import infrastructure.past_briefs as past_briefs
    import infrastructure.view_runner as runner
    import projections.views as pv
    from infrastructure.view_runner import briefs_as_of
    from tests.integration.test_views import fresh_store, play_case

    monkeypatch.setattr(pv, "CHECKPOINT_EVERY", 7)
    monkeypatch.setattr(runner, "BATCH", 3)
    monkeypatch.setattr(past_briefs, "PAGE", 3)  # the replay after the checkpoint reads several pages
    views = views_of(services)
    rng = random.Random(5)
    issues: list[Any] = []
    moments = []
    for _ in range(5):
        issues.append(new_issue(district))
        for issue in (issues[-1], rng.choice(issues)):
            play(district, issue, [(rng.choice(["adopt", "progress", "complete", "urge", "advance"]),
                                    rng.randint(0, 30), rng.randint(0, 9)) for _ in range(6)], rng)
        play_case(district, [("classify", 1), ("visit", 0), ("advance", 3)])
        views.catch_up()
        moments.append(district.ledger.clock())
        district.ledger.clock.advance(hours=5)  # type: ignore[attr-defined]
    assert views.store.last_checkpoint() is not None
    empty = fresh_store(district.ledger, "none")
    for moment in moments:
        for kinds in (None, ("plan", "issue"), ("case",)):
            from_cache = by_id(views.briefs(as_of=moment, kinds=kinds))
            assert from_cache == by_id(briefs_as_of(district.ledger, views.store, moment, kinds))
            assert from_cache == by_id(briefs_as_of(district.ledger, empty, moment, kinds))
    for moment in moments + moments[::-1]:  # asked again: the briefs and parts kept serve it
        for name in VIEW_KINDS:
            briefs = briefs_as_of(district.ledger, empty, moment, VIEW_KINDS[name])
            fresh = views._named(views._compute(name, briefs, moment, 2019, None))
            assert _answer(views.view(name, as_of=moment, year=2019)) == _answer(fresh)
    assert views.cache is not None
    position = views.store.checkpoint_position(moments[2].timestamp())
    assert position is not None
    held = views.cache.unchanged_since(position, ("issue",))
    assert held is not None and held[0] and held[1]  # some taken from memory, some read


def test_warming_loads_the_briefs_before_any_view_asks(services, district: District) -> None:  # type: ignore[no-untyped-def]
    new_issue(district)
    views = views_of(services)
    views.catch_up()
    assert views.cache is not None and not views.cache.loaded
    thread = views.warm()
    assert thread is not None
    thread.join(timeout=30)
    assert views.cache.loaded


def test_creating_the_tables_upgrades_a_database_without_briefs(services, district: District) -> None:  # type: ignore[no-untyped-def]
    views = views_of(services)
    issue = new_issue(district)
    views.catch_up()
    store = views.store
    sqlite = type(store).__name__.startswith("SQLite")
    schema = "" if sqlite else f'"{store.datastore.schema}".'
    with store.datastore.transaction(commit=True) as c:  # the tables as an earlier version made them
        c.execute(f"DROP INDEX {schema}view_summaries_position")
        for table, column in (("view_summaries", "brief"), ("view_summaries", "position"), ("view_versions", "brief")):
            c.execute(f"ALTER TABLE {schema}{table} DROP COLUMN {column}")
        c.execute(f"DROP TABLE {schema}view_epochs")
    again = build_views(services.ledger, services.settings)
    assert by_id(again.briefs()) == by_id([folds.brief(s) for s in again.summaries()])
    district.issues.urge(district.cmd("supervisor"), issue, unit="pf", message="请加快",
                         reply_by=district.ledger.clock().date() + timedelta(days=5))
    again.catch_up()
    assert {b["id"]: len(b["urgings"]) for b in again.briefs(kinds=("issue",))}[str(issue)] == 1
    rebuild(district.ledger)
    assert by_id(again.briefs()) == by_id(again.store.all_briefs())


def test_a_refresh_that_fails_midway_reads_everything_the_next_time(
    services, district: District, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    views = views_of(services)
    issues = [new_issue(district) for _ in range(3)]
    views.catch_up()
    cache = views.cache
    assert cache is not None
    cache.briefs()
    for issue in issues:
        district.issues.urge(district.cmd("supervisor"), issue, unit="pf", message="请加快",
                             reply_by=district.ledger.clock().date() + timedelta(days=5))
        views.catch_up()  # one batch each: three positions past what the cache holds
    real = views.store.changes_since

    def breaks_after_one(position):  # type: ignore[no-untyped-def]
        epoch, rows = real(position)

        def newest_then_gone():  # type: ignore[no-untyped-def]
            yield sorted(rows, key=lambda row: -(row[1] or 0))[0]
            raise ConnectionError("the database went away")

        return epoch, newest_then_gone()

    monkeypatch.setattr(views.store, "changes_since", breaks_after_one)
    with pytest.raises(ConnectionError):
        cache.briefs()
    monkeypatch.setattr(views.store, "changes_since", real)
    urged = {b["id"]: len(b["urgings"]) for b in cache.briefs(("issue",))[1]}
    assert [urged[str(issue)] for issue in issues] == [1, 1, 1]
    assert by_id(views.briefs()) == by_id(views.store.all_briefs())


def test_the_second_request_after_start_reuses_the_first_answer(services, district: District) -> None:  # type: ignore[no-untyped-def]
    views = views_of(services)
    new_issue(district)
    views.catch_up()
    first = views.view("supervision")
    kept = views._kept
    again = views.view("supervision")
    # The first load of the cache is no rebuild: what the first answer kept stays kept.
    assert views._kept is kept and again["rows"] is first["rows"]
