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

``retry_after`` (seconds) adds a ``Retry-After`` header to an ``http`` answer, as Kili's rate
limiter does on a 429.

Data faults: the request is answered, but the answer does not tell the truth.

page faults (:meth:`Faults.add_page`)
    a list query (``assets``...) asked at ``skip`` is answered with the page at ``serve_skip``
    (an earlier page: the same page twice; a later one: a page never served), and/or a
    ``before`` callable runs first (an asset added or removed between two pages):
    ``KiliEmulator.inject_insert_between_pages`` adds assets at a listing position (before
    the offset reached: one asset served twice, the new one by no offset page), and
    ``inject_delete_between_pages`` deletes some (the pages shift up: one asset never served).
count faults (:meth:`Faults.add_count`)
    a count query (``countAssets``) answers the true count plus ``by`` (negative: fewer), for
    ``calls`` calls: a total that lies.
lost writes (:meth:`Faults.add_lost_write`)
    a mutation (``createIssues``) answers every record it was given, but the last ``drop`` of
    them are not kept.

``applied=True`` runs the operation before misbehaving: the write lands in Kili but its answer
is lost (the "saved, but the client never heard" case). Otherwise nothing is written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
    retry_after: float | None = None  # the "http" kind's Retry-After header, in seconds
    hits: int = 0

    def live(self, now: float) -> bool:
        if self.calls is not None and self.hits >= self.calls:
            return False
        return self.until is None or now < self.until

    def matches(self, fields: Iterable[str]) -> bool:
        return self.operation == "*" or self.operation in fields


@dataclass
class PageFault:
    """A list query answered with another page, or after an edit of the data (see above)."""

    operation: str
    skip: int
    serve_skip: int | None
    before: Callable[[], None] | None
    calls: int
    hits: int = 0
    added: list[str] = field(default_factory=list)  # ids a ``before`` added (insert faults)


@dataclass
class CountFault:
    """A count query answered with the true count plus ``by``."""

    operation: str
    by: int
    calls: int | None
    hits: int = 0


@dataclass
class LostWrite:
    """A mutation that answers all its records but keeps all but the last ``drop``."""

    operation: str
    drop: int
    calls: int
    hits: int = 0


class Faults:
    """Thread-safe registry of faults and per-call latencies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._latency: dict[str, float] = {}
        self._pages: list[PageFault] = []
        self._lost: list[LostWrite] = []
        self._counts: list[CountFault] = []

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
        retry_after: float | None = None,
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
        if retry_after is not None and (kind != "http" or retry_after < 0):
            raise ValueError("retry_after: seconds >= 0, for an 'http' fault only")
        fault = Fault(
            operation=operation,
            kind=kind,  # type: ignore[arg-type]  # checked above
            calls=calls,
            until=None if seconds is None else time.monotonic() + seconds,
            delay=DEFAULT_TIMEOUT_DELAY if delay is None else delay,
            applied=applied,
            message=message or f"kili-rules emulator: injected fault on {operation}",
            status=status,
            retry_after=retry_after,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def add_page(
        self,
        operation: str,
        skip: int,
        *,
        serve_skip: int | None = None,
        before: Callable[[], None] | None = None,
        calls: int = 1,
    ) -> PageFault:
        if skip < 0 or (serve_skip is not None and serve_skip < 0):
            raise ValueError("skip and serve_skip must be >= 0")
        if serve_skip is None and before is None:
            raise ValueError("a page fault needs serve_skip, before, or both")
        if calls < 1:
            raise ValueError("calls must be at least 1")
        fault = PageFault(operation, skip, serve_skip, before, calls)
        with self._lock:
            self._pages.append(fault)
        return fault

    def take_page(self, operation: str, skip: int) -> PageFault | None:
        """The live page fault for a list query at ``skip``, counted as hit."""
        with self._lock:
            self._pages = [f for f in self._pages if f.hits < f.calls]
            for fault in self._pages:
                if fault.operation == operation and fault.skip == skip:
                    fault.hits += 1
                    return fault
        return None

    def add_count(self, operation: str, by: int, calls: int | None = 1) -> CountFault:
        if calls is not None and calls < 1:
            raise ValueError("calls must be at least 1 (None: until cleared)")
        fault = CountFault(operation, by, calls)
        with self._lock:
            self._counts.append(fault)
        return fault

    def take_count(self, operation: str) -> int:
        """How much to add to this count answer (0: none), counted as hit."""
        with self._lock:
            self._counts = [f for f in self._counts if f.calls is None or f.hits < f.calls]
            for fault in self._counts:
                if fault.operation == operation:
                    fault.hits += 1
                    return fault.by
        return 0

    def add_lost_write(self, operation: str, drop: int, calls: int = 1) -> LostWrite:
        if drop < 1 or calls < 1:
            raise ValueError("drop and calls must be at least 1")
        fault = LostWrite(operation, drop, calls)
        with self._lock:
            self._lost.append(fault)
        return fault

    def take_lost_write(self, operation: str) -> int:
        """How many records of this mutation call to lose (0: none), counted as hit."""
        with self._lock:
            self._lost = [f for f in self._lost if f.hits < f.calls]
            for fault in self._lost:
                if fault.operation == operation:
                    fault.hits += 1
                    return fault.drop
        return 0

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
            self._pages.clear()
            self._lost.clear()
            self._counts.clear()

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
