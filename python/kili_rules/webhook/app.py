"""Kili webhook server: authenticate, parse, queue, and check labels with a RuleSet.

``create_app(rules, ...)`` returns a FastAPI app; ``serve(rules_path, ...)`` runs it under
uvicorn (``kili-rules serve``). Requests are answered at once (202) and processed by a bounded
background worker through :class:`kili_rules.plugin.RulesPlugin`, the only code that calls
the Kili API.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

try:
    from fastapi import FastAPI, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "kili_rules.webhook needs FastAPI and uvicorn; "
        "install them with: pip install 'kili-rules[server]'"
    ) from exc

from kili_rules import RuleSet
from kili_rules._webhook_envelope import Ignored, Job, PayloadError, parse_body
from kili_rules._webhook_worker import Submit, Worker
from kili_rules.plugin import RulesPlugin

__all__ = ["create_app", "serve"]

logger = logging.getLogger("kili_rules.webhook")
plugin_logger = logging.getLogger("kili_rules.plugin")

RETRY_AFTER_SECONDS = 5


class _LazyKili:
    """Stands in for the Kili client and builds it on first use, from the endpoint and key.

    A dry run on labels that carry their jsonResponse never touches the API, so it never
    builds a client (and needs no key).
    """

    def __init__(self, api_endpoint: str | None, api_key: str | None) -> None:
        self._endpoint = api_endpoint
        self._key = api_key
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
                self._client = Kili(api_key=key, api_endpoint=self._endpoint, disable_tqdm=True)
            return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


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


def create_app(
    rules: RuleSet | str | os.PathLike[str],
    *,
    secret: str | Sequence[str] | None = None,
    kili: Any = None,
    api_endpoint: str | None = None,
    api_key: str | None = None,
    dry_run: bool = False,
    max_body_bytes: int = 5_000_000,
    queue_size: int = 1000,
    workers: int = 1,
    dedupe_size: int = 10_000,
) -> FastAPI:
    """Build the webhook app.

    ``secret``: the exact ``Authorization`` header value Kili sends (the ``header`` given to
    ``create_webhook``); several values are accepted during a rotation; None leaves the
    endpoint open (logged as a warning). ``kili``: a ready client, else one is built on first
    use from ``api_endpoint`` / ``api_key`` (or KILI_API_ENDPOINT / KILI_API_KEY).
    ``app.state.worker.join(timeout)`` waits until the accepted events are processed.
    """
    ruleset = rules if isinstance(rules, RuleSet) else RuleSet.from_file(rules)
    secrets = _secrets(secret)
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes must be at least 1")
    client: Any = kili if kili is not None else _LazyKili(api_endpoint, api_key)
    if not secrets:
        logger.warning(
            "kili-rules webhook: no secret configured, the endpoint is UNAUTHENTICATED "
            "(anyone who can reach it can trigger label checks)"
        )

    def process(job: Job) -> bool:
        started = time.perf_counter()
        record: dict[str, Any] = {
            "msg": "kili-rules decision",
            "event": job.event,
            "key": job.key_text,
            "run_id": job.run_id,
        }
        try:
            plugin = RulesPlugin(
                client, job.project_id, plugin_logger, rules=ruleset, dry_run=dry_run
            )
            decision = plugin.check_label(job.label, job.asset_id, handler=job.handler)
            record.update(decision.to_dict())
            done = not decision.retryable
        except Exception as exc:  # RulesPlugin catches its own errors: this is a last guard
            record.update(
                project_id=job.project_id,
                label_id=job.label_id,
                asset_id=job.asset_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            done = False
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        level = logging.ERROR if record.get("error") else logging.INFO
        logger.log(level, json.dumps(record, sort_keys=True))
        return done

    worker = Worker(
        process,
        lambda job: job.key,
        queue_size=queue_size,
        threads=workers,
        dedupe_size=dedupe_size,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        worker.start()
        yield
        await run_in_threadpool(worker.stop)

    app = FastAPI(
        title="kili-rules webhook",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.worker = worker
    app.state.ruleset = ruleset
    app.state.counts = {"rejected": 0, "ignored": 0}
    counts_lock = threading.Lock()

    def count(name: str) -> None:
        with counts_lock:
            app.state.counts[name] += 1

    @app.post("/")
    async def receive(request: Request) -> Any:
        if not _authorized(request.headers.get("authorization"), secrets):
            count("rejected")
            return _error(401, "unauthorized", "missing or wrong Authorization header")
        try:
            body = await _read_body(request, max_body_bytes)
            parsed = await run_in_threadpool(parse_body, body, ruleset.fingerprint)
        except PayloadError as exc:
            count("rejected")
            return _error(exc.status, exc.error, exc.detail)
        if isinstance(parsed, Ignored):
            count("ignored")
            return JSONResponse({"status": "ignored", "event": parsed.event}, status_code=202)
        outcome = worker.submit(parsed)
        if outcome is Submit.FULL:
            return _error(
                503,
                "busy",
                f"{queue_size} events are waiting; retry later",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        body_out = {
            "status": outcome.value,
            "event": parsed.event,
            "key": parsed.key_text,
            "label_id": parsed.label_id,
            "asset_id": parsed.asset_id,
        }
        if outcome is Submit.DUPLICATE:
            logger.info(json.dumps({"msg": "kili-rules duplicate", **body_out}, sort_keys=True))
            return JSONResponse(body_out, status_code=200)
        return JSONResponse(body_out, status_code=202)

    @app.get("/healthz")
    async def healthz() -> Any:
        with counts_lock:
            counts = dict(app.state.counts)
        return {
            "status": "ok",
            "rules_fingerprint": ruleset.fingerprint,
            "dry_run": dry_run,
            "authenticated": bool(secrets),
            **counts,
            **worker.snapshot(),
        }

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Any:
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, error, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> Any:
        logger.exception("kili-rules webhook: unexpected error", exc_info=exc)
        return _error(500, "internal_error", "unexpected server error (logged)")

    return app


def serve(
    rules_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    secret: str | None = None,
    api_endpoint: str | None = None,
    api_key: str | None = None,
    dry_run: bool = False,
) -> None:
    """Run the webhook server under uvicorn until interrupted (``kili-rules serve``)."""
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("serve needs uvicorn: pip install 'kili-rules[server]'") from exc
    package_logger = logging.getLogger("kili_rules")
    if not package_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        package_logger.addHandler(handler)
        package_logger.setLevel(logging.INFO)
    app = create_app(
        RuleSet.from_file(Path(rules_path)),
        secret=secret,
        api_endpoint=api_endpoint,
        api_key=api_key,
        dry_run=dry_run,
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
