"""``kili-rules serve``: the app under uvicorn, with the connection limits applied."""

from __future__ import annotations

import logging
import os
import resource
from collections.abc import Sequence
from typing import Any

from .app import create_app
from .limits import guarded_protocol, install_log_handler

logger = logging.getLogger("kili_rules.webhook")
FD_RESERVE = 64  # descriptors kept for the journal, the Kili client and logs


def connection_cap(requested: int) -> tuple[int, int]:
    """(connections, listen backlog) that fit the open-file limit (``ulimit -n``).

    asyncio accepts up to ``backlog`` sockets in one go before the protocol can refuse any,
    so the cap leaves room for a full backlog on top of the reserve: ``accept`` never hits
    "Too many open files".
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return requested, min(1024, requested)
    backlog = max(8, min(1024, soft // 8))
    return max(1, min(requested, soft - FD_RESERVE - backlog)), backlog


def serve(
    rules_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    secret: str | Sequence[str] | None = None,
    insecure_no_auth: bool = False,
    max_connections: int = 1000,
    header_timeout: float = 10.0,
    body_timeout: float = 10.0,
    keep_alive_timeout: float = 5.0,
    **options: Any,
) -> None:
    """Run the webhook server under uvicorn until SIGINT/SIGTERM (``kili-rules serve``).

    On SIGTERM uvicorn stops accepting connections and finishes the requests in flight
    (each is answered only once its event is committed); then the workers finish their
    events or give their leases back. ``options`` go to :func:`create_app`.
    """
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("serve needs uvicorn: pip install 'kili-rules[server]'") from exc
    if secret is None and not insecure_no_auth:
        raise ValueError(
            "no webhook secret: set one (the Authorization header Kili sends), or pass "
            "--insecure-no-auth to accept unauthenticated requests"
        )
    install_log_handler()
    cap, backlog = connection_cap(max_connections)
    if cap < max_connections:
        logger.warning(
            "kili-rules: at most %d connections (the open-file limit is too low for %d)",
            cap,
            max_connections,
        )
    app = create_app(rules_path, secret=secret, body_timeout=body_timeout, **options)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(max_connections=cap, header_timeout=header_timeout),
        limit_concurrency=cap + 1,  # the protocol refuses first, with its own 503
        timeout_keep_alive=int(max(1, keep_alive_timeout)),
        h11_max_incomplete_event_size=64 * 1024,
        backlog=backlog,
        timeout_graceful_shutdown=int(options.get("shutdown_grace", 20.0)) + 5,
        log_config=None,
        access_log=False,
    )
    uvicorn.Server(config).run()
