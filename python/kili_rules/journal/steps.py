"""A StepLog (the effects' record of completed steps) backed by the journal."""

from __future__ import annotations

import threading
from typing import Any

from .base import Journal
from .model import Event


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
