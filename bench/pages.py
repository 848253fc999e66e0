"""Times each dashboard page on the demo district: the median of 20 requests over HTTP.

    .venv/bin/python bench/pages.py [--requests 20] [--no-record]
    .venv/bin/python bench/pages.py --database views_1m --keys DIR [--requests 5]

Serves the demo district from a fresh SQLite file with uvicorn on a loopback port (one
process, as `make run` does), signs in as the supervision office, and asks each page in
turn. With ``--database`` it serves instead an existing PostgreSQL database written by
bench.generate (``--keys``: the directory of its key files), after enrolling a supervisor
there (two events) and catching the views up; the pages then name one of its issues and its
first year. The result is appended to docs/BENCHMARKS.md under "Dashboard pages". Target:
every page's median under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import MARK, cpu_name
from domain.issue import issue_id
from domain.plan import plan_id
from infrastructure.settings import Settings
from interfaces import bootstrap, demo_district
from interfaces.http.app import create_app

TARGET_MS = 300
HEADING = "## Dashboard pages"
RECORD = ROOT / "docs" / "BENCHMARKS.md"


def pages(issue: str | None = None, back: str = "2019-04-20", year: int = 2019) -> list[tuple[str, str]]:
    overdue = issue or str(issue_id(plan_id(demo_district.PLAN_NUMBER), 1))
    return [
        ("总览", "/"),
        ("整改问题列表", "/issues"),
        ("逾期问题", "/issues?overdue=true"),
        ("问题时间线", f"/issues/{overdue}"),
        (f"时间线回看 {back}", f"/issues/{overdue}?as_of={back}"),
        (f"年终考核 {year}", f"/evaluation?year={year}"),
        ("年终考核 .xlsx", f"/api/v1/views/evaluation/{year}.xlsx"),
        ("信息台账统计", "/ledger"),
        ("审计", "/audit"),
        ("审计：催办", "/audit?kind=RectificationIssue.Urged"),
        ("历史回看", "/replay"),
        (f"问题比较 {back} 至今", f"/replay/issue?id={overdue}&since={back}"),
        (f"视图比较 {back} 至今", f"/replay/view?name=units&since={back}"),
    ]


# A responsible unit's pages, asked as a user of the unit owning an open measure (the 待办 and
# the measure's forms; the forms' pages, not their posts).
AGENCY = "责任单位："


def agency_pages(issue: str, measure_id: str) -> list[tuple[str, str]]:
    path = f"/issues/{issue}/measures"
    return [(f"{AGENCY}待办", "/todo"), (f"{AGENCY}制定整改措施", f"{path}/new"),
            (f"{AGENCY}报送进展", f"{path}/{measure_id}/progress"), (f"{AGENCY}报告办结", f"{path}/{measure_id}/completion")]


def open_measure(services: bootstrap.Services) -> tuple[str, str, str]:
    """The first open measure of an open issue: (issue id, measure id, its unit)."""
    from domain.issue import MEASURE_COMPLETED

    services.views.catch_up()
    return next((b["id"], m["measure_id"], m["unit"]) for b in services.views.briefs(kinds=("issue",))
                if not b["closed"] for m in b["measures"].values() if m["status"] != MEASURE_COMPLETED)


def agency_token(services: bootstrap.Services, unit: str) -> str:
    """A user of ``unit`` enrolled for the run (one event), whose token asks the agency's pages."""
    from application.commands import SYSTEM, Command

    return services.accounts.add_user(Command(SYSTEM), name=f"责任单位-测速-{os.getpid()}", unit=unit,
                                      role="agency").token


def machine() -> str:
    cpu = cpu_name()
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def serve(workdir: Path, database: str | None = None) -> tuple[str, dict[str, str], uvicorn.Server, threading.Thread, bootstrap.Services]:
    url = (f"postgresql://postgres@127.0.0.1:5432/{database}" if database
           else f"sqlite:///{workdir / 'careledger.sqlite'}")
    # A generated district's pages may take longer than the server's 30 s deadline; the
    # benchmark wants their time, not a 504.
    settings = Settings(database_url=url, signing_key_file=workdir / "signing-key.pem",
                        data_key_file=workdir / "data-key", idempotency_key_file=workdir / "idempotency-key",
                        **({"request_deadline_seconds": 900} if database else {}))
    services = bootstrap.build(settings)
    if database:
        from application.commands import SYSTEM, Command

        enrolment = services.accounts.add_user(Command(SYSTEM), name=f"督查督办-测速-{os.getpid()}", unit="dxh-bgs", role="supervisor")
        tokens = {"supervisor": enrolment.token}
        services.views.catch_up()
    else:
        tokens = demo_district.load(services)
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(services=services), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{listening.getsockname()[1]}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return base, tokens, server, thread, services
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # bounded poll for the server to answer
    raise SystemExit("the server did not answer /healthz within 15 s")


def urging_each_time(issue: dict[str, Any], token: str) -> Callable[[httpx.Client], None]:
    """Before each timed page, one urging of ``issue`` through the API: every page then
    meets a log one event longer than its last request did (views, caches and kept answers
    must take it in), as in an office where work is recorded between readings."""
    from datetime import date, timedelta

    reply_by = (date.today() + timedelta(days=7)).isoformat()

    def urge(client: httpx.Client) -> None:
        client.post(f"/api/v1/issues/{issue['id']}/urgings", headers={"Authorization": f"Bearer {token}"},
                    json={"unit": issue["units"][0], "message": "请加快整改进度", "reply_by": reply_by}).raise_for_status()

    return urge


def chosen_issue(services: bootstrap.Services) -> dict[str, Any]:
    """The first issue with measures (its whole summary)."""
    services.views.catch_up()
    briefs = services.views.briefs(kinds=("issue",))
    brief = next((b for b in briefs if b["measures"]), briefs[0])
    return services.views.store.get_summaries([brief["id"]])[brief["id"]]


def open_issue(services: bootstrap.Services) -> dict[str, Any]:
    """An issue still open to urgings, with a responsible unit."""
    services.views.catch_up()
    return next(b for b in services.views.briefs(kinds=("issue",)) if not b["closed"] and b["units"])


def generated_pages(services: bootstrap.Services) -> list[tuple[str, str]]:
    """The pages for a generated district: its first issue with measures, half a year on."""
    from datetime import date, timedelta

    chosen = chosen_issue(services)
    registered = date.fromisoformat(chosen["registered_at"][:10])
    return pages(chosen["id"], (registered + timedelta(days=180)).isoformat(), registered.year)


def measure(base: str, token: str, count: int, paths: list[tuple[str, str]] | None = None,
            warmup: int = 2, before: Callable[[httpx.Client], None] | None = None,
            home: tuple[str, str] = ("/", "督查督办总览")) -> list[tuple[str, str, float, float]]:
    results = []
    # Pages take a bearer token as the API does (the sign-in form wants a password, and its
    # argon2id hash is not what this measures).
    with httpx.Client(base_url=base, timeout=600, follow_redirects=True,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        signed = client.get(home[0])
        if signed.status_code != 200 or home[1] not in signed.text:
            raise SystemExit(f"sign-in failed: {signed.status_code}")
        for label, path in paths or pages():
            for _ in range(warmup):  # warm-up: first-use caches (unit names, templates)
                client.get(path).raise_for_status()
            times = []
            for _ in range(count):
                if before is not None:
                    before(client)
                started = time.perf_counter()
                client.get(path).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            results.append((label, path, statistics.median(times), times[int(0.9 * (len(times) - 1))]))
            print(f"{label} {path}: median {results[-1][2]:,.0f} ms", file=sys.stderr, flush=True)
    return results


def record(results: list[tuple[str, str, float, float]], count: int, where: str | None = None,
           writes: bool = False) -> str:
    command = (f".venv/bin/python bench/pages.py --requests {count}" + (f" --database {where.split()[0]}" if where else "")
               + (" --write-between" if writes else ""))
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        (f"Command: `{command}` ({where or 'demo district, SQLite'}, one "
         "uvicorn process on loopback, signed in as 督查督办, and as a user of the unit of an open "
         f"measure for the pages marked {AGENCY}"
         + ("; one urging written through the API before each timed request" if writes else "") + ")."),
        f"Machine: {machine()}.",
        "",
        f"| page | path | median ms | p90 ms | under {TARGET_MS} ms |",
        "|---|---|---:|---:|---|",
        *(f"| {label} | `{path}` | {median:.1f} | {p90:.1f} | {'yes' if median < TARGET_MS else 'NO'} |"
          for label, path, median, p90 in results),
        "",
    ]
    return "\n".join(lines)


def append(block: str) -> None:
    """Under the "Dashboard pages" heading, after its earlier runs and before the next section."""
    text = RECORD.read_text() if RECORD.exists() else "# Benchmarks\n"
    if HEADING not in text:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\nEach dashboard page, median of N requests over HTTP; " \
            f"target < {TARGET_MS} ms. Run by `bench/pages.py`.\n"
    start = text.index(HEADING) + len(HEADING)
    following = text.find("\n## ", start)
    end = len(text) if following < 0 else following + 1
    # Above make bench's marker too: what follows it is rewritten by every make bench.
    marker = text.find(MARK, start)
    if 0 <= marker < end:
        end = marker
    before = text[:end].rstrip("\n") + "\n\n" + block
    RECORD.write_text(before + ("\n" + text[end:] if end < len(text) else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--no-record", action="store_true", help="print only, do not append to docs/BENCHMARKS.md")
    parser.add_argument("--database", default=None, help="an existing PostgreSQL database written by bench.generate")
    parser.add_argument("--keys", default=None, help="the directory of that database's key files")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured requests before each page's")
    parser.add_argument("--write-between", action="store_true",
                        help="one urging through the API before each timed request (no page reuses an answer)")
    args = parser.parse_args()
    where = None
    with tempfile.TemporaryDirectory(prefix="careledger-bench-") as workdir:
        base, tokens, server, thread, services = serve(Path(args.keys or workdir), args.database)
        try:
            paths = generated_pages(services) if args.database else None
            if args.database:
                total = services.ledger.recorder.max_notification_id() or 0
                where = f"{args.database} (PostgreSQL, {total:,} events from bench.generate)"
            before = urging_each_time(open_issue(services), tokens["supervisor"]) if args.write_between else None
            results = measure(base, tokens["supervisor"], args.requests, paths, args.warmup, before)
            issue, measure_id, unit = open_measure(services)
            results += measure(base, agency_token(services, unit), args.requests, agency_pages(issue, measure_id),
                               args.warmup, before, home=("/todo", "待办"))
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            services.close()
    block = record(results, args.requests, where, args.write_between)
    print(block)
    if not args.no_record:
        append(block)
    slow = [label for label, _, median, _ in results if median >= TARGET_MS]
    if slow:
        print(f"over {TARGET_MS} ms: {'、'.join(slow)}", file=sys.stderr)


if __name__ == "__main__":
    main()
