"""``KiliEmulator``: the public face of the emulator (server lifecycle, seeding, inspection)."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from .delivery import Delivery, Dispatcher
from .faults import CountFault, Fault, Faults, LostWrite, PageFault
from .plugins import PLUGIN_SDL, UPLOAD_PATH, PluginHost, PluginRun, plugin_resolvers
from .resolvers import build_root
from .schema import SCHEMA_VERSION, SDL
from .server import EmulatorHTTPServer, GraphQLService
from .state import (
    STATUS_AFTER_LABEL,
    EmulatorError,
    EmulatorState,
    Issue,
    Label,
    Webhook,
    now_iso,
)

GRAPHQL_PATH = "/api/label/v2/graphql"
VERSION_PATH = "/api/label/v2/version"
DEFAULT_API_KEY = "kili-rules-emulator-key"
# the SDK's schema cache is named after it: the plugin fields are part of the served schema
SERVED_VERSION = f"{SCHEMA_VERSION}-{hashlib.sha256(PLUGIN_SDL.encode()).hexdigest()[:8]}"


class KiliEmulator:
    """An in-memory Kili GraphQL API on a loopback port; see the package docstring."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        serve_version: bool = True,
        delivery_timeout: float = 10.0,
    ) -> None:
        """Configure (not start) an emulator.

        Args:
            api_key: the only key accepted (``Authorization: X-API-Key: <key>``).
            host: a loopback address to bind; anything else is refused.
            port: 0 for an ephemeral port.
            serve_version: answer ``GET .../version`` with a hash of the SDL, which lets the
                SDK cache the schema safely; False answers 404 (the SDK then introspects
                once per client and caches nothing).
            delivery_timeout: seconds allowed to each webhook POST.
        """
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"KiliEmulator binds loopback addresses only, not {host!r}")
        if delivery_timeout <= 0:
            raise ValueError("delivery_timeout must be positive")
        self._api_key = api_key
        self._host = host
        self._port = port
        self._serve_version = serve_version
        self._state = EmulatorState()
        self._faults = Faults()
        self._deliveries: list[Delivery] = []
        self._dispatcher = Dispatcher(self._record_delivery, delivery_timeout)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._plugins = PluginHost(
            self._state, lambda: self.endpoint, lambda: self.url, self._api_key
        )

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> KiliEmulator:
        """Bind the port and serve from a background thread. Returns self."""
        if self._server is not None:
            return self
        root = build_root(self._state, self._api_key, self._dispatcher.submit, self._faults)
        root.update(plugin_resolvers(self._plugins, root))  # hosted plugins (plugins.py)
        service = GraphQLService(SDL + PLUGIN_SDL, root, self._state, self._api_key, self._faults)
        server = EmulatorHTTPServer(
            (self._host, self._port),
            service,
            GRAPHQL_PATH,
            VERSION_PATH,
            SERVED_VERSION if self._serve_version else None,
        )
        server.uploads = (UPLOAD_PATH, self._plugins.receive_upload)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="kili-emulator-http",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and delivering (idempotent). Queued webhook events are dropped."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        self._dispatcher.close()
        self._plugins.close()

    def __enter__(self) -> KiliEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _running(self) -> EmulatorHTTPServer:
        if self._server is None:
            raise RuntimeError("the KiliEmulator is not started: use start() or a with block")
        return self._server

    @property
    def port(self) -> int:
        return int(self._running().server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        host = self._host if ":" not in self._host else f"[{self._host}]"
        return f"http://{host}:{self.port}"

    @property
    def endpoint(self) -> str:
        """The GraphQL URL to pass as ``Kili(api_endpoint=...)``."""
        return self.url + GRAPHQL_PATH

    @property
    def api_key(self) -> str:
        return self._api_key

    def kili_client(self, *, timeout: float | None = None, **kwargs: Any) -> Any:
        """A real ``kili.client.Kili`` bound to this emulator.

        ``timeout`` (seconds) replaces the SDK's 60 s request timeout on this client (it sets
        the client's transport ``default_timeout``), so a test of an injected ``timeout`` fault
        does not wait a minute. Other keyword arguments are passed to ``Kili``. Defaults:
        ``disable_tqdm=True`` and
        ``graphql_client_params={"enable_schema_caching": False}``, because the SDK fixes its
        cache directory (``~/.cache/kili/graphql``) when ``kili`` is first imported, so setting
        HOME in a test does not keep it out of the user's cache. Init checks run unless the
        environment sets ``KILI_SDK_SKIP_CHECKS``.
        """
        # imported lazily: kili is an optional dependency (and ships no type information)
        from kili.client import Kili  # type: ignore[import-untyped]

        params: dict[str, Any] = {
            "api_key": self._api_key,
            "api_endpoint": self.endpoint,
            "disable_tqdm": True,
            "graphql_client_params": {"enable_schema_caching": False},
        }
        params.update(kwargs)
        client = Kili(**params)
        if timeout is not None:
            client.graphql_client._gql_transport.default_timeout = timeout
        return client

    # ---- faults and latency ----------------------------------------------------------------

    def inject_fault(
        self,
        operation: str,
        kind: str = "error",
        *,
        calls: int | None = None,
        seconds: float | None = None,
        delay: float | None = None,
        applied: bool = False,
        message: str | None = None,
        status: int = 503,
        retry_after: float | None = None,
    ) -> Fault:
        """Make requests whose root field is ``operation`` (or ``"*"``: any) fail.

        ``kind``: ``"error"`` (a GraphQL error answer), ``"timeout"`` (the answer held
        ``delay`` seconds, default 65: past the SDK's 60 s timeout), ``"refuse"`` (the
        connection reset without an answer) or ``"http"`` (an HTTP ``status`` answer). The
        fault lasts ``calls`` requests and/or ``seconds`` (whichever ends first; neither:
        until ``clear_faults()``). ``applied=True`` runs the operation first, so its effect
        lands and only the answer is lost. ``retry_after`` (seconds, ``http`` only) sends a
        ``Retry-After`` header, as Kili's rate limiter does on a 429. Returns the
        ``Fault`` (its ``hits`` counts the requests it spoiled). Faults are checked in the
        order they were injected; see :mod:`kili_rules.testing.faults`.
        """
        return self._faults.add(
            operation,
            kind,
            calls=calls,
            seconds=seconds,
            delay=delay,
            applied=applied,
            message=message,
            status=status,
            retry_after=retry_after,
        )

    def inject_page_fault(
        self,
        skip: int,
        *,
        serve_skip: int | None = None,
        before: Callable[[], None] | None = None,
        calls: int = 1,
    ) -> PageFault:
        """Make the ``assets`` query asked at ``skip`` misbehave, ``calls`` times.

        ``serve_skip``: answer the page at that offset instead (an earlier one: a page served
        twice; a later one: a page never served). ``before``: run it first, e.g. to add or
        delete assets between two pages (``emu.add_assets``, ``emu.delete_assets``).
        """
        return self._faults.add_page(
            "assets", skip, serve_skip=serve_skip, before=before, calls=calls
        )

    def inject_insert_between_pages(
        self,
        skip: int,
        project_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        at: int = 0,
        calls: int = 1,
    ) -> PageFault:
        """Before the ``assets`` page asked at ``skip`` is answered, add ``records`` to the
        project at listing position ``at`` (default 0: before the offset a scan has reached,
        so the offset pages serve one asset again and never serve the new one). The new ids
        are in the returned fault's ``added`` once it has fired (``calls`` times: each time
        one more copy of ``records``)."""
        records = list(records)
        fault = self._faults.add_page("assets", skip, before=lambda: None, calls=calls)
        fault.before = lambda: fault.added.extend(self.add_assets(project_id, records, at=at))
        return fault

    def inject_delete_between_pages(self, skip: int, asset_ids: Iterable[str]) -> PageFault:
        """Before the ``assets`` page asked at ``skip`` is answered, delete ``asset_ids``
        (assets before that offset: the pages shift up and one asset is never served)."""
        ids = list(asset_ids)
        return self._faults.add_page("assets", skip, before=lambda: self.delete_assets(ids))

    def inject_count_fault(
        self, by: int, *, operation: str = "countAssets", calls: int | None = 1
    ) -> CountFault:
        """Make ``calls`` calls of a count query (``countAssets``; ``None``: every call until
        cleared) answer the true count plus ``by``: a total that lies."""
        return self._faults.add_count(operation, by, calls)

    def inject_lost_write(
        self, operation: str = "createIssues", *, drop: int = 1, calls: int = 1
    ) -> LostWrite:
        """Make ``calls`` calls of a mutation (``createIssues``) answer every record but keep
        all but the last ``drop``: the answer says saved, Kili does not hold them."""
        return self._faults.add_lost_write(operation, drop, calls)

    def fail_requests(self, root_field: str, statuses: Iterable[int]) -> None:
        """Answer the next requests for ``root_field`` (e.g. ``"assets"``) with these HTTP
        statuses, one per request, before running them (nothing is changed): one ``http``
        fault of one call per status."""
        for status in statuses:
            self._faults.add(
                root_field,
                "http",
                calls=1,
                seconds=None,
                delay=None,
                applied=False,
                message=None,
                status=status,
            )

    def set_latency(self, seconds: float, operation: str = "*") -> None:
        """Wait ``seconds`` before answering each request to ``operation`` (``"*"``: all).

        The largest latency that applies wins; 0 removes it.
        """
        self._faults.set_latency(seconds, operation)

    def clear_faults(self) -> None:
        """Remove every injected fault and latency."""
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The faults still live (not used up, not expired)."""
        return self._faults.active()

    # ---- seeding -------------------------------------------------------------------------

    def add_project(
        self,
        project_id: str | None = None,
        *,
        json_interface: Mapping[str, Any] | None = None,
        input_type: str = "IMAGE",
        title: str = "Emulated project",
        description: str = "",
        steps: Sequence[str] = (),
        workflow_version: str | None = None,
        step_groups: Sequence[tuple[str, Sequence[str]]] | None = None,
    ) -> str:
        """Create a project; returns its id (``project-N`` unless given).

        ``steps`` (at least two names, e.g. ``("Labeling", "Review")``) makes it a workflow v2
        project: assets start in the first step, ``add_to_review`` /
        ``kili.assets.move_to_next_step`` move a labeled asset one step on (declined at the
        last step), ``send_back_to_queue`` / ``kili.assets.invalidate`` take it back to the
        first step; a sent-back asset's step status is ``REWORK`` until submitted again.
        The first step is a labeling step (type ``DEFAULT``), the others review steps.

        ``workflow_version="V3"`` is the multi-group workflow. ``step_groups=[("Annotation",
        ("Labeling", "Review")), ("QA", ("Labeling", "Review"))]`` gives its groups in order
        (with ``steps`` instead: one group, "Default"). Each group is a labeling step then its
        review steps; step names are unique per group only. Moving on from a group's last
        step enters the next group's labeling step (TO_DO); a send-back goes to the labeling
        step of the asset's group. Projects answer ``stepGroups`` and ``steps.stepGroupId``,
        assets ``currentStep.stepGroupName``.
        """
        return self._state.add_project(
            project_id,
            title,
            description,
            input_type,
            json_interface,
            steps,
            workflow_version,
            step_groups,
        )

    def add_asset(
        self,
        project_id: str,
        asset_id: str | None = None,
        *,
        external_id: str | None = None,
        resolution: tuple[int, int] | None = None,
        content: str = "",
        status: str = "TODO",
        json_metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an asset; returns its id (``asset-N`` unless given).

        ``resolution`` is ``(width, height)``; ``external_id`` defaults to the id.
        """
        return self._state.add_asset(
            project_id, asset_id, external_id, content, resolution, status, json_metadata
        )

    def add_label(
        self,
        asset_id: str,
        json_response: Mapping[str, Any] | None,
        *,
        label_type: str = "DEFAULT",
        author_id: str | None = None,
    ) -> str:
        """Store a label directly (no webhook fires); returns its id. Updates asset status.

        ``json_response=None`` stores a label without an inline jsonResponse (served as ``""``,
        as Kili does for labels it keeps elsewhere).
        """
        if json_response is None:
            with self._state.lock:
                asset = self._state.asset(asset_id)
                label = self._state._bulk_label(
                    asset,
                    {"json_response": None, "label_type": label_type, "author_id": author_id},
                    now_iso(),
                    0,
                )
                self._state.labels[label.id] = label
                asset.label_ids.append(label.id)
                asset.status = STATUS_AFTER_LABEL.get(label_type, asset.status)
                if label_type in STATUS_AFTER_LABEL:
                    asset.reworked = False
                return label.id
        item = {
            "assetID": asset_id,
            "authorID": author_id,
            "jsonResponse": json.dumps(json_response),
        }
        created, _events = self._state.append_labels(
            {"labelType": label_type, "labelsData": [item]}, {}
        )
        return created[0].id

    def add_assets(
        self, project_id: str, records: Iterable[Mapping[str, Any]], *, at: int | None = None
    ) -> list[str]:
        """Bulk-load assets with their labels in one go (tens of thousands in a second or two).

        Each record may hold ``external_id``, ``resolution`` ((width, height)), ``status``,
        ``json_metadata`` and ``labels``: a list whose items are a jsonResponse (dict or JSON
        string; None for a label stored without an inline jsonResponse, served as ``""``) or
        ``{"json_response": ..., "label_type": "DEFAULT", "author_id": ...}``. No webhook
        fires. ``at``: their place in the project's listing order (None: the end; 0: before
        every other asset). Returns the new asset ids, in order.
        """
        return self._state.bulk_load(project_id, records, at)

    def delete_assets(self, asset_ids: Iterable[str]) -> None:
        """Delete assets, their labels and their issues (Kili's ``deleteManyFromDataset``)."""
        self._state.delete_assets(asset_ids)

    def reset(self) -> None:
        """Forget all data, logs, faults and latency; the server keeps running on the same port."""
        with self._state.lock:
            self._state.reset()
            self._deliveries.clear()
            self._plugins.reset()
        self._faults.clear()

    # ---- inspection ----------------------------------------------------------------------

    def project(self, project_id: str) -> dict[str, Any]:
        with self._state.lock:
            p = self._state.project(project_id)
            return {
                "id": p.id,
                "title": p.title,
                "description": p.description,
                "inputType": p.input_type,
                "jsonInterface": json.loads(json.dumps(p.json_interface)),
                "workflowVersion": p.workflow_version,
                "steps": list(p.steps),
                "stepGroups": list(dict.fromkeys(p.step_groups)),
            }

    def asset(self, asset_id: str) -> dict[str, Any]:
        """``{id, projectId, externalId, status, content, resolution, labelIds, metadata,
        step, stepGroup, stepStatus, priority}`` (``step``: the workflow v2/v3 step name,
        ``stepGroup`` its V3 group, ``stepStatus`` the status in it; None in the legacy
        workflow)."""
        from .resolvers import step_status

        with self._state.lock:
            a = self._state.asset(asset_id)
            project = self._state.project(a.project_id)
            steps = project.steps
            return {
                "metadata": json.loads(json.dumps(a.json_metadata)),
                "step": steps[a.step] if steps else None,
                "stepGroup": project.step_groups[a.step] if project.step_groups else None,
                "stepStatus": step_status(a) if steps else None,
                "priority": a.priority,
                "id": a.id,
                "projectId": a.project_id,
                "externalId": a.external_id,
                "status": a.status,
                "content": a.content,
                "resolution": a.resolution,
                "labelIds": list(a.label_ids),
            }

    def assets(self, project_id: str | None = None) -> list[dict[str, Any]]:
        """The assets (of one project: in its listing order, the order pages serve them)."""
        with self._state.lock:
            if project_id is not None:
                order = self._state.project_assets.get(project_id, [])
                return [self.asset(asset_id) for asset_id in order]
            return [
                self.asset(a.id)
                for a in self._state.assets.values()
                if project_id is None or a.project_id == project_id
            ]

    def labels(
        self, project_id: str | None = None, *, asset_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Labels in creation order; ``jsonResponse`` is a dict (a copy)."""
        with self._state.lock:
            return [
                _label_dict(lb)
                for lb in self._state.labels.values()
                if (project_id is None or lb.project_id == project_id)
                and (asset_id is None or lb.asset_id == asset_id)
            ]

    def issues(
        self,
        project_id: str | None = None,
        *,
        asset_id: str | None = None,
        label_id: str | None = None,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        """Issues in creation order, filtered by project, asset, label and status (OPEN,
        SOLVED, CANCELLED): ``{id, labelId, objectMid, text, type, status, assetId, projectId,
        createdAt, updatedAt}``."""
        with self._state.lock:
            return [
                _issue_dict(i)
                for i in self._state.issues.values()
                if (project_id is None or i.project_id == project_id)
                and (asset_id is None or i.asset_id == asset_id)
                and (label_id is None or i.label_id == label_id)
                and (status is None or i.status == status)
            ]

    @property
    def sent_back(self) -> list[str]:
        """Asset ids of every send-back-to-queue call, in call order (repeats kept)."""
        with self._state.lock:
            return list(self._state.sent_back)

    @property
    def added_to_review(self) -> list[str]:
        """Asset ids that add_to_review / move_to_next_step moved on, in order (repeats kept)."""
        with self._state.lock:
            return list(self._state.added_to_review)

    @property
    def webhooks(self) -> list[dict[str, Any]]:
        """``{name, url, header, handlerTypes, eventMatcher, projects}`` per webhook."""
        with self._state.lock:
            return [_webhook_dict(w) for w in self._state.webhooks.values()]

    @property
    def requests(self) -> list[str]:
        """Root field of every GraphQL request received, in order (e.g. ``"countLabels"``)."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def deliveries(self) -> list[Delivery]:
        """Webhook POSTs made so far, in order."""
        with self._state.lock:
            return list(self._deliveries)

    @property
    def plugins(self) -> list[dict[str, Any]]:
        """Hosted plugins (``upload_plugin``): ``{name, status, handlerTypes, eventMatcher,
        projectIds, ...}`` each, as ``listPlugins`` answers (webhooks excluded)."""
        return [p for p in self._plugins.list_plugins() if not p["id"].startswith("webhook-")]

    @property
    def plugin_runs(self) -> list[PluginRun]:
        """Runs of hosted plugins on events so far, in order (``ok``, ``error``, ``output``)."""
        with self._state.lock:
            return list(self._plugins.runs)

    def wait_for_plugin_runs(self, n: int, timeout: float = 60.0) -> list[PluginRun]:
        """Wait until at least ``n`` hosted-plugin runs ended; returns all runs."""
        self.wait_until(
            lambda: len(self._plugins.runs) >= n,
            timeout,
            f"{n} plugin runs (have {len(self._plugins.runs)})",
        )
        return self.plugin_runs

    def _record_delivery(self, delivery: Delivery) -> None:
        with self._state.changed:
            self._deliveries.append(delivery)
            self._state.changed.notify_all()

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait until ``predicate()`` holds (re-checked on every state change).

        Raises TimeoutError naming ``what`` after ``timeout`` seconds.
        """
        if not self._state.wait_until(predicate, timeout):
            raise TimeoutError(f"KiliEmulator: {what} not reached within {timeout} s")

    def wait_for_deliveries(self, n: int, timeout: float = 5.0) -> list[Delivery]:
        """Wait until at least ``n`` webhook POSTs completed; returns all deliveries."""
        self.wait_until(
            lambda: len(self._deliveries) >= n,
            timeout,
            f"{n} webhook deliveries (have {len(self._deliveries)})",
        )
        return self.deliveries


def _label_dict(label: Label) -> dict[str, Any]:
    return {
        "id": label.id,
        "assetId": label.asset_id,
        "projectId": label.project_id,
        "labelType": label.label_type,
        "jsonResponse": json.loads(json.dumps(label.json_response)),
        "authorId": label.author_id,
        "createdAt": label.created_at,
        "isSentBackToQueue": label.is_sent_back_to_queue,
    }


def _issue_dict(issue: Issue) -> dict[str, Any]:
    return {
        "id": issue.id,
        "labelId": issue.label_id,
        "objectMid": issue.object_mid,
        "text": issue.text,
        "type": issue.type,
        "status": issue.status,
        "assetId": issue.asset_id,
        "projectId": issue.project_id,
        "createdAt": issue.created_at,
        "updatedAt": issue.updated_at,
    }


def _webhook_dict(hook: Webhook) -> dict[str, Any]:
    return {
        "name": hook.name,
        "url": hook.url,
        "header": hook.header,
        "handlerTypes": list(hook.handler_types),
        "eventMatcher": list(hook.event_matcher) if hook.event_matcher is not None else None,
        "projects": list(hook.projects),
    }


__all__ = ["Delivery", "EmulatorError", "Fault", "KiliEmulator"]
