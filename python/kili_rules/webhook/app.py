"""The webhook ASGI app: authenticate, read within limits, parse, commit to the journal, 2xx.

An event is answered only once the journal has committed it (202 accepted, 200 duplicate);
workers drain the journal in the background (see :mod:`kili_rules.webhook.workers`).
"""

from __future__ import annotations

import asyncio
import atexit
import hmac
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

try:
    from fastapi import FastAPI, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse, PlainTextResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "kili_rules.webhook needs FastAPI and uvicorn; "
        "install them with: pip install 'kili-rules[server]'"
    ) from exc

from kili_rules import RuleSet
from kili_rules.journal import Added, Journal, SQLiteJournal, open_journal

from .envelope import Ignored, PayloadError, parse_body
from .kili_client import LazyKili, RateLimiter, Throttled
from .metrics import prometheus_text, status_document
from .processing import make_batch_process, make_process
from .workers import RetryPolicy, WorkerPool

logger = logging.getLogger("kili_rules.webhook")

RETRY_AFTER_SECONDS = 5
INLINE_PARSE_BYTES = 64_000  # bodies up to this size are parsed on the event loop


def _secrets(secret: str | Sequence[str] | None) -> list[bytes]:
    if secret is None:
        return []
    values = [secret] if isinstance(secret, str) else list(secret)
    if not values or any(not isinstance(v, str) or not v for v in values):
        raise ValueError("secret must be a non-empty string (or a list of them, for rotation)")
    return [value.encode("utf-8") for value in values]


def _authorized(header: str | None, secrets: list[bytes]) -> bool:
    """Constant-time comparison with every accepted secret (several during a rotation)."""
    if not secrets:
        return True
    given = (header or "").encode("latin-1")  # the raw bytes Starlette decoded
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(given, secret)
    return header is not None and matched


def _error(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> Any:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; the declared length is a hint, the stream is the truth."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise PayloadError(400, "bad_request", "Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadError(413, "payload_too_large", f"body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadError(413, "payload_too_large", f"body is over {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise PayloadError(400, "bad_request", "client disconnected mid-body") from None
    return b"".join(chunks)


def _store_fault(journal: Journal) -> str | None:
    """Why the store cannot take events now, or None: a lost SQLite file, or a commit
    failing within the last half minute (disk full, read-only file, database down)."""
    lost = getattr(journal, "lost", None)
    if isinstance(lost, str):
        return lost
    return journal.fault()


def create_app(
    rules: RuleSet | str | os.PathLike[str],
    *,
    secret: str | Sequence[str] | None = None,
    kili: Any = None,
    api_endpoint: str | None = None,
    api_key: str | None = None,
    kili_timeout: float | None = None,
    dry_run: bool = False,
    store: Journal | str | os.PathLike[str] | None = None,
    workers: int = 2,
    max_backlog: int = 100_000,
    retention_days: float = 30.0,
    fetch_labels: bool = False,
    reconcile: bool = True,
    kili_calls_per_minute: float = 500.0,
    lease_seconds: float = 60.0,
    retry: RetryPolicy | None = None,
    max_body_bytes: int = 5_000_000,
    body_timeout: float = 10.0,
    shutdown_grace: float = 20.0,
    batch_size: int = 50,
    batch_wait: float = 0.25,
) -> FastAPI:
    """Build the webhook app.

    ``secret``: the exact ``Authorization`` header value Kili sends (the ``header`` given to
    ``create_webhook``); several values are accepted during a rotation; None leaves the
    endpoint open (logged as a warning; ``kili-rules serve`` refuses it without
    ``--insecure-no-auth``). ``kili``: a ready client, else one is built on first use from
    ``api_endpoint`` / ``api_key`` (or KILI_API_ENDPOINT / KILI_API_KEY).
    ``store``: a :class:`~kili_rules.journal.Journal`, a SQLite path or a ``postgresql://``
    URL; None keeps the journal in a temporary file deleted at shutdown (tests, demos).
    ``fetch_labels``: ignore inline label content and always fetch the label by id (for
    untrusted networks). ``app.state.worker.join(timeout)`` waits until the journal is drained.
    ``batch_size``: up to this many pending events share their Kili calls (1: each event on
    its own); a worker waits ``batch_wait`` seconds at most for a batch to fill.
    """
    ruleset = rules if isinstance(rules, RuleSet) else RuleSet.from_file(rules)
    secrets = _secrets(secret)
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes must be at least 1")
    if body_timeout <= 0:
        raise ValueError("body_timeout must be positive")
    temp_dir: str | None = None
    if isinstance(store, Journal):
        journal = store
    elif store is None:
        temp_dir = tempfile.mkdtemp(prefix="kili-rules-journal-")
        # removed at shutdown, or at exit when the app never ran its lifespan (tests)
        atexit.register(shutil.rmtree, temp_dir, True)
        journal = SQLiteJournal(
            os.path.join(temp_dir, "events.db"),
            lock=True,
            max_backlog=max_backlog,
            retention_days=retention_days,
        )
    else:
        journal = open_journal(
            store, lock=True, max_backlog=max_backlog, retention_days=retention_days
        )
    base_client: Any = kili if kili is not None else LazyKili(api_endpoint, api_key, kili_timeout)
    limiter = RateLimiter(kili_calls_per_minute)
    client = Throttled(base_client, limiter)
    if not secrets:
        logger.warning(
            "kili-rules webhook: no secret configured, the endpoint is UNAUTHENTICATED "
            "(anyone who can reach it can trigger label checks)"
        )
    process = make_process(
        client, ruleset, fetch_labels=fetch_labels, dry_run=dry_run, reconcile=reconcile
    )
    batch = make_batch_process(
        client, ruleset, fetch_labels=fetch_labels, dry_run=dry_run, reconcile=reconcile
    )
    pool = WorkerPool(
        journal,
        process,
        threads=workers,
        lease_seconds=lease_seconds,
        retry=retry,
        batch=batch,
        batch_size=batch_size,
        batch_wait=batch_wait,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if isinstance(journal, SQLiteJournal) and journal.locked:
            released = await run_in_threadpool(journal.release_all_leases)
            if released:
                logger.info(
                    "kili-rules: %d event(s) left in progress by the last run resume", released
                )
        if isinstance(base_client, LazyKili) and not dry_run:
            base_client.warm_up()  # the SDK's start-up calls, before the first event waits
        pool.start()
        try:
            yield
        finally:
            await run_in_threadpool(pool.stop, shutdown_grace)
            await run_in_threadpool(journal.close)
            if temp_dir is not None:
                shutil.rmtree(temp_dir, ignore_errors=True)

    app = FastAPI(
        title="kili-rules webhook",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.worker = pool
    app.state.journal = journal
    app.state.ruleset = ruleset
    app.state.limiter = limiter
    counts = {
        "accepted": 0,
        "duplicates": 0,
        "refused_full": 0,
        "refused_unavailable": 0,
        "rejected": 0,
        "ignored": 0,
    }
    app.state.counts = counts

    def settings() -> dict[str, Any]:
        return {
            "rules_fingerprint": ruleset.fingerprint,
            "dry_run": dry_run,
            "fetch_labels": fetch_labels,
            "reconcile": reconcile,
            "store": journal.description,
            "max_backlog": journal.max_backlog,
            "kili_calls_per_minute": kili_calls_per_minute,
            "batch_size": batch_size,
            "batch_wait": batch_wait,
        }

    @app.post("/")
    async def receive(request: Request) -> Any:
        if not _authorized(request.headers.get("authorization"), secrets):
            counts["rejected"] += 1
            return _error(401, "unauthorized", "missing or wrong Authorization header")
        try:
            try:
                body = await asyncio.wait_for(_read_body(request, max_body_bytes), body_timeout)
            except asyncio.TimeoutError:
                counts["rejected"] += 1
                return _error(408, "timeout", f"the body took more than {body_timeout:g} s")
            if len(body) <= INLINE_PARSE_BYTES:
                parsed = parse_body(body, ruleset.fingerprint, fetch_labels=fetch_labels)
            else:
                parsed = await run_in_threadpool(
                    parse_body, body, ruleset.fingerprint, fetch_labels=fetch_labels
                )
        except PayloadError as exc:
            counts["rejected"] += 1
            return _error(exc.status, exc.error, exc.detail)
        if isinstance(parsed, Ignored):
            counts["ignored"] += 1
            return JSONResponse({"status": "ignored", "event": parsed.event}, status_code=202)
        try:
            added = await asyncio.wrap_future(journal.submit(parsed.to_event()))
        except Exception as exc:
            counts["refused_unavailable"] += 1
            logger.error("kili-rules: the journal refused an event: %s", exc)
            return _error(
                503,
                "store_unavailable",
                "the event could not be stored; retry later",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if added is Added.FULL:
            counts["refused_full"] += 1
            return _error(
                503,
                "busy",
                f"{journal.max_backlog} events are waiting; retry later",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        body_out = {
            "status": added.value,
            "event": parsed.event,
            "key": parsed.key_text,
            "label_id": parsed.label_id,
            "asset_id": parsed.asset_id,
        }
        if added is Added.DUPLICATE:
            counts["duplicates"] += 1
            return JSONResponse(body_out, status_code=200)
        counts["accepted"] += 1
        pool.wake()
        return JSONResponse(body_out, status_code=202)

    @app.get("/healthz")
    async def healthz() -> Any:
        """Liveness only: the process answers. No counters, no authentication."""
        return {"status": "ok"}

    @app.get("/status")
    async def status(request: Request) -> Any:
        if not _authorized(request.headers.get("authorization"), secrets):
            return _error(401, "unauthorized", "missing or wrong Authorization header")
        try:
            stats = await run_in_threadpool(journal.stats)
        except Exception as exc:  # the store itself is down: say so, never a traceback
            return _unavailable(str(exc) or type(exc).__name__)
        reason = _store_fault(journal)
        if reason is not None:  # reads work, writes do not (disk full, read-only file)
            return _unavailable(reason)
        return status_document(stats, pool.snapshot(), dict(counts), settings())

    def _unavailable(reason: str) -> Any:
        document = {
            "status": "store_unavailable",
            "detail": reason,
            "refused_unavailable": counts["refused_unavailable"],
            "requests": dict(counts),
            "workers": pool.snapshot(),
            **settings(),
        }
        return JSONResponse(document, status_code=503)

    @app.get("/metrics")
    async def metrics(request: Request) -> Any:
        if not _authorized(request.headers.get("authorization"), secrets):
            return _error(401, "unauthorized", "missing or wrong Authorization header")
        try:
            stats = await run_in_threadpool(journal.stats)
        except Exception as exc:
            return _error(503, "store_unavailable", str(exc) or type(exc).__name__)
        text = prometheus_text(stats, pool.snapshot(), dict(counts))
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Any:
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, error, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> Any:
        logger.exception("kili-rules webhook: unexpected error", exc_info=exc)
        return _error(500, "internal_error", "unexpected server error (logged)")

    return app
