"""Workers that drain the journal: lease an event, check the label, record the effects.

Each thread leases one event at a time. A Kili failure marked retryable goes back to pending
with an exponential backoff (with jitter); an event that keeps failing, past ``max_attempts``
or ``max_age_seconds``, becomes a dead letter (``kili-rules events replay`` brings it back).
A heartbeat keeps the leases of events in progress alive; a lease whose worker died expires
and another worker takes the event, resuming after its last recorded step.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kili_rules.journal import Event, Journal, JournalSteps, LeaseLost

logger = logging.getLogger("kili_rules.webhook")


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
    ) -> None:
        if threads < 1:
            raise ValueError("workers must be at least 1")
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.journal = journal
        self._process = process
        self.thread_count = threads
        self.lease_seconds = lease_seconds
        self.retry = retry or RetryPolicy()
        self._poll = poll_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._held: dict[int, Event] = {}  # event id -> event being processed
        self._lock = threading.Lock()
        self.counts = {"processed": 0, "retried": 0, "dead": 0, "lease_lost": 0}
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
                events = self.journal.lease(self.owner, 1, self.lease_seconds)
            except Exception as exc:
                self._note_error(f"leasing from the journal failed: {exc}")
                self._stop.wait(1.0)
                continue
            if not events:
                with self._wake:
                    if not self._stop.is_set():
                        self._wake.wait(self._poll)
                continue
            for event in events:
                self._handle(event)

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

    def _failed(self, event: Event, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
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
