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


class KiliAccessError(RuntimeError):
    """Kili refused the API key at start, or the key cannot read a project to serve."""


def check_kili_access(
    api_endpoint: str | None,
    api_key: str | None,
    projects: Sequence[str] = (),
    timeout: float | None = None,
) -> Any:
    """Build the Kili client now and check the key and each project; return the client.

    Raises ``KiliAccessError`` when Kili refuses the key or a project is unreadable with it:
    a server that starts anyway would journal every event and fail each one. Kili that
    cannot be reached (connection refused, a timeout) returns None: the server starts, and
    the events it journals are retried until Kili answers.
    """
    from kili.client import Kili  # type: ignore[import-untyped]
    from kili.exceptions import AuthenticationFailed  # type: ignore[import-untyped]

    key = api_key or os.environ.get("KILI_API_KEY")
    if not key:
        raise KiliAccessError("no Kili API key: set KILI_API_KEY (or --api-key-env)")
    try:
        client = Kili(api_key=key, api_endpoint=api_endpoint, disable_tqdm=True)
        # the SDK skips its own key check under KILI_SDK_SKIP_CHECKS: ask Kili here
        verdict = _viewer_check(client, key)
    except AuthenticationFailed as exc:
        raise KiliAccessError(f"Kili refused the API key: {' '.join(str(exc).split())}") from exc
    except Exception as exc:  # unreachable, a timeout: not a verdict on the key
        verdict = f"unreachable: {' '.join(str(exc).split())[:300]}"
    if verdict is not None and verdict.startswith("refused"):
        raise KiliAccessError(f"Kili {verdict}")
    if verdict is not None:
        logger.warning(
            "kili-rules: Kili could not be checked at start (%s); starting anyway, the "
            "events are journaled and retried",
            verdict,
        )
        return None
    if timeout is not None:
        client.graphql_client._gql_transport.default_timeout = timeout
    for project_id in projects:
        try:
            readable = client.count_projects(project_id=project_id) == 1
        except Exception as exc:
            raise KiliAccessError(
                f"project {project_id}: cannot be read with this API key: "
                f"{' '.join(str(exc).split())[:300]}"
            ) from exc
        if not readable:
            raise KiliAccessError(
                f"project {project_id}: does not exist or cannot be read with this API key"
            )
    return client


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


def _viewer_check(client: Any, key: str) -> str | None:
    """None when Kili answers the viewer with this key; "refused ..." or why it could not."""
    response = client.http_client.post(
        url=client.api_endpoint,
        data='{"query":"{ viewer { id } }"}',
        timeout=30,
        headers={
            "Authorization": f"X-API-Key: {key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
    )
    if response.status_code in (401, 403):
        return f"refused the API key (HTTP {response.status_code})"
    if response.status_code != 200:
        return f"HTTP {response.status_code} on the viewer query"
    try:
        body = response.json()
    except ValueError:
        return "answered the viewer query with no JSON"
    viewer = ((body.get("data") or {}).get("viewer") or {}) if isinstance(body, dict) else {}
    if isinstance(viewer, dict) and viewer.get("id"):
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    message = errors[0].get("message") if isinstance(errors, list) and errors else None
    return f"refused the API key: {message or 'no viewer for it'}"


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
    projects: Sequence[str] = (),
    **options: Any,
) -> None:
    """Run the webhook server under uvicorn until SIGINT/SIGTERM (``kili-rules serve``).

    On SIGTERM uvicorn stops accepting connections and finishes the requests in flight
    (each is answered only once its event is committed); then the workers finish their
    events or give their leases back. ``options`` go to :func:`create_app`.

    Unless ``dry_run``, the API key and each of ``projects`` are checked first
    (:func:`check_kili_access`; ``KiliAccessError`` before anything is bound).
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
    if not options.get("dry_run") and options.get("kili") is None:
        client = check_kili_access(
            options.get("api_endpoint"),
            options.get("api_key"),
            projects,
            options.get("kili_timeout"),
        )
        if client is not None:
            options["kili"] = client  # built and checked: the workers use this one
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
