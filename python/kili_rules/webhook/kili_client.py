"""The Kili client as the workers see it: built on first use, and held to a call rate."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

logger = logging.getLogger("kili_rules.webhook")
_PLAIN = (str, bytes, int, float, bool, type(None), list, tuple, dict, set)


class LazyKili:
    """Stands in for the Kili client and builds it on first use, from the endpoint and key.

    A dry run on labels that carry their jsonResponse never touches the API, so it never
    builds a client (and needs no key).
    """

    def __init__(
        self, api_endpoint: str | None, api_key: str | None, timeout: float | None = None
    ) -> None:
        self._endpoint = api_endpoint
        self._key = api_key
        self._timeout = timeout
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                from kili.client import Kili  # type: ignore[import-untyped]

                key = self._key or os.environ.get("KILI_API_KEY")
                if not key:
                    # Kili() would prompt on a terminal from a worker thread: refuse instead.
                    raise RuntimeError("no Kili API key: pass api_key or set KILI_API_KEY")
                client = Kili(api_key=key, api_endpoint=self._endpoint, disable_tqdm=True)
                if self._timeout is not None:
                    # the SDK's request timeout (60 s) lives on its GraphQL transport
                    client.graphql_client._gql_transport.default_timeout = self._timeout
                self._client = client
            return self._client

    def warm_up(self) -> None:
        """Build the client in the background (its start-up calls take seconds)."""

        def build() -> None:
            try:
                self.get()
            except Exception as exc:  # the first event retries, and logs it
                logger.warning("kili-rules: the Kili client could not be built yet: %s", exc)

        threading.Thread(target=build, name="kili-rules-client", daemon=True).start()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


class RateLimiter:
    """A token bucket: ``per_minute`` calls a minute on average, bursts up to ``burst``."""

    def __init__(self, per_minute: float, burst: int = 10) -> None:
        if per_minute <= 0:
            raise ValueError("the Kili call rate must be positive")
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                wait = (1.0 - self._tokens) / self.rate
                self.waited += wait
            time.sleep(wait)


class Throttled:
    """A proxy over the client (and its namespaces, e.g. ``kili.issues``): each call waits
    for a token first, so the workers together stay within the rate Kili allows."""

    def __init__(self, target: Any, limiter: RateLimiter) -> None:
        self._target = target
        self._limiter = limiter

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._limiter.acquire()
        return self._target(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, _PLAIN):
            return value
        return Throttled(value, self._limiter)
