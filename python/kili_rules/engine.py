"""The one engine: the compiled native rules and the Python rules, run together.

Every path that checks labels goes through an :class:`Engine` (``RuleSet`` holds one):
``validate`` / ``decide`` (one label: the plugin, the webhook server), ``validate_many``
(records: a batch, a Kili project's pages, Dask and Spark tasks) and ``validate_export``. So a
path cannot forget the Python rules: there is no other way to reach the native core.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kili_rules._native import BatchResult, Issue, LabelView, RulesError
from kili_rules._native import Engine as NativeEngine
from kili_rules.python_rules import PythonRule, run_rules

Resolution = tuple[float, float]
Pages = Mapping[int, Resolution]


class Engine:
    """The native RuleSet and the Python rules; pickles as the native rules' normalized JSON
    and the Python rules by reference."""

    __slots__ = ("_fingerprint", "_hook", "_native", "_python")

    def __init__(self, native: NativeEngine, python: Iterable[PythonRule] = ()) -> None:
        self._python = tuple(python)
        seen = {r["id"] for r in native.rules()}
        for rule in self._python:
            if rule.rule_id in seen:
                raise RulesError(f"duplicate rule id '{rule.rule_id}'")
            seen.add(rule.rule_id)
        # Python rules need every label's geometry and, in batch runs, the labels themselves.
        self._native = native.with_label_views() if self._python else native
        self._hook: Callable[[LabelView], list[Issue]] | None = (
            self._check_view if self._python else None
        )
        digest = hashlib.sha256(native.config_json().encode())
        for rule in self._python:
            digest.update(repr(sorted(rule.describe().items())).encode())
        self._fingerprint = digest.hexdigest()

    @classmethod
    def from_json(cls, config_json: str, python: Iterable[PythonRule] = ()) -> Engine:
        return cls(NativeEngine.from_json(config_json), python)

    # -- what the rules are ---------------------------------------------------------------

    @property
    def python_rules(self) -> tuple[PythonRule, ...]:
        return self._python

    def rules(self) -> list[dict[str, Any]]:
        """Native rules as normalized dicts, then the Python rules."""
        return self._native.rules() + [r.describe() for r in self._python]

    def actions(self) -> dict[str, Any] | None:
        return self._native.actions()

    def config_json(self) -> str:
        """The native rules' normalized JSON (the Python rules are not in it)."""
        return self._native.config_json()

    @property
    def needs_resolution(self) -> bool:
        return self._native.needs_resolution

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def lint(self, json_interface: Mapping[str, Any] | str) -> list[str]:
        return self._native.lint(json_interface)

    def __len__(self) -> int:
        return len(self._native.rules()) + len(self._python)

    def __reduce__(
        self,
    ) -> tuple[Callable[[str, tuple[PythonRule, ...]], Engine], tuple[str, tuple[PythonRule, ...]]]:
        return (Engine.from_json, (self._native.config_json(), self._python))

    # -- checking -------------------------------------------------------------------------

    def _check_view(self, view: LabelView) -> list[Issue]:
        return run_rules(self._python, view)

    def validate(
        self, label: object, resolution: Resolution | None = None, pages: Pages | None = None
    ) -> list[Issue]:
        """Issues of one label (native first, then Python, per label of a record)."""
        if not self._python:
            page_map = dict(pages) if pages is not None else None
            return self._native.validate(label, resolution, page_map)
        return self.validate_counted(label, resolution, pages)[0]

    def validate_counted(
        self, label: object, resolution: Resolution | None = None, pages: Pages | None = None
    ) -> tuple[list[Issue], int]:
        """Issues of one label and its object count (for the QA figures)."""
        page_map = dict(pages) if pages is not None else None
        if not self._python:
            return self._native.validate_counted(label, resolution, page_map)
        per_label, objects = self._native.validate_views(label, resolution, page_map)
        issues: list[Issue] = []
        for native, view in per_label:
            issues.extend(native)
            issues.extend(run_rules(self._python, view))
        return issues, objects

    def validate_many(
        self,
        items: Iterable[object],
        threads: int | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> BatchResult:
        """Records (assets, labels, jsonResponses, JSON text) in parallel, streamed."""
        return self._native.validate_many(items, threads, progress, self._hook)

    def validate_export(
        self,
        path: str,
        threads: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> BatchResult:
        """A Kili export (zip, folder, JSON list, JSON Lines), streamed."""
        return self._native.validate_export(path, threads, progress, self._hook)
