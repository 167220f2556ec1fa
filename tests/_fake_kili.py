"""A recording stand-in for ``kili.client.Kili`` (unit tests of the plugin and webhook).

Every call is checked against the real SDK method's signature (``inspect.signature.bind``),
so a call the real client would reject fails here too.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from kili.client import Kili  # type: ignore[import-untyped]


class FakeKili:
    def __init__(self, stored: dict[str, Any] | None = None) -> None:
        self.stored = dict(stored or {})  # label id -> jsonResponse returned by labels()
        self.resolutions: dict[str, tuple[int, int]] = {}  # asset id -> (width, height)
        self.metadata: dict[str, dict[str, Any]] = {}  # asset id -> jsonMetadata
        self.status: dict[str, str] = {}  # asset id -> status (default LABELED)
        self.open_issues: list[dict[str, Any]] = []  # rows returned by issues()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, Exception] = {}  # method name -> exception to raise
        self.gate: threading.Event | None = None  # create_issues waits on it when set
        self.entered = threading.Event()  # set when create_issues is entered
        self._lock = threading.Lock()

    def _record(self, name: str, kwargs: dict[str, Any]) -> None:
        inspect.signature(getattr(Kili, name)).bind(self, **kwargs)
        with self._lock:
            self.calls.append((name, kwargs))
        if name in self.fail:
            raise self.fail[name]

    def named(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [kwargs for called, kwargs in self.calls if called == name]

    @property
    def writes(self) -> list[str]:
        with self._lock:
            return [
                name
                for name, _ in self.calls
                if name not in ("labels", "assets", "issues", "projects")
            ]

    def labels(self, **kwargs: Any) -> list[dict[str, Any]]:
        self._record("labels", kwargs)
        label_id = kwargs.get("label_id")
        if label_id not in self.stored:
            return []
        return [{"id": label_id, "jsonResponse": self.stored[label_id]}]

    def assets(self, **kwargs: Any) -> list[dict[str, Any]]:
        self._record("assets", kwargs)
        if kwargs.get("asset_id_in") is not None:
            return [
                {
                    "id": a,
                    "jsonMetadata": dict(self.metadata.get(a, {})),
                    "status": self.status.get(a, "LABELED"),
                }
                for a in kwargs["asset_id_in"]
            ]
        size = self.resolutions.get(kwargs.get("asset_id"))
        if size is None:
            return []
        return [{"id": kwargs.get("asset_id"), "resolution": {"width": size[0], "height": size[1]}}]

    def create_issues(self, **kwargs: Any) -> list[dict[str, str]]:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        self._record("create_issues", kwargs)
        return [{"id": f"issue-{i}"} for i, _ in enumerate(kwargs["label_id_array"])]

    def projects(self, **kwargs: Any) -> list[dict[str, Any]]:
        self._record("projects", kwargs)
        return [{"id": kwargs.get("project_id"), "workflowVersion": "V1"}]

    def issues(self, **kwargs: Any) -> list[dict[str, Any]]:
        self._record("issues", kwargs)
        return [dict(i) for i in self.open_issues]

    def update_issue_status(self, **kwargs: Any) -> dict[str, Any]:
        self._record("update_issue_status", kwargs)
        return {"updatePropertiesInIssue": {"id": kwargs["issue_id"]}}

    def update_properties_in_assets(self, **kwargs: Any) -> list[dict[str, str]]:
        self._record("update_properties_in_assets", kwargs)
        for asset, metadata in zip(kwargs["asset_ids"], kwargs["json_metadatas"], strict=True):
            self.metadata[asset] = dict(metadata)
        return [{"id": a} for a in kwargs["asset_ids"]]

    def add_to_review(self, **kwargs: Any) -> dict[str, list[dict[str, Any]]]:
        self._record("add_to_review", kwargs)
        done = [{"assetId": a, "externalId": None} for a in kwargs["asset_ids"]]
        return {"succeeded": done, "declined": [], "failed": []}

    def send_back_to_queue(self, **kwargs: Any) -> dict[str, list[dict[str, Any]]]:
        self._record("send_back_to_queue", kwargs)
        done = [{"assetId": a, "externalId": None} for a in kwargs["asset_ids"]]
        return {"succeeded": done, "declined": [], "failed": []}

    def create_webhook(self, **kwargs: Any) -> str:
        self._record("create_webhook", kwargs)
        return "webhook created"

    def update_webhook(self, **kwargs: Any) -> str:
        self._record("update_webhook", kwargs)
        return "webhook updated"

    def activate_plugin_on_project(self, **kwargs: Any) -> str:
        self._record("activate_plugin_on_project", kwargs)
        return "activated"
