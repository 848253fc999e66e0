"""A unit's to-do read from the briefs indexed by unit (infrastructure.brief_cache's
``waiting_on``) answers what the lists over every brief in the store answer, after any writes."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from application.errors import Forbidden, NotFound
from application.read_policy import POLICY
from domain.base import DomainError
from domain.urging import urging_id
from infrastructure.brief_cache import BriefCache
from infrastructure.view_runner import TODO_KINDS, Views, readable
from projections import todo, todo_measures
from projections.indicators import day_of
from tests.district import District
from tests.integration.test_brief_cache import views_of
from tests.integration.test_views import new_issue, play, play_case

CLERKS = {"pf": "pf-clerk", "gf": "gf-clerk", "sfs-cq": "cq-clerk", "sfs-zml": "zml-clerk"}
# (reader, unit asked for): each unit its own, the office any unit, an agency another unit.
ASKED = [*((clerk, unit) for unit, clerk in CLERKS.items()), ("supervisor", "pf"), ("supervisor", "gf"),
         ("zml-clerk", "pf"), ("pf-clerk", "gf")]


def from_scratch(views: Views, who: str, unit: str, district: District) -> tuple[dict[str, Any], dict[str, Any]]:
    """The page and the three lists over every brief in the store that ``who`` reads."""
    scope = POLICY.scope(district.actors[who])
    briefs = [b for b in views.store.all_briefs(todo_measures.KINDS) if readable(scope, b)]
    today = day_of(district.ledger.clock())
    assert today is not None
    return (todo_measures.page(briefs, unit, today, views.thresholds),
            todo.for_unit([b for b in briefs if b["kind"] in TODO_KINDS], unit, today))


def work(district: District, rng: random.Random, issues: list[Any], cases: list[Any]) -> None:
    """One random write of those that put a row on a to-do list or take one off (refused
    ones are tried and store nothing)."""
    cmd, now = district.cmd, district.ledger.clock()
    issue, case = rng.choice(issues), rng.choice(cases)
    unit = rng.choice(["pf", "sfs-cq", "sfs-zml"])
    op = rng.choice(["urge", "reply", "request", "decide", "refer", "accept", "close_referral", "close_case",
                     "reopen_case", "play", "play", "advance"])
    try:
        current = district.issues.issue(issue)
        if op == "urge":
            district.issues.urge(cmd("supervisor"), issue, unit=unit, message="请加快",
                                 reply_by=now.date() + timedelta(days=rng.randint(-3, 20)))
        elif op == "reply" and current.urgings:
            urging = rng.choice(current.urgings)
            district.issues.reply_to_urging(cmd(CLERKS[urging["unit"]]), issue, urging_id(urging),
                                            message="已部署")
        elif op == "request":
            district.issues.request_extension(cmd(CLERKS[unit]), issue, deadline=date(2020, rng.randint(1, 12), 1),
                                              reason="会签")
        elif op == "decide" and current.extension_requests:
            district.issues.decide_extension(cmd("supervisor"), issue, rng.choice(sorted(current.extension_requests)),
                                             approved=rng.random() < 0.5, reason="审")
        elif op == "refer":
            district.cases.refer_case(cmd("supervisor"), case, unit=rng.choice(["gf", "pf"]), duty="法律援助")
        elif op in ("accept", "close_referral"):
            referrals = district.cases.case(case).referrals
            if referrals:
                referral = rng.choice(sorted(referrals))
                if op == "accept":
                    district.cases.accept_referral(cmd(CLERKS[referrals[referral]["unit"]]), case, referral)
                else:
                    district.cases.close_referral(cmd("supervisor"), case, referral, outcome="withdrawn")
        elif op == "close_case":
            district.cases.close_case(cmd("supervisor"), case, reason="hardship_resolved")
        elif op == "reopen_case":
            district.cases.reopen_case(cmd("supervisor"), case, reason="复查")
        elif op == "play":  # measures adopted, reported, completed; deadlines; closure and reopening
            play(district, issue, [(rng.choice(["adopt", "progress", "complete", "assign", "extend", "close",
                                                "reopen"]), rng.randint(0, 30), rng.randint(0, 9))], rng)
        elif op == "advance":
            district.ledger.clock.advance(days=rng.randint(1, 9))  # type: ignore[attr-defined]
    except (DomainError, Forbidden, NotFound):
        pass


def test_a_units_to_do_from_its_indexed_briefs_equals_the_lists_over_every_brief(
    services, district: District,  # type: ignore[no-untyped-def]
) -> None:
    views = views_of(services)
    assert views.cache is not None
    rng = random.Random(20)
    issues = [new_issue(district) for _ in range(3)]
    cases = [play_case(district, [("classify", 1)]) for _ in range(2)]
    seen: set[str] = set()
    for _ in range(8):
        for _ in range(7):
            work(district, rng, issues, cases)
        views.catch_up()
        for who, unit in ASKED:
            page, lists = from_scratch(views, who, unit, district)
            scope = POLICY.scope(district.actors[who])
            assert views.to_do_page(scope, unit) == page
            assert views.to_do(scope, unit) == lists
            seen.update(name for name, rows in page.items() if isinstance(rows, list) and rows)
    # A process started only now indexes the same briefs for every unit.
    fresh = BriefCache(views.store)
    for unit in CLERKS:
        assert fresh.waiting_on(unit, TODO_KINDS) == views.cache.waiting_on(unit, TODO_KINDS)
    # The writes put rows on every list at some point (else the comparison proves little).
    assert seen >= {"measures_due", "issues_without_measure", "urgings_awaiting_reply",
                    "pending_extension_requests", "referrals_awaiting_acceptance"}


def test_the_case_list_order_kept_between_reads_equals_a_fresh_sort_after_any_writes(
    services, district: District,  # type: ignore[no-untyped-def]
) -> None:
    from interfaces.web.case_present import newest_first

    views = views_of(services)
    rng = random.Random(7)
    issues = [new_issue(district)]
    cases = [play_case(district, [("classify", 1)]) for _ in range(3)]
    for step in range(10):
        if step % 3 == 0:
            cases.append(play_case(district, [("refer", step)]))
        work(district, rng, issues, cases)
        views.catch_up()
        for who in ("supervisor", "gf-clerk", "cq-clerk"):
            scope = POLICY.scope(district.actors[who])
            fresh = sorted((b for b in views.store.all_briefs(("case",)) if readable(scope, b)), key=newest_first,
                           reverse=True)
            assert views.ordered_briefs(scope, ("case",), newest_first, reverse=True) == fresh
            ids = {b["id"] for b in fresh[::2]}
            assert views.readable_briefs_of(scope, "case", ids) == sorted(
                (b for b in fresh if b["id"] in ids), key=lambda b: b["id"])
