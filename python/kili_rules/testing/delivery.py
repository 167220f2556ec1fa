"""Webhook delivery: POSTs events to registered loopback URLs from a background thread.

Kili answers ``appendManyLabels`` before it calls webhooks, so the emulator does too: events
are queued and one worker thread sends them in order (deterministic for tests). Each POST has
a bounded timeout; its outcome is recorded as a :class:`Delivery`.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .state import PendingEvent, loopback_url_problem

MAX_RESPONSE_CHARS = 2000


@dataclass(frozen=True)
class Delivery:
    """One webhook POST and its outcome.

    ``status_code`` is None when no HTTP answer came (``error`` then says why).
    """

    webhook: str
    url: str
    event_type: str
    body: dict[str, Any]
    status_code: int | None
    response_text: str
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post_event(event: PendingEvent, timeout: float) -> Delivery:
    """Send one event now and describe the outcome (never raises)."""
    started = time.monotonic()
    status: int | None = None
    text = ""
    error: str | None = loopback_url_problem(event.url)
    if error is None:
        headers = {"Content-Type": "application/json"}
        if event.header is not None:
            headers["Authorization"] = event.header
        request = urllib.request.Request(
            event.url, data=json.dumps(event.body).encode(), headers=headers, method="POST"
        )
        # no proxy: a loopback target must not be routed through one from the environment
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=timeout) as response:
                status = response.status
                text = response.read(MAX_RESPONSE_CHARS).decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            status = err.code
            text = err.read(MAX_RESPONSE_CHARS).decode("utf-8", "replace")
            err.close()
        except (OSError, ValueError) as err:  # refused, timed out, reset, bad URL
            error = f"{type(err).__name__}: {err}"
    return Delivery(
        webhook=event.webhook,
        url=event.url,
        event_type=str(event.body.get("eventType") or event.body.get("event") or ""),
        body=event.body,
        status_code=status,
        response_text=text,
        error=error,
        seconds=time.monotonic() - started,
    )


class Dispatcher:
    """A queue of events and the thread that delivers them."""

    def __init__(self, record: Callable[[Delivery], None], timeout: float) -> None:
        self._record = record
        self._timeout = timeout
        self._queue: queue.Queue[PendingEvent | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, events: list[PendingEvent]) -> None:
        if not events:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="kili-emulator-webhooks", daemon=True
                )
                self._thread.start()
            for event in events:
                self._queue.put(event)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            self._record(post_event(event, self._timeout))

    def close(self) -> None:
        """Stop after the event being sent (if any); events still queued are dropped."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        while True:  # drop what is still queued
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        thread.join(self._timeout + 1.0)
