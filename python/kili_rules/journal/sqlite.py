"""The embedded store: one SQLite file with a rollback journal, one server process at a time."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import Any, NoReturn

from .base import KEYS_TABLE, TABLE, Journal
from .model import State, StoreUnavailable

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
CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (key TEXT PRIMARY KEY, done_at REAL NOT NULL);
"""


class StoreBusy(OSError):
    """Another server process already works from this SQLite file."""


class SQLiteJournal(Journal):
    """Events in one SQLite file (``synchronous=FULL``: a commit survives a crash).

    The file uses a rollback journal (``journal_mode=DELETE``), not WAL: WAL keeps its index
    in a memory-mapped ``PATH-shm``, and a mapped page past the end of a truncated ``-shm``
    kills the process with SIGBUS (no log line, no answer). A rollback journal maps nothing
    (``mmap_size`` stays 0), so no file fault can be a signal; it is still shared through
    ordinary file locks, so ``kili-rules events`` reads, replays and purges a store a server
    is running on. The group commit keeps the extra fsyncs per commit a cost per batch.

    ``lock=True`` (the server) takes an exclusive ``flock`` on the database file itself: the
    lock belongs to the file (its inode), so a symlink or a second path to the same file
    meets it too. One server per file, so at start every lease left in the file belongs to
    a process that is gone and is released at once. Several replicas need PostgreSQL.

    Every commit batch is verified before any request is answered: the path must still name
    the file (device and inode) this store opened. A deleted or replaced store makes the
    journal unavailable for good (intake 503, ``/status`` ``store_unavailable``)
    instead of committing into a file no restart sees.
    """

    # a file the process cannot write (read-only, its folder read-only, gone): the store is down
    store_errors = (OSError, sqlite3.OperationalError)

    description = "SQLite journal"

    def __init__(self, path: str | os.PathLike[str], *, lock: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.path = Path(path)
        self.description = f"SQLite journal {self.path}"
        self._lock_fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self.lost: str | None = None  # set once the file is found deleted or replaced
        if self.path.parent and not self.path.parent.exists():
            raise FileNotFoundError(
                f"the directory of the store does not exist: {self.path.parent}"
            )
        if lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise StoreBusy(
                    f"{self.path} is used by another kili-rules server (the lock is on the "
                    "file itself, whatever path names it); a SQLite store serves one process "
                    "(use --store postgresql://... for replicas)"
                ) from None
            self._lock_fd = fd
        conn = self._connect()
        try:
            conn.executescript(SCHEMA)
            conn.commit()
        finally:
            conn.close()
        if self._lock_fd is not None:
            st = os.fstat(self._lock_fd)
        else:
            st = os.stat(self.path)
        self._identity = (st.st_dev, st.st_ino)

    @property
    def locked(self) -> bool:
        """True when this process holds the file (see ``lock``)."""
        return self._lock_fd is not None

    def _check_identity(self) -> None:
        if self.lost is not None:
            raise StoreUnavailable(self.lost)
        if self._identity is None:  # opening: nothing to compare with yet
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._lose(f"the store {self.path} was deleted while in use")
        except OSError as exc:
            self._lose(f"the store {self.path} cannot be checked: {exc}")
        if (st.st_dev, st.st_ino) != self._identity:
            self._lose(f"the store {self.path} was replaced by another file while in use")

    def _lose(self, reason: str) -> NoReturn:
        self.lost = f"{reason}; events committed since may be lost: restart the server"
        raise StoreUnavailable(self.lost)

    def _connect(self) -> Any:
        self._check_identity()
        if self._identity is None:
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        else:  # never create a new empty file where the store was (mode=rw)
            conn = sqlite3.connect(
                f"{self.path.absolute().as_uri()}?mode=rw",
                uri=True,
                timeout=30.0,
                isolation_level=None,
                check_same_thread=False,
            )
        # A store made in WAL mode by an older version is converted on its first open.
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
        if mode is None or str(mode[0]).lower() != "delete":
            conn.close()
            raise StoreUnavailable(
                f"{self.path}: cannot leave WAL mode (journal_mode is {mode and mode[0]}); "
                "stop every other process using the file and retry"
            )
        conn.execute("PRAGMA mmap_size=0")  # nothing mapped: no SIGBUS on a file fault
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return _AutoBegin(conn)

    def _verify(self, conn: Any) -> None:
        # the rollback journal is gone once a commit returns: the file is all there is
        self._check_identity()

    def _begin(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def purge(self, *, state: State, older_than_seconds: float = 0.0) -> int:
        """Delete, then give the space back to the file system (VACUUM):
        a purge that leaves the file as large as before frees nothing."""
        count = super().purge(state=state, older_than_seconds=older_than_seconds)
        if count:
            conn = self._connect()
            try:
                conn.execute("VACUUM")
            finally:
                conn.close()
        return count

    def close(self) -> None:
        super().close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


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
