"""Connection limits for the server: a cap on open connections, a deadline for request
headers, and log lines rate-limited so a flood cannot fill the disk.

uvicorn caps tasks (``limit_concurrency``) and idle keep-alive time, but it keeps a
connection whose headers trickle in forever; :func:`guarded_protocol` adds the missing pieces
to its h11 protocol. The body deadline is enforced by the app while it reads the body.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


def _response(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"Retry-After: 1\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


REFUSED = _response(
    b"503 Service Unavailable", b'{"error":"busy","detail":"too many open connections"}'
)
TIMED_OUT = _response(
    b"408 Request Timeout", b'{"error":"timeout","detail":"request headers too slow"}'
)


def guarded_protocol(*, max_connections: int, header_timeout: float) -> type[H11Protocol]:
    """An h11 protocol class that refuses connections past ``max_connections`` (a 503 and a
    close, at once: no file descriptor held) and closes a connection whose request headers
    are not complete within ``header_timeout`` seconds (at the start and between requests)."""
    if max_connections < 1 or header_timeout <= 0:
        raise ValueError("max_connections must be at least 1 and header_timeout positive")

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _armed_for: Any = None
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if len(self.connections) >= max_connections:
                self._refused = True
                limited_log.warning(
                    "kili-rules: refusing connections: %d open (the cap)", max_connections
                )
                try:
                    transport.write(REFUSED)
                finally:
                    transport.close()
                return
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            super().data_received(data)
            if self.cycle is not None and self.cycle is not self._armed_for:
                self._disarm()  # the headers of a request are complete

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._refused:
                return
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._armed_for = self.cycle
            self._deadline = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.cycle is not None and self.cycle is not self._armed_for:
                return
            limited_log.info("kili-rules: closed a connection whose headers took too long")
            if not self.transport.is_closing():
                self.transport.write(TIMED_OUT)
                self.transport.close()

    return GuardedH11Protocol


class RateLimitFilter(logging.Filter):
    """At most ``burst`` records per message template every ``period`` seconds; then one line
    saying how many were dropped."""

    def __init__(self, burst: int = 5, period: float = 10.0) -> None:
        super().__init__()
        self.burst = burst
        self.period = period
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg)[:200])
        now = time.monotonic()
        with self._lock:
            start, count = self._seen.get(key, (now, 0))
            if now - start >= self.period:
                if count > self.burst:
                    record.msg = f"{record.msg} [{count - self.burst} similar line(s) suppressed]"
                start, count = now, 0
            count += 1
            self._seen[key] = (start, count)
            if len(self._seen) > 10_000:  # bounded memory whatever the messages are
                self._seen.clear()
            return count <= self.burst


limited_log = logging.getLogger("kili_rules.webhook.limits")


def install_log_handler(level: int = logging.INFO, burst: int = 5, period: float = 10.0) -> None:
    """One stderr handler on the root logger, rate-limited: uvicorn (run with
    ``log_config=None``), asyncio (e.g. ``accept`` failing on a full file table) and
    kili-rules all write through it."""
    root = logging.getLogger()
    if any(isinstance(f, RateLimitFilter) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RateLimitFilter(burst, period))
    root.addHandler(handler)
    root.setLevel(level)
