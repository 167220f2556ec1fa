"""The shared store for replicas: PostgreSQL through psycopg 3 (extra ``[postgres]``).

Several server processes share the table; leases are taken with ``FOR UPDATE SKIP LOCKED``
so two workers never take the same event, and a lease left by a dead process expires.
"""

from __future__ import annotations

from typing import Any

from .base import KEYS_TABLE, TABLE, Journal

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    project_id TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    label_id TEXT NOT NULL,
    handler TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    run_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    next_at DOUBLE PRECISION NOT NULL,
    lease_owner TEXT,
    lease_until DOUBLE PRECISION,
    last_error TEXT,
    steps TEXT NOT NULL DEFAULT '{{}}',
    result TEXT
);
CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (state, next_at);
CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (key TEXT PRIMARY KEY, done_at REAL NOT NULL);
"""


class PostgresJournal(Journal):
    """Events in a PostgreSQL table, shared by every server process given the same URL."""

    placeholder = "%s"
    lease_lock = "FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(**options)
        try:
            import psycopg
        except ImportError as exc:
            raise ImportError(
                "a postgresql:// store needs psycopg 3: pip install 'kili-rules[postgres]'"
            ) from exc
        self.url = url
        self.description = "PostgreSQL journal"
        # the server refusing writes (read-only, gone): the store is down, /status says so
        self.store_errors = (OSError, psycopg.OperationalError)
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                # Two processes starting together: one creates, the other waits on the lock.
                cur.execute("SELECT pg_advisory_xact_lock(4242001)")
                cur.execute(SCHEMA)
            conn.commit()
        finally:
            conn.close()

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, connect_timeout=10)

    def _begin(self, conn: Any) -> None:
        if conn.closed:
            raise ConnectionError("the PostgreSQL connection is closed")
