"""Settings, read from the environment by pydantic-settings (see API.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARELEDGER_", extra="ignore")

    database_url: str = "sqlite:///./var/careledger.sqlite"
    # A PostgreSQL hot standby of database_url (streaming replication): the views, the audit
    # index and the Merkle proofs are read there (infrastructure.read_replica); writes and
    # the followers stay on database_url. Unset: everything reads database_url.
    read_database_url: str | None = None
    # How long a read that needs a position (min_position, a page after a write) waits for
    # the standby to have replayed it before the primary answers it.
    read_replica_wait_seconds: float = Field(default=1.0, ge=0)
    # After the standby fails a read, the primary answers for this long before it is tried again.
    read_replica_retry_seconds: float = Field(default=5.0, gt=0)
    signing_key_file: Path = Path("./var/signing-key.pem")
    data_key_file: Path = Path("./var/data-key")
    # Keys the fingerprints of commands sent with an Idempotency-Key; created on first start.
    idempotency_key_file: Path = Path("./var/idempotency-key")
    # Evidence files (佐证材料), each by its SHA-256; a child's sealed under the case key.
    evidence_dir: Path = Path("./var/evidence")
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # PostgreSQL schema the tables live in (one per district when a server holds several).
    database_schema: str = "public"
    pool_size: int = Field(default=4, ge=2)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # An entry whose claimed time is this many days before it was recorded counts as late.
    late_entry_days: int = Field(default=7, ge=0)
    # "Yellow" when a deadline falls within this many days.
    due_soon_days: int = Field(default=14, ge=0)
    # How long a read with min_position waits for the views before answering 503.
    min_position_wait_seconds: float = Field(default=5.0, gt=0)
    # /readyz fails when a view lags the log by more than this many events.
    ready_max_lag: int = Field(default=1000, ge=0)
    # A case not visited or reassessed within this many days is flagged in the child ledger.
    revisit_days: int = Field(default=90, ge=1)
    # Create the library's tables at start; off for workers started after `careledger migrate`.
    create_tables: bool = True
    # Who keeps the views, the Merkle log and the audit index up to date on PostgreSQL:
    # the serving process itself ("in-process"), or a separate `careledger project`
    # process ("external"). SQLite always follows in-process.
    followers: Literal["in-process", "external"] = "in-process"
    # Each process keeps the live views' briefs in memory (infrastructure.brief_cache):
    # views and list pages then read only what changed; off, every view decodes them all.
    views_cache: bool = True
    # On SIGTERM, how long uvicorn lets in-flight requests finish before closing them.
    graceful_shutdown_seconds: float = Field(default=30.0, gt=0)
    # A request not answered within this many seconds (its database stalled, say) gets a 504
    # problem answer; the work goes on behind it, so a retry with the same Idempotency-Key
    # returns what it did.
    request_deadline_seconds: float = Field(default=30.0, gt=0)
    # Public keys (PEM files or directories of them) of signing keys rotated out: tree
    # heads they signed still verify (`careledger verify`).
    retired_public_keys: list[Path] = []
    # How long a bearer token signs in after it is issued (tokens issued before tokens had
    # an expiry: this long after they were issued).
    token_days: int = Field(default=90, ge=1, le=3650)
    # A dashboard session ends after this long without a request, and this long after sign-in.
    session_idle_minutes: int = Field(default=30, ge=1)
    session_hours: int = Field(default=12, ge=1)
    # This many failed password sign-ins for one user name or from one address within
    # sign_in_lock_minutes lock it for sign_in_lock_minutes.
    sign_in_failures: int = Field(default=5, ge=1)
    sign_in_lock_minutes: int = Field(default=15, ge=1)
    # Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (addresses or
    # networks, uvicorn's forwarded_allow_ips); none by default. A request through one of them
    # came over HTTPS when its proxy says so, and its client is the address the proxy names.
    # Comma-separated (uvicorn's form) or a JSON list.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # Test each pooled connection with a round trip before lending it. Off: a connection
    # broken by a server restart fails its query, is dropped, and the library retries on a
    # fresh one, so the check costs a round trip per query for nothing.
    database_pre_ping: bool = False
    # Clients allowed to read /metrics (no token): loopback and private networks by default.
    metrics_networks: list[str] = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _addresses(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's own settings for this database URL."""
        common = {
            "CREATE_TABLE": "y" if self.create_tables else "n",
            # The library's JSON transcoder, decoding with orjson (infrastructure/transcoder.py).
            "TRANSCODER_TOPIC": "infrastructure.transcoder:FastJSONTranscoder",
        }
        if self.is_postgres:
            url = urlsplit(self.database_url)
            return {
                **common,
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "APPLICATION_RECORDER_TOPIC": "infrastructure.recorders:PostgresLedgerRecorder",
                "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
                "POSTGRES_HOST": url.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(url.port or 5432),
                "POSTGRES_USER": unquote(url.username or "postgres"),
                "POSTGRES_PASSWORD": unquote(url.password or ""),
                "POSTGRES_SCHEMA": self.database_schema,
                "POSTGRES_POOL_SIZE": str(self.pool_size),
                "POSTGRES_MAX_OVERFLOW": "4",
                "POSTGRES_CONNECT_TIMEOUT": "5",
                "POSTGRES_LOCK_TIMEOUT": "5",
                "POSTGRES_PRE_PING": "y" if self.database_pre_ping else "n",
                # Off on purpose: with it, concurrent writers' notification ids interleave
                # and a follower can miss events.
                "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            }
        if not self.database_url.startswith("sqlite:///"):
            raise ValueError("CARELEDGER_DATABASE_URL must be sqlite:///PATH or postgresql://…")
        path = self.database_url.removeprefix("sqlite:///")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "APPLICATION_RECORDER_TOPIC": "infrastructure.recorders:SQLiteLedgerRecorder",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "10",
        }
