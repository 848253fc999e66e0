"""What every benchmark shares: a scratch database per run, medians, and the table writer.

Every figure a script writes is a ratio against a baseline measured in the same run on the
same scratch database, so the noise of a shared two-core machine cancels as far as it can.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "BENCHMARKS.md"
# The same run's figures for a script to read: one entry per figure against its goal.
FIGURES = ROOT / "docs" / "benchmarks.json"
PG_ADMIN = os.environ.get("BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
BACKENDS = ("postgres", "sqlite")


@dataclass
class Scratch:
    """A throw-away store: a PostgreSQL database or an SQLite file, and its key files."""

    backend: str
    url: str
    directory: Path
    dbname: str = ""

    def env(self) -> dict[str, str]:
        """CARELEDGER_* settings for this store (also for a server started as a subprocess)."""
        return {
            "CARELEDGER_DATABASE_URL": self.url,
            "CARELEDGER_SIGNING_KEY_FILE": str(self.directory / "signing-key.pem"),
            "CARELEDGER_DATA_KEY_FILE": str(self.directory / "data-key"),
            "CARELEDGER_IDEMPOTENCY_KEY_FILE": str(self.directory / "idempotency-key"),
            "CARELEDGER_POOL_SIZE": "8",
        }

    def settings(self) -> Any:
        from infrastructure.settings import Settings

        return Settings(
            database_url=self.url,
            signing_key_file=self.directory / "signing-key.pem",
            data_key_file=self.directory / "data-key",
            idempotency_key_file=self.directory / "idempotency-key",
            pool_size=8,
        )

    def connect(self) -> Any:
        """A raw DB-API connection to the same store (the baselines read through it)."""
        if self.backend == "postgres":
            import psycopg

            return psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={self.dbname}")
        import sqlite3

        return sqlite3.connect(self.url.removeprefix("sqlite:///"))


@contextlib.contextmanager
def scratch(backend: str, label: str) -> Iterator[Scratch]:
    directory = Path(tempfile.mkdtemp(prefix=f"careledger-bench-{label}-"))
    try:
        if backend == "postgres":
            import psycopg

            name = f"bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                yield Scratch(backend, f"postgresql://postgres@127.0.0.1:5432/{name}", directory, name)
            finally:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            yield Scratch(backend, f"sqlite:///{directory}/ledger.sqlite", directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# ---- statistics --------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat(fn: Callable[[], float], times: int = 5) -> list[float]:
    return [fn() for _ in range(times)]


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}×" if baseline else "–"


def rate(value: float) -> str:
    return f"{value:,.0f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


# ---- the document ------------------------------------------------------------------------


def versions() -> dict[str, str]:
    from importlib.metadata import version

    found = {"python": platform.python_version()}
    for package in ("eventsourcing", "psycopg", "uvicorn", "fastapi"):
        try:
            found[package] = version(package)
        except Exception:  # noqa: BLE001 — a missing package is just not listed
            pass
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            found["postgresql"] = row[0] if row else "?"
    except Exception:  # noqa: BLE001
        found["postgresql"] = "unreachable"
    import sqlite3

    found["sqlite"] = sqlite3.sqlite_version
    return found


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def generate(services: Any, size: int, label: str) -> None:
    """Extends the ledger's generated district history to ``size`` events, reporting the time."""
    from interfaces.district_generator import DistrictGenerator

    gen = DistrictGenerator(services, batch=100)
    t0 = time.perf_counter()
    gen.extend(size)
    progress(f"{label}: {gen.written:,} events generated ({time.perf_counter() - t0:.0f} s)")


def machine() -> str:
    cpu = cpu_name()
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}"


MARK = "<!-- make bench: everything below is rewritten by bench/run.py -->"


def write_header(command: str) -> None:
    """Starts this run's part of docs/BENCHMARKS.md afresh: what precedes MARK (other
    benchmarks' sections, e.g. bench/pages.py's "Dashboard pages") is kept; the rest is the
    last run of `make bench`."""
    v = versions()
    measured = commit()  # before this run rewrites the document
    kept = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    kept = kept.split(MARK)[0].rstrip() + "\n\n"
    lines = [
        MARK,
        "",
        "## Against the limits: `make bench`",
        "",
        "Each section below was appended by one script of bench/ in the run. Every figure sits",
        "next to a baseline measured in the same run on the same scratch database, and the ratio",
        "is what to read: the machine is shared and noisy, so absolute rates move by tens of",
        "percent from run to run. Medians of at least five repetitions unless a row says otherwise.",
        "",
        f"- run: {time.strftime('%Y-%m-%d %H:%M %Z')}, command `{command}`",
        f"- machine: {machine()}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "- loopback only; PostgreSQL on the same two cores as the client and the server",
        "",
    ]
    DOC.write_text(kept + "\n".join(lines) + "\n")
    FIGURES.write_text(json.dumps({
        "run": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": command, "commit": measured,
        "machine": machine(), "versions": v, "figures": [],
    }, ensure_ascii=False, indent=1) + "\n")


def commit() -> str:
    """The commit measured, with "+changes" when the worktree differs from it."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def figure(name: str, *, goal: str, met: bool, ratio: float | None = None, seconds: float | None = None,
           **extra: Any) -> None:
    """Adds one figure to docs/benchmarks.json: a ``ratio`` (of the path to its baseline,
    measured side by side) or ``seconds``, the ``goal`` it is held to (e.g. ">= 0.5",
    "< 0.05") and whether it is ``met``; with the 1-minute load average beside it."""
    data = json.loads(FIGURES.read_text()) if FIGURES.exists() else {"figures": []}
    entry: dict[str, Any] = {"name": name}
    if ratio is not None:
        entry["ratio"] = round(ratio, 3)
    if seconds is not None:
        entry["seconds"] = round(seconds, 4)
    entry.update(goal=goal, met=bool(met), load=round(os.getloadavg()[0], 1), **extra)
    data["figures"].append(entry)
    FIGURES.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], notes: Sequence[str] = ()) -> str:
    out = [f"## {title}", ""]
    out.append("| " + " | ".join(columns) + " |")
    out.append("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        out.append("| " + " | ".join(str(c) for c in row) + " |")
    if notes:
        out.append("")
        out.extend(f"- {n}" for n in notes)
    out.append("")
    text = "\n".join(out) + "\n"
    print(text, flush=True)
    with DOC.open("a") as f:
        f.write(text)
    return text


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build_services(s: Scratch, size: int | None = None, label: str = "") -> Any:
    """The store's services; with ``size``, that many events generated into it first."""
    from interfaces.bootstrap import build

    services = build(s.settings())
    if size:
        try:
            generate(services, size, label)
        except BaseException:
            services.close()
            raise
    return services


# ---- the store a benchmark measures ------------------------------------------------------


def store_parser(description: str) -> argparse.ArgumentParser:
    """The arguments of a benchmark that measures a store: a scratch one of ``--events``
    generated events on ``--backend``, or an existing one."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--url", help="an existing store written by bench.generate (nothing is generated)")
    parser.add_argument("--keys", type=Path, help="with --url: the directory of its signing-key.pem and data-key")
    return parser


@contextlib.contextmanager
def chosen_store(args: argparse.Namespace, label: str) -> Iterator[tuple[Scratch, int | None]]:
    """The store the arguments name, and how many events to generate into it (None: an
    existing store, measured as it is)."""
    if args.url:
        dbname = args.url.rsplit("/", 1)[-1] if args.url.startswith("postgresql") else ""
        yield Scratch("postgres" if dbname else "sqlite", args.url, args.keys, dbname), None
        return
    with scratch(args.backend, label) as s:
        yield s, args.events


def append_under(heading: str, intro: str, text: str) -> None:
    """``text`` at the end of docs/BENCHMARKS.md's section ``heading`` (made, with ``intro``,
    at the end of the file when missing): for the benches run by hand, not by make bench."""
    doc = DOC.read_text()
    if heading not in doc:
        doc = doc.rstrip("\n") + f"\n\n{heading}\n\n{intro}\n"
    start = doc.index(heading) + len(heading)
    following = doc.find("\n## ", start)
    end = len(doc) if following < 0 else following + 1
    DOC.write_text(doc[:end].rstrip("\n") + "\n\n" + text + ("\n" + doc[end:] if end < len(doc) else ""))
