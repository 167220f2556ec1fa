"""Workers that drain the journal: lease an event, check the label, record the effects.

Each thread leases up to ``batch_size`` events at a time (waiting ``batch_wait`` seconds at
most for a batch to fill) and processes them together through a batch process (their Kili
calls shared, each event's steps in its own journal row), or one by one. A Kili failure
marked retryable goes back to pending with an exponential backoff (with jitter); an event
that keeps failing, past ``max_attempts`` or ``max_age_seconds``, becomes a dead letter
(``kili-rules events replay`` brings it back). A heartbeat keeps the leases of events in
progress alive; a lease whose worker died expires and another worker takes the event,
resuming after its last recorded step.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kili_rules.journal import Event, Journal, JournalSteps, LeaseLost, StepBatch

logger = logging.getLogger("kili_rules.webhook")


# how the error of an event retried after a Kili outage hit its whole batch begins: it is
# batched again (at most BATCH_TRIES times); an event that failed on its own runs alone
BATCH_ERROR = "Retryable: Kili failed a batch"
BATCH_TRIES = 2


def _alone(event: Event) -> bool:
    """Whether a leased event goes on its own rather than in a batch: it failed before,
    alone, or in batches BATCH_TRIES times (a cause in its content then fails it alone)."""
    if event.last_error is None:
        return False
    return not event.last_error.startswith(BATCH_ERROR) or event.attempts > BATCH_TRIES


class Retryable(Exception):
    """A failure worth trying again later (the Kili API was down, slow or erring)."""


class Permanent(Exception):
    """A failure that will not go away by retrying: the event is dead-lettered at once."""


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 1.0
    max_seconds: float = 300.0
    max_attempts: int = 10
    max_age_seconds: float = 86400.0

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.max_seconds < self.base_seconds:
            raise ValueError("retry delays must be positive, the maximum at least the base")
        if self.max_attempts < 1 or self.max_age_seconds <= 0:
            raise ValueError("max_attempts must be at least 1 and max_age_seconds positive")

    def delay(self, attempts: int) -> float:
        """Exponential backoff with full jitter around it (half to one and a half times)."""
        raw = min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return float(raw * random.uniform(0.5, 1.5))

    def exhausted(self, event: Event, now: float) -> bool:
        return event.attempts >= self.max_attempts or now - event.created_at >= self.max_age_seconds


Process = Callable[[Event, JournalSteps], dict[str, Any]]
# Events of one project, one per asset, and their step logs (one StepBatch): a result per
# event, in order. Raising Retryable retries them all (a Kili outage); anything else makes
# the worker process each event of the batch on its own (a poison event fails alone).
BatchProcess = Callable[[Sequence[Event], StepBatch], list[dict[str, Any]]]


class WorkerPool:
    """``threads`` workers leasing from ``journal`` and calling ``process(event, steps)``.

    ``process`` returns a JSON-able result (the event is done), raises :class:`Retryable`
    (try again after a backoff) or anything else (a bug or a permanent failure: retried
    within the same bounds, so a transient surprise does not lose the event).
    """

    def __init__(
        self,
        journal: Journal,
        process: Process,
        *,
        threads: int = 2,
        lease_seconds: float = 60.0,
        retry: RetryPolicy | None = None,
        poll_seconds: float = 0.5,
        batch: BatchProcess | None = None,
        batch_size: int = 1,
        batch_wait: float = 0.25,
    ) -> None:
        if threads < 1:
            raise ValueError("workers must be at least 1")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if batch_wait < 0:
            raise ValueError("batch_wait must be 0 or more seconds")
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.journal = journal
        self._process = process
        self.thread_count = threads
        self.lease_seconds = lease_seconds
        self.retry = retry or RetryPolicy()
        self._poll = poll_seconds
        self._batch = batch if batch_size > 1 else None
        self.batch_size = batch_size if batch is not None else 1
        self.batch_wait = batch_wait
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._held: dict[int, Event] = {}  # event id -> event being processed
        self._lock = threading.Lock()
        self.counts = {
            "processed": 0,
            "retried": 0,
            "dead": 0,
            "lease_lost": 0,
            "batches": 0,  # batches of two or more events processed together
            "batched": 0,  # events processed in those batches
            "unbatched": 0,  # events of a failed batch processed again on their own
        }
        self.last_error: str | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._threads:
                return
            self._stop.clear()
            for index in range(self.thread_count):
                thread = threading.Thread(
                    target=self._run, name=f"kili-rules-worker-{index}", daemon=True
                )
                self._threads.append(thread)
            beat = threading.Thread(target=self._heartbeat, name="kili-rules-lease", daemon=True)
            self._threads.append(beat)
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """Tell idle workers that an event arrived (they also poll); starts them if needed
        (an app driven without its lifespan, e.g. through httpx's ASGI transport)."""
        if not self._threads and not self._stop.is_set():
            self.start()
        with self._wake:
            self._wake.notify()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop leasing; let the events in progress finish within ``timeout`` s, and give the
        leases of any still running back to the journal (they are processed again later,
        resuming after their last recorded step)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = list(self._held)
            self._threads = []
        if left:
            logger.warning(
                "kili-rules: %d event(s) still in progress at shutdown; their leases are "
                "released and they will be processed again",
                len(left),
            )
            try:
                self.journal.release(left, self.owner)
            except Exception as exc:  # their leases expire anyway
                logger.error("kili-rules: releasing leases failed (they will expire): %s", exc)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the journal holds no pending or leased event; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.journal.stats().backlog == 0:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    @property
    def alive(self) -> int:
        return sum(1 for t in self._threads if t.is_alive() and t.name.startswith("kili-rules-w"))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                **self.counts,
                "in_progress": len(self._held),
                "workers": self.alive,
                "last_worker_error": self.last_error,
            }

    # ---- the work ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                events = self.journal.lease(self.owner, self.batch_size, self.lease_seconds)
                with self._lock:
                    for event in events:
                        self._held[event.id] = event
                if events and len(events) < self.batch_size:
                    events += self._top_up(self.batch_size - len(events))
            except Exception as exc:
                self._note_error(f"leasing from the journal failed: {exc}")
                self._stop.wait(1.0)
                continue
            if not events:
                with self._wake:
                    if not self._stop.is_set():
                        self._wake.wait(self._poll)
                continue
            if self._batch is None or len(events) == 1:
                for event in events:
                    self._handle(event)
            else:
                self._handle_batch(events)

    def _top_up(self, wanted: int) -> list[Event]:
        """Lease more events for ``batch_wait`` seconds at most, until the batch is full:
        a batch starts once ``batch_size`` events are pending, or after that short wait."""
        more: list[Event] = []
        deadline = time.monotonic() + self.batch_wait
        step = max(0.01, self.batch_wait / 5)
        while len(more) < wanted and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._stop.wait(min(step, left))
            try:
                got = self.journal.lease(self.owner, wanted - len(more), self.lease_seconds)
            except Exception as exc:  # go on with the events already leased
                self._note_error(f"leasing from the journal failed: {exc}")
                break
            with self._lock:
                for event in got:
                    self._held[event.id] = event
            more += got
        return more

    def _handle_batch(self, events: list[Event]) -> None:
        """Process leased events together: one project and one event per asset at a time
        (older events first); an event that failed before runs alone, so an event whose
        content makes a shared Kili call fail cannot keep failing the others."""
        alone = [e for e in events if _alone(e)]
        rounds: list[list[Event]] = []
        for event in sorted((e for e in events if not _alone(e)), key=lambda e: e.id):
            for group in rounds:
                if group[0].project_id == event.project_id and all(
                    other.asset_id != event.asset_id for other in group
                ):
                    group.append(event)
                    break
            else:
                rounds.append([event])
        for event in alone:
            self._handle(event)
        for group in rounds:
            if len(group) == 1:
                self._handle(group[0])
            else:
                self._run_batch(group)

    def _run_batch(self, group: list[Event]) -> None:
        assert self._batch is not None
        batch = StepBatch(self.journal, group, self.owner, self.lease_seconds)
        try:
            try:
                results = self._batch(group, batch)
                batch.flush()
                if len(results) != len(group):
                    raise RuntimeError(
                        f"the batch answered {len(results)} result(s) for {len(group)} events"
                    )
            except Retryable as exc:
                # a Kili outage hits every event alike: all retried later, batched again
                self._flush_quietly(batch)
                error = f"{BATCH_ERROR} of {len(group)}: {exc}"
                for event in group:
                    self._failed_quietly(batch.steps_of(event), exc, error)
                return
            except Exception as exc:
                # one event may be the cause: each goes on alone, after the steps recorded
                self._flush_quietly(batch)
                logger.warning(
                    "kili-rules: a batch of %d event(s) failed (%s: %s); processing them one "
                    "by one",
                    len(group),
                    type(exc).__name__,
                    exc,
                )
                for event in group:
                    self._count("unbatched")
                    self._handle(batch.steps_of(event))
                return
            lost = self.journal.complete_many(
                [(event.id, result) for event, result in zip(group, results, strict=True)],
                self.owner,
            )
            with self._lock:
                self.counts["processed"] += len(group) - len(lost)
                self.counts["lease_lost"] += len(lost)
                self.counts["batches"] += 1
                self.counts["batched"] += len(group)
            if lost:
                logger.warning(
                    "kili-rules: event(s) %s are no longer leased by %s (another worker "
                    "carries on)",
                    ", ".join(map(str, lost)),
                    self.owner,
                )
        except Exception as exc:  # the journal itself failed: the leases expire, nothing lost
            self._note_error(f"journal write failed for a batch of {len(group)} event(s): {exc}")
        finally:
            with self._lock:
                for event in group:
                    self._held.pop(event.id, None)

    def _flush_quietly(self, batch: StepBatch) -> None:
        try:
            batch.flush()
        except Exception as exc:  # the steps not committed are redone (reconciled) later
            self._note_error(f"recording a batch's steps failed: {exc}")

    def _failed_quietly(self, event: Event, exc: Exception, error: str) -> None:
        try:
            self._failed(event, exc, error)
        except LeaseLost as lost:
            self._count("lease_lost")
            logger.warning("kili-rules: %s", lost)

    def _handle(self, event: Event) -> None:
        with self._lock:
            self._held[event.id] = event
        try:
            steps = JournalSteps(self.journal, event, self.owner, self.lease_seconds)
            try:
                result = self._process(event, steps)
            except LeaseLost:
                raise
            except Exception as exc:
                self._failed(event, exc)
                return
            self.journal.complete(event.id, self.owner, result)
            self._count("processed")
        except LeaseLost as exc:
            # Another worker took the event after our lease expired: it carries on.
            self._count("lease_lost")
            logger.warning("kili-rules: %s", exc)
        except Exception as exc:  # the journal itself failed: the lease expires, nothing lost
            self._note_error(f"journal write failed for event {event.id}: {exc}")
        finally:
            with self._lock:
                self._held.pop(event.id, None)

    def _failed(self, event: Event, exc: Exception, error: str | None = None) -> None:
        error = error or f"{type(exc).__name__}: {exc}"
        self._note_error(f"event {event.id} (label {event.label_id}): {error}")
        now = time.time()
        if isinstance(exc, Permanent) or self.retry.exhausted(event, now):
            self.journal.bury(event.id, self.owner, error)
            self._count("dead")
            logger.error(
                "kili-rules: event %d (label %s) is a dead letter after %d attempt(s): %s",
                event.id,
                event.label_id,
                event.attempts,
                error,
            )
            return
        delay = self.retry.delay(event.attempts)
        self.journal.retry(event.id, self.owner, error, now + delay)
        self._count("retried")

    def _heartbeat(self) -> None:
        interval = max(0.2, self.lease_seconds / 3)
        while not self._stop.wait(interval):
            with self._lock:
                ids = list(self._held)
            if ids:
                try:
                    self.journal.extend(ids, self.owner, self.lease_seconds)
                except Exception as exc:
                    self._note_error(f"extending leases failed: {exc}")
        # keep beating until the stop finishes: stop() joins the workers first
        # (a lease that lapses during a long shutdown is simply taken again later)

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def _note_error(self, text: str) -> None:
        with self._lock:
            self.last_error = text
        logger.warning("kili-rules: %s", text)
