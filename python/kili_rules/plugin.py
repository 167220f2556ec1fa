"""Kili plugin shim: check a submitted label against a RuleSet, report issues, bounce on errors.

``RulesPlugin`` is a ``kili.plugins.PluginCore``: subclass it, set ``rules``, and use it as a
hosted plugin or behind a webhook (the SDK tutorial's ``PluginHandler(kili, project_id)``
pattern). This is the only module of kili-rules that calls the Kili API.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from kili.exceptions import GraphQLError  # type: ignore[import-untyped]
    from kili.plugins import PluginCore  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "kili_rules.plugin needs the Kili SDK (package `kili`); "
        "install it with: pip install 'kili-rules[plugin]'"
    ) from exc

from kili_rules import Issue, LabelError, RuleSet

__all__ = ["Decision", "RulesPlugin", "register_webhook"]

# The fields fetched when the payload carries no usable jsonResponse.
LABEL_FIELDS = ("id", "jsonResponse")
INVALID_LABEL_PREFIX = "kili-rules could not read this label: "

_rules_cache: dict[str, RuleSet] = {}
_rules_lock = threading.Lock()


@dataclass(frozen=True)
class Decision:
    """What a handler decided for one label (returned by ``on_submit`` / ``on_review``).

    ``texts`` / ``mids`` are the issues created on the label (or that would be, in dry run),
    in the order sent to ``create_issues``.
    """

    handler: str
    project_id: str
    asset_id: str
    label_id: str | None
    issues: tuple[Issue, ...] = ()
    invalid: str | None = None
    texts: tuple[str, ...] = ()
    mids: tuple[str | None, ...] = ()
    sent_back: bool = False
    fetched: bool = False
    dry_run: bool = False
    error: str | None = None
    wrote: bool = False

    @property
    def retryable(self) -> bool:
        """A Kili call failed before anything was written: processing it again is safe."""
        return self.error is not None and not self.wrote

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (used by the webhook server's log line)."""
        return {
            "handler": self.handler,
            "project_id": self.project_id,
            "asset_id": self.asset_id,
            "label_id": self.label_id,
            "issues": len(self.texts),
            "rules": [issue.rule for issue in self.issues],
            "error_issues": sum(1 for issue in self.issues if issue.severity == "error"),
            "invalid": self.invalid,
            "sent_back": self.sent_back,
            "fetched": self.fetched,
            "dry_run": self.dry_run,
            "error": self.error,
        }


def _load_rules(owner: type, spec: object) -> RuleSet:
    """Return the RuleSet for ``spec``; a path is read once per process and cached."""
    if isinstance(spec, RuleSet):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        key = str(path.resolve())
        with _rules_lock:
            ruleset = _rules_cache.get(key)
            if ruleset is None:
                ruleset = RuleSet.from_file(path)
                _rules_cache[key] = ruleset
        return ruleset
    if spec is None:
        raise TypeError(
            f"{owner.__name__} has no rules: set the class attribute "
            "`rules = RuleSet.from_file(...)` (or a path to a rules file), or pass rules=..."
        )
    raise TypeError(
        f"{owner.__name__}.rules must be a RuleSet or the path of a rules file, "
        f"not {type(spec).__name__}"
    )


def _usable(json_response: object) -> bool:
    """False for a jsonResponse Kili left out of the payload (missing, null, "" or {})."""
    if json_response is None:
        return False
    if isinstance(json_response, (str, bytes)):
        return json_response.strip() not in ("", b"", "{}", b"{}", "null", b"null")
    if isinstance(json_response, Mapping):
        return len(json_response) > 0
    return True  # a wrong type is the validator's to report


class RulesPlugin(PluginCore):  # type: ignore[misc]
    """A PluginCore whose ``on_submit`` / ``on_review`` enforce a RuleSet.

    Set ``rules`` on the subclass (a RuleSet, or the path of a rules file, loaded once). Each
    handler validates the label, creates all issues in one ``create_issues`` call and sends
    the asset back to the queue when an error-severity issue exists (warnings only create
    issues). A label that cannot be read is reported as one error issue on it and bounced.
    Handlers never raise: failures are logged and returned in the ``Decision``.
    """

    rules: RuleSet | str | os.PathLike[str]
    dry_run: bool = False

    def __init__(
        self,
        kili: Any,
        project_id: str,
        logger: logging.Logger | None = None,
        *,
        rules: RuleSet | str | os.PathLike[str] | None = None,
        dry_run: bool | None = None,
    ) -> None:
        super().__init__(kili, project_id, logger)
        spec = rules if rules is not None else getattr(type(self), "rules", None)
        self._ruleset = _load_rules(type(self), spec)
        self.rules = self._ruleset
        if dry_run is not None:
            self.dry_run = dry_run
        self.last_decision: Decision | None = None

    def on_submit(self, label: dict[str, Any], asset_id: str) -> Decision:
        """Validate a submitted label; report issues and bounce the asset on errors."""
        return self.check_label(label, asset_id, handler="on_submit")

    def on_review(self, label: dict[str, Any], asset_id: str) -> Decision:
        """Validate a review label the same way as a submitted one."""
        return self.check_label(label, asset_id, handler="on_review")

    def check_label(self, label: object, asset_id: str, *, handler: str = "check") -> Decision:
        """Validate ``label`` and act on the result; never raises."""
        try:
            decision = self._check(label, asset_id, handler)
        except Exception as exc:  # a bug must not take the plugin run down
            self.logger.exception("kili-rules: unexpected failure on asset %s", asset_id)
            decision = Decision(
                handler=handler,
                project_id=self.project_id,
                asset_id=asset_id,
                label_id=_label_id(label),
                dry_run=self.dry_run,
                error=f"{type(exc).__name__}: {exc}",
            )
        self.last_decision = decision
        return decision

    def _check(self, label: object, asset_id: str, handler: str) -> Decision:
        base: dict[str, Any] = {
            "handler": handler,
            "project_id": self.project_id,
            "asset_id": asset_id,
            "label_id": _label_id(label),
            "dry_run": self.dry_run,
        }
        label_id: str | None = base["label_id"]
        if not isinstance(label, Mapping):
            return self._unreadable(base, f"the label is not an object ({type(label).__name__})")
        target: object = label
        if not _usable(label.get("jsonResponse")):
            if label_id is None:
                return self._unreadable(base, "the label has no jsonResponse and no id")
            try:
                rows = list(
                    self.kili.labels(
                        project_id=self.project_id,
                        label_id=label_id,
                        fields=list(LABEL_FIELDS),
                        disable_tqdm=True,
                    )
                )
            except Exception as exc:
                self.logger.exception("kili-rules: fetching label %s failed", label_id)
                return Decision(**base, error=f"fetching label {label_id} failed: {exc}")
            if not rows:
                # No label to attach an issue to: report, write nothing.
                invalid = f"label {label_id} was not found in project {self.project_id}"
                self.logger.error("kili-rules: %s", invalid)
                return Decision(**base, invalid=invalid, fetched=True)
            target = {"id": label_id, "jsonResponse": rows[0].get("jsonResponse")}
            base["fetched"] = True
        resolution: tuple[float, float] | None = None
        if self._ruleset.needs_resolution:
            try:
                resolution = self._asset_resolution(asset_id)
            except Exception as exc:
                self.logger.exception("kili-rules: fetching asset %s failed", asset_id)
                return Decision(**base, error=f"fetching asset {asset_id} failed: {exc}")
        try:
            issues = tuple(self._ruleset.validate(target, resolution=resolution))
        except LabelError as exc:
            return self._unreadable(base, str(exc))
        if not issues:
            self.logger.info("kili-rules: label %s on asset %s passes", label_id, asset_id)
            return Decision(**base)
        texts = tuple(issue.text for issue in issues)
        mids = tuple(issue.mid for issue in issues)
        return self._write(base, issues, texts, mids, self._ruleset.has_errors(list(issues)))

    def _asset_resolution(self, asset_id: str) -> tuple[float, float] | None:
        """The asset's (width, height) in pixels, for pixel-unit rules (payloads carry none)."""
        rows = list(
            self.kili.assets(
                project_id=self.project_id,
                asset_id=asset_id,
                fields=["id", "resolution.width", "resolution.height"],
                disable_tqdm=True,
            )
        )
        size = (rows[0].get("resolution") or {}) if rows else {}
        width, height = size.get("width"), size.get("height")
        if isinstance(width, int | float) and isinstance(height, int | float):
            return (float(width), float(height))
        return None

    def _unreadable(self, base: dict[str, Any], reason: str) -> Decision:
        """An unreadable label is an error: one issue naming the problem, then a bounce."""
        self.logger.error(
            "kili-rules: label %s on asset %s is unreadable: %s",
            base["label_id"],
            base["asset_id"],
            reason,
        )
        if base["label_id"] is None:
            # Without a label id there is nothing to attach an issue to: log only.
            return Decision(**base, invalid=reason)
        base = {**base, "invalid": reason}
        return self._write(base, (), (INVALID_LABEL_PREFIX + reason,), (None,), True)

    def _write(
        self,
        base: dict[str, Any],
        issues: tuple[Issue, ...],
        texts: tuple[str, ...],
        mids: tuple[str | None, ...],
        send_back: bool,
    ) -> Decision:
        label_id: str = base["label_id"]
        asset_id: str = base["asset_id"]
        plan = dict(base, issues=issues, texts=texts, mids=mids)
        for text, mid in zip(texts, mids, strict=True):
            self.logger.warning("kili-rules: issue on label %s (mid %s): %s", label_id, mid, text)
        if self.dry_run:
            self.logger.info(
                "kili-rules dry run: would create %d issue(s) on label %s%s",
                len(texts),
                label_id,
                f" and send asset {asset_id} back to the queue" if send_back else "",
            )
            return Decision(**plan, sent_back=send_back)
        try:
            self.kili.create_issues(
                project_id=self.project_id,
                label_id_array=[label_id] * len(texts),
                text_array=list(texts),
                object_mid_array=list(mids),
            )
        except Exception as exc:
            self.logger.exception("kili-rules: creating issues on label %s failed", label_id)
            return Decision(**plan, error=f"create_issues failed: {exc}")
        if not send_back:
            self.logger.info("kili-rules: warnings only, asset %s stays where it is", asset_id)
            return Decision(**plan, wrote=True)
        try:
            outcome = self.kili.send_back_to_queue(asset_ids=[asset_id])
        except Exception as exc:
            self.logger.exception("kili-rules: sending asset %s back failed", asset_id)
            return Decision(**plan, wrote=True, error=f"send_back_to_queue failed: {exc}")
        refused = _refusal(outcome, asset_id)
        if refused is not None:
            self.logger.warning("kili-rules: asset %s not sent back: %s", asset_id, refused)
            return Decision(**plan, wrote=True, error=f"send_back_to_queue: {refused}")
        self.logger.info("kili-rules: asset %s sent back to the queue", asset_id)
        return Decision(**plan, wrote=True, sent_back=True)


def _label_id(label: object) -> str | None:
    if isinstance(label, Mapping):
        value = label.get("id")
        if isinstance(value, str) and value:
            return value
    return None


def _refusal(outcome: object, asset_id: str) -> str | None:
    """Why Kili declined or failed the send-back (kili >= 26.2.1 outcome dict), else None."""
    if not isinstance(outcome, Mapping):
        return None
    for status in ("failed", "declined"):
        entries = outcome.get(status)
        if isinstance(entries, Sequence):
            for entry in entries:
                if isinstance(entry, Mapping) and entry.get("assetId") == asset_id:
                    details = entry.get("details")
                    return f"{status}{f' ({details})' if details else ''}"
    return None


def _already_exists(error: Exception) -> bool:
    text = str(error).lower()
    return "already exists" in text or "already activated" in text


def register_webhook(
    kili: Any, *, project_id: str, url: str, name: str, header: str | None = None
) -> str:
    """Create (or update, if ``name`` exists) a webhook and activate it on ``project_id``.

    ``header`` is the exact value Kili will send in the ``Authorization`` header (the secret
    the server checks). Returns a one-line summary of what was done.
    """
    try:
        kili.create_webhook(webhook_url=url, plugin_name=name, header=header, verbose=False)
        action = "created"
    except GraphQLError as exc:
        if not _already_exists(exc):
            raise
        kili.update_webhook(new_webhook_url=url, plugin_name=name, new_header=header, verbose=False)
        action = "updated"
    try:
        kili.activate_plugin_on_project(plugin_name=name, project_id=project_id)
        activation = "activated on"
    except GraphQLError as exc:
        if not _already_exists(exc):
            raise
        activation = "already active on"
    return f'webhook "{name}" {action} ({url}) and {activation} project {project_id}'
