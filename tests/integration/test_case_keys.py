"""Case keys on SQLite and PostgreSQL, beside a real event store in the same database.

The scans read what an attacker with the database files would read: every file of the
SQLite database, and for PostgreSQL every row of every table and every file of the
database's directory (after a checkpoint, so the pages have reached the disk).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder
from psycopg_pool import ConnectionPool

from application.ledger import DateAsISO
from application.personal_data import ERASED
from domain.base import Stamp, recording_at
from domain.case import ChildCase
from domain.case_personal import case_id, new_case_number
from domain.person import check_person
from infrastructure.case_keys import (
    KeyWrap,
    MasterKeyError,
    PostgresCaseKeys,
    SQLiteCaseKeys,
    load_master_key,
)
from infrastructure.sealing import CaseKeyExists, CaseKeys, seal, unseal
from tests.backends import require_postgres, scratch_database, scratch_schema

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=timezone.utc)
BORN = date(2015, 6, 1)
NAME = "王小明"
ID_NUMBER = "110105201506011238"
ADDRESS = "三店村五组十八号"
STREET = "径河街道"  # recorded in clear: the control that shows the scans see the events

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("postgres-pool", marks=pytest.mark.postgres),
]


class CaseStore(Application[UUID]):
    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


def forms(value: str | bytes) -> list[bytes]:
    """Every way the value could sit in a file or a row: raw, JSON-escaped, hex."""
    raw = value.encode() if isinstance(value, str) else value
    found = [raw, raw.hex().encode()]
    if isinstance(value, str):
        found.append(json.dumps(value).strip('"').encode())
    return found


@dataclass
class Backend:
    keys: CaseKeys
    store: CaseStore
    scan: Callable[[dict[str, str | bytes]], set[str]]  # names of the needles found
    wrapped: Callable[[UUID], bytes]  # the stored row, read past the CaseKeys API
    keys_under: Callable[[bytes], CaseKeys]  # the same table under another master key


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    require_postgres()
    with scratch_database() as url:
        yield url


@pytest.fixture
def master_key(tmp_path: Path) -> bytes:
    return load_master_key(tmp_path / "secrets" / "data-key")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, master_key: bytes) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield from sqlite_backend(tmp_path, master_key)
    else:
        url = request.getfixturevalue("postgres_url")
        with scratch_schema(url) as schema:
            yield from postgres_backend(url, schema, master_key, pooled=request.param.endswith("pool"))


def sqlite_backend(tmp_path: Path, master_key: bytes) -> Iterator[Backend]:
    path = tmp_path / "careledger.sqlite"
    store = CaseStore(env={
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "CREATE_TABLE": "y",
    })
    keys = SQLiteCaseKeys(path, master_key)

    def scan(needles: dict[str, str | bytes]) -> set[str]:
        files = [p.read_bytes() for p in tmp_path.glob("careledger.sqlite*")]
        return {name for name, value in needles.items()
                if any(f in blob for f in forms(value) for blob in files)}

    def wrapped(case: UUID) -> bytes:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return bytes(conn.execute(
                "SELECT wrapped_key FROM case_keys WHERE case_id=?", (str(case),)
            ).fetchone()[0])

    yield Backend(keys, store, scan, wrapped, lambda master: SQLiteCaseKeys(path, master))
    store.close()


def postgres_backend(url: str, schema: str, master_key: bytes, *, pooled: bool) -> Iterator[Backend]:
    parts = psycopg.conninfo.conninfo_to_dict(url)
    store = CaseStore(env={
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(parts["dbname"]),
        "POSTGRES_HOST": str(parts.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(parts.get("port", 5432)),
        "POSTGRES_USER": str(parts.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(parts.get("password", "")),
        "POSTGRES_SCHEMA": schema,
        "CREATE_TABLE": "y",
    })
    pool = ConnectionPool(url, min_size=1, max_size=2, open=True) if pooled else None
    keys = PostgresCaseKeys(pool or url, master_key, schema=schema)

    def scan(needles: dict[str, str | bytes]) -> set[str]:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            rows = [
                str(row[0]).encode()
                for table_schema, table in conn.execute(
                    "SELECT schemaname, tablename FROM pg_tables "
                    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                ).fetchall()
                for row in conn.execute(
                    psycopg.sql.SQL("SELECT t::text FROM {} t").format(
                        psycopg.sql.Identifier(table_schema, table)
                    )
                ).fetchall()
            ]
            directory = conn.execute(
                "SELECT 'base/' || oid FROM pg_database WHERE datname = current_database()"
            ).fetchone()[0]
            files = [
                bytes(conn.execute("SELECT pg_read_binary_file(%s)", (f"{directory}/{name}",))
                      .fetchone()[0])
                for (name,) in conn.execute("SELECT pg_ls_dir(%s)", (directory,)).fetchall()
                if name[0].isdigit()
            ]
        return {name for name, value in needles.items()
                if any(f in blob for f in forms(value) for blob in rows + files)}

    def wrapped(case: UUID) -> bytes:
        with psycopg.connect(url) as conn:
            return bytes(conn.execute(
                psycopg.sql.SQL("SELECT wrapped_key FROM {} WHERE case_id=%s").format(
                    psycopg.sql.Identifier(schema, "case_keys")
                ), (case,),
            ).fetchone()[0])

    yield Backend(keys, store, scan, wrapped,
                  lambda master: PostgresCaseKeys(pool or url, master, schema=schema))
    store.close()
    if pool is not None:
        pool.close()


def stamp() -> Stamp:
    return Stamp.make(user="civil-clerk", unit="civil", recorded_at=NOW)


def register(backend: Backend) -> tuple[ChildCase, bytes, dict[str, Any]]:
    number = new_case_number(2024)
    key = backend.keys.create(case_id(number))
    person = check_person(name=NAME, id_number=ID_NUMBER, birth_date=BORN, address=ADDRESS)
    with recording_at(NOW):
        case = ChildCase.register(
            stamp(), case_number=number, street=STREET, community="三店村",
            household_local=True, birth_date=BORN, registering_unit="civil",
            sealed=seal(key, case_id(number), person),
        )
        case.file_mandatory_report(
            stamp(), reporter="school", nature="abuse",
            sealed=seal(key, case.id, {"details": f"{NAME}身上有伤"}),
        )
    backend.store.save(case)
    return case, key, person


def test_personal_data_round_trips_through_the_store(backend: Backend) -> None:
    case, _, person = register(backend)
    loaded = backend.store.repository.get(case.id)
    key = backend.keys.get(case.id)
    assert unseal(key, case.id, loaded.sealed) == person
    assert unseal(key, case.id, loaded.report("MR1")["sealed"]) == {"details": f"{NAME}身上有伤"}


def test_erasure_leaves_the_events_and_nothing_that_opens_them(backend: Backend) -> None:
    # A case registered before and one after share the key table's page with the erased
    # row, so the page lives on and only a secure delete removes the row's bytes from it.
    bystanders = [register(backend)[0] for _ in range(2)]
    case, key, _ = register(backend)
    bystanders.append(register(backend)[0])
    wrapped = backend.wrapped(case.id)
    kept = {f"bystander_{n}": backend.wrapped(b.id) for n, b in enumerate(bystanders)}
    secrets = {"name": NAME, "id_number": ID_NUMBER, "address": ADDRESS, "case_key": key}
    # The controls: the scan finds what is in clear, and wrapped keys where they are stored.
    assert backend.scan({**secrets, **kept, "street": STREET, "wrapped_key": wrapped}) == {
        "street", "wrapped_key", *kept
    }

    backend.keys.erase(case.id)
    with recording_at(NOW):
        case.erase_personal_data(stamp(), reason="保存期限届满")
    backend.store.save(case)

    loaded = backend.store.repository.get(case.id)
    assert loaded.version == 3 and loaded.erased and loaded.case_number == case.case_number
    assert backend.keys.get(case.id) is None
    assert unseal(backend.keys.get(case.id), case.id, loaded.sealed) is ERASED
    assert unseal(backend.keys.get(case.id), case.id, loaded.report("MR1")["sealed"]) is ERASED
    assert backend.scan({**secrets, **kept, "street": STREET, "wrapped_key": wrapped}) == {
        "street", *kept
    }


def test_erasure_is_idempotent_and_touches_only_its_case(backend: Backend) -> None:
    first, _, person = register(backend)
    second, second_key, _ = register(backend)
    backend.keys.erase(first.id)
    backend.keys.erase(first.id)
    assert backend.keys.get(first.id) is None
    assert backend.keys.get(second.id) == second_key
    assert unseal(second_key, second.id, second.sealed) == person


def test_sqlite_would_keep_deleted_bytes_without_secure_delete(tmp_path: Path) -> None:
    """The control for the erasure scan: a plain DELETE leaves the row in the file, which
    is why SQLiteCaseKeys turns secure_delete on whatever the SQLite build's default."""
    path = tmp_path / "plain.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA secure_delete=OFF")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(n, bytes([65 + n]) * 60) for n in range(4)])
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA secure_delete=OFF")
        conn.execute("DELETE FROM t WHERE id = 1")
    assert b"B" * 60 in path.read_bytes()


def test_an_in_memory_store_keeps_its_keys(master_key: bytes) -> None:
    keys = SQLiteCaseKeys(":memory:", master_key)
    case = uuid4()
    key = keys.create(case)
    assert keys.get(case) == key
    keys.erase(case)
    assert keys.get(case) is None
    keys.close()


def test_a_case_has_one_key(backend: Backend) -> None:
    case = uuid4()
    key = backend.keys.create(case)
    with pytest.raises(CaseKeyExists):
        backend.keys.create(case)
    assert backend.keys.get(case) == key


def test_keys_do_not_open_under_another_master_key(
    backend: Backend, tmp_path: Path
) -> None:
    case, _, _ = register(backend)
    stranger = backend.keys_under(load_master_key(tmp_path / "other-key"))
    with pytest.raises(MasterKeyError):
        stranger.get(case.id)


def test_the_master_key_file_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "data-key"
    key = load_master_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["data-key"]


def test_a_master_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data-key"
    load_master_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(MasterKeyError):
        load_master_key(path)
    os.chmod(path, 0o600)
    path.write_text("not a key\n")
    with pytest.raises(MasterKeyError):
        load_master_key(path)


def test_a_wrapped_key_moved_to_another_case_does_not_open(master_key: bytes) -> None:
    wrap = KeyWrap(master_key)
    case, other = uuid4(), uuid4()
    wrapped = wrap.wrap(case, b"k" * 32)
    assert wrap.unwrap(case, wrapped) == b"k" * 32
    with pytest.raises(MasterKeyError):
        wrap.unwrap(other, wrapped)


@pytest.mark.postgres
@pytest.mark.parametrize("wait", [10.0, 0.0])
def test_postgres_erasure_outwaits_a_transaction_that_could_still_see_the_key(
    postgres_url: str, master_key: bytes, wait: float
) -> None:
    with scratch_schema(postgres_url) as schema:
        backends = postgres_backend(postgres_url, schema, master_key, pooled=False)
        backend = next(backends)
        try:
            register(backend)  # a bystander keeps the page alive
            case, _, _ = register(backend)
            wrapped = backend.wrapped(case.id)
            keys = PostgresCaseKeys(postgres_url, master_key, schema=schema, horizon_wait=wait)
            # A transaction whose snapshot predates the erasure: while it runs, the deleted
            # row is still visible to it, and VACUUM FULL must copy it along. It reads no
            # table, so no lock makes VACUUM FULL wait for it.
            reader = psycopg.connect(postgres_url)
            reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            reader.execute("SELECT 1")
            threading.Timer(0.3, reader.commit).start()
            keys.erase(case.id)
            time.sleep(0.4)
            reader.close()
            found = backend.scan({"wrapped_key": wrapped})
            # Without the wait the copy survives: the control that shows the scan would see it.
            assert found == (set() if wait else {"wrapped_key"})
        finally:
            next(backends, None)
