"""Fault and latency injection: how the emulator misbehaves on purpose, per GraphQL operation.

A fault matches the root field of a request (``"createIssues"``, ``"countIssues"``...; ``"*"``
matches any) and lasts a number of calls, a time window, or both (whichever ends first); with
neither it lasts until cleared. Kinds, and what the real ``kili`` client sees:

``error``
    a GraphQL error answer (status 200, ``errors`` with ``extensions``): the SDK raises
    ``kili.exceptions.GraphQLError``.
``timeout``
    the answer is held ``delay`` seconds, past the client's timeout (the SDK's is 60 s; a test
    shortens it with ``emu.kili_client(timeout=...)``): a read timeout, which the SDK raises as
    ``MutationOutcomeUnknownError`` for a mutation (it resends a query once).
``refuse``
    the connection is reset without an answer: a ``requests`` connection error (for a
    mutation, ``MutationOutcomeUnknownError``; a query is resent up to 5 times).

``http``
    an HTTP ``status`` answer before the operation runs: 5xx and 429 with a GraphQL error
    body, other 4xx with a plain JSON body (a refusal before GraphQL, as a proxy or gateway
    gives), which the SDK raises as gql's ``TransportServerError`` carrying the status.

``applied=True`` runs the operation before misbehaving: the write lands in Kili but its answer
is lost (the "saved, but the client never heard" case). Otherwise nothing is written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["error", "timeout", "refuse", "http"]
FAULT_KINDS: tuple[str, ...] = ("error", "timeout", "refuse", "http")
# Past the SDK's 60 s request timeout.
DEFAULT_TIMEOUT_DELAY = 65.0


@dataclass
class Fault:
    """One injected fault; ``hits`` counts the requests it has spoiled so far."""

    operation: str
    kind: FaultKind
    calls: int | None
    until: float | None  # time.monotonic() deadline
    delay: float
    applied: bool
    message: str
    status: int = 503  # the "http" kind's answer
    hits: int = 0

    def live(self, now: float) -> bool:
        if self.calls is not None and self.hits >= self.calls:
            return False
        return self.until is None or now < self.until

    def matches(self, fields: Iterable[str]) -> bool:
        return self.operation == "*" or self.operation in fields


class Faults:
    """Thread-safe registry of faults and per-call latencies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._latency: dict[str, float] = {}

    def add(
        self,
        operation: str,
        kind: str,
        *,
        calls: int | None,
        seconds: float | None,
        delay: float | None,
        applied: bool,
        message: str | None,
        status: int = 503,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {kind!r} is not one of {FAULT_KINDS}")
        if not operation:
            raise ValueError("operation: give a root field name such as 'createIssues', or '*'")
        if calls is not None and calls < 1:
            raise ValueError("calls must be at least 1")
        if seconds is not None and seconds <= 0:
            raise ValueError("seconds must be positive")
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if delay is not None and delay < 0:
            raise ValueError("delay must be >= 0")
        fault = Fault(
            operation=operation,
            kind=kind,  # type: ignore[arg-type]  # checked above
            calls=calls,
            until=None if seconds is None else time.monotonic() + seconds,
            delay=DEFAULT_TIMEOUT_DELAY if delay is None else delay,
            applied=applied,
            message=message or f"kili-rules emulator: injected fault on {operation}",
            status=status,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def idle(self) -> bool:
        """True when nothing is injected (the common case: no extra parsing per request)."""
        return not self._faults and not self._latency

    def take(self, fields: Iterable[str]) -> Fault | None:
        """The first live fault matching a request's root fields, counted as hit."""
        names = list(fields)
        now = time.monotonic()
        with self._lock:
            self._faults = [f for f in self._faults if f.live(now)]
            for fault in self._faults:
                if fault.matches(names):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._latency.clear()

    def active(self) -> list[Fault]:
        now = time.monotonic()
        with self._lock:
            return [f for f in self._faults if f.live(now)]

    def set_latency(self, seconds: float, operation: str) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            if seconds == 0:
                self._latency.pop(operation, None)
            else:
                self._latency[operation] = seconds

    def latency(self, fields: Iterable[str]) -> float:
        """Seconds to wait before answering: the largest latency set for these fields or '*'."""
        with self._lock:
            if not self._latency:
                return 0.0
            keys = ["*", *fields]
            return max((self._latency.get(k, 0.0) for k in keys), default=0.0)
