"""A StepLog (the effects' record of completed steps) backed by the journal."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from .base import Journal
from .model import Event, LeaseLost


class JournalSteps:
    """``get`` / ``put`` over one leased event's steps; ``put`` commits before it returns,
    so a worker that dies after a step resumes after it (whoever takes the event next)."""

    def __init__(self, journal: Journal, event: Event, owner: str, lease_seconds: float) -> None:
        self._journal = journal
        self._event_id = event.id
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._steps: dict[str, Any] = dict(event.steps)
        self._lock = threading.Lock()

    def get(self, step: str) -> Any | None:
        with self._lock:
            return self._steps.get(step)

    def put(self, step: str, result: Any) -> None:
        with self._lock:
            steps = {**self._steps, step: result}
            self._journal.put_steps(self._event_id, self._owner, steps, self._lease_seconds)
            self._steps = steps

    def hold(self) -> None:
        """Renew the lease, raising LeaseLost if another worker holds the event now: called
        before each Kili write, so a worker whose lease lapsed (a stalled process) stops
        instead of repeating a write the new holder also makes."""
        with self._lock:
            self._journal.hold(self._event_id, self._owner, self._lease_seconds)

    @property
    def done(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._steps)


class StepBatch:
    """The step logs of events a worker processes together (``kili-rules serve`` batches).

    Each event keeps its own steps, exactly as with :class:`JournalSteps`; what is shared is
    the cost. ``put`` queues the write and returns: the writer thread commits the steps of
    the whole batch in one transaction. ``hold`` (called before each Kili write) first waits
    for every queued step to be committed, so what was recorded is durable before the next
    write, then renews all the batch's leases in one transaction; a renewal less than a third
    of the lease ago still stands (no other worker can take a lease before it expires).
    """

    def __init__(
        self, journal: Journal, events: Sequence[Event], owner: str, lease_seconds: float
    ) -> None:
        self._journal = journal
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._ids = [event.id for event in events]
        self._lock = threading.Lock()
        self._pending: list[Future[None]] = []
        self._held_at = time.monotonic()  # the lease was just taken
        self.logs = {event.id: BatchedSteps(self, event) for event in events}

    def _queue(self, event_id: int, steps: dict[str, Any]) -> None:
        future = self._journal.put_steps_later(event_id, self._owner, steps, self._lease_seconds)
        with self._lock:
            self._pending.append(future)

    def flush(self) -> None:
        """Wait until every queued step is committed; raise the first failure (LeaseLost
        when another worker took an event, or the store's error)."""
        with self._lock:
            pending, self._pending = self._pending, []
        failure: BaseException | None = None
        for future in pending:
            try:
                future.result()
            except BaseException as exc:  # every future is waited for before raising
                failure = failure or exc
        if failure is not None:
            raise failure

    def hold(self) -> None:
        self.flush()
        with self._lock:
            if time.monotonic() - self._held_at < self._lease_seconds / 3:
                return
            lost = self._journal.hold_many(self._ids, self._owner, self._lease_seconds)
            if lost:
                raise LeaseLost(
                    f"event(s) {', '.join(map(str, lost))} no longer leased by {self._owner}"
                )
            self._held_at = time.monotonic()

    def steps_of(self, event: Event) -> Event:
        """``event`` with the steps recorded so far in this batch (to go on without it)."""
        return replace(event, steps=self.logs[event.id].done)


class BatchedSteps:
    """One event's StepLog within a :class:`StepBatch`."""

    def __init__(self, batch: StepBatch, event: Event) -> None:
        self._batch = batch
        self._event_id = event.id
        self._steps: dict[str, Any] = dict(event.steps)

    def get(self, step: str) -> Any | None:
        return self._steps.get(step)

    def put(self, step: str, result: Any) -> None:
        self._steps = {**self._steps, step: result}
        self._batch._queue(self._event_id, self._steps)

    def hold(self) -> None:
        self._batch.hold()

    @property
    def done(self) -> dict[str, Any]:
        return dict(self._steps)
