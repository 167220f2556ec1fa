"""Bounded background processing for the webhook server.

Requests are answered at once; labels are checked by a few worker threads fed by a bounded
queue. A key (project, label, rules fingerprint) is claimed while queued or in flight and
remembered in a bounded LRU once processed, so a redelivered event is not processed twice.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from enum import Enum
from typing import Any

logger = logging.getLogger("kili_rules.webhook")


class Submit(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    FULL = "full"


class KeyTracker:
    """Keys in flight (queued or running) plus a bounded LRU of keys already processed."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("dedupe capacity must be at least 1")
        self._capacity = capacity
        self._done: OrderedDict[Hashable, None] = OrderedDict()
        self._in_flight: set[Hashable] = set()
        self._lock = threading.Lock()

    def claim(self, key: Hashable) -> bool:
        """True if the caller now owns ``key``; False if it is in flight or already done."""
        with self._lock:
            if key in self._in_flight:
                return False
            if key in self._done:
                self._done.move_to_end(key)
                return False
            self._in_flight.add(key)
            return True

    def release(self, key: Hashable, *, done: bool) -> None:
        """Finish ``key``: remember it if done, else let a redelivery try again."""
        with self._lock:
            self._in_flight.discard(key)
            if done:
                self._done[key] = None
                self._done.move_to_end(key)
                while len(self._done) > self._capacity:
                    self._done.popitem(last=False)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    @property
    def remembered(self) -> int:
        with self._lock:
            return len(self._done)


class Worker:
    """A bounded queue drained by ``threads`` daemon threads calling ``process(job)``.

    ``process`` returns True when the job is finished for good (its key is remembered) and
    False when a redelivery should be processed again (nothing was written).
    """

    def __init__(
        self,
        process: Callable[[Any], bool],
        key: Callable[[Any], Hashable],
        *,
        queue_size: int,
        threads: int = 1,
        dedupe_size: int = 10_000,
    ) -> None:
        if queue_size < 1 or threads < 1:
            raise ValueError("queue_size and threads must be at least 1")
        self._process = process
        self._key = key
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread_count = threads
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # accepted and not finished yet
        self.keys = KeyTracker(dedupe_size)
        self.queue_size = queue_size
        self.counts: dict[str, int] = {
            "accepted": 0,
            "duplicates": 0,
            "refused_full": 0,
            "processed": 0,
            "failed": 0,
        }

    def start(self) -> None:
        """Start the threads (idempotent; restarts them after ``stop``)."""
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            if self._threads and not self._stop.is_set():
                return
            self._stop.clear()
            for index in range(self._thread_count - len(self._threads)):
                thread = threading.Thread(
                    target=self._run, name=f"kili-rules-worker-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def submit(self, job: Any) -> Submit:
        """Queue ``job`` unless its key is already claimed or the queue is full."""
        self.start()
        key = self._key(job)
        if not self.keys.claim(key):
            self._count("duplicates")
            return Submit.DUPLICATE
        with self._lock:
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self.counts["refused_full"] += 1
                refused = True
            else:
                self._pending += 1
                self.counts["accepted"] += 1
                refused = False
        if refused:
            self.keys.release(key, done=False)
            return Submit.FULL
        return Submit.ACCEPTED

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every accepted job is processed; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Let the queue drain (up to ``timeout`` s), then stop the threads."""
        if not self.join(timeout):
            logger.error("kili-rules: stopping with %d event(s) unprocessed", self.depth)
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=1.0)

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    @property
    def alive(self) -> int:
        return sum(1 for thread in self._threads if thread.is_alive())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            counts = dict(self.counts)
            pending = self._pending
        return {
            **counts,
            "queue_depth": self.depth,
            "queue_size": self.queue_size,
            "pending": pending,
            "in_flight": self.keys.in_flight,
            "remembered": self.keys.remembered,
            "workers": self.alive,
        }

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            done = False
            try:
                done = self._process(job)
            except Exception:  # process() logs its own failures; this is the last guard
                logger.exception("kili-rules: worker failed on a job")
            finally:
                self.keys.release(self._key(job), done=done)
                with self._idle:
                    self.counts["processed" if done else "failed"] += 1
                    self._pending -= 1
                    self._idle.notify_all()
