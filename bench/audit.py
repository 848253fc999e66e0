"""Audit: filtered queries of the audit index over a large generated log, p50/p99.

The log is generated (bench.generate), the audit index and the Merkle log caught up, then
each filter the HTTP API offers (/audit/events: unit, user, type, aggregate, from/to, and
/audit/late-entries) is asked with random values and random starting positions, a page of
100 rows each. Baselines from the same run: a bare round trip (SELECT 1) and a raw page of
100 rows of the event table by position range (the cheapest useful read). The last rows
ask the whole /audit/events handler without HTTP: the index page, its leaves and its
stored events.

    .venv/bin/python -m bench.audit --events 100000
    .venv/bin/python -m bench.audit --url postgresql://postgres@127.0.0.1/db --keys DIR

With ``--url`` it measures an existing store (written by bench.generate, its key files in
``--keys``) instead of generating one; its audit index and Merkle log are caught up first.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from bench.common import Scratch, build_services, chosen_store, figure, ms, percentile, progress, store_parser, table


def measure(s: Scratch, size: int | None, queries: int) -> None:
    from application.access import SUPERVISOR, Actor
    from interfaces.http.audit import _events as events_of
    from projections.audit_index import AuditFilter

    # The handler's reader: a supervisor reads the stored events too (the most it does).
    reader = Actor(user_id=UUID(int=1), name="bench", unit="bench", role=SUPERVISOR)

    def _events(services: Any, where: Any) -> Any:
        return events_of(services, where, reader)

    rng = random.Random(3)
    rows: list[list[Any]] = []
    services = build_services(s, size, f"audit {s.backend}")
    try:
        ledger = services.ledger
        t0 = time.perf_counter()
        services.audit.catch_up()
        services.merkle.catch_up()
        total = ledger.recorder.max_notification_id() or 0
        progress(f"audit {s.backend}: {total:,} indexed and logged in {time.perf_counter() - t0:.0f} s")
        store = services.audit.store
        conn = s.connect()
        table_name = ledger.recorder.events_table_name
        key, mark = ("notification_id", "%s") if s.backend == "postgres" else ("rowid", "?")
        # The values to ask for, from the index itself (so --url needs no generator).
        units = [r[0] for r in conn.execute("SELECT DISTINCT unit FROM audit_index").fetchall()]
        users = [r[0] for r in conn.execute("SELECT DISTINCT user_name FROM audit_index").fetchall()]
        types = [r[0] for r in conn.execute("SELECT DISTINCT type FROM audit_index").fetchall()]
        first, last = conn.execute("SELECT min(recorded_at), max(recorded_at) FROM audit_index").fetchone()
        picks = [rng.randint(1, total) for _ in range(500)]
        aggs = [UUID(str(r[0])) for r in conn.execute(
            f"SELECT aggregate_id FROM audit_index WHERE position IN ({','.join(map(str, picks))})").fetchall()]
        start = datetime.fromtimestamp(first, timezone.utc)
        span = last - first

        def sample(fn: Any) -> list[float]:
            out = []
            for _ in range(queries):
                t = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t)
            return out

        ping = sample(lambda: conn.execute("SELECT 1").fetchall())
        raw_page = sample(lambda: conn.execute(
            f"SELECT {key}, originator_id, originator_version, topic, state FROM {table_name} "
            f"WHERE {key} > {mark} ORDER BY {key} LIMIT 100", (rng.randint(0, total - 100),)).fetchall())
        base = percentile(raw_page, 99)

        def after() -> int:
            return rng.choice([0, 0, rng.randint(0, total)])

        def window() -> tuple[datetime, datetime]:
            a = start + timedelta(seconds=rng.uniform(0, span))
            return a, a + timedelta(days=rng.choice([1, 7, 30]))

        def between(**more: Any) -> AuditFilter:
            a, b = window()
            return AuditFilter(after=after(), recorded_from=a, recorded_to=b, **more)

        late = services.settings.late_entry_days * 86400 + 1
        filters = {
            "unit": lambda: AuditFilter(after=after(), unit=rng.choice(units)),
            "user": lambda: AuditFilter(after=after(), user=rng.choice(users)),
            "type": lambda: AuditFilter(after=after(), type=rng.choice(types)),
            "aggregate": lambda: AuditFilter(after=after(), aggregate=rng.choice(aggs)),
            "recorded between (1, 7 or 30 days)": lambda: between(),
            "from only": lambda: AuditFilter(after=after(), recorded_from=window()[0]),
            "to only": lambda: AuditFilter(after=after(), recorded_to=window()[1]),
            "late entries (/late-entries)": lambda: AuditFilter(after=after(), late_by_seconds=late),
            "late entries of a unit": lambda: AuditFilter(after=after(), late_by_seconds=late,
                                                          unit=rng.choice(units)),
            "unit + type": lambda: AuditFilter(after=after(), unit=rng.choice(units), type=rng.choice(types)),
            "user + type": lambda: AuditFilter(after=after(), user=rng.choice(users), type=rng.choice(types)),
            "unit + recorded between": lambda: between(unit=rng.choice(units)),
            "type + recorded between": lambda: between(type=rng.choice(types)),
            "no filter": lambda: AuditFilter(after=after()),
        }
        rows.append(["SELECT 1 (round trip)", ms(percentile(ping, 50)), ms(percentile(ping, 99)), "", ""])
        rows.append(["raw page of 100 events by position", ms(percentile(raw_page, 50)), ms(base), "1.00×", ""])
        asked: list[tuple[str, Any]] = [(name, lambda make=make: store.query(make())) for name, make in filters.items()]
        asked += [
            ("/audit/events handler: unit", lambda: _events(services, filters["unit"]())),
            ("/audit/events handler: recorded between",
             lambda: _events(services, filters["recorded between (1, 7 or 30 days)"]())),
            ("/audit/events handler: no filter", lambda: _events(services, filters["no filter"]())),
        ]
        worst = 0.0
        for name, ask in asked:
            lat = sample(ask)
            p99 = percentile(lat, 99)
            worst = max(worst, p99)
            rows.append([name, ms(percentile(lat, 50)), ms(p99), f"{p99 / base:.2f}×",
                         "yes" if p99 < 0.050 else "**no**"])
            progress(f"audit {s.backend}: {name} p50 {percentile(lat, 50) * 1000:.1f} p99 {p99 * 1000:.1f} ms")
        conn.close()
        figure(f"audit queries, {s.backend}, worst p99", seconds=worst, goal="< 0.05", met=worst < 0.05)
    finally:
        services.close()
    table(
        f"Audit queries over {total:,} events, {s.backend}",
        ["query (page of 100)", "p50 ms", "p99 ms", "p99 ratio to raw page", "p99 < 50 ms"],
        rows,
        [f"{queries} queries per row, random values; two thirds start at the beginning, a third at "
         "a random position (`after`); windows of 1, 7 or 30 days anywhere in the log.",
         "filter rows: through the audit store (infrastructure/audit_store.py), without HTTP; handler "
         "rows: interfaces.http.audit._events (followers' catch-up, index page, leaves, stored events), "
         "without HTTP and JSON.",
         f"worst p99 {worst * 1000:.1f} ms."],
    )


def main() -> None:
    parser = store_parser("audit benchmark")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    with chosen_store(args, "audit") as (s, events):
        measure(s, events, args.queries)


if __name__ == "__main__":
    main()
