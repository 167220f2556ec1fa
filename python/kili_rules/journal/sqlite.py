"""The embedded store: one SQLite file in WAL mode, one server process at a time."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import Any

from .base import TABLE, Journal

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    next_at REAL NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    last_error TEXT,
    steps TEXT NOT NULL DEFAULT '{{}}',
    result TEXT
);
CREATE INDEX IF NOT EXISTS {TABLE}_due ON {TABLE} (state, next_at);
"""


class StoreBusy(OSError):
    """Another server process already works from this SQLite file."""


class SQLiteJournal(Journal):
    """Events in one SQLite file (WAL, ``synchronous=FULL``: a commit survives a crash).

    ``lock=True`` (the server) takes an exclusive lock on ``PATH.lock``: one server per file,
    so at start every lease left in the file belongs to a process that is gone and is
    released at once. Several replicas need the PostgreSQL store.
    """

    description = "SQLite journal"

    def __init__(self, path: str | os.PathLike[str], *, lock: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.path = Path(path)
        self.description = f"SQLite journal {self.path}"
        self._lock_file: Any = None
        if self.path.parent and not self.path.parent.exists():
            raise FileNotFoundError(
                f"the directory of the store does not exist: {self.path.parent}"
            )
        if lock:
            handle = open(f"{self.path}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise StoreBusy(
                    f"{self.path} is used by another kili-rules server; a SQLite store serves "
                    "one process (use --store postgresql://... for replicas)"
                ) from None
            self._lock_file = handle
        conn = self._connect()
        try:
            conn.executescript(SCHEMA)
            conn.commit()
        finally:
            conn.close()

    @property
    def locked(self) -> bool:
        """True when this process holds the file (see ``lock``)."""
        return self._lock_file is not None

    def _connect(self) -> Any:
        conn = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return _AutoBegin(conn)

    def _begin(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        super().close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


class _AutoBegin:
    """A sqlite3 connection in autocommit mode whose commit/rollback are safe to call always."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executescript(self, sql: str) -> None:
        self._conn.executescript(sql)

    def cursor(self) -> sqlite3.Cursor:
        return self._conn.cursor()

    def commit(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()
