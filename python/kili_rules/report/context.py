"""What a report was made from (inputs, rules file, version, time) and where its assets live in
Kili (project id, base URL), so that a page says what it checked and links each asset."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

#: Kili's SaaS; an on-premise install passes its own base URL.
DEFAULT_KILI_URL = "https://cloud.kili-technology.com"


def now_iso() -> str:
    """The current UTC time, to the second, as ISO 8601."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def package_version() -> str:
    from kili_rules._native import __version__

    return __version__


@dataclass(frozen=True)
class Context:
    """What was checked and where the assets are.

    ``inputs``: the exports or sources read. ``rules_file``: the rules file, when there was one.
    ``version``: kili-rules version. ``checked_at``: ISO 8601 time of the check. ``project_id``
    and ``kili_url``: when both are known, each asset links to Kili's labeling interface
    (``{kili_url}/label/projects/{project_id}/labeling/{asset_id}``); ``asset_url`` replaces that
    pattern (same placeholders) for an install where it differs.
    """

    inputs: tuple[str, ...] = ()
    rules_file: str | None = None
    version: str = field(default_factory=package_version)
    checked_at: str = field(default_factory=now_iso)
    project_id: str | None = None
    kili_url: str | None = DEFAULT_KILI_URL
    asset_url: str | None = None

    def with_(self, **changes: Any) -> Context:
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def link(self, asset_id: str | None) -> str | None:
        """The asset's page in Kili's labeling interface, or None when it cannot be known."""
        if not asset_id or not self.project_id:
            return None
        if len(asset_id) > 256 or len(self.project_id) > 256:
            return None  # no Kili id is that long: label data, not a page to link to
        if self.asset_url:
            pattern = self.asset_url
        elif self.kili_url:
            pattern = "{kili_url}/label/projects/{project_id}/labeling/{asset_id}"
        else:
            return None
        return pattern.format(
            kili_url=(self.kili_url or "").rstrip("/"),
            project_id=quote(self.project_id, safe=""),
            asset_id=quote(asset_id, safe=""),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": list(self.inputs),
            "rules_file": self.rules_file,
            "version": self.version,
            "checked_at": self.checked_at,
            "project_id": self.project_id,
            "kili_url": self.kili_url,
        }

    @staticmethod
    def merge(contexts: Iterable[Context]) -> Context:
        """One context for several reports: their inputs in order, the rest from the first."""
        contexts = list(contexts)
        if not contexts:
            return Context()
        inputs = tuple(i for context in contexts for i in context.inputs)
        return replace(contexts[0], inputs=inputs)
