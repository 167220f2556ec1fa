"""The journal interface and its SQL implementation, shared by the SQLite and PostgreSQL stores.

Every write goes through one writer thread per process that commits whatever is queued in one
transaction (a group commit): a request waits for the commit that holds its event, and a
thousand requests a second cost a few hundred commits, not a thousand. Reads use their own
short connections.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from kili_rules import deep_json

from .model import Added, Event, LeaseLost, NewEvent, State, Stats

logger = logging.getLogger("kili_rules.journal")

T = TypeVar("T")
TABLE = "kili_rules_events"
# The keys of processed events, kept when purge or retention deletes their bodies: a replayed
# or redelivered event whose key is here is a duplicate, never run again (64 bytes a key).
KEYS_TABLE = "kili_rules_done_keys"
# Columns in the order rows are read back into Event.
COLUMNS = (
    "id, key, state, project_id, asset_id, label_id, handler, event, payload, run_id, attempts, "
    "created_at, updated_at, next_at, lease_owner, lease_until, last_error, steps, result"
)
MAX_BATCH = 1000
HOUSEKEEPING_SECONDS = 60.0
FAULT_WINDOW = 30.0


class _Op(Generic[T]):
    """One write, run inside the writer's transaction; its future is set after the commit."""

    def __init__(self, run: Callable[[Any], T]) -> None:
        self.run = run
        self.future: Future[T] = Future()


def row_to_event(row: Sequence[Any]) -> Event:
    return Event(
        id=int(row[0]),
        key=row[1],
        state=State(row[2]),
        project_id=row[3],
        asset_id=row[4],
        label_id=row[5],
        handler=row[6],
        event=row[7],
        payload=deep_json.loads(row[8]),  # a label of any depth (the core judges it)
        run_id=row[9],
        attempts=int(row[10]),
        created_at=float(row[11]),
        updated_at=float(row[12]),
        next_at=float(row[13]),
        lease_owner=row[14],
        lease_until=None if row[15] is None else float(row[15]),
        last_error=row[16],
        steps=json.loads(row[17]) if row[17] else {},
        result=json.loads(row[18]) if row[18] else None,
    )


class Journal:
    """A durable event store (one interface, two backends: :class:`SQLiteJournal`,
    :class:`PostgresJournal`; open one with :func:`kili_rules.journal.open_journal`).

    ``max_backlog``: events pending or leased beyond which :meth:`submit` answers FULL.
    ``retention_days``: how long done events (hence their idempotency keys) are kept.
    """

    placeholder = "?"
    # errors of the store itself (not of one operation's data): an op failing with one of
    # these means the store cannot take writes now, and /status must say so
    store_errors: tuple[type[BaseException], ...] = (OSError,)
    lease_lock = ""  # "FOR UPDATE SKIP LOCKED" where the database has it
    description = "journal"

    def __init__(self, *, max_backlog: int = 100_000, retention_days: float = 30.0) -> None:
        if max_backlog < 1:
            raise ValueError("max_backlog must be at least 1")
        if retention_days <= 0:
            raise ValueError("retention_days must be positive")
        self.max_backlog = max_backlog
        self.retention_seconds = retention_days * 86400.0
        self._ops: queue.Queue[_Op[Any] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._closed = False
        self._last_housekeeping = 0.0
        self._batch_backlog: int | None = None  # the writer's count within one batch
        # Why the last commit failed, and when: /status reports the store unavailable for
        # FAULT_WINDOW seconds after it (a full disk refuses some batches, not all).
        self.failure: str | None = None
        self.failure_at = 0.0

    def fault(self) -> str | None:
        """Why the store refused a write within the last FAULT_WINDOW seconds, or None."""
        if self.failure is not None and time.time() - self.failure_at < FAULT_WINDOW:
            return self.failure
        return None

    def _verify(self, conn: Any) -> None:
        """Raise StoreUnavailable unless the commit just made is in the store a restart
        opens (the SQLite store compares the file's identity; PostgreSQL has no file)."""

    # ---- backend hooks -------------------------------------------------------------------

    def _connect(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _begin(self, conn: Any) -> None:
        """Start a write transaction on the writer connection."""

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    # ---- the writer ----------------------------------------------------------------------

    def _start_writer(self) -> None:
        with self._writer_lock:
            if self._closed:
                raise RuntimeError(f"the {self.description} is closed")
            if self._writer is None:
                ready: Future[None] = Future()
                self._writer = threading.Thread(
                    target=self._write_loop, args=(ready,), name="kili-rules-journal", daemon=True
                )
                self._writer.start()
                ready.result()  # raises if the store cannot be opened

    def _write(self, run: Callable[[Any], T]) -> Future[T]:
        if self._writer is None:
            self._start_writer()
        op: _Op[T] = _Op(run)
        self._ops.put(op)
        return op.future

    def _call(self, run: Callable[[Any], T]) -> T:
        return self._write(run).result()

    def _write_loop(self, ready: Future[None]) -> None:
        conn: Any = None
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to the thread that started the writer
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            while True:
                try:
                    first = self._ops.get(timeout=1.0)
                except queue.Empty:
                    if conn is not None:
                        self._housekeeping(conn)
                    continue
                if first is None:
                    return
                batch: list[_Op[Any]] = [first]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        nxt = self._ops.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    batch.append(nxt)
                if conn is None:
                    conn = self._reconnect(batch)
                if conn is not None and not self._commit_batch(conn, batch):
                    _close_quietly(conn)
                    conn = None  # the next batch reconnects
                if stop:
                    return
                if (
                    conn is not None
                    and time.time() - self._last_housekeeping > HOUSEKEEPING_SECONDS
                ):
                    self._housekeeping(conn)
        finally:
            if conn is not None:
                _close_quietly(conn)

    def _reconnect(self, batch: list[_Op[Any]]) -> Any:
        try:
            return self._connect()
        except Exception as exc:
            logger.error("kili-rules journal: cannot reach the store: %s", exc)
            for op in batch:
                op.future.set_exception(exc)
            time.sleep(0.5)
            return None

    def _commit_batch(self, conn: Any, batch: list[_Op[Any]]) -> bool:
        results: list[tuple[_Op[Any], bool, Any]] = []
        try:
            self._begin(conn)
            cur = conn.cursor()
            self._batch_backlog = None
            for index, op in enumerate(batch):
                savepoint = f"op{index}"
                cur.execute(f"SAVEPOINT {savepoint}")
                try:
                    value = op.run(cur)
                except Exception as exc:  # this op fails alone; the batch goes on
                    if isinstance(exc, self.store_errors):  # e.g. a read-only store
                        self.failure = str(exc) or type(exc).__name__
                        self.failure_at = time.time()
                    cur.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                    results.append((op, False, exc))
                else:
                    results.append((op, True, value))
                cur.execute(f"RELEASE SAVEPOINT {savepoint}")
            conn.commit()
            self._verify(conn)
        except Exception as exc:
            self.failure = str(exc) or type(exc).__name__
            self.failure_at = time.time()
            logger.error("kili-rules journal: commit failed: %s", exc)
            try:
                conn.rollback()
            except Exception:  # the connection may be gone; the next batch reconnects
                pass
            for op in batch:
                if not op.future.done():
                    op.future.set_exception(exc)
            return False
        for op, ok, value in results:
            if ok:
                op.future.set_result(value)
            else:
                op.future.set_exception(value)
        return True

    def _housekeeping(self, conn: Any) -> None:
        """Forget done events (and so their keys) older than the retention window."""
        self._last_housekeeping = time.time()
        cutoff = time.time() - self.retention_seconds
        try:
            self._begin(conn)
            cur = conn.cursor()
            cur.execute(
                self._sql(f"DELETE FROM {TABLE} WHERE state = 'done' AND updated_at < ?"), (cutoff,)
            )
            conn.commit()
        except Exception as exc:
            logger.warning("kili-rules journal: housekeeping failed: %s", exc)
            try:
                conn.rollback()
            except Exception:
                pass

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        with self._writer_lock:
            self._closed = True
            writer, self._writer = self._writer, None
        if writer is not None:
            self._ops.put(None)
            writer.join(30)

    # ---- writes --------------------------------------------------------------------------

    def _backlog_in(self, cur: Any) -> int:
        cur.execute(f"SELECT count(*) FROM {TABLE} WHERE state IN ('pending', 'leased')")
        return int(cur.fetchone()[0])

    def submit(self, new: NewEvent) -> Future[Added]:
        """Store ``new`` unless its key is known; the future resolves after the commit."""
        now = time.time()

        def run(cur: Any) -> Added:
            cur.execute(self._sql(f"SELECT 1 FROM {TABLE} WHERE key = ?"), (new.key,))
            if cur.fetchone() is not None:
                return Added.DUPLICATE
            cur.execute(self._sql(f"SELECT 1 FROM {KEYS_TABLE} WHERE key = ?"), (new.key,))
            if cur.fetchone() is not None:  # processed, then its body was purged
                return Added.DUPLICATE
            if self._batch_backlog is None:
                self._batch_backlog = self._backlog_in(cur)
            if self._batch_backlog >= self.max_backlog:
                return Added.FULL
            cur.execute(
                self._sql(
                    f"INSERT INTO {TABLE} (key, state, project_id, asset_id, label_id, handler, "
                    "event, payload, run_id, attempts, created_at, updated_at, next_at, steps) "
                    "VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, '{}') "
                    "ON CONFLICT (key) DO NOTHING"
                ),
                (
                    new.key,
                    new.project_id,
                    new.asset_id,
                    new.label_id,
                    new.handler,
                    new.event,
                    deep_json.dumps(new.payload),
                    new.run_id,
                    now,
                    now,
                    now,
                ),
            )
            if cur.rowcount == 0:  # another process stored it meanwhile
                return Added.DUPLICATE
            self._batch_backlog += 1
            return Added.ACCEPTED

        return self._write(run)

    def lease(self, owner: str, limit: int, lease_seconds: float) -> list[Event]:
        """Take up to ``limit`` due events (pending, or leased with an expired lease)."""
        now = time.time()

        def run(cur: Any) -> list[Event]:
            # Two index range scans on (state, next_at), not one OR over the whole table:
            # expired leases first (their worker is gone), then due pending events.
            events: list[Event] = []
            for where in (
                "state = 'leased' AND lease_until < ? ORDER BY next_at",
                "state = 'pending' AND next_at <= ? ORDER BY next_at",
            ):
                wanted = limit - len(events)
                if wanted <= 0:
                    break
                cur.execute(
                    self._sql(
                        f"UPDATE {TABLE} SET state = 'leased', lease_owner = ?, "
                        "lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE id IN ("
                        f"SELECT id FROM {TABLE} WHERE {where} LIMIT ? {self.lease_lock}) "
                        f"RETURNING {COLUMNS}"
                    ),
                    (owner, now + lease_seconds, now, now, wanted),
                )
                events.extend(row_to_event(row) for row in cur.fetchall())
            return sorted(events, key=lambda e: e.id)

        return self._call(run)

    def _owned_update(self, event_id: int, owner: str, sets: str, params: tuple[Any, ...]) -> None:
        def run(cur: Any) -> None:
            cur.execute(
                self._sql(
                    f"UPDATE {TABLE} SET {sets}, updated_at = ? "
                    "WHERE id = ? AND state = 'leased' AND lease_owner = ?"
                ),
                (*params, time.time(), event_id, owner),
            )
            if cur.rowcount != 1:
                raise LeaseLost(f"event {event_id} is no longer leased by {owner}")

        self._call(run)

    def put_steps(
        self, event_id: int, owner: str, steps: dict[str, Any], lease_seconds: float
    ) -> None:
        """Record the completed steps (durably) and extend the lease."""
        self._owned_update(
            event_id,
            owner,
            "steps = ?, lease_until = ?",
            (json.dumps(steps), time.time() + lease_seconds),
        )

    def put_steps_later(
        self, event_id: int, owner: str, steps: dict[str, Any], lease_seconds: float
    ) -> Future[None]:
        """:meth:`put_steps` without waiting: the future resolves after the commit (raising
        LeaseLost then). The steps of a batch of events go out in one group commit."""
        payload = json.dumps(steps)

        def run(cur: Any) -> None:
            cur.execute(
                self._sql(
                    f"UPDATE {TABLE} SET steps = ?, lease_until = ?, updated_at = ? "
                    "WHERE id = ? AND state = 'leased' AND lease_owner = ?"
                ),
                (payload, time.time() + lease_seconds, time.time(), event_id, owner),
            )
            if cur.rowcount != 1:
                raise LeaseLost(f"event {event_id} is no longer leased by {owner}")

        return self._write(run)

    def hold_many(self, event_ids: Sequence[int], owner: str, lease_seconds: float) -> list[int]:
        """Extend the leases of a batch in one transaction; the ids no longer leased by
        ``owner`` (their leases were taken by another worker), empty when all are held."""
        ids = list(event_ids)

        def run(cur: Any) -> list[int]:
            until, now = time.time() + lease_seconds, time.time()
            lost: list[int] = []
            for event_id in ids:
                cur.execute(
                    self._sql(
                        f"UPDATE {TABLE} SET lease_until = ?, updated_at = ? "
                        "WHERE id = ? AND state = 'leased' AND lease_owner = ?"
                    ),
                    (until, now, event_id, owner),
                )
                if cur.rowcount != 1:
                    lost.append(event_id)
            return lost

        return self._call(run) if ids else []

    def hold(self, event_id: int, owner: str, lease_seconds: float) -> None:
        """Extend one lease, raising LeaseLost unless ``owner`` still holds it."""
        self._owned_update(event_id, owner, "lease_until = ?", (time.time() + lease_seconds,))

    def extend(self, event_ids: Iterable[int], owner: str, lease_seconds: float) -> None:
        """Keep leases alive while their events are being processed."""
        ids = list(event_ids)
        if not ids:
            return
        until = time.time() + lease_seconds

        def run(cur: Any) -> None:
            for event_id in ids:
                cur.execute(
                    self._sql(
                        f"UPDATE {TABLE} SET lease_until = ? "
                        "WHERE id = ? AND state = 'leased' AND lease_owner = ?"
                    ),
                    (until, event_id, owner),
                )

        self._call(run)

    def complete(self, event_id: int, owner: str, result: dict[str, Any]) -> None:
        """Done, and its key recorded apart in the same transaction (outlives its body)."""
        now = time.time()

        def run(cur: Any) -> None:
            cur.execute(
                self._sql(
                    f"UPDATE {TABLE} SET state = 'done', lease_owner = NULL, lease_until = NULL, "
                    "result = ?, updated_at = ? WHERE id = ? AND state = 'leased' "
                    "AND lease_owner = ?"
                ),
                (json.dumps(result), now, event_id, owner),
            )
            if cur.rowcount != 1:
                raise LeaseLost(f"event {event_id} is no longer leased by {owner}")
            cur.execute(
                self._sql(
                    f"INSERT INTO {KEYS_TABLE} (key, done_at) SELECT key, ? FROM {TABLE} "
                    "WHERE id = ? ON CONFLICT (key) DO NOTHING"
                ),
                (now, event_id),
            )

        self._call(run)

    def complete_many(self, results: Sequence[tuple[int, dict[str, Any]]], owner: str) -> list[int]:
        """:meth:`complete` for a batch, in one transaction; the ids not completed because
        ``owner`` no longer leases them (another worker carries on with those)."""
        rows = [(event_id, json.dumps(result)) for event_id, result in results]

        def run(cur: Any) -> list[int]:
            now = time.time()
            lost: list[int] = []
            for event_id, result in rows:
                cur.execute(
                    self._sql(
                        f"UPDATE {TABLE} SET state = 'done', lease_owner = NULL, "
                        "lease_until = NULL, result = ?, updated_at = ? WHERE id = ? "
                        "AND state = 'leased' AND lease_owner = ?"
                    ),
                    (result, now, event_id, owner),
                )
                if cur.rowcount != 1:
                    lost.append(event_id)
                    continue
                cur.execute(
                    self._sql(
                        f"INSERT INTO {KEYS_TABLE} (key, done_at) SELECT key, ? FROM {TABLE} "
                        "WHERE id = ? ON CONFLICT (key) DO NOTHING"
                    ),
                    (now, event_id),
                )
            return lost

        return self._call(run) if rows else []

    def retry(self, event_id: int, owner: str, error: str, at: float) -> None:
        self._owned_update(
            event_id,
            owner,
            "state = 'pending', lease_owner = NULL, lease_until = NULL, "
            "last_error = ?, next_at = ?",
            (error, at),
        )

    def bury(self, event_id: int, owner: str, error: str) -> None:
        """Dead-letter the event (``kili-rules events replay`` brings it back)."""
        self._owned_update(
            event_id,
            owner,
            "state = 'dead', lease_owner = NULL, lease_until = NULL, last_error = ?",
            (error,),
        )

    def release(self, event_ids: Iterable[int], owner: str) -> None:
        """Give leases back untried (shutdown): pending again, the attempt not counted."""
        ids = list(event_ids)
        if not ids:
            return

        def run(cur: Any) -> None:
            for event_id in ids:
                cur.execute(
                    self._sql(
                        f"UPDATE {TABLE} SET state = 'pending', lease_owner = NULL, "
                        "lease_until = NULL, attempts = attempts - 1, next_at = ? "
                        "WHERE id = ? AND state = 'leased' AND lease_owner = ?"
                    ),
                    (time.time(), event_id, owner),
                )

        self._call(run)

    def release_all_leases(self) -> int:
        """Every lease back to pending (a single-process store at start: its holder is gone)."""

        def run(cur: Any) -> int:
            cur.execute(
                self._sql(
                    f"UPDATE {TABLE} SET state = 'pending', lease_owner = NULL, "
                    "lease_until = NULL WHERE state = 'leased'"
                )
            )
            return int(cur.rowcount)

        return self._call(run)

    def replay(self, ids: Sequence[int] = (), *, state: State | None = None) -> int:
        """Make events pending again (with a fresh attempt budget); their done steps are kept,
        so effects already made are not made twice."""
        if not ids and state is None:
            raise ValueError("replay needs event ids or a state")
        now = time.time()

        def run(cur: Any) -> int:
            sets = (
                f"UPDATE {TABLE} SET state = 'pending', attempts = 0, next_at = ?, "
                "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE state != 'leased'"
            )
            count = 0
            if ids:
                for event_id in ids:
                    cur.execute(self._sql(sets + " AND id = ?"), (now, now, event_id))
                    count += cur.rowcount
            else:
                assert state is not None
                cur.execute(self._sql(sets + " AND state = ?"), (now, now, state.value))
                count = cur.rowcount
            return int(count)

        return self._call(run)

    def purge(self, *, state: State, older_than_seconds: float = 0.0) -> int:
        """Delete events in ``state`` last updated more than ``older_than_seconds`` ago."""
        if state is State.LEASED:
            raise ValueError("leased events are being processed: purge pending, done or dead")
        cutoff = time.time() - older_than_seconds

        def run(cur: Any) -> int:
            cur.execute(
                self._sql(f"DELETE FROM {TABLE} WHERE state = ? AND updated_at <= ?"),
                (state.value, cutoff),
            )
            return int(cur.rowcount)

        return self._call(run)

    # ---- reads ---------------------------------------------------------------------------

    def _read(self, run: Callable[[Any], T]) -> T:
        conn = self._connect()
        try:
            return run(conn.cursor())
        finally:
            try:
                conn.rollback()
            finally:
                conn.close()

    def get(self, event_id: int) -> Event | None:
        def run(cur: Any) -> Event | None:
            cur.execute(self._sql(f"SELECT {COLUMNS} FROM {TABLE} WHERE id = ?"), (event_id,))
            row = cur.fetchone()
            return None if row is None else row_to_event(row)

        return self._read(run)

    def list(self, *, state: State | None = None, limit: int = 100, offset: int = 0) -> list[Event]:
        def run(cur: Any) -> list[Event]:
            where = "" if state is None else " WHERE state = ?"
            params: tuple[Any, ...] = () if state is None else (state.value,)
            cur.execute(
                self._sql(f"SELECT {COLUMNS} FROM {TABLE}{where} ORDER BY id LIMIT ? OFFSET ?"),
                (*params, limit, offset),
            )
            return [row_to_event(row) for row in cur.fetchall()]

        return self._read(run)

    def stats(self) -> Stats:
        def run(cur: Any) -> Stats:
            cur.execute(f"SELECT state, count(*) FROM {TABLE} GROUP BY state")
            counts = {row[0]: int(row[1]) for row in cur.fetchall()}
            cur.execute(
                f"SELECT count(*), min(created_at) FROM {TABLE} WHERE state = 'pending' "
                "AND attempts > 0"
            )
            retrying = int(cur.fetchone()[0])
            cur.execute(f"SELECT min(created_at) FROM {TABLE} WHERE state = 'pending'")
            oldest = cur.fetchone()[0]
            cur.execute(
                f"SELECT last_error, updated_at FROM {TABLE} WHERE last_error IS NOT NULL "
                "ORDER BY updated_at DESC LIMIT 1"
            )
            last = cur.fetchone()
            return Stats(
                pending=counts.get("pending", 0),
                leased=counts.get("leased", 0),
                done=counts.get("done", 0),
                dead=counts.get("dead", 0),
                retrying=retrying,
                last_error=None if last is None else last[0],
                last_error_at=None if last is None else float(last[1]),
                oldest_pending_at=None if oldest is None else float(oldest),
            )

        return self._read(run)


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # a broken connection: nothing more to do
        pass
